// Package agent_test runs `openbatch agent` processes against an openbatch
// server: remote task files, node loss and requeue, and lease fencing.
package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/testenv"
)

// openbatchBin is the openbatch binary built once by TestMain.
var openbatchBin string

// heartbeatTimeout is the servers' node heartbeat timeout in these tests.
const heartbeatTimeout = 3 * time.Second

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "openbatch-agent-test-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "agent test:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	openbatchBin = filepath.Join(dir, "openbatch")
	if err := testenv.BuildOpenbatch(openbatchBin); err != nil {
		fmt.Fprintln(os.Stderr, "agent test: build openbatch:", err)
		return 1
	}
	defer testenv.StopSharedPostgres()
	return m.Run()
}

// dumpOnFailure logs what was written to buf if the test fails.
func dumpOnFailure(t *testing.T, what string, buf *testenv.SyncBuffer) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s:\n%s", what, buf.String())
		}
	})
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// startServer starts an openbatch server without local nodes and returns
// it with a client.
func startServer(t *testing.T) (*app.Server, *client.Client) {
	t.Helper()
	logs := &testenv.SyncBuffer{}
	dumpOnFailure(t, "server log", logs)
	srv, err := app.Start(context.Background(), app.Config{
		Listen:            "127.0.0.1:0",
		DataDir:           t.TempDir(),
		HeartbeatTimeout:  heartbeatTimeout,
		HeartbeatInterval: 500 * time.Millisecond,
		Log:               slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}
	return srv, c
}

// agentProc is an `openbatch agent` subprocess in a process group of its own.
type agentProc struct {
	nodeID, root string
	cmd          *exec.Cmd
	logs         *testenv.SyncBuffer
	exited       chan struct{}
}

// startAgent starts `openbatch agent` as nodeID with its own root.
func startAgent(t *testing.T, srv *app.Server, poolID, nodeID, root string) *agentProc {
	t.Helper()
	return startAgentAt(t, srv.Endpoint, srv.JoinToken, poolID, nodeID, root)
}

// startAgentAt starts `openbatch agent` as nodeID against the server at
// endpoint, joining with token; env adds NAME=value settings to its
// environment.
func startAgentAt(t *testing.T, endpoint, token, poolID, nodeID, root string, env ...string) *agentProc {
	t.Helper()
	a := &agentProc{nodeID: nodeID, root: root, logs: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	dumpOnFailure(t, "agent "+nodeID+" log", a.logs)
	allowTraverse(t, root)
	// The join token goes by environment, never argv (any local user can
	// read a command line).
	a.cmd = exec.Command(openbatchBin, "agent", "--server", endpoint, "--pool", poolID,
		"--root", root, "--node-id", nodeID, "--log-level", "debug")
	a.cmd.Env = append(append(agentEnv(), "OPENBATCH_TOKEN="+token), env...)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() { a.kill(t) })
	return a
}

// allowTraverse lets other users traverse the directories above root that
// lie inside the temporary directory (t.TempDir makes them 0700): an agent
// running as root runs tasks as unprivileged users, which must reach their
// task directories below root.
func allowTraverse(t *testing.T, root string) {
	t.Helper()
	tmp := filepath.Clean(os.TempDir())
	for dir := filepath.Dir(filepath.Clean(root)); strings.HasPrefix(dir, tmp+string(filepath.Separator)); dir = filepath.Dir(dir) {
		fi, err := os.Stat(dir)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, fi.Mode().Perm()|0o001); err != nil {
			t.Fatal(err)
		}
	}
}

// agentEnv is the test's environment without OPENBATCH_* settings.
func agentEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "OPENBATCH_") {
			env = append(env, kv)
		}
	}
	return env
}

// kill sends SIGKILL to the agent process only (not its task processes,
// which live in process groups of their own) and waits for it to exit.
func (a *agentProc) kill(t *testing.T) {
	select {
	case <-a.exited:
		return
	default:
	}
	_ = syscall.Kill(a.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-a.exited:
	case <-time.After(10 * time.Second):
		t.Errorf("agent %s did not exit after SIGKILL", a.nodeID)
	}
	// Whatever else is left of the agent's own process group goes too.
	_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
}

// waitNodes waits until the pool has exactly the given nodes, all idle.
func waitNodesIdle(t *testing.T, c *client.Client, poolID string, ids ...string) {
	t.Helper()
	ctx := ctxT(t, 20*time.Second)
	for {
		nodes, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/"+poolID+"/nodes")
		if err != nil {
			t.Fatal(err)
		}
		idle := map[string]bool{}
		for _, n := range nodes {
			if n.State == api.NodeIdle {
				idle[n.ID] = true
			}
		}
		ok := len(nodes) == len(ids)
		for _, id := range ids {
			ok = ok && idle[id]
		}
		if ok {
			return
		}
		if ctx.Err() != nil {
			t.Fatalf("nodes of pool %s never all idle: %+v", poolID, nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitTask polls a task until ok accepts it.
func waitTask(t *testing.T, c *client.Client, jobID, taskID string, d time.Duration, what string, ok func(*api.Task) bool) *api.Task {
	t.Helper()
	ctx := ctxT(t, d)
	for {
		tk, err := c.GetTask(ctx, jobID, taskID)
		if err == nil && ok(tk) {
			return tk
		}
		if ctx.Err() != nil {
			t.Fatalf("task %s/%s: %s not reached within %s: %+v (err %v)", jobID, taskID, what, d, tk, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setupPool creates a pool (no nodes of its own: agents join it) and a job.
func setupPool(t *testing.T, c *client.Client, poolID, jobID string) {
	t.Helper()
	ctx := ctxT(t, 10*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: poolID, VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	if err := c.AddJob(ctx, &api.Job{ID: jobID, PoolInfo: &api.PoolInformation{PoolID: poolID}}); err != nil {
		t.Fatal(err)
	}
}

// startAgents starts two agents on poolID and waits until both are idle.
func startAgents(t *testing.T, srv *app.Server, c *client.Client, poolID string) (a, b *agentProc) {
	t.Helper()
	dir := t.TempDir()
	a = startAgent(t, srv, poolID, "node-a", filepath.Join(dir, "a"))
	b = startAgent(t, srv, poolID, "node-b", filepath.Join(dir, "b"))
	waitNodesIdle(t, c, poolID, a.nodeID, b.nodeID)
	return a, b
}
