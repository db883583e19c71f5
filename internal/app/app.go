// Package app assembles an openbatch server from its parts: the store,
// the service, the scheduler, the HTTP API and, for `openbatch dev`, local
// node agents. The cmd package only parses flags and calls in here.
package app

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"time"

	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/console"
	"github.com/openbatch/openbatch/internal/devissuer"
	"github.com/openbatch/openbatch/internal/httpapi"
	"github.com/openbatch/openbatch/internal/metrics"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/provider"
	"github.com/openbatch/openbatch/internal/scheduler"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/postgres"
	"github.com/openbatch/openbatch/internal/store/sqlite"
	"github.com/openbatch/openbatch/sharedkey"
)

// Development account: public constants, like Azurite's devstoreaccount1.
const (
	DevAccountName = "devbatch1"
	DevAccountKey  = "nNcHL4t9bJBMx0NlczG9wynFhSJmxZFc2OwsgoL2qILfs4syynxUi5OPRKBkNApdicmDJJiZb4pdWkp2OEupiw=="
)

// Limits of the API listener. ReadTimeout covers headers and body (at most
// httpapi.MaxBodyBytes), so a client that trickles a body is cut off; there
// is no WriteTimeout because agent long polls and file downloads write for
// longer.
const (
	apiReadHeaderTimeout = 10 * time.Second
	apiReadTimeout       = 60 * time.Second
	apiIdleTimeout       = 2 * time.Minute
	apiMaxHeaderBytes    = 64 << 10
)

// Config configures a server.
type Config struct {
	// Listen is the TCP address to serve on (default 127.0.0.1:8080).
	Listen string
	// AccountName and AccountKey (base64) authenticate API clients.
	AccountName, AccountKey string
	// DataDir holds the database and, in dev mode, the nodes' directories.
	DataDir string
	// Database, when set, is a PostgreSQL URL (postgres://…) holding the
	// state instead of SQLite in DataDir; servers sharing it share the work.
	Database string
	// LocalNodes runs node agents in-process: a pool's target node count
	// becomes that many local nodes (openbatch dev).
	LocalNodes bool
	// MaxLocalNodes is the most local nodes openbatch dev runs over all
	// pools (default DefaultMaxLocalNodes); a pool add or resize beyond it
	// is refused.
	MaxLocalNodes int
	// NodeProviders maps pools to node providers (static, local, slurm);
	// nil: every pool is local with LocalNodes, else static.
	NodeProviders *provider.Config
	// Agent configures in-process agents (storage credentials etc).
	Agent AgentOptions
	// HeartbeatTimeout is how long a node may be silent (default 30s).
	HeartbeatTimeout time.Duration
	// HeartbeatInterval is how often idle nodes poll (default 5s).
	HeartbeatInterval time.Duration
	Log               *slog.Logger
	// AllowLinkLocalNodes lets agents advertise link-local and cloud
	// metadata addresses for their file service (refused by default).
	AllowLinkLocalNodes bool

	// TLSCertFile and TLSKeyFile (PEM) make the server speak HTTPS.
	TLSCertFile, TLSKeyFile string
	// OIDCIssuers are trusted Microsoft Entra ID / OIDC issuers; with any
	// of them, or DevIssuer, the API also accepts bearer tokens.
	OIDCIssuers []string
	// OIDCAudiences are the accepted token audiences (default
	// entra.DefaultAudiences).
	OIDCAudiences []string
	// DevIssuer serves the development token issuer (internal/devissuer)
	// on the API's listener and trusts its tokens (openbatch dev).
	DevIssuer bool
	// Now is the service's clock (default api.Now): tests move it to drive
	// time-based rules such as job schedules without waiting.
	Now func() time.Time
	// AutoScale tunes autoscale sampling and evaluation intervals; the zero
	// value is Azure's (samples every 30 s, intervals of 5 min to 168 h).
	// Tests shorten it.
	AutoScale service.AutoScaleConfig
	// MetricsListen, when set, serves /metrics (and /healthz, /readyz) on
	// this separate address instead of on the API listener, so that
	// Prometheus can scrape a private interface while the API faces
	// clients. Empty: /metrics is on the API listener, unauthenticated.
	MetricsListen string
	// ConsoleOpen serves the web console (at /console/ on the API
	// listener) without sign-in when the listener is a loopback address,
	// as openbatch dev does; otherwise the console asks for the account
	// key or an Entra ID token.
	ConsoleOpen bool
}

// Server is a running openbatch server.
type Server struct {
	Endpoint  string
	Config    Config
	JoinToken string
	Service   *service.Service
	Scheduler *scheduler.Scheduler
	// Issuer is the development token issuer, when Config.DevIssuer is set.
	Issuer *devissuer.Issuer
	// Metrics are the server's Prometheus metrics.
	Metrics *metrics.Metrics
	// MetricsEndpoint is the base URL /metrics is served on (the API
	// endpoint unless Config.MetricsListen is set).
	MetricsEndpoint string
	// ConsoleURL is the web console's address; ConsoleOpen is true when it
	// needs no sign-in (Config.ConsoleOpen on a loopback listener).
	ConsoleURL  string
	ConsoleOpen bool

	http     *http.Server
	listener net.Listener
	store    store.Store
	cancel   context.CancelFunc
	done     chan struct{}
	// schedDone closes when the scheduler's loop has stopped.
	schedDone chan struct{}
	local     *LocalNodes
	// processes are the process node providers, whose agents end with
	// the server.
	processes []*provider.Process

	// metricsHTTP serves Config.MetricsListen; metricsDone closes when it stops.
	metricsHTTP *http.Server
	metricsDone chan struct{}
}

// DefaultDataDir returns $XDG_DATA_HOME/openbatch or ~/.local/share/openbatch.
func DefaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "openbatch")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "share", "openbatch")
	}
	return filepath.Join(os.TempDir(), "openbatch")
}

// Start opens the store, starts the scheduler and serves the API. It returns
// once the listener is ready.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:8080"
	}
	if cfg.AccountName == "" {
		cfg.AccountName = DevAccountName
	}
	if cfg.AccountKey == "" {
		cfg.AccountKey = DevAccountKey
	}
	if cfg.DataDir == "" {
		cfg.DataDir = DefaultDataDir()
	}
	cred, err := sharedkey.NewCredential(cfg.AccountName, cfg.AccountKey)
	if err != nil {
		return nil, fmt.Errorf("account key: %w", err)
	}
	keyBytes, _ := base64.StdEncoding.DecodeString(cfg.AccountKey)
	// The data directory is created private; an existing one keeps its
	// mode (it may be a directory the user shares), but the database in it
	// is made readable by this user only.
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data directory: %w", err)
	}
	st, err := openStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		st.Close()
		return nil, fmt.Errorf("listen on %s: %w", cfg.Listen, err)
	}
	endpoint := "http://" + ln.Addr().String()
	if cfg.TLSCertFile != "" || cfg.TLSKeyFile != "" {
		tl, err := tlsListener(ln, cfg.TLSCertFile, cfg.TLSKeyFile)
		if err != nil {
			ln.Close()
			st.Close()
			return nil, err
		}
		ln, endpoint = tl, "https://"+ln.Addr().String()
	}
	issuer, bearer, err := bearerAuth(ctx, cfg, endpoint)
	if err != nil {
		ln.Close()
		st.Close()
		return nil, err
	}
	var mln net.Listener
	if cfg.MetricsListen != "" {
		if mln, err = net.Listen("tcp", cfg.MetricsListen); err != nil {
			ln.Close()
			st.Close()
			return nil, fmt.Errorf("metrics: listen on %s: %w", cfg.MetricsListen, err)
		}
	}
	closeListeners := func() {
		ln.Close()
		if mln != nil {
			mln.Close()
		}
	}
	m := metrics.New()
	// Everything above the store sees it through the metrics decorator:
	// store latency and every task state change are recorded there.
	obs := metrics.Store(st, m, cfg.Log)
	m.WatchState(obs, cfg.Log)
	svc := service.New(obs, cfg.Log)
	if cfg.Now != nil {
		svc.Now = cfg.Now
	}
	svc.AutoScale = cfg.AutoScale
	svc.ValidateOutputFiles = validateOutputFiles
	svc.ValidateResourceFiles = validateResourceFiles
	sched := scheduler.New(svc, scheduler.Config{HeartbeatTimeout: cfg.HeartbeatTimeout, HeartbeatInterval: cfg.HeartbeatInterval, AccountName: cfg.AccountName, AccountURL: endpoint,
		AccountKey: keyBytes, AllowLinkLocalNodes: cfg.AllowLinkLocalNodes})
	runCtx, cancel := context.WithCancel(context.Background())
	s := &Server{Endpoint: endpoint, Config: cfg, JoinToken: nodeproto.JoinToken(keyBytes), Service: svc, Scheduler: sched,
		Metrics: m, MetricsEndpoint: endpoint, listener: ln, store: st, cancel: cancel, done: make(chan struct{}), schedDone: make(chan struct{})}
	s.Issuer = issuer
	coord := metrics.Coordinator(sched, m)
	extra := map[string]http.Handler{nodeproto.PathPrefix: nodeproto.Handler(coord, sched, s.JoinToken)}
	ops := opsHandlers(m, obs, cfg.Log)
	for path, h := range ops {
		if path != metricsPath || mln == nil {
			extra[path] = h
		}
	}
	api := &httpapi.Server{Svc: svc, Cred: cred, Log: cfg.Log, Extra: extra, ObserveRequest: m.ObserveRequest}
	if bearer != nil {
		api.Bearer = bearer
	}
	if issuer != nil {
		api.Extra[devissuer.PathPrefix] = issuer.Handler()
	}
	files := &fileRouter{store: obs, accountKey: keyBytes}
	api.Files = files
	svc.TaskDirs = files
	con, err := newConsole(cfg, s, files, keyBytes, bearer, ln)
	if err != nil {
		cancel()
		closeListeners()
		st.Close()
		return nil, err
	}
	s.ConsoleURL = endpoint + console.Prefix
	if usesLocal(cfg) && len(cfg.Agent.Runner.AfterProcess) == 0 {
		if err := ConfigureAgent(&cfg, azure.Options{}, nil); err != nil {
			cancel()
			closeListeners()
			st.Close()
			return nil, err
		}
	}
	mgr, err := s.nodeProviders(ctx, runCtx, cfg, coord, obs)
	if err != nil {
		cancel()
		if s.local != nil {
			s.local.stop()
		}
		closeListeners()
		st.Close()
		return nil, err
	}
	svc.Provisioner = mgr
	s.http = &http.Server{Handler: con.Mount(api.Handler()), ReadHeaderTimeout: apiReadHeaderTimeout, ReadTimeout: apiReadTimeout,
		IdleTimeout: apiIdleTimeout, MaxHeaderBytes: apiMaxHeaderBytes}
	if mln != nil {
		s.MetricsEndpoint = "http://" + mln.Addr().String()
		s.serveMetrics(mln, ops)
	}
	go func() {
		defer close(s.schedDone)
		sched.Run(runCtx)
	}()
	go func() {
		defer close(s.done)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			cfg.Log.Error("http server stopped", "err", err)
		}
	}()
	return s, nil
}

// usesLocal reports whether the server runs local (in-process) nodes: in
// openbatch dev, or when the node providers name a local provider.
func usesLocal(cfg Config) bool {
	if cfg.LocalNodes {
		return true
	}
	if c := cfg.NodeProviders; c != nil {
		for _, r := range c.Pools {
			if r.Provider == provider.Local || c.Providers[r.Provider].Type == provider.TypeLocal {
				return true
			}
		}
	}
	return false
}

// nodeProviders builds the node provider Manager: the providers the
// configuration names (the local one also for openbatch dev), and the
// default for pools no rule matches (local for openbatch dev, else
// static). Local nodes of pools that existed before a restart are started
// again.
func (s *Server) nodeProviders(ctx, runCtx context.Context, cfg Config, coord nodeproto.Coordinator, st store.Store) (*provider.Manager, error) {
	m := &provider.Manager{Store: st, Remover: s.Scheduler, Drainer: s.Service, Log: cfg.Log, Config: cfg.NodeProviders,
		Default: provider.Static, Providers: map[string]provider.Provider{}, NewNodeID: scheduler.NewNodeID}
	if cfg.LocalNodes {
		m.Default = provider.Local
	}
	if usesLocal(cfg) {
		s.local = newLocalNodes(runCtx, coord, cfg)
		m.Providers[provider.Local] = s.local
	}
	if c := cfg.NodeProviders; c != nil {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("node providers: %w", err)
		}
		for name, set := range c.Providers {
			switch set.Type {
			case provider.TypeStatic: // nothing acts on a static pool's target
			case provider.TypeLocal:
				if s.local != nil { // nil when no rule names it
					m.Providers[name] = s.local
				}
			case provider.TypeSlurm:
				tokenFile, err := s.WriteJoinTokenFile()
				if err != nil {
					return nil, err
				}
				sl, err := provider.NewSlurm(*set.Slurm, provider.AgentLaunch{Server: s.Endpoint, TokenFile: tokenFile, Agent: exe, RootDir: filepath.Join(cfg.DataDir, "slurm")}, cfg.Log)
				if err != nil {
					return nil, fmt.Errorf("node provider %s: %w", name, err)
				}
				m.Providers[name] = sl
			case provider.TypeProcess:
				tokenFile, err := s.WriteJoinTokenFile()
				if err != nil {
					return nil, err
				}
				pr, err := provider.NewProcess(*set.Process, provider.AgentLaunch{Server: s.Endpoint, TokenFile: tokenFile, Agent: exe, RootDir: filepath.Join(cfg.DataDir, "process", name)}, cfg.Log)
				if err != nil {
					return nil, fmt.Errorf("node provider %s: %w", name, err)
				}
				m.Providers[name] = pr
				s.processes = append(s.processes, pr)
			default: // a registered type; ParseConfig checked it exists
				t, ok := provider.Registered(set.Type)
				if !ok {
					return nil, fmt.Errorf("node provider %s: type %q is not registered", name, set.Type)
				}
				p, err := t.New(set.Raw(), provider.Env{Name: name, Server: s.Endpoint, Log: cfg.Log})
				if err != nil {
					return nil, fmt.Errorf("node provider %s: %w", name, err)
				}
				m.Providers[name] = p
			}
		}
	}
	if s.local != nil {
		if err := s.local.restore(ctx, st, m); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Close stops the server: agents, scheduler, HTTP and store.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if s.local != nil {
		s.local.stop()
	}
	s.cancel()
	for _, p := range s.processes {
		p.Close() // while the API still answers their drain reports
	}
	err := s.http.Shutdown(ctx)
	<-s.done
	<-s.schedDone
	if s.metricsHTTP != nil {
		err = errors.Join(err, s.metricsHTTP.Shutdown(ctx))
		<-s.metricsDone
	}
	return errors.Join(err, s.store.Close())
}

// openStore opens PostgreSQL when cfg.Database names it, else the SQLite
// database in the data directory (created readable by this user only).
func openStore(ctx context.Context, cfg Config) (store.Store, error) {
	if cfg.Database != "" {
		u, err := url.Parse(cfg.Database)
		if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
			return nil, fmt.Errorf("--database must be a postgres:// URL")
		}
		st, err := postgres.Open(ctx, cfg.Database, cfg.Log)
		if err != nil {
			return nil, fmt.Errorf("database %s: %w", u.Redacted(), err)
		}
		return st, nil
	}
	dbPath := filepath.Join(cfg.DataDir, "openbatch.db")
	if err := createPrivateFile(dbPath); err != nil {
		return nil, fmt.Errorf("create database file: %w", err)
	}
	return sqlite.Open(ctx, dbPath)
}

// DatabaseHasPassword reports whether a database URL carries a password.
func DatabaseHasPassword(dsn string) bool {
	u, err := url.Parse(dsn)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}
