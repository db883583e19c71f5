package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

func newAgentCmd() *cobra.Command {
	var server, pool, token, tokenFile, root, nodeID, logLevel, listen, advertise, logFormat string
	var drainGrace, evictGrace time.Duration
	var uploadOnEvict bool
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a compute node that joins a pool on an openbatch server",
		Long: `Run a compute node on this machine. It joins --pool on --server with the
node join token that ` + "`openbatch server`" + ` keeps in its data directory
(never the account key), runs the pool's start task, then runs tasks and
uploads their outputs.

The token is read from --token-file (a file only its owner can read: mode
0600) or from OPENBATCH_TOKEN, never from the command line, which every local
user and every task can read.

Run as root, the agent runs each task as the user its userIdentity names:
the non-admin auto user ` + "`_azbatch`" + ` (created if missing) by default, root
for elevationLevel admin, or one of the pool's userAccounts. Tasks then
cannot read the agent's token, files or environment. Run as another user,
every task runs as that user (see docs/security.md).

Each agent needs its own --root; several agents on one machine never share
directories.

The agent serves its node's files (task stdout.txt and friends, node files)
to the server on --listen, authenticated with the join token; the server
proxies the Batch API's file operations there. It advertises the address it
listens on, or --advertise when the server must reach it by another URL
(a NAT, a container, a wildcard --listen address).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("token") {
				return errSecretOnCommandLine("--token", "--token-file", "OPENBATCH_TOKEN")
			}
			if err := envDefaults(cmd); err != nil {
				return err
			}
			// What the agent starts (its reaper, useradd) does not inherit
			// the token.
			_ = os.Unsetenv("OPENBATCH_TOKEN")
			if tokenFile != "" {
				var err error
				if token, err = readSecretFile("--token-file", tokenFile); err != nil {
					return err
				}
			}
			if server == "" || pool == "" || token == "" {
				return fmt.Errorf("--server, --pool and --token-file are required (or OPENBATCH_SERVER, OPENBATCH_POOL and OPENBATCH_TOKEN_FILE or OPENBATCH_TOKEN)")
			}
			f := serverFlags{logLevel: logLevel, logFormat: logFormat}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			users := agent.NewUsers()
			if root == "" {
				root = defaultAgentRoot(pool, users.Enabled())
			}
			abs, err := filepath.Abs(root)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return fmt.Errorf("create node root: %w", err)
			}
			if users.Enabled() {
				if err := agent.CheckTraversable(abs); err != nil {
					return fmt.Errorf("--root: %w", err)
				}
			} else {
				log.Warn("the agent does not run as root: every task runs as this user and can read what it can (see docs/security.md)")
			}
			cfg := app.Config{Log: log}
			cfg.Agent.NoUploadOnEvict = !uploadOnEvict
			if err := configureAgent(&cfg); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return fmt.Errorf("file server: listen on %s: %w", listen, err)
			}
			addr, ip, err := advertised(ln.Addr(), advertise)
			if err != nil {
				ln.Close()
				return err
			}
			log.Info("node file server listening", "listen", ln.Addr().String(), "advertise", addr)
			// SIGTERM or SIGINT drains the node (no new tasks; running ones
			// finish within --drain-grace; then it leaves its pool); a
			// second signal stops it at once. The node's context is not the
			// command's, which the first signal already cancels.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			drain := make(chan struct{})
			sigs := make(chan os.Signal, 2)
			signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
			defer signal.Stop(sigs)
			watched := make(chan struct{})
			go func() {
				defer close(watched)
				select {
				case <-sigs:
					log.Info("draining: finishing running tasks, taking no new ones (signal again to stop at once)", "grace", drainGrace)
					close(drain)
				case <-ctx.Done():
					return
				}
				select {
				case <-sigs:
					log.Warn("stopping at once; the server requeues the running tasks")
					cancel()
				case <-ctx.Done():
				}
			}()
			defer func() { cancel(); <-watched }()
			served := make(chan error, 1)
			// A node keeps its identity in its root: restarted, it rejoins
			// as the same node with its own credential.
			coord := &nodeproto.Client{BaseURL: server, Token: token}
			reg := nodeproto.Registration{PoolID: pool, NodeID: nodeID, Root: abs, Address: addr, IPAddress: ip, Dedicated: true}
			id, err := agent.LoadIdentity(abs)
			if err != nil {
				ln.Close()
				return err
			}
			if id != nil && strings.EqualFold(id.PoolID, pool) && (nodeID == "" || nodeID == id.NodeID) {
				reg.NodeID = id.NodeID
				coord.SetCredential(id.Credential)
				log.Info("rejoining as the node this root belongs to", "node", id.NodeID)
			}
			go func() { served <- agent.ServeFiles(ctx, ln, abs, coord.Credential, log) }()

			rc := cfg.Agent.Runner
			rc.Logger = log
			rc.Users = users
			rc.EvictUploadGrace = evictGrace
			if reaper := startReaper(log); reaper != nil {
				defer reaper.Close()
				rc.Groups = reaper
			}
			w := &agent.Worker{
				Coord:        coord,
				Runner:       agent.NewRunner(rc),
				Log:          log,
				Registration: reg,
				Drain:        drain,
				DrainGrace:   drainGrace,
				OnRegistered: func(cfg *nodeproto.NodeConfig) error {
					return agent.SaveIdentity(abs, agent.NodeIdentity{PoolID: cfg.PoolID, NodeID: cfg.NodeID, Credential: cfg.Credential})
				},
			}
			err = w.Run(ctx)
			cancel()
			serr := <-served
			if isClosedChan(drain) && err == nil {
				return serr
			}
			if errors.Is(err, context.Canceled) {
				err = nil
			}
			return errors.Join(err, serr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&server, "server", "", "openbatch server endpoint, e.g. http://10.0.0.1:8080, or several servers' endpoints separated by commas to fail over between (env OPENBATCH_SERVER)")
	fl.DurationVar(&drainGrace, "drain-grace", 5*time.Minute, "on SIGTERM, how long running tasks may go on before they are stopped and requeued (env OPENBATCH_DRAIN_GRACE)")
	fl.DurationVar(&evictGrace, "evict-upload-grace", agent.DefaultEvictUploadGrace, "how long the output upload of a task stopped before it exited (terminated, drained, node removed) may take (env OPENBATCH_EVICT_UPLOAD_GRACE)")
	fl.BoolVar(&uploadOnEvict, "upload-on-evict", true, "upload the taskfailure/taskcompletion outputs of a task stopped before it exited; a task's or job's OPENBATCH_UPLOAD_ON_EVICT setting overrides it (env OPENBATCH_UPLOAD_ON_EVICT)")
	fl.StringVar(&pool, "pool", "", "pool to join (env OPENBATCH_POOL)")
	fl.StringVar(&tokenFile, "token-file", "", "file holding the node join token, mode 0600: the server's DATA_DIR/join-token (env OPENBATCH_TOKEN_FILE; or the token itself in OPENBATCH_TOKEN)")
	// --token only explains that it is refused; OPENBATCH_TOKEN fills it.
	fl.StringVar(&token, "token", "", "refused: use --token-file or OPENBATCH_TOKEN")
	_ = fl.MarkHidden("token")
	fl.StringVar(&root, "root", "", "node root directory (env OPENBATCH_ROOT; default /var/lib/openbatch/agent/POOL as root, else under the data directory)")
	fl.StringVar(&nodeID, "node-id", "", "node ID to (re)join as; default: assigned by the server (env OPENBATCH_NODE_ID)")
	fl.StringVar(&listen, "listen", "127.0.0.1:0", "address of the node file server the openbatch server reads task and node files from (env OPENBATCH_LISTEN)")
	fl.StringVar(&advertise, "advertise", "", "base URL the server reaches the file server at, e.g. http://10.0.0.2:7070; default: the --listen address (env OPENBATCH_ADVERTISE)")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (env OPENBATCH_LOG_LEVEL)")
	fl.StringVar(&logFormat, "log-format", "text", "text or json (env OPENBATCH_LOG_FORMAT)")
	return cmd
}

// defaultAgentRoot is the node root when --root is not given: as root,
// /var/lib/openbatch/agent/POOL, which the tasks' users can traverse (a
// home directory such as /root cannot be); otherwise under the user's data
// directory.
func defaultAgentRoot(pool string, asRoot bool) string {
	if asRoot {
		return filepath.Join("/var/lib/openbatch/agent", pool)
	}
	return filepath.Join(app.DefaultDataDir(), "agent", pool)
}

// advertised returns the file server's base URL as the server should reach
// it, and the node's IP address: --advertise when given, otherwise the
// listener's address (a wildcard host becomes 127.0.0.1, which only a server
// on the same machine can reach: pass --advertise otherwise).
func advertised(addr net.Addr, advertise string) (base, ip string, err error) {
	if advertise == "" {
		host, port, err := net.SplitHostPort(addr.String())
		if err != nil {
			return "", "", err
		}
		if a := net.ParseIP(host); a == nil || a.IsUnspecified() {
			host = "127.0.0.1"
		}
		return "http://" + net.JoinHostPort(host, port), host, nil
	}
	u, err := url.Parse(advertise)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", "", fmt.Errorf("--advertise %q: want a base URL such as http://10.0.0.2:7070", advertise)
	}
	ip = "127.0.0.1"
	if a := net.ParseIP(u.Hostname()); a != nil {
		ip = a.String()
	}
	return strings.TrimRight(advertise, "/"), ip, nil
}

// startReaper starts `openbatch agent-reaper`, which kills the task process
// groups left behind if this process dies (see agent.Reaper). Without it the
// agent still works; only a crash may then leave task processes behind.
func startReaper(log *slog.Logger) *agent.Reaper {
	exe, err := os.Executable()
	if err == nil {
		var r *agent.Reaper
		if r, err = agent.StartReaper([]string{exe, "agent-reaper"}, log); err == nil {
			return r
		}
	}
	log.Warn("no reaper: task processes may outlive a crash of the agent", "err", err)
	return nil
}

func newAgentReaperCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "agent-reaper",
		Short:  "Kill an agent's task processes once it exits (started by openbatch agent)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			agent.IgnoreStopSignals()
			return agent.RunReaper(cmd.InOrStdin())
		},
	}
}

func isClosedChan(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}
