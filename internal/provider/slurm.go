package provider

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The Slurm provider runs each node as a Slurm batch job whose one process
// is `openbatch agent`. It submits with sbatch and lists and cancels with
// squeue and scancel, not through slurmrestd: the commands are in every
// Slurm installation and authenticate with the site's own munge setup,
// whereas slurmrestd is optional, often not deployed, and needs JWT or
// socket authentication configured for the server's user.

// SlurmConfig configures a Slurm provider (JSON in the node providers
// file). Paths are as seen on the compute nodes, which usually share them
// with the server through a shared file system.
type SlurmConfig struct {
	// AgentLaunch: the server's endpoint, DATA_DIR/join-token, the
	// server's own executable and DATA_DIR/slurm by default. RootDir also
	// holds the jobs' scripts and output and must be private to the jobs'
	// user; the token file must be readable by it.
	AgentLaunch
	// JobName prefixes the job names, which name pool and node; servers
	// sharing a Slurm cluster need different prefixes (default openbatch).
	JobName string `json:"jobName,omitempty"`
	// Partition, Account, QOS and TimeLimit (Slurm's --time syntax) apply
	// to every job unless a vmSize entry overrides them.
	Partition string `json:"partition,omitempty"`
	Account   string `json:"account,omitempty"`
	QOS       string `json:"qos,omitempty"`
	TimeLimit string `json:"timeLimit,omitempty"`
	// DrainGrace is the agent's --drain-grace: when Slurm signals the
	// job to end, how long running tasks may go on (Go duration; default
	// the agent's).
	DrainGrace string `json:"drainGrace,omitempty"`
	// AgentArgs are extra `openbatch agent` flags, e.g. --listen and
	// --advertise so the server reaches the node's file server.
	AgentArgs []string `json:"agentArgs,omitempty"`
	// SbatchArgs are extra sbatch options, e.g. --constraint=...
	SbatchArgs []string `json:"sbatchArgs,omitempty"`
	// Env is the agent's environment besides OPENBATCH_* (jobs run with
	// --export=NONE so the server's environment never reaches them). Put
	// no secret here: pass files.
	Env map[string]string `json:"env,omitempty"`
	// VMSizes size the jobs by the pool's vmSize: the first entry whose
	// pattern matches wins; a pool no entry matches gets one CPU.
	VMSizes []SlurmSize `json:"vmSizes,omitempty"`
	// LowPriorityQOS, when set, lets the pool have low-priority nodes:
	// their jobs run with this QOS (typically a preemptible one). Without
	// it a low-priority target is refused with a resize error.
	LowPriorityQOS string `json:"lowPriorityQos,omitempty"`
}

// SlurmSize is the job shape of pools whose vmSize matches VMSize.
type SlurmSize struct {
	VMSize   string `json:"vmSize"`
	CPUs     int    `json:"cpus,omitempty"`
	MemoryMB int    `json:"memoryMB,omitempty"`
	// GPUs is the --gpus count of each job.
	GPUs      int    `json:"gpus,omitempty"`
	Partition string `json:"partition,omitempty"`
	Account   string `json:"account,omitempty"`
	QOS       string `json:"qos,omitempty"`
	TimeLimit string `json:"timeLimit,omitempty"`
}

// slurmWord is what a name passed to Slurm may contain; it keeps option
// values from being read as other options.
var slurmWord = regexp.MustCompile(`^[A-Za-z0-9_.:+@-]*$`)

// envName is a variable name the job script may export.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (c *SlurmConfig) check() error {
	if len(c.VMSizes) > maxVMSizes {
		return fmt.Errorf("%d vmSizes; at most %d are allowed", len(c.VMSizes), maxVMSizes)
	}
	if c.DrainGrace != "" {
		if _, err := time.ParseDuration(c.DrainGrace); err != nil {
			return fmt.Errorf("drainGrace: %w", err)
		}
	}
	words := map[string]string{"jobName": c.JobName, "partition": c.Partition, "account": c.Account, "qos": c.QOS,
		"timeLimit": c.TimeLimit, "lowPriorityQos": c.LowPriorityQOS}
	for i, s := range c.VMSizes {
		if s.CPUs < 0 || s.MemoryMB < 0 || s.GPUs < 0 {
			return fmt.Errorf("vmSizes[%d]: cpus, memoryMB and gpus must not be negative", i)
		}
		if len(s.VMSize) > maxPatternBytes {
			return fmt.Errorf("vmSizes[%d]: pattern longer than %d bytes", i, maxPatternBytes)
		}
		for k, v := range map[string]string{"partition": s.Partition, "account": s.Account, "qos": s.QOS, "timeLimit": s.TimeLimit} {
			words[fmt.Sprintf("vmSizes[%d].%s", i, k)] = v
		}
	}
	for k, v := range words {
		if !slurmWord.MatchString(v) {
			return fmt.Errorf("%s %q: only letters, digits and _.:+@- are allowed", k, v)
		}
	}
	for k := range c.Env {
		if !envName.MatchString(k) || strings.HasPrefix(k, "OPENBATCH_") {
			return fmt.Errorf("env: %q is not a variable name openbatch passes (OPENBATCH_* are set by the provider)", k)
		}
	}
	return nil
}

// size returns the job shape for vmSize.
func (c *SlurmConfig) size(vmSize string) SlurmSize {
	s := SlurmSize{CPUs: 1}
	for _, e := range c.VMSizes {
		if globMatch(e.VMSize, vmSize) {
			s = e
			break
		}
	}
	if s.Partition == "" {
		s.Partition = c.Partition
	}
	if s.Account == "" {
		s.Account = c.Account
	}
	if s.QOS == "" {
		s.QOS = c.QOS
	}
	if s.TimeLimit == "" {
		s.TimeLimit = c.TimeLimit
	}
	return s
}

// Slurm is the Slurm provider.
type Slurm struct {
	Config SlurmConfig
	Log    *slog.Logger
	// Env is the environment the Slurm commands run with (nil: this
	// process's, which carries SLURM_CONF when the site sets it).
	Env []string
}

// NewSlurm returns a Slurm provider; def gives the agent-launch settings
// left empty.
func NewSlurm(c SlurmConfig, def AgentLaunch, log *slog.Logger) (*Slurm, error) {
	c.AgentLaunch = c.AgentLaunch.withDefaults(def)
	if c.JobName == "" {
		c.JobName = "openbatch"
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Server == "" || c.TokenFile == "" || c.Agent == "" || c.RootDir == "" {
		return nil, errors.New("slurm provider: server, tokenFile, agent and rootDir must be known")
	}
	if err := os.MkdirAll(filepath.Join(c.RootDir, "jobs"), 0o700); err != nil {
		return nil, fmt.Errorf("slurm provider: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	return &Slurm{Config: c, Log: log}, nil
}

// jobName is the Slurm job name of a node: prefix, pool, node and kind,
// separated by '/', which neither IDs nor the prefix contain.
func (s *Slurm) jobName(poolID, nodeID string, dedicated bool) string {
	kind := "d"
	if !dedicated {
		kind = "l"
	}
	return s.Config.JobName + "/" + poolID + "/" + nodeID + "/" + kind
}

// Instances implements Provider: the jobs of this user that squeue lists
// with this provider's names for poolID, in a state in which the agent
// runs or will. Other users' jobs are never counted (nor cancelled), even
// when their names look like ours.
func (s *Slurm) Instances(ctx context.Context, poolID string) ([]Instance, error) {
	out, err := s.run(ctx, "squeue", "--noheader", "--user="+strconv.Itoa(os.Getuid()), "--format=%i|%j|%T")
	if err != nil {
		return nil, err
	}
	var insts []Instance
	for line := range strings.Lines(string(out)) {
		f := strings.Split(strings.TrimSpace(line), "|")
		if len(f) != 3 {
			continue
		}
		name := strings.Split(f[1], "/")
		if len(name) != 4 || name[0] != s.Config.JobName || !strings.EqualFold(name[1], poolID) {
			continue
		}
		switch f[2] {
		case "PENDING", "CONFIGURING", "RUNNING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "RESIZING", "SUSPENDED":
			insts = append(insts, Instance{NodeID: name[2], Dedicated: name[3] == "d", Ref: f[0]})
		}
	}
	return insts, nil
}

// Launch implements Provider: it writes the job's script (no secret in
// it: the agent reads the join token from the 0600 token file) and submits
// it with sbatch.
func (s *Slurm) Launch(ctx context.Context, spec Spec) (Instance, error) {
	c := s.Config
	size := c.size(spec.VMSize)
	if !spec.Dedicated {
		if c.LowPriorityQOS == "" {
			return Instance{}, fmt.Errorf("low-priority nodes need lowPriorityQos in the slurm provider's settings: %w", ErrUnsupported)
		}
		size.QOS = c.LowPriorityQOS
	}
	root := filepath.Join(c.RootDir, spec.NodeID)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Instance{}, fmt.Errorf("node root: %w", err)
	}
	script := filepath.Join(c.RootDir, "jobs", spec.NodeID+".sh")
	if err := os.WriteFile(script, []byte(s.script(spec, root)), 0o700); err != nil {
		return Instance{}, fmt.Errorf("job script: %w", err)
	}
	args := []string{"--parsable", "--job-name=" + s.jobName(spec.PoolID, spec.NodeID, spec.Dedicated),
		"--output=" + filepath.Join(c.RootDir, "jobs", spec.NodeID+"-%j.out"), "--export=NONE", "--nodes=1", "--ntasks=1",
		"--cpus-per-task=" + strconv.Itoa(max(size.CPUs, 1))}
	if size.MemoryMB > 0 {
		args = append(args, "--mem="+strconv.Itoa(size.MemoryMB))
	}
	if size.GPUs > 0 {
		args = append(args, "--gpus="+strconv.Itoa(size.GPUs))
	}
	for _, o := range [][2]string{{"--partition=", size.Partition}, {"--account=", size.Account}, {"--qos=", size.QOS}, {"--time=", size.TimeLimit}} {
		if o[1] != "" {
			args = append(args, o[0]+o[1])
		}
	}
	args = append(args, c.SbatchArgs...)
	args = append(args, script)
	s.Log.Debug("submitting node job", "pool", spec.PoolID, "node", spec.NodeID, "args", args)
	out, err := s.run(ctx, "sbatch", args...)
	if err != nil {
		return Instance{}, err
	}
	id, _, _ := strings.Cut(strings.TrimSpace(string(out)), ";")
	return Instance{NodeID: spec.NodeID, Dedicated: spec.Dedicated, Ref: id}, nil
}

// script is the job's batch script: it runs the agent in the foreground
// (exec, so Slurm's signals reach it: scancel's SIGTERM drains the node)
// with the node's identity, so a requeued job rejoins as the same node.
func (s *Slurm) script(spec Spec, root string) string {
	c := s.Config
	var b strings.Builder
	b.WriteString("#!/bin/sh\n# openbatch node " + spec.NodeID + " of pool " + spec.PoolID + " (written by the slurm node provider)\n")
	env := map[string]string{}
	for k, v := range c.Env {
		env[k] = v
	}
	if _, ok := env["PATH"]; !ok {
		// --export=NONE leaves the job no PATH; the agent runs useradd
		// and the tasks' shells.
		env["PATH"] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	env["OPENBATCH_TOKEN_FILE"] = c.TokenFile
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "export %s=%s\n", k, shellQuote(env[k]))
	}
	args := []string{c.Agent, "agent", "--server", c.Server, "--pool", spec.PoolID, "--node-id", spec.NodeID, "--root", root}
	if c.DrainGrace != "" {
		args = append(args, "--drain-grace", c.DrainGrace)
	}
	args = append(args, c.AgentArgs...)
	b.WriteString("exec")
	for _, a := range args {
		b.WriteString(" " + shellQuote(a))
	}
	b.WriteString("\n")
	return b.String()
}

// Terminate implements Provider: scancel signals the job (SIGTERM, then
// SIGKILL after Slurm's KillWait). A job that has ended already is no
// error.
func (s *Slurm) Terminate(ctx context.Context, _ string, inst Instance) error {
	if inst.Ref == "" {
		return nil
	}
	if _, err := strconv.ParseUint(inst.Ref, 10, 64); err != nil {
		return fmt.Errorf("slurm job ID %q: %w", inst.Ref, err)
	}
	_, err := s.run(ctx, "scancel", inst.Ref)
	if err == nil {
		_ = os.Remove(filepath.Join(s.Config.RootDir, "jobs", inst.NodeID+".sh"))
	}
	return err
}

// slurmCommandTimeout bounds each Slurm command: a hung slurmctld must not
// stop the reconcile loop.
const slurmCommandTimeout = 30 * time.Second

func (s *Slurm) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, slurmCommandTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = s.Env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// shellQuote quotes s for a POSIX shell. Written here because the standard
// library has none and the job script needs only this one rule: wrap in
// single quotes, and write each single quote as '\”.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
