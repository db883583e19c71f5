package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

func newAgentCmd() *cobra.Command {
	var server, pool, token, root, nodeID, logLevel string
	cmd := &cobra.Command{
		Use:   "agent",
		Short: "Run a compute node that joins a pool on an openbatch server",
		Long: `Run a compute node on this machine. It joins --pool on --server with the
node join token that ` + "`openbatch server`" + ` prints (never the account key),
runs the pool's start task, then runs tasks and uploads their outputs.

Each agent needs its own --root; several agents on one machine never share
directories.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			if server == "" || pool == "" || token == "" {
				return fmt.Errorf("--server, --pool and --token are required (or OPENBATCH_SERVER, OPENBATCH_POOL, OPENBATCH_TOKEN)")
			}
			f := serverFlags{logLevel: logLevel}
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
			rc := cfg.Agent.Runner
			rc.Logger = log
			w := &agent.Worker{
				Coord:        &nodeproto.Client{BaseURL: server, Token: token},
				Runner:       agent.NewRunner(rc),
				Log:          log,
				Registration: nodeproto.Registration{PoolID: pool, NodeID: nodeID, Root: abs, IPAddress: "127.0.0.1", Dedicated: true},
			}
			err = w.Run(cmd.Context())
			if cmd.Context().Err() != nil {
				return nil
			}
			return err
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&server, "server", "", "openbatch server endpoint, e.g. http://10.0.0.1:8080 (env OPENBATCH_SERVER)")
	fl.StringVar(&pool, "pool", "", "pool to join (env OPENBATCH_POOL)")
	fl.StringVar(&token, "token", "", "node join token printed by openbatch server (env OPENBATCH_TOKEN)")
	fl.StringVar(&root, "root", "", "node root directory (env OPENBATCH_ROOT; default under the data directory)")
	fl.StringVar(&nodeID, "node-id", "", "node ID to (re)join as; default: assigned by the server (env OPENBATCH_NODE_ID)")
	fl.StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}
