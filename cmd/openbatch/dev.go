package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/provider"
	"github.com/openbatch/openbatch/internal/service"
)

type serverFlags struct {
	listen, account, key, keyFile, dataDir, logLevel string
	heartbeatTimeout                                 time.Duration
	auth                                             authFlags
	// Operator flags: log format and the metrics listener.
	logFormat, metricsListen string
}

func (f *serverFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:8080", "address to serve the Batch API on (env OPENBATCH_LISTEN)")
	fl.StringVar(&f.account, "account-name", app.DevAccountName, "Batch account name clients sign with (env OPENBATCH_ACCOUNT_NAME)")
	fl.StringVar(&f.key, "account-key", app.DevAccountKey, "base64 account key clients sign with (env OPENBATCH_ACCOUNT_KEY); on the command line only the public dev key: use --account-key-file for a real key")
	fl.StringVar(&f.keyFile, "account-key-file", "", "file (mode 0600) holding the base64 account key (env OPENBATCH_ACCOUNT_KEY_FILE)")
	fl.StringVar(&f.dataDir, "data-dir", app.DefaultDataDir(), "directory for the database and node directories (env OPENBATCH_DATA_DIR)")
	fl.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error (env OPENBATCH_LOG_LEVEL)")
	fl.DurationVar(&f.heartbeatTimeout, "heartbeat-timeout", 30*time.Second, "how long a node may be silent before its tasks are requeued")
	fl.StringVar(&f.logFormat, "log-format", "text", "text or json (env OPENBATCH_LOG_FORMAT)")
	fl.StringVar(&f.metricsListen, "metrics-listen", "", "serve /metrics, /healthz and /readyz on this address instead of the API listener (env OPENBATCH_METRICS_LISTEN)")
	f.auth.register(cmd)
}

// accountKey settles the account key from --account-key-file, the
// environment or the command line. A real key given on the command line is
// accepted with a warning (every local user can read it in /proc); the
// public dev key is not a secret. It reports whether the key is the dev key.
func (f *serverFlags) accountKey(cmd *cobra.Command, log *slog.Logger) (dev bool, err error) {
	if f.keyFile != "" {
		if cmd.Flags().Changed("account-key") {
			return false, fmt.Errorf("give --account-key-file or --account-key, not both")
		}
		if f.key, err = readSecretFile("--account-key-file", f.keyFile); err != nil {
			return false, err
		}
	} else if cmd.Flags().Changed("account-key") && f.key != app.DevAccountKey {
		log.Warn("--account-key on the command line can be read by every local user and task (/proc/PID/cmdline): use --account-key-file or OPENBATCH_ACCOUNT_KEY")
	}
	return f.key == app.DevAccountKey, nil
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
	var maxLocalNodes int
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the API server, scheduler and local nodes in one process",
		Long: `Run everything in one process for a laptop or CI: the Batch API, the
scheduler, an embedded database in --data-dir, and local nodes: a pool's
targetDedicatedNodes N gives N nodes that run tasks on this machine.

The default account is public, like Azurite's devstoreaccount1; pass
--account-key-file (or OPENBATCH_ACCOUNT_KEY) to use your own, which is
then never printed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			devKey, err := f.accountKey(cmd, log)
			if err != nil {
				return err
			}
			cfg := app.Config{Listen: f.listen, AccountName: f.account, AccountKey: f.key, DataDir: f.dataDir,
				LocalNodes: true, MaxLocalNodes: maxLocalNodes, HeartbeatTimeout: f.heartbeatTimeout, Log: log, DevIssuer: true,
				MetricsListen: f.metricsListen, ConsoleOpen: true}
			caFile, err := f.auth.apply(&cfg, true)
			if err != nil {
				return err
			}
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
			printBanner(cmd.OutOrStdout(), srv, banner{dev: true, showKey: devKey})
			printAuthBanner(cmd.OutOrStdout(), srv, caFile)
			<-cmd.Context().Done()
			fmt.Fprintln(cmd.ErrOrStderr(), "shutting down")
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().IntVar(&maxLocalNodes, "max-local-nodes", app.DefaultMaxLocalNodes, "most local nodes to run over all pools; larger pool targets are refused (env OPENBATCH_MAX_LOCAL_NODES)")
	return cmd
}

func newServerCmd() *cobra.Command {
	var f serverFlags
	var insecureDevKey, printToken bool
	var asMinInterval, asSamplePeriod time.Duration
	var database, nodeProviders string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server and scheduler; nodes join with `openbatch agent`",
		Long: `Run the Batch API and the scheduler with their database in --data-dir.

The account key comes from --account-key-file (mode 0600) or
OPENBATCH_ACCOUNT_KEY, and is never printed. The public dev key is refused
unless --insecure-dev-key is given: anyone could call a server using it.

Nodes join with the node join token, which the server writes to
DATA_DIR/join-token (mode 0600) and does not print unless --print-token is
given: copy that file to each node and pass it to ` + "`openbatch agent --token-file`" + `.

With --database postgres://… (or OPENBATCH_DATABASE) the state lives in
PostgreSQL instead of DATA_DIR/openbatch.db, and several servers given the
same database and account key share the work: any of them answers any
client and any agent. Keep a password out of the command line: use
OPENBATCH_DATABASE, PGPASSWORD or a ~/.pgpass file.

A pool's nodes come from its node provider, chosen by --node-providers (a
JSON file mapping pool ID or vmSize patterns to providers: slurm, local,
static; see docs/providers.md). Without it, or for a pool no rule maps,
the pool is static: its nodes are agents started by hand, its target is
informational, and the pool's resizeErrors say so.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := envDefaults(cmd); err != nil {
				return err
			}
			log, err := f.logger(cmd.ErrOrStderr())
			if err != nil {
				return err
			}
			devKey, err := f.accountKey(cmd, log)
			if err != nil {
				return err
			}
			if devKey && !insecureDevKey {
				return fmt.Errorf("refusing to serve with the public dev account key, which anyone can sign requests with: " +
					"give your own key with --account-key-file or OPENBATCH_ACCOUNT_KEY (e.g. from `openssl rand -base64 64`), " +
					"or pass --insecure-dev-key for a server only you can reach")
			}
			if cmd.Flags().Changed("database") && app.DatabaseHasPassword(database) {
				log.Warn("--database on the command line holds a password that every local user and task can read (/proc/PID/cmdline): use OPENBATCH_DATABASE, PGPASSWORD or ~/.pgpass")
			}
			cfg := app.Config{Listen: f.listen, AccountName: f.account, AccountKey: f.key,
				DataDir: f.dataDir, Database: database, HeartbeatTimeout: f.heartbeatTimeout, Log: log,
				MetricsListen: f.metricsListen,
				AutoScale:     service.AutoScaleConfig{MinInterval: asMinInterval, SamplePeriod: asSamplePeriod}}
			if nodeProviders != "" {
				if cfg.NodeProviders, err = provider.LoadConfig(nodeProviders); err != nil {
					return err
				}
			}
			if _, err := f.auth.apply(&cfg, false); err != nil {
				return err
			}
			srv, err := app.Start(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			defer srv.Close()
			tokenFile, err := srv.WriteJoinTokenFile()
			if err != nil {
				return err
			}
			printBanner(cmd.OutOrStdout(), srv, banner{showKey: devKey, tokenFile: tokenFile, showToken: printToken})
			printAuthBanner(cmd.OutOrStdout(), srv, "")
			<-cmd.Context().Done()
			return nil
		},
	}
	f.register(cmd)
	cmd.Flags().BoolVar(&insecureDevKey, "insecure-dev-key", false, "allow the public dev account key (anyone can then call this server)")
	cmd.Flags().StringVar(&database, "database", "", "PostgreSQL URL (postgres://user@host/db) shared by several servers; empty: SQLite in --data-dir (env OPENBATCH_DATABASE)")
	cmd.Flags().StringVar(&nodeProviders, "node-providers", "", "JSON file mapping pools to node providers (slurm, kubernetes, local, static) and their settings; see docs/providers.md (env OPENBATCH_NODE_PROVIDERS)")
	cmd.Flags().BoolVar(&printToken, "print-token", false, "also print the node join token (it is always in DATA_DIR/join-token)")
	// For tests and benchmarks only, hence hidden: Azure accepts no
	// autoScaleEvaluationInterval under 5 minutes and samples every 30 s.
	cmd.Flags().DurationVar(&asMinInterval, "autoscale-min-interval", 0, "TESTING ONLY, not Azure-compatible: the shortest autoScaleEvaluationInterval accepted (default Azure's 5m)")
	cmd.Flags().DurationVar(&asSamplePeriod, "autoscale-sample-period", 0, "TESTING ONLY, not Azure-compatible: how often autoscale variables are sampled (default Azure's 30s)")
	_ = cmd.Flags().MarkHidden("autoscale-min-interval")
	_ = cmd.Flags().MarkHidden("autoscale-sample-period")
	return cmd
}

// banner says what printBanner shows.
type banner struct {
	dev bool
	// showKey prints the account key: only ever the public dev key.
	showKey bool
	// tokenFile is where the join token is (server only).
	tokenFile string
	// showToken prints the join token itself (--print-token).
	showToken bool
}

// printBanner prints how to reach the server. It prints the account key
// only when it is the public dev key, and the join token only on request:
// terminal output ends up in scroll-back, screen shares and CI logs.
func printBanner(w io.Writer, srv *app.Server, b banner) {
	c := srv.Config
	key := "(not shown: the key you gave)"
	if b.showKey {
		key = c.AccountKey + "  (the public dev key)"
	}
	fmt.Fprintf(w, "openbatch %s listening on %s\n", version, srv.Endpoint)
	signIn := "(sign in with the account name and key, or an Entra ID token)"
	if srv.ConsoleOpen {
		signIn = "(open: no sign-in on this loopback address)"
	}
	fmt.Fprintf(w, "  web console:  %s  %s\n", srv.ConsoleURL, signIn)
	fmt.Fprintf(w, "  metrics:      %s/metrics  (health: /healthz, /readyz)\n", srv.MetricsEndpoint)
	fmt.Fprintf(w, "  account name: %s\n  account key:  %s\n  data dir:     %s\n", c.AccountName, key, c.DataDir)
	if !b.dev {
		fmt.Fprintf(w, "  node join token: in %s (mode 0600; copy it to each node)\n", b.tokenFile)
		if b.showToken {
			fmt.Fprintf(w, "  node join token: %s\n", srv.JoinToken)
		}
		fmt.Fprintf(w, "  join a node:  openbatch agent --server %s --pool POOL --token-file %s\n", srv.Endpoint, b.tokenFile)
	}
	keyLine := "AZURE_BATCH_ACCESS_KEY=" + c.AccountKey
	if !b.showKey {
		keyLine = "AZURE_BATCH_ACCESS_KEY=<your account key>"
	}
	fmt.Fprintf(w, "\nUse it with the Azure CLI:\n  export AZURE_BATCH_ACCOUNT=%s\n  export %s\n  export AZURE_BATCH_ENDPOINT=%s\n", c.AccountName, keyLine, srv.Endpoint)
	_ = os.Stdout.Sync()
}
