package agent

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/outputfiles"
)

// evictCommand writes a partial output, says it started, and runs until it
// is stopped.
const evictCommand = `/bin/sh -c 'echo partial > out.txt; touch started; while true; do sleep 0.1; done'`

// evictOutputs names out.txt once per upload condition.
func evictOutputs(dest string) []api.OutputFile {
	var out []api.OutputFile
	for _, c := range []api.OutputFileUploadCondition{api.UploadOnSuccess, api.UploadOnFailure, api.UploadOnCompletion} {
		out = append(out, api.OutputFile{FilePattern: "out.txt",
			Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: dest, Path: string(c) + ".txt"}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: c}})
	}
	return out
}

// TestRunUploadOnEviction stops a running task in each way a node can and
// checks what its outputFiles uploaded: an evicted run (its context
// cancelled: terminate, drain, node removal) and a run stopped at its wall
// clock time upload the taskfailure and taskcompletion entries, never
// taskSuccess, and keep TaskEnded; a run given up (Abort: fenced,
// requeued) and an evicted run that opted out upload nothing.
func TestRunUploadOnEviction(t *testing.T) {
	op, err := outputfiles.NewOpener(azure.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	failed := []string{"taskcompletion.txt", "taskfailure.txt"}
	tests := []struct {
		name      string
		command   string
		env       string // OPENBATCH_UPLOAD_ON_EVICT ("" unset)
		nodeOff   bool   // OutputFilesStep.NoUploadOnEvict
		stop      string // "cancel", "abort" or "wallclock"
		want      []string
		category  api.ErrorCategory
		evictNote bool // fileuploadout.txt says the upload was on eviction
	}{
		{"terminate uploads failure outputs", evictCommand, "", false, "cancel", failed, api.UserError, true},
		{"trap exiting 0 is still a failure", `/bin/sh -c 'trap "exit 0" TERM; echo partial > out.txt; touch started; while true; do sleep 0.1; done'`,
			"", false, "cancel", failed, api.UserError, true},
		{"wall clock uploads failure outputs", evictCommand, "", false, "wallclock", failed, api.ServerError, true},
		{"wall clock ignores the opt-out", evictCommand, "false", false, "wallclock", failed, api.ServerError, true},
		{"task opts out", evictCommand, "false", false, "cancel", nil, api.UserError, false},
		{"node default off", evictCommand, "", true, "cancel", nil, api.UserError, false},
		{"task opts in over the node default", evictCommand, "true", true, "cancel", failed, api.UserError, true},
		{"given up uploads nothing", evictCommand, "", false, "abort", nil, api.UserError, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			node := testNode(t)
			r := testRunner(t, func(c *Config) {
				c.AfterProcess = []Step{OutputFilesStep{Opener: op, NoUploadOnEvict: tt.nodeOff}}
			})
			spec := taskSpec(node, tt.command)
			spec.OutputFiles = evictOutputs("file://" + dest)
			if tt.env != "" {
				spec.Environment = []api.EnvironmentSetting{{Name: EvictUploadEnv, Value: tt.env}}
			}
			abort := make(chan struct{})
			spec.Abort = abort
			if tt.stop == "wallclock" {
				spec.MaxWallClockTime = 1500 * time.Millisecond
			}
			ctx, cancel := context.WithCancelCause(context.Background())
			defer cancel(nil)
			p, err := node.Layout.TaskPaths("job1", "task1")
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan Result, 1)
			go func() { done <- r.Run(ctx, spec) }()
			if tt.stop != "wallclock" {
				waitFile(t, filepath.Join(p.WorkingDir, "started"))
				if tt.stop == "abort" {
					close(abort)
				} else {
					cancel(ErrTerminated)
				}
			}
			var res Result
			select {
			case res = <-done:
			case <-time.After(60 * time.Second):
				t.Fatal("the run did not end")
			}
			if f := res.FailureInfo; f == nil || f.Code != api.FailureTaskEnded || f.Category != tt.category {
				t.Fatalf("failureInfo %+v, want TaskEnded (%s): an upload must not change how the task ended", f, tt.category)
			}
			if got := listDir(t, dest); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("uploaded %v, want %v", got, tt.want)
			}
			for _, name := range tt.want {
				if b := readFile(t, filepath.Join(dest, name)); b != "partial\n" {
					t.Errorf("%s = %q", name, b)
				}
			}
			log, _ := os.ReadFile(filepath.Join(p.Dir, outputfiles.OutLogName))
			if note := strings.Contains(string(log), "Upload on eviction"); note != tt.evictNote {
				t.Errorf("fileuploadout.txt notes eviction = %v, want %v:\n%s", note, tt.evictNote, log)
			}
		})
	}
}

// TestRunEvictUploadGrace: the upload of an evicted run ends with its
// grace even when the destination never answers, and the run still ends
// as the eviction says.
func TestRunEvictUploadGrace(t *testing.T) {
	stop := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	defer hang.Close()
	defer close(stop) // first: the handlers return, then the server closes
	op, err := outputfiles.NewOpener(azure.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	node := testNode(t)
	r := testRunner(t, func(c *Config) {
		c.AfterProcess = []Step{OutputFilesStep{Opener: op}}
		c.EvictUploadGrace = 500 * time.Millisecond
	})
	spec := taskSpec(node, evictCommand)
	spec.OutputFiles = evictOutputs(hang.URL + "/devstoreaccount1/c?sv=2021-08-06&sp=w&sig=x")
	p, err := node.Layout.TaskPaths("job1", "task1")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := make(chan Result, 1)
	go func() { done <- r.Run(ctx, spec) }()
	waitFile(t, filepath.Join(p.WorkingDir, "started"))
	cancel(ErrTerminated)
	select {
	case res := <-done:
		if f := res.FailureInfo; f == nil || f.Code != api.FailureTaskEnded {
			t.Fatalf("failureInfo %+v, want TaskEnded", f)
		}
		if res.Uploads == nil || res.Uploads.Uploaded != 0 {
			t.Fatalf("uploads %+v, want an attempted upload with nothing uploaded", res.Uploads)
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("the upload of an evicted run outlived its grace")
	}
}

func waitFile(t *testing.T, path string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", path)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// listDir lists the blobs of the file:// container dir, sorted (the
// local backend's property files under .openbatch-blob excluded).
func listDir(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() && d.Name() == ".openbatch-blob" {
			return filepath.SkipDir
		}
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// cancelling is a coordinator that hands out one task with output files
// and, once stop is closed, cancels it on every poll while the node still
// runs it: as terminated, or as requeued.
type cancelling struct {
	task     api.Task
	requeued bool
	stop     chan struct{}

	mu       sync.Mutex
	acquires int
}

func (c *cancelling) Register(_ context.Context, reg nodeproto.Registration) (*nodeproto.NodeConfig, error) {
	return &nodeproto.NodeConfig{NodeID: "n1", PoolID: reg.PoolID, Slots: 1,
		HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: time.Minute}, nil
}

func (c *cancelling) Acquire(ctx context.Context, st nodeproto.NodeStatus) (*nodeproto.Work, error) {
	c.mu.Lock()
	c.acquires++
	first := c.acquires == 1
	c.mu.Unlock()
	if first {
		return &nodeproto.Work{Assignments: []nodeproto.Assignment{{Lease: nodeproto.Lease{JobID: "j", TaskID: c.task.ID, Epoch: 1}, Task: c.task}}}, nil
	}
	select {
	case <-c.stop:
		w := &nodeproto.Work{Cancel: st.Running}
		if c.requeued {
			w.Requeued = st.Running
		}
		return w, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(20 * time.Millisecond):
		return &nodeproto.Work{}, nil
	}
}

func (c *cancelling) Complete(context.Context, nodeproto.Report) (*nodeproto.Completed, error) {
	return nil, nodeproto.ErrStaleLease
}

func (c *cancelling) PrepRelease(context.Context, nodeproto.PrepReleaseReport) error { return nil }

// A node told to cancel a terminated task's lease uploads its failure
// outputs; told that the task was requeued (it may already run elsewhere),
// it uploads nothing, so that the two runs never write the same blobs.
func TestWorkerCancelTerminatedUploadsRequeuedDoesNot(t *testing.T) {
	op, err := outputfiles.NewOpener(azure.Options{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		requeued bool
		want     []string
	}{
		{"terminated", false, []string{"taskcompletion.txt", "taskfailure.txt"}},
		{"requeued", true, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dest := t.TempDir()
			root := t.TempDir()
			coord := &cancelling{requeued: tt.requeued, stop: make(chan struct{}),
				task: api.Task{ID: "t", CommandLine: evictCommand, OutputFiles: evictOutputs("file://" + dest)}}
			r := testRunner(t, func(c *Config) { c.AfterProcess = []Step{OutputFilesStep{Opener: op}} })
			w := &Worker{Coord: coord, Runner: r, Log: testLogger(t), RetryInterval: 50 * time.Millisecond,
				Registration: nodeproto.Registration{PoolID: "p", Root: root}}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- w.Run(ctx) }()
			layout, err := NewLayout(root)
			if err != nil {
				t.Fatal(err)
			}
			p, err := layout.TaskPaths("j", "t")
			if err != nil {
				t.Fatal(err)
			}
			waitFile(t, filepath.Join(p.WorkingDir, "started"))
			close(coord.stop)
			deadline := time.Now().Add(60 * time.Second)
			for len(w.leases()) != 0 {
				if time.Now().After(deadline) {
					t.Fatal("the cancelled run never ended")
				}
				time.Sleep(20 * time.Millisecond)
			}
			cancel()
			if err := <-done; err != nil && !errors.Is(err, context.Canceled) {
				t.Fatal(err)
			}
			if got := listDir(t, dest); strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("uploaded %v, want %v", got, tt.want)
			}
		})
	}
}
