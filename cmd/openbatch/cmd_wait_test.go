package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
)

func startWaitServer(t *testing.T) *client.Client {
	t.Helper()
	srv, err := app.Start(context.Background(), app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LocalNodes: true,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(1), TaskSlotsPerNode: api.I32(4)}); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestJobWait(t *testing.T) {
	c := startWaitServer(t)
	tests := []struct {
		name      string
		tasks     []*api.Task
		terminate bool
		wantExit  int
		wantOut   []string
	}{
		{name: "succeeds", tasks: []*api.Task{{ID: "a", CommandLine: "/bin/true"}, {ID: "b", CommandLine: "/bin/true"}},
			wantOut: []string{"2 succeeded, 0 failed"}},
		{name: "fails", tasks: []*api.Task{{ID: "a", CommandLine: "/bin/true"}, {ID: "b", CommandLine: "/bin/sh -c 'exit 4'"}},
			wantExit: 1, wantOut: []string{"1 succeeded, 1 failed", "failed: b exit code 4: " + api.FailureExitCode}},
		{name: "terminated", tasks: []*api.Task{{ID: "slow", CommandLine: "/bin/sleep 30"}}, terminate: true,
			wantExit: 1, wantOut: []string{"failed: slow"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			job := "j-" + tt.name
			if err := c.AddJob(ctx, &api.Job{ID: job, PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := c.AddTasks(ctx, job, tt.tasks); err != nil {
				t.Fatal(err)
			}
			if tt.terminate {
				for {
					tk, err := c.GetTask(ctx, job, "slow")
					if err != nil {
						t.Fatal(err)
					}
					if tk.State == api.TaskRunning {
						break
					}
					time.Sleep(50 * time.Millisecond)
				}
				if _, err := c.Do(ctx, http.MethodPost, "/jobs/"+job+"/terminate", nil, nil); err != nil {
					t.Fatal(err)
				}
			}
			var out bytes.Buffer
			err := waitJob(ctx, c, job, &out, false)
			exit := 0
			var ec exitCoder
			if errors.As(err, &ec) {
				exit = ec.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			if exit != tt.wantExit {
				t.Errorf("exit code %d, want %d; output:\n%s", exit, tt.wantExit, out.String())
			}
			for _, w := range tt.wantOut {
				if !strings.Contains(out.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, out.String())
				}
			}
			if strings.Contains(out.String(), "\r") {
				t.Errorf("non-TTY output has a progress bar:\n%q", out.String())
			}
		})
	}
}

// stateAtFirstWrite records the task's state when tail first writes.
type stateAtFirstWrite struct {
	bytes.Buffer
	check func() api.TaskState
	first api.TaskState
}

func (w *stateAtFirstWrite) Write(p []byte) (int, error) {
	if w.first == "" {
		w.first = w.check()
	}
	return w.Buffer.Write(p)
}

func TestTaskTailFollowsRunningTask(t *testing.T) {
	c := startWaitServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.AddJob(ctx, &api.Job{ID: "tail", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddTask(ctx, "tail", &api.Task{ID: "t", CommandLine: `/bin/sh -c 'echo first; sleep 2; echo second'`}); err != nil {
		t.Fatal(err)
	}
	w := &stateAtFirstWrite{check: func() api.TaskState {
		tk, err := c.GetTask(ctx, "tail", "t")
		if err != nil {
			return "error"
		}
		return tk.State
	}}
	if err := tailTask(ctx, c, "tail", "t", "stdout.txt", w); err != nil {
		t.Fatal(err)
	}
	if got := w.String(); got != "first\nsecond\n" {
		t.Errorf("tail output %q, want \"first\\nsecond\\n\"", got)
	}
	if w.first != api.TaskRunning {
		t.Errorf("task state at the first output = %q, want running (output shown while the task runs)", w.first)
	}
}
