package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

// The process provider runs each node as an `openbatch agent` child
// process of the server, on the server's own machine: one big host shared
// by many small nodes, or a simulation of a cluster (the scale-out
// benchmark). Each node gets a stable node ID and its own root directory;
// the agent reads the join token from a 0600 file, so the token is never in
// argv or the environment. Terminate sends SIGTERM (the agent drains);
// SIGKILL follows after KillAfter.
//
// The children end with the server (Close); nodes whose agents ended with a
// server crash are lost nodes that the Manager replaces.

// ProcessConfig configures a process provider (JSON in the node providers
// file).
type ProcessConfig struct {
	// AgentLaunch: the server's endpoint, DATA_DIR/join-token, the
	// server's own executable and DATA_DIR/process/NAME by default.
	// RootDir also holds the agents' logs, RootDir/logs/NODE_ID.log.
	AgentLaunch
	// MaxNodes bounds the nodes of each pool (default 100): a formula's
	// target beyond it is a resize error, not a fork bomb.
	MaxNodes int `json:"maxNodes,omitempty"`
	// DrainGrace is the agent's --drain-grace (Go duration).
	DrainGrace string `json:"drainGrace,omitempty"`
	// KillAfter is how long an agent may take to exit after SIGTERM
	// before SIGKILL (Go duration; default 30s). Terminate is called on
	// drained nodes, so the agent normally exits at once.
	KillAfter string `json:"killAfter,omitempty"`
	// AgentArgs are extra `openbatch agent` flags.
	AgentArgs []string `json:"agentArgs,omitempty"`
	// Env is the agents' environment besides PATH and OPENBATCH_* (the
	// server's own environment, which may hold the account key or the
	// database URL, never reaches them). Put no secret here.
	Env map[string]string `json:"env,omitempty"`
}

// Defaults and bounds of a process provider.
const (
	defaultProcessMaxNodes  = 100
	maxProcessNodes         = 10000
	defaultProcessKillAfter = 30 * time.Second
	processPath             = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

func (c *ProcessConfig) check() error {
	if c.MaxNodes < 0 || c.MaxNodes > maxProcessNodes {
		return fmt.Errorf("maxNodes %d: want 0 to %d", c.MaxNodes, maxProcessNodes)
	}
	for k, v := range map[string]string{"drainGrace": c.DrainGrace, "killAfter": c.KillAfter} {
		if v == "" {
			continue
		}
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return fmt.Errorf("%s %q: want a non-negative Go duration", k, v)
		}
	}
	for k := range c.Env {
		if !envName.MatchString(k) || strings.HasPrefix(k, "OPENBATCH_") {
			return fmt.Errorf("env: %q is not a variable name openbatch passes (OPENBATCH_* are set by the provider)", k)
		}
	}
	return nil
}

// Process is the process provider.
type Process struct {
	Config ProcessConfig
	Log    *slog.Logger

	killAfter time.Duration
	mu        sync.Mutex
	nodes     map[string]*processNode // by pool ID (lower case) + "/" + node ID
	closed    bool                    // set by Close: Launch refuses
	wg        sync.WaitGroup          // the waiters of the children
}

// processNode is one running agent; done closes when it has exited.
type processNode struct {
	poolID string
	inst   Instance
	cmd    *exec.Cmd
	done   chan struct{}
}

// NewProcess returns a process provider; def gives the agent-launch
// settings left empty.
func NewProcess(c ProcessConfig, def AgentLaunch, log *slog.Logger) (*Process, error) {
	c.AgentLaunch = c.AgentLaunch.withDefaults(def)
	if c.MaxNodes == 0 {
		c.MaxNodes = defaultProcessMaxNodes
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	if c.Server == "" || c.TokenFile == "" || c.Agent == "" || c.RootDir == "" {
		return nil, errors.New("process provider: server, tokenFile, agent and rootDir must be known")
	}
	// The node roots must be reachable by the tasks' users; the logs
	// only by the server's.
	if err := os.MkdirAll(c.RootDir, 0o755); err != nil {
		return nil, fmt.Errorf("process provider: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(c.RootDir, "logs"), 0o700); err != nil {
		return nil, fmt.Errorf("process provider: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	p := &Process{Config: c, Log: log, killAfter: defaultProcessKillAfter, nodes: map[string]*processNode{}}
	if c.KillAfter != "" {
		p.killAfter, _ = time.ParseDuration(c.KillAfter) // checked above
	}
	return p, nil
}

func processKey(poolID, nodeID string) string { return strings.ToLower(poolID) + "/" + nodeID }

// Room implements Bounded.
func (p *Process) Room(string) int { return p.Config.MaxNodes }

// RoomMessage implements Bounded.
func (p *Process) RoomMessage(poolID string, target, room int) string {
	return fmt.Sprintf("Pool %s wants %d nodes; the process node provider runs at most %d per pool (maxNodes in the node providers file).", poolID, target, room)
}

// Instances implements Provider: the agents of poolID that have not exited.
func (p *Process) Instances(_ context.Context, poolID string) ([]Instance, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []Instance
	for _, n := range p.nodes {
		if !strings.EqualFold(n.poolID, poolID) {
			continue
		}
		select {
		case <-n.done:
		default:
			out = append(out, n.inst)
		}
	}
	slices.SortFunc(out, func(a, b Instance) int { return strings.Compare(a.NodeID, b.NodeID) })
	return out, nil
}

// args is the agent's command line: no secret in it.
func (p *Process) args(spec Spec, root string) []string {
	c := p.Config
	args := []string{"agent", "--server", c.Server, "--pool", spec.PoolID, "--node-id", spec.NodeID, "--root", root,
		"--token-file", c.TokenFile}
	if c.DrainGrace != "" {
		args = append(args, "--drain-grace", c.DrainGrace)
	}
	return append(args, c.AgentArgs...)
}

// env is the agent's environment: PATH, the configured variables, nothing
// of the server's.
func (p *Process) env() []string {
	env := []string{}
	hasPath := false
	for k, v := range p.Config.Env {
		hasPath = hasPath || k == "PATH"
		env = append(env, k+"="+v)
	}
	if !hasPath {
		env = append(env, "PATH="+processPath)
	}
	slices.Sort(env)
	return env
}

// Launch implements Provider: it starts the agent as a child process in
// its own process group (a terminal's ^C reaches the server, which drains
// its children, not every agent at once).
func (p *Process) Launch(_ context.Context, spec Spec) (Instance, error) {
	if !spec.Dedicated {
		return Instance{}, fmt.Errorf("low-priority nodes on the process provider: %w", ErrUnsupported)
	}
	if spec.NodeID == "" || strings.ContainsAny(spec.NodeID, `/\`) || spec.NodeID == "." || spec.NodeID == ".." {
		return Instance{}, fmt.Errorf("process provider: node ID %q is not a directory name", spec.NodeID)
	}
	key := processKey(spec.PoolID, spec.NodeID)
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return Instance{}, errors.New("process provider: the server is stopping")
	}
	if n, ok := p.nodes[key]; ok {
		select {
		case <-n.done:
		default:
			return n.inst, nil // already running: launching is idempotent
		}
	}
	root := filepath.Join(p.Config.RootDir, spec.NodeID)
	if err := os.MkdirAll(root, 0o755); err != nil {
		return Instance{}, fmt.Errorf("node root: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(p.Config.RootDir, "logs", spec.NodeID+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return Instance{}, fmt.Errorf("agent log: %w", err)
	}
	// Not CommandContext: the agent outlives the reconcile pass that
	// starts it; Terminate and Close end it.
	cmd := exec.Command(p.Config.Agent, p.args(spec, root)...)
	cmd.Env = p.env()
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = lf, lf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		lf.Close()
		return Instance{}, fmt.Errorf("start agent: %w", err)
	}
	n := &processNode{poolID: spec.PoolID, cmd: cmd, done: make(chan struct{}),
		inst: Instance{NodeID: spec.NodeID, Dedicated: true, Ref: fmt.Sprint(cmd.Process.Pid)}}
	p.nodes[key] = n
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		err := cmd.Wait()
		lf.Close()
		close(n.done)
		p.Log.Debug("node agent exited", "pool", spec.PoolID, "node", spec.NodeID, "err", err)
	}()
	p.Log.Debug("started node agent", "pool", spec.PoolID, "node", spec.NodeID, "pid", cmd.Process.Pid)
	return n.inst, nil
}

// Terminate implements Provider: it sends SIGTERM, and SIGKILL after
// KillAfter, and returns at once (as scancel does for the Slurm provider):
// the node is no longer listed, and the Manager removes it from the pool
// while its agent exits. Ending nodes one after another, each waiting for
// its agent, took 50 idle nodes over two minutes to leave. An agent that
// has exited already, or is unknown, is no error.
func (p *Process) Terminate(_ context.Context, poolID string, inst Instance) error {
	key := processKey(poolID, inst.NodeID)
	p.mu.Lock()
	n, ok := p.nodes[key]
	if !ok {
		p.mu.Unlock()
		return nil
	}
	delete(p.nodes, key)
	if p.closed { // Close is waiting for the others; end this one here
		p.mu.Unlock()
		return p.stop(context.Background(), n)
	}
	p.wg.Add(1) // under mu, before Close can start waiting
	p.mu.Unlock()
	go func() {
		defer p.wg.Done()
		if err := p.stop(context.Background(), n); err != nil {
			p.Log.Warn("node agent did not exit", "pool", poolID, "node", inst.NodeID, "err", err)
		}
	}()
	return nil
}

func (p *Process) stop(ctx context.Context, n *processNode) error {
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(p.killAfter)
	defer t.Stop()
	select {
	case <-n.done:
		return nil
	case <-t.C:
	case <-ctx.Done():
	}
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("node %s: agent did not exit: %w", n.inst.NodeID, ctx.Err())
	}
}

// Close ends every agent (SIGTERM, SIGKILL after KillAfter) and waits for
// them: the server calls it when it stops.
func (p *Process) Close() {
	p.mu.Lock()
	nodes := make([]*processNode, 0, len(p.nodes))
	for _, n := range p.nodes {
		nodes = append(nodes, n)
	}
	p.nodes = map[string]*processNode{}
	p.closed = true
	p.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = p.stop(context.Background(), n)
		}()
	}
	wg.Wait()
	p.wg.Wait()
}
