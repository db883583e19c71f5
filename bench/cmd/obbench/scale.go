package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/azurite"
	"github.com/openbatch/openbatch/internal/testenv"
)

// The scale part (issue #10): end-to-end throughput of `openbatch server`
// with `openbatch agent` processes, on SQLite and on PostgreSQL with one
// and three servers, against the bare exec loop; and add/list of one big
// job on PostgreSQL (the bigjob part).

// Agents of every throughput deployment: 4 nodes × 2 slots = 8 slots, as
// the bare loop's 8 goroutines.
const (
	scaleAgents = 4
	scaleSlots  = 2
)

// serverProc is `openbatch server` run as a child process.
type serverProc struct {
	cmd      *exec.Cmd
	Endpoint string
	DataDir  string
	C        *client.Client
	logFile  *os.File
}

// startServer starts `openbatch server` with its data in dir and, when dsn
// is set, its state in that PostgreSQL database (given by environment: a
// DSN may hold a password, and argv is readable by every local user);
// extra are more server flags.
func startServer(ctx context.Context, bin, dir, dsn string, extra ...string) (*serverProc, error) {
	port, err := azurite.FreePort()
	if err != nil {
		return nil, err
	}
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, "server.log"))
	if err != nil {
		return nil, err
	}
	s := &serverProc{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), DataDir: data, logFile: lf}
	s.cmd = exec.Command(bin, "server", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", data,
		"--log-level", "warn", "--account-name", benchAccount)
	s.cmd.Args = append(s.cmd.Args, extra...)
	env := []string{"OPENBATCH_ACCOUNT_KEY=" + benchKey}
	if dsn != "" {
		env = append(env, "OPENBATCH_DATABASE="+dsn)
	}
	s.cmd.Stdout, s.cmd.Stderr = lf, lf
	s.cmd.Env = childEnv(env)
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	if s.C, err = client.New(s.Endpoint, benchAccount, benchKey); err != nil {
		s.Close()
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		_, err := s.C.Do(ctx, http.MethodGet, "/pools", nil, nil)
		if err == nil {
			return s, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.Close()
			return nil, fmt.Errorf("openbatch server did not answer within 60s (log %s): %w", lf.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (s *serverProc) Pid() int { return s.cmd.Process.Pid }

// TokenFile is the node join token file the server wrote (mode 0600).
func (s *serverProc) TokenFile() string { return filepath.Join(s.DataDir, "join-token") }

func (s *serverProc) Close() { stopProc(s.cmd); s.logFile.Close() }

// stopProc sends SIGTERM, waits up to 10 s, then kills the process group.
func stopProc(cmd *exec.Cmd) {
	if cmd.Process == nil {
		return
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
}

// agentProc is `openbatch agent` run as a child process.
type agentProc struct {
	cmd     *exec.Cmd
	logFile *os.File
}

func startAgent(bin, server, tokenFile, pool, nodeID, root string) (*agentProc, error) {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return nil, err
	}
	lf, err := os.Create(root + ".log")
	if err != nil {
		return nil, err
	}
	a := &agentProc{logFile: lf}
	a.cmd = exec.Command(bin, "agent", "--server", server, "--pool", pool, "--token-file", tokenFile,
		"--root", root, "--node-id", nodeID, "--log-level", "warn", "--drain-grace", "1s")
	a.cmd.Stdout, a.cmd.Stderr = lf, lf
	var env []string
	for _, kv := range childEnv(nil) {
		if !strings.HasPrefix(kv, "OPENBATCH_") {
			env = append(env, kv)
		}
	}
	a.cmd.Env = env
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := a.cmd.Start(); err != nil {
		lf.Close()
		return nil, err
	}
	return a, nil
}

func (a *agentProc) Close() { stopProc(a.cmd); a.logFile.Close() }

// deployment is servers on one database with agents spread over them.
type deployment struct {
	servers []*serverProc
	agents  []*agentProc
	// cleanup runs after the processes stopped (scratch outside dir).
	cleanup []func()
}

func (d *deployment) Close() {
	for _, a := range d.agents {
		a.Close()
	}
	for _, s := range d.servers {
		s.Close()
	}
	for _, f := range d.cleanup {
		f()
	}
}

// startDeployment starts n servers (on dsn, or SQLite when dsn is ""),
// creates pool "scale" through the first and starts scaleAgents agents,
// agent i joining server i mod n, and waits until all nodes are idle.
func startDeployment(ctx context.Context, cfg *config, dir, dsn string, n int) (*deployment, error) {
	_ = os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	// Agents run tasks as unprivileged users when run as root; those must
	// reach their task directories below the scratch directory.
	allowTraverse(dir)
	d := &deployment{}
	for i := range n {
		s, err := startServer(ctx, cfg.openbatch, filepath.Join(dir, fmt.Sprintf("server%d", i)), dsn)
		if err != nil {
			d.Close()
			return nil, err
		}
		d.servers = append(d.servers, s)
	}
	c := d.servers[0].C
	if err := c.AddPool(ctx, &api.Pool{ID: "scale", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0),
		TaskSlotsPerNode: api.I32(scaleSlots)}); err != nil {
		d.Close()
		return nil, err
	}
	agentDir := dir
	if cfg.scaleAgentRoot != "" {
		var err error
		if agentDir, err = os.MkdirTemp(cfg.scaleAgentRoot, "obbench-agents-"); err != nil {
			d.Close()
			return nil, err
		}
		allowTraverse(agentDir)
		_ = os.Chmod(agentDir, 0o711)
		d.cleanup = append(d.cleanup, func() { _ = os.RemoveAll(agentDir) })
	}
	for i := range scaleAgents {
		s := d.servers[i%n]
		a, err := startAgent(cfg.openbatch, s.Endpoint, s.TokenFile(), "scale", fmt.Sprintf("node%d", i), filepath.Join(agentDir, fmt.Sprintf("agent%d", i)))
		if err != nil {
			d.Close()
			return nil, err
		}
		d.agents = append(d.agents, a)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		ns, err := client.ListAll[api.ComputeNode](ctx, c, "/pools/scale/nodes")
		if err != nil {
			d.Close()
			return nil, err
		}
		idle := 0
		for _, nd := range ns {
			if nd.State == api.NodeIdle {
				idle++
			}
		}
		if idle == scaleAgents {
			return d, nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			d.Close()
			return nil, fmt.Errorf("%d of %d agents idle after 60s (logs in %s)", idle, scaleAgents, dir)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// allowTraverse adds o+x to dir and its parents inside the temporary
// directory (os.MkdirTemp makes them 0700).
func allowTraverse(dir string) {
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Clean(dir); strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil {
			_ = os.Chmod(d, fi.Mode().Perm()|0o001)
		}
	}
}

// run adds n /bin/true tasks to a new job, the addtaskcollection calls
// (100 tasks, 4 at once) spread over the servers, and waits until all
// have completed; it returns the wall time from the first add.
func (d *deployment) run(ctx context.Context, job string, n int) (time.Duration, error) {
	c := d.servers[0].C
	if err := c.AddJob(ctx, &api.Job{ID: job, PoolInfo: &api.PoolInformation{PoolID: "scale"}}); err != nil {
		return 0, err
	}
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for b, i := 0, 0; b < n; b, i = b+100, i+1 {
		sc := d.servers[i%len(d.servers)].C
		g.Go(func() error { _, err := addBatch(gctx, sc, job, b, min(b+100, n)); return err })
	}
	if err := g.Wait(); err != nil {
		return 0, err
	}
	deadline := time.Now().Add(10 * time.Minute)
	for {
		tc, err := c.TaskCounts(ctx, job)
		if err != nil {
			return 0, err
		}
		if int(tc.TaskCounts.Completed) == n {
			if int(tc.TaskCounts.Succeeded) != n {
				return time.Since(start), fmt.Errorf("%d of %d tasks succeeded", tc.TaskCounts.Succeeded, n)
			}
			return lastEnd(ctx, c, job, start)
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("job %s: %d of %d tasks completed after 10 min", job, tc.TaskCounts.Completed, n)
		}
		// taskcounts reads every task of the job: polled often, it takes
		// CPU from the run it measures (3.6 ms a call on PostgreSQL at
		// 3,000 tasks). The end is taken from the tasks' records instead.
		time.Sleep(250 * time.Millisecond)
	}
}

// lastEnd returns the time from start to the latest executionInfo.endTime
// of the job's tasks: when the run ended, whenever the poll noticed it.
// The end times are the agents' clocks, which are this machine's.
func lastEnd(ctx context.Context, c *client.Client, job string, start time.Time) (time.Duration, error) {
	ts, err := client.ListAll[api.Task](ctx, c, "/jobs/"+job+"/tasks?$select=id,executionInfo")
	if err != nil {
		return 0, err
	}
	var end time.Time
	for _, t := range ts {
		if ei := t.ExecutionInfo; ei != nil && ei.EndTime != nil && ei.EndTime.After(end) {
			end = *ei.EndTime
		}
	}
	if end.IsZero() {
		return 0, fmt.Errorf("job %s: no task has an end time", job)
	}
	return end.Sub(start), nil
}

// scalePostgres starts the PostgreSQL server of the scale parts: Debian's
// postgresql-15 through internal/testenv, as the tests start it (initdb in
// a temporary directory, a free port, fsync off).
func scalePostgres(ctx context.Context) (*testenv.Postgres, error) {
	pg, err := testenv.StartPostgres(ctx)
	if err != nil {
		return nil, fmt.Errorf("start PostgreSQL (scripts/setup.sh installs postgresql-15): %w", err)
	}
	return pg, nil
}

// benchScale measures end-to-end throughput: cfg.scaleTasks /bin/true
// tasks on 8 slots through 1 server on SQLite, 1 server on PostgreSQL and
// 3 servers on PostgreSQL, and the bare exec loop, their order rotated
// every round and reversed every other round.
// Each deployment is started fresh for its run and stopped after it, so
// that no idle deployment takes CPU from the measured one.
func benchScale(ctx context.Context, cfg *config, res *Results) error {
	pg, err := scalePostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.Close()
	n := cfg.scaleTasks
	set := fmt.Sprintf("scale: %d × /bin/true, %d agents × %d slots", n, scaleAgents, scaleSlots)
	type variant struct {
		key, name string
		servers   int
		pg        bool
	}
	all := []variant{{"bare-exec", "bare-exec", 0, false}, {"bare-exec+taskdir", "bare-exec+taskdir", -1, false}, {"sqlite", "sqlite, 1 server", 1, false},
		{"postgres", "postgres, 1 server", 1, true}, {"postgres3", "postgres, 3 servers", 3, true}}
	var variants []variant
	for _, v := range all {
		if slices.Contains(strings.Split(cfg.scaleVariants, ","), v.key) {
			variants = append(variants, v)
		}
	}
	if len(variants) == 0 {
		return fmt.Errorf("-scale-variants %q names none of bare-exec, sqlite, postgres, postgres3", cfg.scaleVariants)
	}
	peaks := map[string][]float64{}
	for round := range cfg.runs {
		// Rotated every round, and reversed every other round: on this
		// disk each run leaves the next one slower (ext4 pays for the
		// inodes of the task directories just deleted), so a variant that
		// always ran after another (as "postgres, 3 servers" after
		// "postgres, 1 server" under rotation alone) was always measured
		// on the worse disk.
		order := make([]variant, 0, len(variants))
		for i := range variants {
			order = append(order, variants[(round+i)%len(variants)])
		}
		if round%2 == 1 {
			slices.Reverse(order)
		}
		for _, v := range order {
			if v.servers <= 0 {
				dirs := ""
				if v.servers < 0 {
					dirs = cfg.scaleAgentRoot
					if dirs == "" {
						dirs = filepath.Join(cfg.work, "scale")
					}
				}
				el, err := bareExec(ctx, n, dirs)
				if err != nil {
					return err
				}
				res.add(Measure{Group: "tasks", Set: set, Client: v.name, Unit: "tasks/s"}, float64(n)/el.Seconds())
				logf("round %d scale %s: %d in %.2fs (%.0f/s)", round+1, v.name, n, el.Seconds(), float64(n)/el.Seconds())
				continue
			}
			dsn := ""
			if v.pg {
				if dsn, err = pg.NewDatabase(ctx); err != nil {
					return err
				}
			}
			dir := filepath.Join(cfg.work, "scale", strings.NewReplacer(", ", "-", " ", "").Replace(v.name))
			d, err := startDeployment(ctx, cfg, dir, dsn, v.servers)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			var cpu0 [3]float64 // servers, agents, PostgreSQL
			cpu0[2] = commCPUSeconds("postgres")
			for _, s := range d.servers {
				_ = resetPeak(s.Pid())
				cpu0[0] += cpuSeconds(s.Pid())
			}
			for _, a := range d.agents {
				cpu0[1] += cpuSeconds(a.cmd.Process.Pid)
			}
			el, err := d.run(ctx, fmt.Sprintf("scale-r%d", round), n)
			var peak float64
			var cpu [3]float64
			cpu[2] = commCPUSeconds("postgres")
			for _, s := range d.servers {
				peak = max(peak, peakMB(s.Pid()))
				cpu[0] += cpuSeconds(s.Pid())
			}
			for _, a := range d.agents {
				cpu[1] += cpuSeconds(a.cmd.Process.Pid)
			}
			d.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			peaks[v.name] = append(peaks[v.name], peak)
			res.add(Measure{Group: "tasks", Set: set, Client: v.name, Unit: "tasks/s"}, float64(n)/el.Seconds())
			res.add(Measure{Group: "memory", Set: "server peak RSS (VmHWM) during the scale run", Client: v.name, Unit: "MB"}, peak)
			// CPU per task: the servers' and the agents' own (not the
			// tasks' processes, nor PostgreSQL's), less sensitive than
			// tasks/s to whatever else the machine runs.
			srvCPU, agCPU := 1000*(cpu[0]-cpu0[0])/float64(n), 1000*(cpu[1]-cpu0[1])/float64(n)
			res.add(Measure{Group: "cpu", Set: "server CPU per task during the scale run", Client: v.name, Unit: "ms"}, srvCPU)
			res.add(Measure{Group: "cpu", Set: "agent CPU per task during the scale run", Client: v.name, Unit: "ms"}, agCPU)
			pgCPU := 0.0
			if v.pg {
				pgCPU = 1000 * (cpu[2] - cpu0[2]) / float64(n)
				res.add(Measure{Group: "cpu", Set: "PostgreSQL CPU per task during the scale run", Client: v.name, Unit: "ms"}, pgCPU)
			}
			logf("round %d scale %s: %d in %.2fs (%.0f/s), server peak RSS %.0f MB, CPU per task: servers %.2f ms, agents %.2f ms, PostgreSQL %.2f ms",
				round+1, v.name, n, el.Seconds(), float64(n)/el.Seconds(), peak, srvCPU, agCPU, pgCPU)
		}
	}
	return nil
}

// bareExec is the peer of the tasks and scale parts: 8 goroutines exec
// /bin/true n times in all. With dirs set, each run first makes the task
// directory Azure's node layout gives every task (the task directory with
// wd/ and certs/, stdout.txt and stderr.txt; see layout.go in
// internal/agent) under a new directory in dirs and runs there with its
// output in those files: the least any Azure-compatible node does per task,
// the physical limit of the scale figures on this machine's file system.
func bareExec(ctx context.Context, n int, dirs string) (time.Duration, error) {
	root := ""
	if dirs != "" {
		var err error
		if err = os.MkdirAll(dirs, 0o755); err != nil {
			return 0, err
		}
		if root, err = os.MkdirTemp(dirs, "bare-taskdirs-"); err != nil {
			return 0, err
		}
		defer os.RemoveAll(root)
	}
	var next atomic.Int64
	start := time.Now()
	g, _ := errgroup.WithContext(ctx)
	for range 8 {
		g.Go(func() error {
			for {
				i := next.Add(1)
				if i > int64(n) {
					return nil
				}
				cmd := exec.Command("/bin/true")
				if root != "" {
					dir := filepath.Join(root, fmt.Sprintf("t%d", i))
					for _, d := range []string{dir, filepath.Join(dir, "wd"), filepath.Join(dir, "certs")} {
						if err := os.Mkdir(d, 0o755); err != nil {
							return err
						}
					}
					out, err := os.Create(filepath.Join(dir, "stdout.txt"))
					if err != nil {
						return err
					}
					errf, err := os.Create(filepath.Join(dir, "stderr.txt"))
					if err != nil {
						out.Close()
						return err
					}
					cmd.Dir, cmd.Stdout, cmd.Stderr = filepath.Join(dir, "wd"), out, errf
					err = cmd.Run()
					out.Close()
					errf.Close()
					if err != nil {
						return err
					}
					continue
				}
				if err := cmd.Run(); err != nil {
					return err
				}
			}
		})
	}
	err := g.Wait()
	return time.Since(start), err
}

// benchBigJob fills one job on PostgreSQL (one server, a pool of no nodes,
// so every task stays active) with cfg.bigJob tasks through
// addtaskcollection calls of 100, 8 at once, and then times the first
// page of the task list, with and without $filter, and taskcounts.
func benchBigJob(ctx context.Context, cfg *config, res *Results) error {
	pg, err := scalePostgres(ctx)
	if err != nil {
		return err
	}
	defer pg.Close()
	dsn, err := pg.NewDatabase(ctx)
	if err != nil {
		return err
	}
	dir := filepath.Join(cfg.work, "bigjob")
	_ = os.RemoveAll(dir)
	s, err := startServer(ctx, cfg.openbatch, dir, dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	c := s.C
	if err := c.AddPool(ctx, &api.Pool{ID: "idle", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0)}); err != nil {
		return err
	}
	if err := c.AddJob(ctx, &api.Job{ID: "big", PoolInfo: &api.PoolInformation{PoolID: "idle"}}); err != nil {
		return err
	}
	n := cfg.bigJob
	label := fmt.Sprintf("%dk", n/1000)
	_ = resetPeak(s.Pid())
	start := time.Now()
	var done atomic.Int64
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for b := 0; b < n; b += 100 {
		g.Go(func() error {
			_, err := addBatch(gctx, c, "big", b, min(b+100, n))
			if d := done.Add(int64(min(100, n-b))); d%100000 == 0 {
				logf("bigjob: %d tasks added in %.0fs", d, time.Since(start).Seconds())
			}
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	fill := time.Since(start)
	res.add(Measure{Group: "latency", Set: "postgres: add " + label + " tasks (addtaskcollection of 100, 8 at once)", Client: "openbatch", Unit: "s"}, fill.Seconds())
	res.add(Measure{Group: "latency", Set: "postgres: fill rate to " + label, Client: "openbatch", Unit: "tasks/s"}, float64(n)/fill.Seconds())
	logf("bigjob: %d tasks in %.1fs (%.0f/s)", n, fill.Seconds(), float64(n)/fill.Seconds())
	lists := []struct {
		name, query string
		mayFail     bool
	}{
		{"first page (1,000), no $filter", "", false},
		{"first page, $filter=state eq 'active' (all match)", "state eq 'active'", false},
		{"first page, $filter=state eq 'completed' (none match)", "state eq 'completed'", false},
		{"first page, $filter=executionInfo/exitCode eq 0 (none match, no index)", "executionInfo/exitCode eq 0", false},
		{"first page, $filter=startswith(id,'t001') (IDs 10,000–19,999)", "startswith(id,'t001')", false},
		{"first page, $filter=commandLine eq 'x' (none match, evaluated in Go)", "commandLine eq 'x'", true},
	}
	for range cfg.runs {
		for _, l := range lists {
			path := "/jobs/big/tasks?maxresults=1000"
			if l.query != "" {
				path += "&$filter=" + url.QueryEscape(l.query)
			}
			var out struct {
				Value []api.Task `json:"value"`
			}
			t := time.Now()
			if _, err := c.Do(ctx, http.MethodGet, path, nil, &out); err != nil {
				if l.mayFail {
					// Recorded, not fatal: at 1M tasks a filter evaluated
					// in Go reads every row and can outlast the server's
					// operation timeout (500 OperationTimedOut).
					logf("bigjob: %s at %s: %v after %.1fs", l.name, label, err, time.Since(t).Seconds())
					res.add(Measure{Group: "latency", Set: fmt.Sprintf("postgres: list %s at %s: failed", l.name, label), Client: "openbatch", Unit: "ms", Notes: err.Error()}, ms(time.Since(t)))
					continue
				}
				return fmt.Errorf("%s: %w", l.name, err)
			}
			res.add(Measure{Group: "latency", Set: fmt.Sprintf("postgres: list %s at %s", l.name, label), Client: "openbatch", Unit: "ms"}, ms(time.Since(t)))
		}
		t := time.Now()
		tc, err := c.TaskCounts(ctx, "big")
		if err != nil {
			return err
		}
		if int(tc.TaskCounts.Active) != n {
			return errors.New("taskcounts: " + fmt.Sprint(tc.TaskCounts.Active) + " active, want " + fmt.Sprint(n))
		}
		res.add(Measure{Group: "latency", Set: "postgres: taskcounts at " + label, Client: "openbatch", Unit: "ms"}, ms(time.Since(t)))
	}
	res.add(Measure{Group: "memory", Set: "postgres server RSS holding " + label + " tasks (after the lists)", Client: "openbatch", Unit: "MB"}, rssMB(s.Pid()))
	res.add(Measure{Group: "memory", Set: "postgres server peak RSS (VmHWM) filling " + label + " tasks", Client: "openbatch", Unit: "MB"}, peakMB(s.Pid()))
	return nil
}
