package provider

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// fakeProvider records launches and terminations.
type fakeProvider struct {
	mu         sync.Mutex
	insts      map[string]Instance
	launched   []string
	terminated []string
	fail       error
	room       int // >0: Bounded with this room
}

func (f *fakeProvider) Instances(context.Context, string) ([]Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Instance
	for _, in := range f.insts {
		out = append(out, in)
	}
	return out, nil
}

func (f *fakeProvider) Launch(_ context.Context, s Spec) (Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail != nil {
		return Instance{}, f.fail
	}
	in := Instance{NodeID: s.NodeID, Dedicated: s.Dedicated, Ref: "job-" + s.NodeID}
	f.insts[s.NodeID] = in
	f.launched = append(f.launched, s.NodeID)
	return in, nil
}

func (f *fakeProvider) Terminate(_ context.Context, _ string, in Instance) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.insts, in.NodeID)
	f.terminated = append(f.terminated, in.NodeID)
	return nil
}

type boundedProvider struct{ *fakeProvider }

func (b boundedProvider) Room(string) int { return b.room }
func (b boundedProvider) RoomMessage(_ string, target, room int) string {
	return fmt.Sprintf("target %d, room %d", target, room)
}

// fakeCluster is the scheduler's and service's side: it removes and
// drains nodes in the store, recording the options.
type fakeCluster struct {
	st      store.Store
	drained map[string]string
}

func (c *fakeCluster) RemoveNode(ctx context.Context, poolID, nodeID string) error {
	err := c.st.DeleteNode(ctx, poolID, nodeID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

func (c *fakeCluster) DrainNode(ctx context.Context, poolID, nodeID, opt string) error {
	c.drained[nodeID] = opt
	_, err := c.st.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		n.Node.State = api.NodeLeavingPool
		return nil
	})
	return err
}

type fixture struct {
	t    *testing.T
	ctx  context.Context
	st   store.Store
	prov *fakeProvider
	cl   *fakeCluster
	m    *Manager
}

func newFixture(t *testing.T, bounded int) *fixture {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f := &fixture{t: t, ctx: ctx, st: st, prov: &fakeProvider{insts: map[string]Instance{}, room: bounded}}
	f.cl = &fakeCluster{st: st, drained: map[string]string{}}
	var p Provider = f.prov
	if bounded > 0 {
		p = boundedProvider{f.prov}
	}
	n := 0
	cfg, err := ParseConfig([]byte(`{"pools":[{"poolId":"managed*","provider":"fake"}],"providers":{"fake":{"type":"local"}}}`))
	if err != nil {
		t.Fatal(err)
	}
	f.m = &Manager{Store: st, Remover: f.cl, Drainer: f.cl, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Config: cfg,
		Default: Static, Providers: map[string]Provider{"fake": p},
		NewNodeID: func() string { n++; return fmt.Sprintf("n%02d", n) }}
	return f
}

func (f *fixture) pool(id string, ded, low int32) *api.Pool {
	f.t.Helper()
	_, err := f.st.GetPool(f.ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		p := &api.Pool{ID: id, State: api.PoolActive}
		p.TargetDedicatedNodes, p.TargetLowPriorityNodes = api.I32(ded), api.I32(low)
		if err := f.st.CreatePool(f.ctx, p); err != nil {
			f.t.Fatal(err)
		}
		return p
	}
	if err != nil {
		f.t.Fatal(err)
	}
	p, err := f.st.UpdatePool(f.ctx, id, func(p *api.Pool) error {
		p.TargetDedicatedNodes, p.TargetLowPriorityNodes = api.I32(ded), api.I32(low)
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return p
}

func (f *fixture) reconcile(p *api.Pool, opt string) {
	f.t.Helper()
	p, err := f.st.GetPool(f.ctx, p.ID)
	if err != nil {
		f.t.Fatal(err)
	}
	if err := f.m.ReconcileNodes(f.ctx, p, opt); err != nil {
		f.t.Fatal(err)
	}
}

// register stores the node of each instance not yet registered, in state.
func (f *fixture) register(poolID string, state api.NodeState) {
	f.t.Helper()
	insts, _ := f.prov.Instances(f.ctx, poolID)
	for _, in := range insts {
		if _, err := f.st.GetNode(f.ctx, poolID, in.NodeID); err == nil {
			continue
		}
		n := &store.Node{PoolID: poolID, Node: &api.ComputeNode{ID: in.NodeID, State: state, IsDedicated: in.Dedicated}}
		if err := f.st.PutNode(f.ctx, n); err != nil {
			f.t.Fatal(err)
		}
	}
}

func (f *fixture) nodes(poolID string) []string {
	f.t.Helper()
	ns, err := f.st.ListNodes(f.ctx, poolID)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []string
	for _, n := range ns {
		out = append(out, n.Node.ID+":"+string(n.Node.State))
	}
	sort.Strings(out)
	return out
}

func (f *fixture) instances() []string {
	insts, _ := f.prov.Instances(f.ctx, "")
	var out []string
	for _, in := range insts {
		out = append(out, in.NodeID)
	}
	sort.Strings(out)
	return out
}

func (f *fixture) resizeErrors(id string) []api.ResizeError {
	f.t.Helper()
	p, err := f.st.GetPool(f.ctx, id)
	if err != nil {
		f.t.Fatal(err)
	}
	return p.ResizeErrors
}

// lease gives nodeID a running task, so it is busy.
func (f *fixture) lease(nodeID string) *store.TaskRow {
	f.t.Helper()
	if _, err := f.st.GetJob(f.ctx, "j"); errors.Is(err, store.ErrNotFound) {
		if err := f.st.CreateJob(f.ctx, &api.Job{ID: "j", State: api.JobActive, PoolInfo: &api.PoolInformation{PoolID: "managed"}}); err != nil {
			f.t.Fatal(err)
		}
	}
	id := "t-" + nodeID
	if _, err := f.st.CreateTasks(f.ctx, "j", []*api.Task{{ID: id, State: api.TaskActive}}); err != nil {
		f.t.Fatal(err)
	}
	row, err := f.st.UpdateTask(f.ctx, "j", id, func(r *store.TaskRow) error {
		r.NodeID, r.Epoch, r.Task.State = nodeID, 1, api.TaskRunning
		return nil
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return row
}

func (f *fixture) finish(row *store.TaskRow) {
	f.t.Helper()
	if _, err := f.st.UpdateTask(f.ctx, "j", row.Task.ID, func(r *store.TaskRow) error {
		r.NodeID, r.Task.State = "", api.TaskCompleted
		return nil
	}); err != nil {
		f.t.Fatal(err)
	}
}

func TestManagerGrowsAndIsIdempotent(t *testing.T) {
	f := newFixture(t, 0)
	p := f.pool("managed", 2, 1)
	f.reconcile(p, "")
	f.reconcile(p, "")
	if got := f.instances(); strings.Join(got, ",") != "n01,n02,n03" {
		t.Fatalf("instances %v, want 3 launched once", got)
	}
	insts, _ := f.prov.Instances(f.ctx, "managed")
	ded := 0
	for _, in := range insts {
		if in.Dedicated {
			ded++
		}
	}
	if ded != 2 {
		t.Fatalf("%d dedicated instances, want 2", ded)
	}
	if errs := f.resizeErrors("managed"); len(errs) != 0 {
		t.Fatalf("resize errors %+v", errs)
	}
}

func TestManagerShrinks(t *testing.T) {
	for _, tc := range []struct {
		name, opt string
	}{{"requeue", ""}, {"taskcompletion", "taskcompletion"}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			p := f.pool("managed", 4, 0)
			f.reconcile(p, "")
			f.register("managed", api.NodeIdle) // n01..n04 idle
			// n04 busy; n05, launched after a grow, not registered yet.
			busy := f.lease("n04")
			f.st.UpdateNode(f.ctx, "managed", "n04", func(n *store.Node) error { n.Node.State = api.NodeRunning; return nil })
			f.reconcile(f.pool("managed", 5, 0), "")
			// Shrink to 1: the unregistered node ends at once, then idle
			// nodes before the busy one.
			f.reconcile(f.pool("managed", 1, 0), tc.opt)
			if got := strings.Join(f.prov.terminated, ","); got != "n05,n03,n02,n01" {
				t.Fatalf("terminated %s", got)
			}
			if got := strings.Join(f.nodes("managed"), ","); got != "n04:running" {
				t.Fatalf("nodes %s", got)
			}
			for _, id := range []string{"n01", "n02", "n03"} {
				if f.cl.drained[id] != tc.opt {
					t.Errorf("node %s drained with %q, want %q", id, f.cl.drained[id], tc.opt)
				}
			}
			// Shrink to 0: the busy node drains, and leaves only once its
			// task has ended.
			f.reconcile(f.pool("managed", 0, 0), tc.opt)
			if got := strings.Join(f.nodes("managed"), ","); got != "n04:leavingpool" {
				t.Fatalf("nodes %s", got)
			}
			f.reconcile(f.pool("managed", 0, 0), "")
			if len(f.instances()) != 1 {
				t.Fatalf("a busy draining node was terminated: %v", f.instances())
			}
			f.finish(busy)
			f.reconcile(f.pool("managed", 0, 0), "")
			if got := f.nodes("managed"); len(got) != 0 || len(f.instances()) != 0 {
				t.Fatalf("nodes %v, instances %v", got, f.instances())
			}
		})
	}
}

func TestManagerReplacesLostNodes(t *testing.T) {
	f := newFixture(t, 0)
	p := f.pool("managed", 2, 0)
	f.reconcile(p, "")
	f.register("managed", api.NodeIdle)
	// Slurm ends n01's job: a new node replaces it at once; the old node
	// stays in the pool until the heartbeat timeout finds it lost (and
	// requeues its tasks), then it is removed.
	f.prov.Terminate(f.ctx, "managed", Instance{NodeID: "n01"})
	f.reconcile(p, "")
	if got := strings.Join(f.instances(), ","); got != "n02,n03" {
		t.Fatalf("instances %s, want n01 replaced by n03", got)
	}
	if got := strings.Join(f.nodes("managed"), ","); got != "n01:idle,n02:idle" {
		t.Fatalf("nodes %s: a node not yet found lost was removed", got)
	}
	f.st.UpdateNode(f.ctx, "managed", "n01", func(n *store.Node) error { n.Node.State = api.NodeUnknown; return nil })
	f.reconcile(p, "")
	if got := strings.Join(f.instances(), ","); got != "n02,n03" {
		t.Fatalf("instances %s", got)
	}
	if got := strings.Join(f.nodes("managed"), ","); got != "n02:idle" {
		t.Fatalf("nodes %s, want the lost node removed", got)
	}
}

func TestManagerStaticPoolSaysSo(t *testing.T) {
	f := newFixture(t, 0)
	p := f.pool("byhand", 3, 0)
	f.reconcile(p, "")
	errs := f.resizeErrors("byhand")
	if len(errs) != 1 || errs[0].Code != CodeNoNodeProvider || !strings.Contains(errs[0].Message, "openbatch agent --pool byhand") ||
		!strings.Contains(errs[0].Message, "target of 3 nodes is informational; the pool has 0") {
		t.Fatalf("resize errors %+v", errs)
	}
	if len(f.prov.launched) != 0 {
		t.Fatalf("a provider launched nodes for a static pool: %v", f.prov.launched)
	}
	// Agents started by hand meet the target: nothing to say.
	for _, id := range []string{"a", "b", "c"} {
		f.st.PutNode(f.ctx, &store.Node{PoolID: "byhand", Node: &api.ComputeNode{ID: id, State: api.NodeIdle, IsDedicated: true}})
	}
	f.reconcile(p, "")
	if errs := f.resizeErrors("byhand"); len(errs) != 0 {
		t.Fatalf("resize errors %+v", errs)
	}
	// A drained static node leaves once idle; other resize errors stay.
	f.st.UpdatePool(f.ctx, "byhand", func(p *api.Pool) error {
		p.ResizeErrors = []api.ResizeError{{Code: "Other", Message: "kept"}}
		return nil
	})
	f.cl.DrainNode(f.ctx, "byhand", "a", "")
	f.reconcile(f.pool("byhand", 2, 0), "")
	if got := strings.Join(f.nodes("byhand"), ","); got != "b:idle,c:idle" {
		t.Fatalf("nodes %s", got)
	}
	if errs := f.resizeErrors("byhand"); len(errs) != 1 || errs[0].Code != "Other" {
		t.Fatalf("resize errors %+v", errs)
	}
}

func TestManagerRecordsLaunchFailureAndRoom(t *testing.T) {
	f := newFixture(t, 0)
	f.prov.fail = errors.New("sbatch: error: invalid partition specified: nope")
	f.reconcile(f.pool("managed", 2, 0), "")
	errs := f.resizeErrors("managed")
	if len(errs) != 1 || errs[0].Code != CodeAllocationFailed || !strings.Contains(errs[0].Message, "invalid partition") {
		t.Fatalf("resize errors %+v", errs)
	}
	f.prov.fail = nil
	f.reconcile(f.pool("managed", 2, 0), "")
	if errs := f.resizeErrors("managed"); len(errs) != 0 {
		t.Fatalf("resize errors after recovery %+v", errs)
	}

	b := newFixture(t, 3)
	b.reconcile(b.pool("managed", 3, 2), "")
	insts, _ := b.prov.Instances(b.ctx, "managed")
	if len(insts) != 3 || slices.ContainsFunc(insts, func(in Instance) bool { return !in.Dedicated }) {
		t.Fatalf("instances %+v, want 3 dedicated (low-priority cut first)", insts)
	}
	if errs := b.resizeErrors("managed"); len(errs) != 1 || errs[0].Code != CodeQuotaReached || errs[0].Message != "target 5, room 3" {
		t.Fatalf("resize errors %+v", errs)
	}
	if err := b.m.CheckTarget("managed", 4); err == nil {
		t.Fatal("CheckTarget accepted a target above the room")
	}
	if err := b.m.CheckTarget("other", 400); err != nil {
		t.Fatalf("CheckTarget of a static pool: %v", err)
	}
}

func TestManagerRemovePool(t *testing.T) {
	f := newFixture(t, 0)
	p := f.pool("managed", 3, 0)
	f.reconcile(p, "")
	f.register("managed", api.NodeIdle)
	f.reconcile(f.pool("managed", 4, 0), "") // one not registered
	if err := f.m.RemovePool(f.ctx, "managed"); err != nil {
		t.Fatal(err)
	}
	if len(f.instances()) != 0 || len(f.nodes("managed")) != 0 {
		t.Fatalf("instances %v, nodes %v left", f.instances(), f.nodes("managed"))
	}
}

// A pass ends a resize that is over (lifecycle.SettleAllocation): when the
// counts reach the target, at once when the provider fails or nobody acts
// on the target, and after the resize timeout otherwise.
func TestManagerSettlesAllocation(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	now := t0
	for _, tc := range []struct {
		name     string
		pool     string
		fail     error
		counts   int32         // current dedicated nodes before the second pass
		after    time.Duration // clock at the second pass
		want     api.AllocationState
		wantCode string
	}{
		{"still short", "managed-a", nil, 1, time.Minute, api.AllocationResizing, ""},
		{"reached", "managed-b", nil, 2, time.Minute, api.AllocationSteady, ""},
		{"timed out", "managed-c", nil, 1, 15 * time.Minute, api.AllocationSteady, lifecycle.CodeAllocationTimedOut},
		{"launch fails", "managed-d", errors.New("sbatch: no"), 0, time.Second, api.AllocationSteady, CodeAllocationFailed},
		{"static pool", "byhand", nil, 0, time.Second, api.AllocationSteady, CodeNoNodeProvider},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, 0)
			f.m.Now = func() time.Time { return now }
			f.prov.fail = tc.fail
			now = t0
			p := f.pool(tc.pool, 2, 0)
			p, err := f.st.UpdatePool(f.ctx, p.ID, func(p *api.Pool) error {
				p.CurrentDedicatedNodes, p.CurrentLowPriorityNodes = api.I32(0), api.I32(0)
				lifecycle.StartResize(p, now)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			f.reconcile(p, "")
			if _, err := f.st.UpdatePool(f.ctx, p.ID, func(p *api.Pool) error { p.CurrentDedicatedNodes = api.I32(tc.counts); return nil }); err != nil {
				t.Fatal(err)
			}
			now = t0.Add(tc.after)
			f.reconcile(p, "")
			got, err := f.st.GetPool(f.ctx, p.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.AllocationState != tc.want {
				t.Fatalf("allocationState %s, want %s", got.AllocationState, tc.want)
			}
			code := ""
			for _, e := range got.ResizeErrors {
				code = e.Code
			}
			if code != tc.wantCode {
				t.Fatalf("resize errors %+v, want %q", got.ResizeErrors, tc.wantCode)
			}
		})
	}
}

// A node drained with terminate that still holds a task (its drain's
// request stopped before the task ended) is drained again by each pass,
// which ends the task; it leaves once it runs nothing.
func TestManagerResumesTerminateDrains(t *testing.T) {
	f := newFixture(t, 0)
	p := f.pool("managed", 1, 0)
	f.reconcile(p, "")
	f.register("managed", api.NodeIdle)
	id := f.prov.launched[0]
	row := f.lease(id)
	if _, err := f.st.UpdateNode(f.ctx, "managed", id, func(n *store.Node) error {
		n.Node.State, n.DrainOption = api.NodeLeavingPool, "terminate"
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	f.reconcile(f.pool("managed", 0, 0), "terminate")
	if f.cl.drained[id] != "terminate" {
		t.Fatalf("drains %v: the pass did not resume the terminate drain of %s", f.cl.drained, id)
	}
	if got := strings.Join(f.nodes("managed"), ","); got != id+":leavingpool" {
		t.Fatalf("nodes %s: a node with a task left", got)
	}
	f.finish(row)
	f.reconcile(f.pool("managed", 0, 0), "")
	if got := f.nodes("managed"); len(got) != 0 {
		t.Fatalf("nodes %v after its task ended", got)
	}
}
