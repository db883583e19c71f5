package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/azurite"
)

// The Batch account the harness's dev servers serve.
const (
	benchAccount = "obbench"
	benchKey     = "b2JiZW5jaC1rZXktb2JiZW5jaC1rZXktb2JiZW5jaC1rZXktb2JiZW5jaC1rZXktb2JiZW5jaC1rZXk="
)

// devServer is `openbatch dev` run as a child process, so that its memory
// is its own.
type devServer struct {
	cmd      *exec.Cmd
	Endpoint string
	DataDir  string
	C        *client.Client
	logFile  *os.File
}

func startDev(ctx context.Context, bin, dir string) (*devServer, error) {
	port, err := azurite.FreePort()
	if err != nil {
		return nil, err
	}
	_ = os.RemoveAll(dir) // a fresh server every time
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(data, 0o755); err != nil {
		return nil, err
	}
	lf, err := os.Create(filepath.Join(dir, "openbatch.log"))
	if err != nil {
		return nil, err
	}
	d := &devServer{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), DataDir: data, logFile: lf}
	// The key goes by environment, never argv (any local user can read a
	// command line).
	d.cmd = exec.Command(bin, "dev", "--listen", fmt.Sprintf("127.0.0.1:%d", port), "--data-dir", data, "--log-level", "warn",
		"--account-name", benchAccount)
	d.cmd.Stdout, d.cmd.Stderr = lf, lf
	d.cmd.Env = childEnv([]string{"OPENBATCH_ACCOUNT_KEY=" + benchKey})
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	d.C, err = client.New(d.Endpoint, benchAccount, benchKey)
	if err != nil {
		d.Close()
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := d.C.Do(ctx, http.MethodGet, "/pools", nil, nil); err == nil {
			return d, nil
		} else if time.Now().After(deadline) {
			d.Close()
			return nil, fmt.Errorf("openbatch dev did not answer within 30s (log %s): %w", lf.Name(), err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (d *devServer) Pid() int { return d.cmd.Process.Pid }

func (d *devServer) Close() {
	if d.cmd.Process != nil {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = d.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-d.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	}
	d.logFile.Close()
}

// addPool creates a pool and waits until its nodes are idle.
func (d *devServer) addPool(ctx context.Context, id string, nodes, slots int32) ([]api.ComputeNode, error) {
	p := &api.Pool{ID: id, VMSize: "standard_d2s_v3", TargetDedicatedNodes: &nodes, TaskSlotsPerNode: &slots}
	if err := d.C.AddPool(ctx, p); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		ns, err := client.ListAll[api.ComputeNode](ctx, d.C, "/pools/"+id+"/nodes")
		if err != nil {
			return nil, err
		}
		idle := 0
		for _, n := range ns {
			if n.State == api.NodeState("idle") {
				idle++
			}
		}
		if idle == int(nodes) {
			return ns, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("pool %s: %d of %d nodes idle after 30s", id, idle, nodes)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitCompleted polls a task every 10 ms until it is completed.
func (d *devServer) waitCompleted(ctx context.Context, job, task string) (*api.Task, error) {
	for {
		t, err := d.C.GetTask(ctx, job, task)
		if err != nil {
			return nil, err
		}
		if t.State == api.TaskCompleted {
			return t, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// childEnv is the environment of every child process: ours, with loopback
// excluded from any proxy.
func childEnv(extra []string) []string {
	env := append(os.Environ(), "NO_PROXY=127.0.0.1,localhost", "no_proxy=127.0.0.1,localhost")
	return append(env, extra...)
}

// resetPeak resets a process's peak RSS (VmHWM) to its current RSS
// (Linux ≥ 4.0: "5" > /proc/PID/clear_refs).
func resetPeak(pid int) error {
	return os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0)
}

// peakMB is a process's VmHWM in MB (10^6 bytes).
func peakMB(pid int) float64 {
	return float64(procField(fmt.Sprintf("/proc/%d/status", pid), "VmHWM")) * 1024 / 1e6
}

func rssMB(pid int) float64 {
	return float64(procField(fmt.Sprintf("/proc/%d/status", pid), "VmRSS")) * 1024 / 1e6
}

// runTimed runs a command and returns its wall time and peak RSS in MB.
// The peak is the child's VmHWM, polled every 10 ms while it runs (the
// rusage of a child started by Go is useless here: Go starts children with
// vfork, and Linux folds the parent's high-water mark into the child's
// ru_maxrss at exec).
func runTimed(ctx context.Context, name string, args []string, env []string, logPath string) (time.Duration, float64, error) {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = childEnv(env)
	lf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, 0, err
	}
	defer lf.Close()
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	stop := make(chan struct{})
	peak := make(chan float64)
	go func() {
		var max float64
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if v := peakMB(cmd.Process.Pid); v > max {
				max = v
			}
			select {
			case <-stop:
				peak <- max
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	el := time.Since(start)
	close(stop)
	rss := <-peak
	if err != nil {
		b, _ := os.ReadFile(logPath)
		if len(b) > 2000 {
			b = b[len(b)-2000:]
		}
		return el, rss, fmt.Errorf("%s: %w\n%s", filepath.Base(name), err, b)
	}
	return el, rss, nil
}

// cpuSeconds is the CPU time (user + system) a process has used so far,
// its own threads only (not its waited-for children), from
// /proc/PID/stat; 0 if it cannot be read.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces: fields count from the
	// last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0
	}
	ut, err1 := strconv.ParseFloat(f[11], 64)
	st, err2 := strconv.ParseFloat(f[12], 64)
	if err1 != nil || err2 != nil {
		return 0
	}
	return (ut + st) / clockTicks
}

// clockTicks is USER_HZ, the unit of /proc's CPU times: 100 on Linux on
// every architecture Go supports.
const clockTicks = 100

// commCPUSeconds is the CPU time used so far by every process named comm
// (its /proc/PID/comm), living ones only: PostgreSQL's backends for one
// deployment live as long as its servers' connections.
func commCPUSeconds(comm string) float64 {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	var sum float64
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
		if err != nil || strings.TrimSpace(string(b)) != comm {
			continue
		}
		sum += cpuSeconds(pid)
	}
	return sum
}
