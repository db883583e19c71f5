package agent_test

import (
	"context"
	"encoding/base64"
	"fmt"
	"os/exec"
	"path/filepath"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/testenv"
)

// serverProc is an `openbatch server` process on a shared PostgreSQL.
type serverProc struct {
	endpoint string
	cmd      *exec.Cmd
	logs     *testenv.SyncBuffer
	exited   chan struct{}
}

func startServerProc(t *testing.T, name, dsn string) *serverProc {
	t.Helper()
	port, err := testenv.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	s := &serverProc{endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), logs: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	dumpOnFailure(t, "server "+name+" log", s.logs)
	s.cmd = exec.Command(openbatchBin, "server", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", t.TempDir(),
		"--insecure-dev-key", "--heartbeat-timeout", heartbeatTimeout.String(), "--log-level", "info")
	// The database URL goes by environment, as the README says to.
	s.cmd.Env = append(agentEnv(), "OPENBATCH_DATABASE="+dsn)
	s.cmd.Stdout, s.cmd.Stderr = s.logs, s.logs
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() { s.kill(t) })
	c := devClient(t, s.endpoint)
	ctx := ctxT(t, 30*time.Second)
	for {
		if _, err := c.Do(ctx, "GET", "/pools", nil, nil); err == nil {
			return s
		}
		select {
		case <-s.exited:
			t.Fatalf("server %s exited:\n%s", name, s.logs.String())
		case <-ctx.Done():
			t.Fatalf("server %s did not answer", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (s *serverProc) kill(t *testing.T) {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

func devClient(t *testing.T, endpoint string) *client.Client {
	c, err := client.New(endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSeveralServersOnPostgres runs three `openbatch server` processes on
// one PostgreSQL database and four agents spread over two of them; clients
// add tasks through all three while first one server and then another is
// killed with SIGKILL. Every task whose add was acknowledged completes once,
// successfully, the job's maxParallelTasks is never exceeded (from the
// tasks' recorded start and end times), and nothing stays in a transitional
// state.
func TestSeveralServersOnPostgres(t *testing.T) {
	pg, err := testenv.SharedPostgres()
	testenv.Require(t, err)
	dsn, err := pg.NewDatabase(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	// A, B and C share the database; agents join A and B; C only takes
	// clients, so killing C and then B loses no agent that could not come
	// back (agents follow one server URL).
	a := startServerProc(t, "A", dsn)
	b := startServerProc(t, "B", dsn)
	c := startServerProc(t, "C", dsn)
	key, _ := base64.StdEncoding.DecodeString(app.DevAccountKey)
	token := nodeproto.JoinToken(key)

	ctx := ctxT(t, 3*time.Minute)
	ca, cb, cc := devClient(t, a.endpoint), devClient(t, b.endpoint), devClient(t, c.endpoint)
	if err := cb.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0), TaskSlotsPerNode: api.I32(2)}); err != nil {
		t.Fatal(err)
	}
	const maxPar = 3
	if err := cc.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}, MaxParallelTasks: api.I32(maxPar)}); err != nil {
		t.Fatal(err)
	}
	// Each agent knows A and B (in two orders): when B dies, its agents
	// fail over to A.
	for i, servers := range []string{a.endpoint + "," + b.endpoint, a.endpoint + "," + b.endpoint,
		b.endpoint + "," + a.endpoint, b.endpoint + "," + a.endpoint} {
		id := fmt.Sprintf("node%d", i)
		startAgentAt(t, servers, token, "p1", id, filepath.Join(t.TempDir(), id))
	}

	// Clients add tasks through every live server; an add counts once the
	// server acknowledged it.
	var mu sync.Mutex
	var acked []string
	live := []*client.Client{ca, cb, cc}
	addBatch := func(n int) {
		for k := range 10 {
			id := fmt.Sprintf("t%03d", n*10+k)
			mu.Lock()
			cl := live[(n+k)%len(live)]
			mu.Unlock()
			if err := cl.AddTask(ctx, "j1", &api.Task{ID: id, CommandLine: "/bin/sh -c 'sleep 0.1'"}); err == nil {
				mu.Lock()
				acked = append(acked, id)
				mu.Unlock()
			}
		}
	}
	for n := range 4 {
		addBatch(n)
	}
	c.kill(t) // SIGKILL mid-stream
	mu.Lock()
	live = []*client.Client{ca, cb}
	mu.Unlock()
	for n := 4; n < 8; n++ {
		addBatch(n)
	}
	b.kill(t) // its agents lose their server; their tasks are requeued
	mu.Lock()
	live = []*client.Client{ca}
	mu.Unlock()
	for n := 8; n < 12; n++ {
		addBatch(n)
	}

	// Everything acknowledged completes, on A's agents if B's are gone.
	var tasks []api.Task
	for {
		tasks, err = client.ListAll[api.Task](ctx, ca, "/jobs/j1/tasks")
		if err != nil {
			t.Fatal(err)
		}
		done := 0
		for _, tk := range tasks {
			if tk.State == api.TaskCompleted {
				done++
			}
		}
		if done == len(acked) && len(tasks) == len(acked) {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("%d of %d acknowledged tasks completed (%d listed)", done, len(acked), len(tasks))
		}
		time.Sleep(200 * time.Millisecond)
	}
	if len(acked) < 100 {
		t.Fatalf("only %d of 120 adds were acknowledged", len(acked))
	}
	type edge struct {
		at    time.Time
		delta int
	}
	var edges []edge
	for _, tk := range tasks {
		ei := tk.ExecutionInfo
		if ei == nil || ei.Result != api.ResultSuccess || ei.StartTime == nil || ei.EndTime == nil {
			t.Fatalf("task %s: %+v", tk.ID, ei)
		}
		edges = append(edges, edge{*ei.StartTime, +1}, edge{*ei.EndTime, -1})
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i].at.Equal(edges[j].at) {
			return edges[i].delta < edges[j].delta // an end before a start at the same instant
		}
		return edges[i].at.Before(edges[j].at)
	})
	running, peak := 0, 0
	for _, e := range edges {
		running += e.delta
		peak = max(peak, running)
	}
	if peak > maxPar {
		t.Fatalf("%d tasks ran at once; maxParallelTasks is %d", peak, maxPar)
	}
	// The agents that followed B live on through A.
	waitNodesIdle(t, ca, "p1", "node0", "node1", "node2", "node3")
	j, err := ca.GetJob(ctx, "j1")
	if err != nil || j.State != api.JobActive {
		t.Fatalf("job after the run: %+v, %v", j, err)
	}
	var p api.Pool
	if _, err := ca.Do(ctx, "GET", "/pools/p1", nil, &p); err != nil || p.State != api.PoolActive {
		t.Fatalf("pool after the run: %+v, %v", p, err)
	}
	// A server that outlived the others terminates the job through the
	// reconcile loop: the job leaves terminating.
	if _, err := ca.Do(ctx, "POST", "/jobs/j1/terminate", nil, nil); err != nil {
		t.Fatal(err)
	}
	for {
		// The agents that followed B live on through A.
		waitNodesIdle(t, ca, "p1", "node0", "node1", "node2", "node3")
		j, err := ca.GetJob(ctx, "j1")
		if err == nil && j.State == api.JobCompleted {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("job stayed %s", j.State)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
