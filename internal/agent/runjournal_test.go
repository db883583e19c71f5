package agent

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// probeStep checks, when it runs after the process, that the run journal
// already holds the run's exit.
type probeStep struct {
	j   *runJournal
	got *runRecord
}

func (probeStep) Name() string { return "probe" }

func (p probeStep) Run(_ context.Context, run *TaskRun) error {
	return p.j.runs.Load(recordKey(run.rec.rec.Lease), p.got)
}

// The exit of a task's process is recorded before any later step runs.
func TestRunRecordedBeforeAfterProcessSteps(t *testing.T) {
	node := testNode(t)
	j, err := openRunJournal(node.Layout)
	if err != nil {
		t.Fatal(err)
	}
	got := &runRecord{}
	r := testRunner(t, func(c *Config) { c.AfterProcess = []Step{probeStep{j: j, got: got}} })
	spec := taskSpec(node, "/bin/sh -c 'exit 4'")
	spec.OutputFiles = []api.OutputFile{{FilePattern: "x"}}
	spec.Environment = []api.EnvironmentSetting{{Name: "K", Value: "v"}}
	lease := nodeproto.Lease{JobID: "job1", TaskID: "task1", Epoch: 7}
	spec.recorder = &runRecorder{j: j, rec: runRecord{Lease: lease, PoolID: "pool1", NodeID: "node1", Slots: 1}}
	res := r.Run(context.Background(), spec)
	if res.FailureInfo != nil {
		t.Fatalf("run failed: %+v (the probe found no record?)", res.FailureInfo)
	}
	if got.Lease != lease || got.ExitCode == nil || *got.ExitCode != 4 || !got.StartTime.Equal(res.StartTime) ||
		len(got.OutputFiles) != 1 || got.Env["K"] != "v" || got.Planned {
		t.Fatalf("record seen by the next step: %+v", got)
	}
}

// A restarted agent offers the server the runs recorded for its node, and
// drops records it cannot use.
func TestOpenJournalOffersOwnRecords(t *testing.T) {
	tests := []struct {
		name      string
		regNode   string
		recNode   string
		recPool   string
		damage    bool
		wantOffer bool
	}{
		{"own record", "node1", "node1", "pool1", false, true},
		{"node IDs compare case-insensitively", "NODE1", "node1", "pool1", false, true},
		{"another node's record", "node1", "node2", "pool1", false, false},
		{"another pool's record", "node1", "node1", "pool2", false, false},
		{"node ID not known yet", "", "node1", "pool1", false, false},
		{"damaged record", "node1", "node1", "pool1", true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			node := testNode(t)
			j, err := openRunJournal(node.Layout)
			if err != nil {
				t.Fatal(err)
			}
			lease := nodeproto.Lease{JobID: "j", TaskID: "t", Epoch: 3}
			if err := j.save(&runRecord{Lease: lease, PoolID: tc.recPool, NodeID: tc.recNode}); err != nil {
				t.Fatal(err)
			}
			if err := j.uploadsOf(lease).Save("blob", map[string]int{"x": 1}); err != nil {
				t.Fatal(err)
			}
			recs, _ := filepath.Glob(filepath.Join(j.runs.Path(), "*.rec"))
			if len(recs) != 1 {
				t.Fatalf("records %v", recs)
			}
			if tc.damage {
				if err := os.WriteFile(recs[0], []byte(`{"version":1,"da`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			w := &Worker{Log: testLogger(t)}
			reg := nodeproto.Registration{PoolID: "pool1", NodeID: tc.regNode}
			pending := w.openJournal(node.Layout, &reg)
			if offered := len(reg.Resume) == 1 && reg.Resume[0] == lease && len(pending) == 1; offered != tc.wantOffer {
				t.Fatalf("resume %+v, pending %d; want offered=%v", reg.Resume, len(pending), tc.wantOffer)
			}
			_, err = os.Stat(recs[0])
			if kept := err == nil; kept != tc.wantOffer {
				t.Fatalf("record kept=%v, want %v", kept, tc.wantOffer)
			}
			_, err = os.Stat(j.uploadsOf(lease).Path())
			if kept := err == nil; kept != tc.wantOffer {
				t.Fatalf("upload journals kept=%v, want %v", kept, tc.wantOffer)
			}
		})
	}
}
