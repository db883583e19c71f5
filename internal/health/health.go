// Package health serves the liveness and readiness endpoints that load
// balancers, systemd watchdogs and Kubernetes probes call without
// credentials: /healthz says the process answers, /readyz that it can
// also reach its store.
package health

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Paths of the endpoints.
const (
	LivePath  = "/healthz"
	ReadyPath = "/readyz"
)

// readyTimeout bounds one readiness check.
const readyTimeout = 2 * time.Second

// Live answers 200 "ok" to GET and HEAD while the process serves HTTP.
func Live() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		text(w, r, http.StatusOK, "ok")
	})
}

// Ready answers 200 "ok" when check succeeds within two seconds and 503
// otherwise. The reason is logged, not sent: the endpoint is
// unauthenticated and a store error may name hosts or paths.
func Ready(check func(context.Context) error, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !allowed(w, r) {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), readyTimeout)
		defer cancel()
		if err := check(ctx); err != nil {
			log.Warn("readiness check failed", "err", err)
			text(w, r, http.StatusServiceUnavailable, "not ready: the store cannot be reached")
			return
		}
		text(w, r, http.StatusOK, "ok")
	})
}

func allowed(w http.ResponseWriter, r *http.Request) bool {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return true
	}
	w.Header().Set("Allow", "GET, HEAD")
	http.Error(w, "use GET or HEAD", http.StatusMethodNotAllowed)
	return false
}

func text(w http.ResponseWriter, r *http.Request, status int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write([]byte(body + "\n"))
	}
}
