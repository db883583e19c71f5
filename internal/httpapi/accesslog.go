package httpapi

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/sharedkey"
)

// accessLog writes the one line logged per API request and feeds
// ObserveRequest. It names the route pattern the request matched (looked
// up in next when next is the API's ServeMux), so that lines group by
// operation; the path is logged without its query and through the shared
// redactor, and no header is logged, so a signature, key or token never
// reaches the log.
func (s *Server) accessLog(r *http.Request, next http.Handler, status int, d time.Duration, clientRequestID, requestID string) {
	if status == 0 {
		status = http.StatusOK
	}
	route := ""
	if mux, ok := next.(*http.ServeMux); ok {
		_, route = mux.Handler(r)
	}
	if s.ObserveRequest != nil {
		s.ObserveRequest(route, status, d)
	}
	s.Log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("method", r.Method), slog.String("route", route),
		slog.String("path", blob.RedactText(r.URL.EscapedPath())), slog.Int("status", status),
		slog.Duration("duration", d), slog.String("client_request_id", clientRequestID),
		slog.String("request_id", requestID), slog.String("remote", r.RemoteAddr))
}

// logSignInFailure logs a refused Shared Key request at info level with
// the reason (the error's code and message, which never contain the
// signature or the key), so that an operator can tell a wrong key from a
// clock skew.
func logSignInFailure(log *slog.Logger, r *http.Request, e *sharedkey.Error, requestID string) {
	log.LogAttrs(r.Context(), slog.LevelInfo, "sign-in failed",
		slog.String("code", e.Code), slog.String("reason", blob.RedactText(e.Message)),
		slog.String("method", r.Method), slog.String("path", blob.RedactText(r.URL.EscapedPath())),
		slog.String("remote", r.RemoteAddr), slog.String("request_id", requestID))
}
