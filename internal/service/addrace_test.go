package service_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// closingStore moves the job to state just before each CreateTasks: a
// terminate or delete that commits between the service's read of the job
// and its add (a moment a real store cannot be stopped at on demand).
type closingStore struct {
	store.Store
	state api.JobState
}

func (c *closingStore) CreateTasks(ctx context.Context, jobID string, tasks []*api.Task) ([]error, error) {
	if _, err := c.Store.UpdateJob(ctx, jobID, func(j *api.Job) error { j.State = c.state; return nil }); err != nil {
		return nil, err
	}
	return c.Store.CreateTasks(ctx, jobID, tasks)
}

// A job terminated or deleted while tasks are being added to it refuses
// them with the code its new state gives, and keeps none of them: a
// terminate never leaves an active task in a completed job.
func TestAddRacingJobStateChange(t *testing.T) {
	for _, tc := range []struct {
		state api.JobState
		code  string
	}{
		{api.JobTerminating, api.CodeJobBeingTerminated},
		{api.JobCompleted, api.CodeJobCompleted},
		{api.JobDeleting, api.CodeJobBeingDeleted},
	} {
		t.Run(string(tc.state), func(t *testing.T) {
			ctx := context.Background()
			st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			svc := service.New(&closingStore{Store: st, state: tc.state}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err := st.CreatePool(ctx, &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", State: api.PoolActive}); err != nil {
				t.Fatal(err)
			}
			if err := svc.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
				t.Fatal(err)
			}
			for name, add := range map[string]func() error{
				"add": func() error { return svc.AddTask(ctx, "j1", &api.Task{ID: "t1", CommandLine: "/bin/true"}) },
				"collection": func() error {
					_, err := svc.AddTasks(ctx, "j1", []*api.Task{{ID: "t2", CommandLine: "/bin/true"}}, nil)
					return err
				},
			} {
				// Each add starts from an active job.
				if _, err := st.UpdateJob(ctx, "j1", func(j *api.Job) error { j.State = api.JobActive; return nil }); err != nil {
					t.Fatal(err)
				}
				var se *service.Error
				if err := add(); !errors.As(err, &se) || se.Code != tc.code {
					t.Fatalf("%s: %v, want %s", name, err, tc.code)
				}
			}
			if c, err := st.TaskStateCounts(ctx, "j1"); err != nil || c.TaskCounts.Active != 0 {
				t.Fatalf("tasks kept: %+v, %v", c.TaskCounts, err)
			}
		})
	}
}
