package e2e

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/provider"
	"github.com/openbatch/openbatch/internal/testenv"
)

// TestSlurmProvider runs a pool whose nodes are Slurm jobs on a real
// one-host Slurm cluster (testenv.StartSlurm): the pool grows to 3 nodes,
// runs tasks whose outputs land in Azurite, shrinks to 1 (the surplus
// drained, then their jobs cancelled), grows back to 3, replaces a node
// whose job Slurm ended behind openbatch's back, and on deletion leaves no
// job behind.
func TestSlurmProvider(t *testing.T) {
	if testing.Short() {
		t.Skip("Slurm end-to-end test skipped in -short mode")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	sl, err := testenv.StartSlurm(ctx)
	testenv.Require(t, err)
	defer sl.Close()
	az := testenv.SharedAzurite(t)
	container := az.NewContainer(t)
	sas := az.ContainerSAS(t, container, "w", time.Now().Add(24*time.Hour))
	// The provider's sbatch, squeue and scancel find the cluster as a
	// site's would: through SLURM_CONF.
	t.Setenv("SLURM_CONF", sl.Conf)

	// Node roots must be traversable by the tasks' user (the agents run
	// as root and tasks as the _azbatch user).
	roots, err := os.MkdirTemp("", "obslurm-nodes-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(roots)
	if err := os.Chmod(roots, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := provider.ParseConfig([]byte(fmt.Sprintf(`{
  "pools": [{"poolId": "hpc-*", "provider": "cluster"}],
  "providers": {"cluster": {"type": "slurm", "slurm": {
    "agent": %q, "rootDir": %q, "drainGrace": "5s", "timeLimit": "30:00",
    "vmSizes": [{"vmSize": "standard_d2*", "cpus": 1, "memoryMB": 256}]}}}
}`, openbatchBin, roots)))
	if err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	srv, err := app.Start(ctx, app.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), NodeProviders: cfg,
		HeartbeatTimeout: 10 * time.Second, Log: slog.New(slog.NewTextHandler(logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	defer func() {
		if t.Failed() {
			t.Logf("server log (tail):\n%s\n%s", tail(logs.String(), 8<<10), sl.Logs())
		}
	}()
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		t.Fatal(err)
	}

	// A pool no rule maps is static: its target is informational, and
	// the pool says so.
	if err := c.AddPool(ctx, &api.Pool{ID: "byhand", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(2)}); err != nil {
		t.Fatal(err)
	}
	waitCond(ctx, t, "static pool's resize error", func() (bool, string) {
		p, err := c.GetPool(ctx, "byhand")
		if err != nil {
			return false, err.Error()
		}
		return len(p.ResizeErrors) == 1 && p.ResizeErrors[0].Code == provider.CodeNoNodeProvider, fmt.Sprint(p.ResizeErrors)
	})

	if err := c.AddPool(ctx, &api.Pool{ID: "hpc-a", VMSize: "STANDARD_D2S_V3", TargetDedicatedNodes: api.I32(3)}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	phase := func(what string) { t.Logf("%-40s at %5.1fs", what, time.Since(start).Seconds()) }
	waitIdle(ctx, t, c, sl, 3)
	phase("3 Slurm nodes idle")
	checkScripts(t, roots, srv.JoinToken)
	// The jobs are sized from the pool's vmSize entry.
	out, err := sl.Command(ctx, "squeue", "--noheader", "--format=%C|%m|%l|%P").Output()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(string(out)) {
		if got := strings.TrimSpace(line); got != "1|256M|30:00|test" {
			t.Fatalf("job shape (cpus|memory|time limit|partition) %q, want 1|256M|30:00|test", got)
		}
	}

	if err := c.AddJob(ctx, &api.Job{ID: "j", PoolInfo: &api.PoolInformation{PoolID: "hpc-a"}}); err != nil {
		t.Fatal(err)
	}
	var tasks []*api.Task
	for i := range 6 {
		id := fmt.Sprintf("t%d", i)
		tasks = append(tasks, &api.Task{ID: id, CommandLine: `/bin/sh -c 'echo "$AZ_BATCH_TASK_ID on $AZ_BATCH_NODE_ID" > out.txt; sleep 2'`,
			OutputFiles: []api.OutputFile{{FilePattern: "out.txt",
				Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: sas, Path: id + "/out.txt"}},
				UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnSuccess}}}})
	}
	if _, err := c.AddTasks(ctx, "j", tasks); err != nil {
		t.Fatal(err)
	}
	nodesUsed := map[string]bool{}
	for _, tk := range tasks {
		got, err := c.WaitTask(ctx, "j", tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.ExecutionInfo == nil || got.ExecutionInfo.Result != api.ResultSuccess {
			t.Fatalf("task %s: %+v", tk.ID, got.ExecutionInfo)
		}
		data, _ := az.Download(t, container, tk.ID+"/out.txt")
		if !strings.HasPrefix(string(data), tk.ID+" on ") {
			t.Fatalf("blob %s/out.txt = %q", tk.ID, data)
		}
		nodesUsed[got.NodeInfo.NodeID] = true
	}
	phase(fmt.Sprintf("6 tasks done on %d nodes, outputs in Azurite", len(nodesUsed)))

	resize(ctx, t, c, "hpc-a", 1, "taskcompletion")
	waitIdle(ctx, t, c, sl, 1)
	phase("scaled in to 1")
	resize(ctx, t, c, "hpc-a", 3, "")
	waitIdle(ctx, t, c, sl, 3)
	phase("scaled out to 3")

	// Slurm ends a node's job behind openbatch's back, as at its time
	// limit (SIGTERM): the agent drains and leaves, and a new job replaces
	// it. Then a node dies (its agent SIGKILLed, so the job ends with no
	// goodbye): the heartbeat timeout finds it lost and requeues its tasks,
	// and it is removed and replaced.
	jobs := slurmJobs(ctx, t, sl)
	if out, err := sl.Command(ctx, "scancel", jobs[0].id).CombinedOutput(); err != nil {
		t.Fatalf("scancel: %v: %s", err, out)
	}
	waitReplaced(ctx, t, c, jobs[0].node)
	phase("node whose job Slurm ended replaced")
	killed := slurmJobs(ctx, t, sl)[0].node
	if err := killAgent(killed); err != nil {
		t.Fatal(err)
	}
	waitReplaced(ctx, t, c, killed)
	waitIdle(ctx, t, c, sl, 3)
	phase("lost node replaced")

	if _, err := c.Do(ctx, http.MethodDelete, "/pools/hpc-a", nil, nil); err != nil {
		t.Fatal(err)
	}
	waitCond(ctx, t, "no Slurm job after the pool's deletion", func() (bool, string) {
		now := slurmJobs(ctx, t, sl)
		return len(now) == 0, fmt.Sprint(now)
	})
	phase("pool deleted, no job left")
}

// waitReplaced waits until node gone has left pool hpc-a and the pool has
// 3 idle nodes again.
func waitReplaced(ctx context.Context, t *testing.T, c *client.Client, gone string) {
	t.Helper()
	waitCond(ctx, t, "node "+gone+" removed and replaced", func() (bool, string) {
		nodes, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/hpc-a/nodes")
		if err != nil {
			return false, err.Error()
		}
		idle := 0
		for _, nd := range nodes {
			if nd.ID == gone {
				return false, "node " + nd.ID + " still " + string(nd.State)
			}
			if nd.State == api.NodeIdle {
				idle++
			}
		}
		return idle == 3, fmt.Sprintf("%d idle of %d", idle, len(nodes))
	})
}

// killAgent SIGKILLs the `openbatch agent` process of node.
func killAgent(node string) error {
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		if len(args) > 2 && args[1] == "agent" && slices.Contains(args, node) {
			pid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if err != nil {
				return err
			}
			return syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	return fmt.Errorf("no agent process of node %s", node)
}

// waitIdle waits until pool hpc-a has n idle nodes, Slurm runs n of its
// jobs and the pool's allocation is steady.
func waitIdle(ctx context.Context, t *testing.T, c *client.Client, sl *testenv.Slurm, n int) {
	t.Helper()
	waitCond(ctx, t, fmt.Sprintf("%d idle Slurm nodes", n), func() (bool, string) {
		nodes, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/hpc-a/nodes")
		if err != nil {
			return false, err.Error()
		}
		idle := 0
		var states []string
		for _, nd := range nodes {
			states = append(states, string(nd.State))
			if nd.State == api.NodeIdle {
				idle++
			}
		}
		jobs := slurmJobs(ctx, t, sl)
		// The resize is over (and another may start) once the pool is
		// steady again, as in Azure.
		p, err := c.GetPool(ctx, "hpc-a")
		if err != nil {
			return false, err.Error()
		}
		return idle == n && len(nodes) == n && len(jobs) == n && p.AllocationState == api.AllocationSteady,
			fmt.Sprintf("nodes %v, slurm jobs %v, allocationState %s", states, jobs, p.AllocationState)
	})
	p, err := c.GetPool(ctx, "hpc-a")
	if err != nil {
		t.Fatal(err)
	}
	if *p.CurrentDedicatedNodes != int32(n) || len(p.ResizeErrors) != 0 {
		t.Fatalf("pool: currentDedicatedNodes %d, resizeErrors %+v", *p.CurrentDedicatedNodes, p.ResizeErrors)
	}
}

func resize(ctx context.Context, t *testing.T, c *client.Client, pool string, n int32, opt string) {
	t.Helper()
	if _, err := c.Do(ctx, http.MethodPost, "/pools/"+pool+"/resize", &api.PoolResize{TargetDedicatedNodes: api.I32(n), NodeDeallocationOption: opt}, nil); err != nil {
		t.Fatalf("resize %s to %d: %v", pool, n, err)
	}
}

// slurmJob is a Slurm job of a node.
type slurmJob struct{ id, node string }

// slurmJobs lists the Slurm jobs of pool hpc-a that run or wait to.
func slurmJobs(ctx context.Context, t *testing.T, sl *testenv.Slurm) []slurmJob {
	t.Helper()
	out, err := sl.Command(ctx, "squeue", "--noheader", "--format=%i %j %T").Output()
	if err != nil {
		t.Fatalf("squeue: %v", err)
	}
	var jobs []slurmJob
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 3 && strings.HasPrefix(f[1], "openbatch/hpc-a/") && f[2] != "COMPLETING" {
			jobs = append(jobs, slurmJob{id: f[0], node: strings.Split(f[1], "/")[2]})
		}
	}
	return jobs
}

// checkScripts checks that the job scripts hold no join token and are
// readable by their owner only.
func checkScripts(t *testing.T, roots, token string) {
	t.Helper()
	scripts, _ := filepath.Glob(filepath.Join(roots, "jobs", "*.sh"))
	if len(scripts) == 0 {
		t.Fatal("no job scripts")
	}
	for _, s := range scripts {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		fi, _ := os.Stat(s)
		if strings.Contains(string(b), token) || fi.Mode().Perm()&0o077 != 0 {
			t.Fatalf("job script %s (mode %v) holds the join token or is readable by others", s, fi.Mode())
		}
	}
	if fi, _ := os.Stat(filepath.Join(roots, "jobs")); fi.Mode().Perm()&0o077 != 0 {
		t.Fatalf("jobs directory mode %v", fi.Mode())
	}
}

// waitCond polls cond every 200ms until it holds, failing with its last
// description when ctx ends.
func waitCond(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	last := ""
	for {
		ok, desc := cond()
		if ok {
			return
		}
		last = desc
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %s", what, last)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
