package httpapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// writeError answers a database out of reach with 503 ServerBusy and a
// Retry-After, which the Azure SDKs retry; other failures of the server are
// 500 InternalError; neither shows the cause's text (it may name database
// hosts and users).
func TestWriteError(t *testing.T) {
	dbDown := fmt.Errorf("get job j: %w", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED})
	for _, tc := range []struct {
		name       string
		err        error
		status     int
		code       string
		retryAfter bool
	}{
		{"database out of reach", dbDown, http.StatusServiceUnavailable, api.CodeServerBusy, true},
		{"internal fault", errors.New("get job j: no such column"), http.StatusInternalServerError, api.CodeInternalError, false},
		{"request error", &service.Error{Code: api.CodeJobNotFound, Message: "The specified job does not exist."}, http.StatusNotFound, api.CodeJobNotFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			writeError(w, httptest.NewRequest("GET", "/jobs/j", nil), tc.err)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d", w.Code, tc.status)
			}
			if got := w.Header().Get("Retry-After") != ""; got != tc.retryAfter {
				t.Errorf("Retry-After %q", w.Header().Get("Retry-After"))
			}
			var be api.BatchError
			if err := json.Unmarshal(w.Body.Bytes(), &be); err != nil {
				t.Fatal(err)
			}
			if be.Code != tc.code {
				t.Errorf("code %s, want %s", be.Code, tc.code)
			}
			if strings.Contains(w.Body.String(), "get job j") || strings.Contains(w.Body.String(), "127.0.0.1") {
				t.Errorf("the cause leaked into the answer: %s", w.Body.String())
			}
		})
	}
}
