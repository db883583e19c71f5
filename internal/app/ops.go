package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/openbatch/openbatch/internal/health"
	"github.com/openbatch/openbatch/internal/metrics"
	"github.com/openbatch/openbatch/internal/store"
)

// metricsPath is where Prometheus scrapes.
const metricsPath = "/metrics"

// opsHandlers are the operator endpoints, served without Shared Key
// authentication and outside the Batch API handler: /metrics, /healthz
// (the process answers) and /readyz (the store answers too).
func opsHandlers(m *metrics.Metrics, st store.Store, log *slog.Logger) map[string]http.Handler {
	return map[string]http.Handler{
		metricsPath:      m.Handler(),
		health.LivePath:  health.Live(),
		health.ReadyPath: health.Ready(func(ctx context.Context) error { return storeReachable(ctx, st) }, log),
	}
}

// storeReachable reads one pool: the cheapest call every store answers,
// which fails when the database is closed or unreachable.
func storeReachable(ctx context.Context, st store.Store) error {
	_, _, err := st.ListPools(ctx, store.Page{Max: 1})
	return err
}

// serveMetrics serves the operator endpoints on their own listener
// (Config.MetricsListen); Close stops it.
func (s *Server) serveMetrics(ln net.Listener, handlers map[string]http.Handler) {
	mux := http.NewServeMux()
	for path, h := range handlers {
		mux.Handle(path, h)
	}
	s.metricsHTTP = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	s.metricsDone = make(chan struct{})
	go func() {
		defer close(s.metricsDone)
		if err := s.metricsHTTP.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Config.Log.Error("metrics server stopped", "err", err)
		}
	}()
}
