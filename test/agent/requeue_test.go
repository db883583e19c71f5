package agent_test

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// processesUnder returns "pid comm" of the live processes whose working
// directory is under dir.
func processesUnder(dir string) []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cwd, err := os.Readlink(filepath.Join("/proc", e.Name(), "cwd"))
		if err != nil || (cwd != dir && !strings.HasPrefix(cwd, dir+"/")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if f := strings.Fields(s[i+1:]); len(f) > 0 && (f[0] == "Z" || f[0] == "X") {
			continue // a zombie is dead
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		out = append(out, strconv.Itoa(pid)+" "+strings.TrimSpace(string(comm)))
	}
	return out
}

// TestKillAgentRequeues kills (SIGKILL) the agent running a task: the task
// is requeued within the heartbeat timeout, runs again on the other node and
// completes exactly once; the killed node's processes do not outlive it,
// and the killed node, restarted under the same ID, cannot complete the task
// a second time.
func TestKillAgentRequeues(t *testing.T) {
	srv, c := startServer(t)
	setupPool(t, c, "pool", "job")
	a, b := startAgents(t, srv, c, "pool")
	agents := map[string]*agentProc{a.nodeID: a, b.nodeID: b}
	ctx := ctxT(t, 45*time.Second)

	if err := c.AddTask(ctx, "job", &api.Task{ID: "long", CommandLine: `/bin/sh -c 'echo start; sleep 4; echo end'`}); err != nil {
		t.Fatal(err)
	}
	first := waitTask(t, c, "job", "long", 10*time.Second, "running with output", func(tk *api.Task) bool {
		if tk.State != api.TaskRunning {
			return false
		}
		out, err := c.GetTaskFile(ctx, "job", "long", "stdout.txt")
		return err == nil && strings.Contains(string(out), "start")
	})
	victim := agents[first.NodeInfo.NodeID]
	if victim == nil {
		t.Fatalf("task runs on unknown node %+v", first.NodeInfo)
	}
	other := a
	if victim == a {
		other = b
	}
	if len(processesUnder(victim.root)) == 0 {
		t.Fatalf("no task process under %s while the task runs", victim.root)
	}

	killed := time.Now()
	victim.kill(t)

	// The task's processes die with their agent (no task runs unsupervised
	// while the server hands it to another node). The kernel ends them at
	// once (parent-death signal); the wait is generous so that a loaded
	// machine does not fail the test, which asserts that they die, not how
	// fast.
	deadline := time.Now().Add(15 * time.Second)
	for left := processesUnder(victim.root); len(left) > 0; left = processesUnder(victim.root) {
		if time.Now().After(deadline) {
			t.Errorf("processes of the killed agent still alive 15s after SIGKILL: %v", left)
			break
		}
		time.Sleep(20 * time.Millisecond)
	}

	// Requeued once the heartbeat timeout has passed (the monitor ticks
	// every second); the wait allows for a loaded machine.
	requeued := waitTask(t, c, "job", "long", heartbeatTimeout+15*time.Second, "requeued", func(tk *api.Task) bool {
		return tk.ExecutionInfo != nil && tk.ExecutionInfo.RequeueCount >= 1
	})
	var node api.ComputeNode
	if _, err := c.Do(ctx, "GET", "/pools/pool/nodes/"+victim.nodeID, nil, &node); err != nil || node.State != api.NodeUnknown {
		t.Errorf("killed node: state %q, %v; want unknown", node.State, err)
	}
	t.Logf("requeued after %s: state %s", time.Since(killed).Round(time.Millisecond), requeued.State)

	done := waitTask(t, c, "job", "long", 20*time.Second, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })
	ei := done.ExecutionInfo
	if ei.Result != api.ResultSuccess || ei.ExitCode == nil || *ei.ExitCode != 0 || ei.RequeueCount != 1 || ei.RetryCount != 0 {
		t.Fatalf("completed task: %+v", ei)
	}
	if ei.LastRequeueTime == nil {
		t.Error("lastRequeueTime not set")
	}
	if done.NodeInfo == nil || done.NodeInfo.NodeID != other.nodeID {
		t.Fatalf("task completed on %+v, want the other node %s", done.NodeInfo, other.nodeID)
	}
	out, err := c.GetTaskFile(ctx, "job", "long", "stdout.txt")
	if err != nil || string(out) != "start\nend\n" {
		t.Fatalf("stdout.txt of the rerun = %q, %v", out, err)
	}

	// The killed node comes back under the same ID: it must not run or
	// complete the task again.
	startAgent(t, srv, "pool", victim.nodeID, victim.root)
	waitNodesIdle(t, c, "pool", a.nodeID, b.nodeID)
	time.Sleep(time.Second) // a few heartbeats of the returned node
	again, err := c.GetTask(ctx, "job", "long")
	if err != nil {
		t.Fatal(err)
	}
	if again.State != api.TaskCompleted || again.ETag != done.ETag || !again.ExecutionInfo.EndTime.Equal(*ei.EndTime) ||
		again.ExecutionInfo.RequeueCount != 1 || again.NodeInfo.NodeID != other.nodeID {
		t.Fatalf("task changed after the killed node returned: %+v %+v", again.ExecutionInfo, again.NodeInfo)
	}
	counts, err := c.TaskCounts(ctx, "job")
	if err != nil {
		t.Fatal(err)
	}
	if counts.TaskCounts.Completed != 1 || counts.TaskCounts.Succeeded != 1 || counts.TaskCounts.Running != 0 {
		t.Fatalf("task counts: %+v", counts.TaskCounts)
	}
}

// TestLateReportRefused drives the node protocol as a node that loses its
// lease: it takes a task, goes silent past the heartbeat timeout (the task
// is requeued), then reports with its old lease, which the server refuses.
func TestLateReportRefused(t *testing.T) {
	srv, c := startServer(t)
	setupPool(t, c, "pool", "job")
	ctx := ctxT(t, 30*time.Second)
	// One protocol client per node: each carries its node's own credential.
	clients := map[string]*nodeproto.Client{}
	nc := func(nodeID string) *nodeproto.Client {
		if clients[nodeID] == nil {
			clients[nodeID] = &nodeproto.Client{BaseURL: srv.Endpoint, Token: srv.JoinToken}
		}
		return clients[nodeID]
	}

	// The protocol requires the join token.
	bad := &nodeproto.Client{BaseURL: srv.Endpoint, Token: "obj1.wrong"}
	if _, err := bad.Register(ctx, nodeproto.Registration{PoolID: "pool", NodeID: "intruder"}); err == nil {
		t.Fatal("register with a wrong token succeeded")
	}

	if err := c.AddTask(ctx, "job", &api.Task{ID: "t", CommandLine: "/bin/true"}); err != nil {
		t.Fatal(err)
	}
	acquire := func(nodeID string, free int, running ...nodeproto.Lease) *nodeproto.Work {
		t.Helper()
		w, err := nc(nodeID).Acquire(ctx, nodeproto.NodeStatus{PoolID: "pool", NodeID: nodeID, FreeSlots: free, State: api.NodeIdle,
			Running: running, Wait: 200 * time.Millisecond})
		if err != nil {
			t.Fatalf("acquire as %s: %v", nodeID, err)
		}
		return w
	}
	register := func(nodeID string) {
		t.Helper()
		if _, err := nc(nodeID).Register(ctx, nodeproto.Registration{PoolID: "pool", NodeID: nodeID, Root: "/nonexistent/" + nodeID}); err != nil {
			t.Fatalf("register %s: %v", nodeID, err)
		}
	}

	register("late")
	var lease nodeproto.Lease
	for lease.TaskID == "" {
		w := acquire("late", 1)
		if len(w.Assignments) > 0 {
			lease = w.Assignments[0].Lease
		}
		if ctx.Err() != nil {
			t.Fatal("no task assigned to the node")
		}
	}
	if lease.JobID != "job" || lease.TaskID != "t" {
		t.Fatalf("lease = %+v", lease)
	}
	started := time.Now().UTC()

	// Silent past the heartbeat timeout: the node goes unknown, the task is
	// requeued (nobody else can take it: the pool has no other node).
	waitTask(t, c, "job", "t", heartbeatTimeout+3*time.Second, "requeued", func(tk *api.Task) bool {
		return tk.State == api.TaskActive && tk.ExecutionInfo != nil && tk.ExecutionInfo.RequeueCount == 1
	})
	var node api.ComputeNode
	if _, err := c.Do(ctx, "GET", "/pools/pool/nodes/late", nil, &node); err != nil || node.State != api.NodeUnknown {
		t.Fatalf("silent node: state %s, %v", node.State, err)
	}

	report := func(nodeID string, l nodeproto.Lease) error {
		_, err := nc(nodeID).Complete(ctx, nodeproto.Report{NodeID: nodeID, PoolID: "pool", Lease: l, StartTime: started,
			EndTime: time.Now().UTC(), ExitCode: new(int32)})
		return err
	}
	if err := report("late", lease); !errors.Is(err, nodeproto.ErrStaleLease) {
		t.Fatalf("late report: want ErrStaleLease, got %v", err)
	}
	if tk, _ := c.GetTask(ctx, "job", "t"); tk.State != api.TaskActive {
		t.Fatalf("task after the refused report: %s", tk.State)
	}

	// When the node calls again it is told to drop the old lease.
	w := acquire("late", 0, lease)
	if len(w.Cancel) != 1 || w.Cancel[0] != lease {
		t.Fatalf("returning node: cancel = %+v, want the old lease", w.Cancel)
	}

	// Another node takes the task with a new lease and completes it; the
	// old lease stays refused afterwards.
	register("fresh")
	var fresh nodeproto.Lease
	for fresh.TaskID == "" {
		for _, a := range acquire("fresh", 1).Assignments {
			fresh = a.Lease
		}
		if ctx.Err() != nil {
			t.Fatal("no task assigned to the fresh node")
		}
	}
	if fresh.Epoch <= lease.Epoch {
		t.Fatalf("new lease epoch %d not above the old %d", fresh.Epoch, lease.Epoch)
	}
	if err := report("late", fresh); !errors.Is(err, nodeproto.ErrStaleLease) {
		t.Fatalf("report of another node's lease: want ErrStaleLease, got %v", err)
	}
	// Nor can a node report as another: its credential is its own.
	if _, err := clients["late"].Complete(ctx, nodeproto.Report{NodeID: "fresh", PoolID: "pool", Lease: fresh, ExitCode: new(int32)}); err == nil {
		t.Fatal("node late reported as node fresh")
	}
	if err := report("fresh", fresh); err != nil {
		t.Fatalf("report of the current lease: %v", err)
	}
	for _, l := range []nodeproto.Lease{lease, fresh} {
		if err := report("late", l); !errors.Is(err, nodeproto.ErrStaleLease) {
			t.Fatalf("report after completion (epoch %d): want ErrStaleLease, got %v", l.Epoch, err)
		}
	}
	if err := report("fresh", fresh); !errors.Is(err, nodeproto.ErrStaleLease) {
		t.Fatalf("second report of the same lease: want ErrStaleLease, got %v", err)
	}
	tk, err := c.GetTask(ctx, "job", "t")
	if err != nil || tk.State != api.TaskCompleted || tk.NodeInfo.NodeID != "fresh" || tk.ExecutionInfo.RequeueCount != 1 {
		t.Fatalf("task: %+v %+v %v", tk.ExecutionInfo, tk.NodeInfo, err)
	}
}
