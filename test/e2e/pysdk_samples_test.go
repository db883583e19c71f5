package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/testenv"
)

// requirePythonSDK returns Debian's python3 with the azure-batch SDK (the
// python3-azure package the Azure CLI depends on).
func requirePythonSDK(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	err := exec.Command(py, "-c", "import azure.batch").Run()
	if err != nil {
		err = fmt.Errorf("python3 with the azure-batch SDK is missing; scripts/setup.sh installs it (apt-get install python3-azure): %w", err)
	}
	testenv.Require(t, err)
	return py
}

// offsetClock is real time plus an offset the test moves forward.
type offsetClock struct{ offset atomic.Int64 }

func (c *offsetClock) now() time.Time          { return api.Now().Add(time.Duration(c.offset.Load())) }
func (c *offsetClock) advance(d time.Duration) { c.offset.Add(int64(d)) }

// TestPythonSDKSampleFlows runs the flows of Microsoft's Python Batch
// samples — hello world with an auto pool, job preparation and release,
// and the job scheduler — through the azure-batch SDK, against an
// in-process openbatch dev whose clock the test moves for the schedule.
func TestPythonSDKSampleFlows(t *testing.T) {
	t.Parallel()
	py := requirePythonSDK(t)
	clock := &offsetClock{}
	srv, err := app.Start(context.Background(), app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), LocalNodes: true,
		AccountName: app.DevAccountName, AccountKey: app.DevAccountKey,
		// The clock jumps ahead for the schedule: nodes must not look lost.
		HeartbeatTimeout: 24 * time.Hour, Now: clock.now,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	markers := t.TempDir()
	if err := os.Chmod(markers, 0o777); err != nil {
		t.Fatal(err)
	}
	flow := func(name string, out any) {
		t.Helper()
		cmd := exec.Command(py, filepath.Join("py", "sample_flows.py"), name)
		cmd.Env = cleanEnv([]string{"OPENBATCH_ENDPOINT=" + srv.Endpoint, "OPENBATCH_ACCOUNT=" + app.DevAccountName,
			"OPENBATCH_KEY=" + app.DevAccountKey, "MARKER_DIR=" + markers})
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("python flow %s: %v\n%s", name, err, tail(stderr.String(), 4000))
		}
		if err := json.Unmarshal(stdout.Bytes(), out); err != nil {
			t.Fatalf("python flow %s printed %q: %v", name, stdout.String(), err)
		}
	}
	poolGone := func(id string) {
		t.Helper()
		eventually(t, 30*time.Second, 100*time.Millisecond, "auto pool "+id+" deleted", func() error {
			_, err := c.GetPool(context.Background(), id)
			if client.Code(err) == api.CodePoolNotFound {
				return nil
			}
			return fmt.Errorf("pool %s: %v", id, err)
		})
	}

	t.Run("hello world", func(t *testing.T) {
		var got struct{ Stdout, Pool string }
		flow("hello", &got)
		if strings.TrimSpace(got.Stdout) != "Hello world from the Batch Hello world sample!" || !strings.HasPrefix(got.Pool, "HelloWorld_") {
			t.Fatalf("hello world: %+v", got)
		}
		poolGone(got.Pool)
	})

	t.Run("job preparation and release", func(t *testing.T) {
		var got struct {
			Stdout string
			Prep   []string
			Pool   string
		}
		flow("preprelease", &got)
		if !strings.Contains(got.Stdout, "Hello world from the Batch Job prep and release sample!") || len(got.Prep) != 1 || got.Prep[0] != "completed" {
			t.Fatalf("prep and release: %+v", got)
		}
		// The release task ran when the job was deleted, before its pool went.
		poolGone(got.Pool)
		b, err := os.ReadFile(filepath.Join(markers, "release"))
		if err != nil || strings.TrimSpace(string(b)) != "job release task!" {
			t.Fatalf("release task output %q, %v", b, err)
		}
	})

	t.Run("low-priority pool", func(t *testing.T) {
		var got struct {
			CurrentDedicated, CurrentLowPriority, CountsLowPriority, CountsDedicated int
			IsDedicated                                                              []bool
		}
		flow("lowpri", &got)
		if got.CurrentDedicated != 0 || got.CurrentLowPriority != 2 || got.CountsLowPriority != 2 || got.CountsDedicated != 0 ||
			len(got.IsDedicated) != 2 || got.IsDedicated[0] || got.IsDedicated[1] {
			t.Fatalf("low-priority pool through the SDK: %+v", got)
		}
	})

	t.Run("job scheduler", func(t *testing.T) {
		var created struct{ State, RecentJob string }
		flow("schedule-create", &created)
		if created.State != "active" || created.RecentJob != "sample-schedule:job-1" {
			t.Fatalf("schedule: %+v", created)
		}
		ctx := context.Background()
		eventually(t, 60*time.Second, 100*time.Millisecond, "the first job completes", func() error {
			j, err := c.GetJob(ctx, "sample-schedule:job-1")
			if err != nil || j.State != api.JobCompleted {
				return fmt.Errorf("job 1: %+v, %v", j, err)
			}
			return nil
		})
		clock.advance(61 * time.Second)
		eventually(t, 30*time.Second, 100*time.Millisecond, "the second job", func() error {
			_, err := c.GetJob(ctx, "sample-schedule:job-2")
			return err
		})
		var got struct{ Jobs, Pools []string }
		flow("schedule-check", &got)
		if len(got.Jobs) < 2 || got.Jobs[0] != "sample-schedule:job-1" || got.Jobs[1] != "sample-schedule:job-2" || len(got.Pools) != 1 {
			t.Fatalf("schedule jobs: %+v", got)
		}
		// Deleting the schedule deletes its jobs and their shared auto pool.
		poolGone(got.Pools[0])
		if _, err := c.GetJob(ctx, "sample-schedule:job-1"); client.Code(err) != api.CodeJobNotFound {
			t.Fatalf("a deleted schedule's job: %v", err)
		}
	})
}
