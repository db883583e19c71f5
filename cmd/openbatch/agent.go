package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

func newAgentCmd() *cobra.Command {
	var server, pool, token, root, nodeID, logLevel, listen, advertise, logFormat string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a compute node that joins a pool on an openbatch server",
		Long: `Run a compute node on this machine. It joins --pool on --server with the
node join token that ` + "`openbatch server`" + ` prints (never the account key),
runs the pool's start task, then runs tasks and uploads their outputs.

Each agent needs its own --root; several agents on one machine never share
directories.

The agent serves its node's files (task stdout.txt and friends, node files)
to the server on --listen, authenticated with the join token; the server
proxies the Batch API's file operations there. It advertises the address it
listens on, or --advertise when the server must reach it by another URL
(a NAT, a container, a wildcard --listen address).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			if server == "" || pool == "" || token == "" {
				return fmt.Errorf("--server, --pool and --token are required (or OPENBATCH_SERVER, OPENBATCH_POOL, OPENBATCH_TOKEN)")
			}
			f := serverFlags{logLevel: logLevel, logFormat: logFormat}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			if root == "" {
				root = filepath.Join(app.DefaultDataDir(), "agent", pool)
			}
			abs, err := filepath.Abs(root)
			if err != nil {
				return err
			}
			if err := os.MkdirAll(abs, 0o755); err != nil {
				return fmt.Errorf("create node root: %w", err)
			}
			cfg := app.Config{Log: log}
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
			ctx, cancel := context.WithCancel(cmd.Context())
			defer cancel()
			served := make(chan error, 1)
			go func() { served <- agent.ServeFiles(ctx, ln, abs, token, log) }()

			rc := cfg.Agent.Runner
			rc.Logger = log
			if reaper := startReaper(log); reaper != nil {
				defer reaper.Close()
				rc.Groups = reaper
			}
			w := &agent.Worker{
				Coord:        &nodeproto.Client{BaseURL: server, Token: token},
				Runner:       agent.NewRunner(rc),
				Log:          log,
				Registration: nodeproto.Registration{PoolID: pool, NodeID: nodeID, Root: abs, Address: addr, IPAddress: ip, Dedicated: true},
			}
			err = w.Run(ctx)
			cancel()
			serr := <-served
			if cmd.Context().Err() != nil {
				return serr
			}
			return errors.Join(err, serr)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&server, "server", "", "openbatch server endpoint, e.g. http://10.0.0.1:8080 (env OPENBATCH_SERVER)")
	fl.StringVar(&pool, "pool", "", "pool to join (env OPENBATCH_POOL)")
	fl.StringVar(&token, "token", "", "node join token printed by openbatch server (env OPENBATCH_TOKEN)")
	fl.StringVar(&root, "root", "", "node root directory (env OPENBATCH_ROOT; default under the data directory)")
	fl.StringVar(&nodeID, "node-id", "", "node ID to (re)join as; default: assigned by the server (env OPENBATCH_NODE_ID)")
	fl.StringVar(&listen, "listen", "127.0.0.1:0", "address of the node file server the openbatch server reads task and node files from (env OPENBATCH_LISTEN)")
	fl.StringVar(&advertise, "advertise", "", "base URL the server reaches the file server at, e.g. http://10.0.0.2:7070; default: the --listen address (env OPENBATCH_ADVERTISE)")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error (env OPENBATCH_LOG_LEVEL)")
	fl.StringVar(&logFormat, "log-format", "text", "text or json (env OPENBATCH_LOG_FORMAT)")
	return cmd
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
