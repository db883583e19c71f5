package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/app"
)

type serverFlags struct {
	listen, account, key, dataDir, logLevel string
	heartbeatTimeout                        time.Duration
	// Operator flags (issue 12): log format and the metrics listener.
	logFormat, metricsListen string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to serve the Batch API on (env OPENBATCH_LISTEN)")
	fl.StringVar(&f.account, "account-name", app.DevAccountName, "Batch account name clients sign with (env OPENBATCH_ACCOUNT_NAME)")
	fl.StringVar(&f.key, "account-key", app.DevAccountKey, "base64 account key clients sign with (env OPENBATCH_ACCOUNT_KEY)")
	fl.StringVar(&f.dataDir, "data-dir", app.DefaultDataDir(), "directory for the database and node directories (env OPENBATCH_DATA_DIR)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error (env OPENBATCH_LOG_LEVEL)")
	fl.DurationVar(&f.heartbeatTimeout, "heartbeat-timeout", 30*time.Second, "how long a node may be silent before its tasks are requeued")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json (env OPENBATCH_LOG_FORMAT)")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "serve /metrics, /healthz and /readyz on this address instead of the API listener (env OPENBATCH_METRICS_LISTEN)")
}

func (f *serverFlags) logger(w io.Writer) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(f.logLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	return newLogger(w, f.logFormat, lvl)
}

// newLogger returns a logger writing format ("text", "" or "json") to w.
func newLogger(w io.Writer, format string, lvl slog.Level) (*slog.Logger, error) {
	opts := &slog.HandlerOptions{Level: lvl}
	switch format {
	case "", "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func newDevCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the API server, scheduler and local nodes in one process",
		Long: `Run everything in one process for a laptop or CI: the Batch API, the
scheduler, an embedded database in --data-dir, and local nodes: a pool's
targetDedicatedNodes N gives N nodes that run tasks on this machine.

The default account is public, like Azurite's devstoreaccount1; pass
--account-key to use your own.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			cfg := app.Config{Listen: f.listen, AccountName: f.account, AccountKey: f.key, DataDir: f.dataDir,
				LocalNodes: true, HeartbeatTimeout: f.heartbeatTimeout, Log: log, MetricsListen: f.metricsListen}
			if err := configureAgent(&cfg); err != nil {
				return err
			}
			if reaper := startReaper(log); reaper != nil {
				defer reaper.Close()
				cfg.Agent.Runner.Groups = reaper
			}
			srv, err := app.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			printBanner(cmd.OutOrStdout(), srv, true)
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "shutting down")
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func newServerCmd() *cobra.Command {
	var f serverFlags
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server and scheduler; nodes join with `openbatch agent`",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			srv, err := app.Start(cmd.Context(), app.Config{Listen: f.listen, AccountName: f.account, AccountKey: f.key,
				DataDir: f.dataDir, HeartbeatTimeout: f.heartbeatTimeout, Log: log, MetricsListen: f.metricsListen})
			if err != nil {
				return err
			}
			defer srv.Close()
			printBanner(cmd.OutOrStdout(), srv, false)
			<-cmd.Context().Done()
			return nil
		},
	}
	f.register(cmd)
	return cmd
}

func printBanner(w io.Writer, srv *app.Server, dev bool) {
	c := srv.Config
	fmt.Fprintf(w, "openbatch %s listening on %s\n", version, srv.Endpoint)
	fmt.Fprintf(w, "  metrics:      %s/metrics  (health: /healthz, /readyz)\n", srv.MetricsEndpoint)
	fmt.Fprintf(w, "  account name: %s\n  account key:  %s\n  data dir:     %s\n", c.AccountName, c.AccountKey, c.DataDir)
	if !dev {
		fmt.Fprintf(w, "  node join token: %s\n  join a node:  openbatch agent --server %s --pool POOL --token <token>\n", srv.JoinToken, srv.Endpoint)
	}
	fmt.Fprintf(w, "\nUse it with the Azure CLI:\n  export AZURE_BATCH_ACCOUNT=%s\n  export AZURE_BATCH_ACCESS_KEY=%s\n  export AZURE_BATCH_ENDPOINT=%s\n", c.AccountName, c.AccountKey, srv.Endpoint)
	_ = os.Stdout.Sync()
}
