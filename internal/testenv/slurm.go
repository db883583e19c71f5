package testenv

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Slurm is a one-host Slurm cluster (slurmctld and slurmd from Debian's
// slurm-wlm, authenticated by a munged of its own) in a temporary
// directory: its own munge key and socket, its own ports, state and spool
// directories, so it touches nothing of the machine's configuration.
type Slurm struct {
	// Dir holds slurm.conf, the munge key and socket, state and logs.
	Dir string
	// Conf is the path of slurm.conf.
	Conf string
	// Node is the cluster's one node (this host's short name).
	Node string

	procs []*exec.Cmd
	done  []chan struct{}
}

// slurmTools are the commands a Slurm cluster needs; scripts/setup.sh
// installs them (Debian packages slurm-wlm and munge).
var slurmTools = []string{"munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"}

// StartSlurm starts a one-host Slurm cluster and waits until its node is
// idle. Slurm's daemons run as root here (SlurmUser=root), so StartSlurm
// needs root; without root or the tools it returns an error that Require
// turns into a skip. Close stops it.
func StartSlurm(ctx context.Context) (*Slurm, error) {
	for _, name := range slurmTools {
		if _, err := exec.LookPath(name); err != nil {
			return nil, fmt.Errorf("slurm: %s not installed (scripts/setup.sh installs slurm-wlm and munge): %w", name, err)
		}
	}
	if os.Geteuid() != 0 {
		return nil, errors.New("slurm: the test cluster's slurmd runs as root, and this test is not root")
	}
	// A short directory: the munge socket path must fit a sockaddr_un.
	dir, err := os.MkdirTemp("", "obslurm-")
	if err != nil {
		return nil, err
	}
	s := &Slurm{Dir: dir, Conf: filepath.Join(dir, "slurm.conf")}
	if err := s.start(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

func (s *Slurm) start(ctx context.Context) error {
	dir := s.Dir
	// munged wants its socket reachable by every user (the directories
	// on its path traversable) and its key private.
	if err := os.Chmod(dir, 0o755); err != nil {
		return err
	}
	for d, mode := range map[string]os.FileMode{"munge": 0o755, "key": 0o700, "state": 0o700, "spool": 0o700} {
		if err := os.Mkdir(filepath.Join(dir, d), mode); err != nil {
			return err
		}
	}
	key := make([]byte, 1024)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	keyFile := filepath.Join(dir, "key", "munge.key")
	if err := os.WriteFile(keyFile, key, 0o400); err != nil {
		return err
	}
	sock := filepath.Join(dir, "munge", "munge.sock")
	if err := s.spawn("munged", "--foreground", "--socket="+sock, "--key-file="+keyFile,
		"--log-file="+filepath.Join(dir, "munge", "munged.log"), "--pid-file="+filepath.Join(dir, "munge", "munged.pid"),
		"--seed-file="+filepath.Join(dir, "munge", "munged.seed")); err != nil {
		return err
	}
	if err := waitFor(ctx, 20*time.Second, func() bool { _, err := os.Stat(sock); return err == nil }); err != nil {
		return fmt.Errorf("munged did not create its socket: %w\n%s", err, readTail(filepath.Join(dir, "munged.out")))
	}
	host, err := os.Hostname()
	if err != nil {
		return err
	}
	s.Node, _, _ = strings.Cut(host, ".")
	ctldPort, err := FreePort()
	if err != nil {
		return err
	}
	slurmdPort, err := FreePort()
	if err != nil {
		return err
	}
	conf := fmt.Sprintf(`# openbatch test cluster (internal/testenv)
ClusterName=obtest
SlurmctldHost=%[1]s(127.0.0.1)
SlurmctldPort=%[2]d
SlurmdPort=%[3]d
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=%[4]s
CredType=cred/munge
StateSaveLocation=%[5]s/state
SlurmdSpoolDir=%[5]s/spool
SlurmctldPidFile=%[5]s/slurmctld.pid
SlurmdPidFile=%[5]s/slurmd.pid
SlurmctldLogFile=%[5]s/slurmctld.log
SlurmdLogFile=%[5]s/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=1
KillWait=10
# The node's CPUs are shared by jobs (OverSubscribe), so a 2-CPU test
# machine runs several one-CPU node jobs at once.
NodeName=%[1]s NodeAddr=127.0.0.1 CPUs=%[6]d RealMemory=%[7]d State=UNKNOWN
PartitionName=test Nodes=%[1]s Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:16
`, s.Node, ctldPort, slurmdPort, sock, dir, runtime.NumCPU(), memoryMB())
	if err := os.WriteFile(s.Conf, []byte(conf), 0o644); err != nil {
		return err
	}
	if err := s.spawn("slurmctld", "-D", "-f", s.Conf); err != nil {
		return err
	}
	if err := s.spawn("slurmd", "-D", "-f", s.Conf); err != nil {
		return err
	}
	err = waitFor(ctx, 60*time.Second, func() bool {
		out, err := s.Command(ctx, "sinfo", "--noheader", "--format=%T").Output()
		return err == nil && strings.TrimSpace(string(out)) == "idle"
	})
	if err != nil {
		return fmt.Errorf("the slurm node did not become idle: %w\nslurmctld:\n%s\nslurmd:\n%s", err,
			readTail(filepath.Join(dir, "slurmctld.log")), readTail(filepath.Join(dir, "slurmd.log")))
	}
	return nil
}

// Env returns the environment Slurm's commands need to use this cluster:
// the current one with SLURM_CONF set.
func (s *Slurm) Env() []string {
	return append(os.Environ(), "SLURM_CONF="+s.Conf)
}

// Command returns a Slurm client command (sbatch, squeue, …) for this
// cluster.
func (s *Slurm) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.Env()
	return cmd
}

// spawn starts a daemon in the foreground, in its own process group.
func (s *Slurm) spawn(name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Env = s.Env()
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	logf, err := os.Create(filepath.Join(s.Dir, name+".out"))
	if err != nil {
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start %s: %w", name, err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); logf.Close(); close(done) }()
	s.procs = append(s.procs, cmd)
	s.done = append(s.done, done)
	return nil
}

// Close cancels the cluster's jobs (their slurmstepd would outlive
// slurmd), stops the daemons in reverse order and removes the directory.
func (s *Slurm) Close() {
	if len(s.procs) == 3 {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		_ = s.Command(ctx, "scancel", "--user="+strconv.Itoa(os.Geteuid())).Run()
		_ = waitFor(ctx, 45*time.Second, func() bool {
			out, err := s.Command(ctx, "squeue", "--noheader").Output()
			return err == nil && strings.TrimSpace(string(out)) == ""
		})
		cancel()
	}
	for i := len(s.procs) - 1; i >= 0; i-- {
		_ = syscall.Kill(-s.procs[i].Process.Pid, syscall.SIGTERM)
		select {
		case <-s.done[i]:
		case <-time.After(15 * time.Second):
			_ = syscall.Kill(-s.procs[i].Process.Pid, syscall.SIGKILL)
			<-s.done[i]
		}
	}
	_ = os.RemoveAll(s.Dir)
}

// Logs returns the tails of the daemons' logs, for a failing test.
func (s *Slurm) Logs() string {
	var b strings.Builder
	for _, f := range []string{"slurmctld.log", "slurmd.log"} {
		fmt.Fprintf(&b, "== %s\n%s\n", f, readTail(filepath.Join(s.Dir, f)))
	}
	return b.String()
}

// memoryMB is the memory Slurm may hand out on this host: the machine's
// less a margin, as slurmd refuses a node configured with more than it has.
func memoryMB() int {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 1024
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:"); ok {
			kb, err := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(rest), " kB"))
			if err == nil {
				return max(kb/1024-512, 256)
			}
		}
	}
	return 1024
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func readTail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	if len(b) > 4096 {
		b = b[len(b)-4096:]
	}
	return string(b)
}
