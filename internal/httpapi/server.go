// Package httpapi serves the Azure Batch data-plane REST API over HTTP:
// routing, Shared Key authentication, query parameters (api-version,
// timeout, maxresults, $filter, $select), conditional headers, and
// Azure-shaped responses and errors. Business rules live in
// internal/service; this package only parses and renders.
package httpapi

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/sharedkey"
)

// MaxBodyBytes is the largest request body accepted. Azure documents 1 MB
// for an add-collection request; bodies are refused before they are read
// whole.
const MaxBodyBytes = 1 << 20

// Server is the HTTP front of the Batch API.
type Server struct {
	Svc  *service.Service
	Cred *sharedkey.Credential
	Log  *slog.Logger
	// Files serves task and node files; nil disables the files routes.
	Files FileServer
	// Extra routes (e.g. the node agent protocol) mounted under their own
	// prefix, authenticated by their own handler.
	Extra map[string]http.Handler
	// Now returns the current time (for Shared Key date checks).
	Now func() time.Time
	// Bearer, if set, also accepts Microsoft Entra ID bearer tokens on
	// every API route and answers missing or refused ones with 401 and a
	// WWW-Authenticate challenge.
	Bearer BearerVerifier
	// ObserveRequest, when set, is called once per API request with its
	// route pattern ("" if none matched), status and duration (metrics).
	ObserveRequest func(route string, status int, d time.Duration)
}

// Handler returns the root handler. Requests go to an Extra handler by
// prefix or else to the Batch API, without the path cleaning and redirects
// of http.ServeMux: a path that is not canonical (".." or "." segments,
// repeated slashes) always goes to the API handler, which authenticates it
// before refusing it with InvalidUri, so an unauthenticated caller is
// never answered by anything but authentication.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	h := s.apiMiddleware(mux)
	if len(s.Extra) == 0 {
		return h
	}
	prefixes := slices.Sorted(maps.Keys(s.Extra))
	slices.Reverse(prefixes) // longest first among shared stems
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if canonicalPath(r.URL.EscapedPath()) {
			for _, p := range prefixes {
				if strings.HasPrefix(r.URL.Path, p) {
					s.Extra[p].ServeHTTP(w, r)
					return
				}
			}
		}
		h.ServeHTTP(w, r)
	})
}

// canonicalPath reports whether the escaped path p is one http.ServeMux
// would route without a redirect: absolute, and no segment empty (other
// than a trailing slash), "." or ".." (also when percent-encoded). A
// segment holding an encoded slash ("..%2Fetc") is one segment; the files
// APIs refuse traversal in it themselves.
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	segs := strings.Split(p[1:], "/")
	for i, seg := range segs {
		if seg == "" && i != len(segs)-1 {
			return false
		}
		if u, err := url.PathUnescape(seg); err == nil {
			seg = u
		}
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func (s *Server) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

type ctxKey int

const reqInfoKey ctxKey = 0

// reqInfo is per-request state shared by the middleware and handlers.
type reqInfo struct {
	requestID string
	base      string // scheme://host
}

func info(r *http.Request) *reqInfo {
	ri, _ := r.Context().Value(reqInfoKey).(*reqInfo)
	if ri == nil {
		ri = &reqInfo{requestID: newUUID(), base: baseURL(r)}
	}
	return ri
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// supportedVersion reports whether an api-version is one openbatch speaks:
// every GA version from 2018-08-01.7.0 through 2025-06-01, which all share
// the wire shapes openbatch implements.
func supportedVersion(v string) bool {
	switch v {
	case "2018-08-01.7.0", "2018-12-01.8.0", "2019-06-01.9.0", "2019-08-01.10.0",
		"2020-03-01.11.0", "2020-09-01.12.0", "2021-06-01.14.0", "2022-01-01.15.0",
		"2022-10-01.16.0", "2023-05-01.17.0", "2023-11-01.18.0", "2024-02-01.19.0",
		"2024-07-01.20.0", "2025-06-01", "2025-06-01.21.0":
		return true
	}
	return false
}

// queryGet returns a query parameter matched case-insensitively by name
// (TypeSpec clients send timeOut, older ones timeout).
func queryGet(r *http.Request, name string) (string, bool) {
	for k, v := range r.URL.Query() {
		if strings.EqualFold(k, name) && len(v) > 0 {
			return v[0], true
		}
	}
	return "", false
}

func (s *Server) apiMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ri := &reqInfo{requestID: newUUID(), base: baseURL(r)}
		r = r.WithContext(context.WithValue(r.Context(), reqInfoKey, ri))
		h := w.Header()
		h.Set("request-id", ri.requestID)
		h.Set("DataServiceVersion", "3.0")
		crid := r.Header.Get("client-request-id")
		if crid == "" {
			crid = r.Header.Get("x-ms-client-request-id")
		}
		if crid != "" && strings.EqualFold(r.Header.Get("return-client-request-id"), "true") {
			h.Set("client-request-id", crid)
		}
		start := time.Now()
		rw := &statusWriter{ResponseWriter: w, req: r, srv: s}
		defer func() { s.accessLog(r, next, rw.status, time.Since(start), crid, ri.requestID) }()

		// Authentication comes first: an unauthenticated caller learns nothing else.
		if err := s.authenticate(r); err != nil {
			logSignInFailure(s.Log, r, &sharedkey.Error{Status: err.status, Code: err.err.Code, Message: err.err.Message}, ri.requestID)
			if err.status == http.StatusUnauthorized {
				h.Set("WWW-Authenticate", s.Bearer.Challenge())
			}
			writeError(rw, r, err)
			return
		}
		if !canonicalPath(r.URL.EscapedPath()) {
			writeError(rw, r, &service.Error{Code: api.CodeInvalidURI,
				Message: fmt.Sprintf("The request URI is not canonical: %q has empty, \".\" or \"..\" segments; send the path without them.", r.URL.EscapedPath())})
			return
		}
		v, ok := queryGet(r, "api-version")
		if !ok || v == "" {
			writeError(rw, r, &service.Error{Code: api.CodeMissingRequiredQueryParameter,
				Message: "A query parameter that's mandatory for this request is not specified: api-version.",
				Values:  []api.BatchErrorDetail{{Key: "QueryParameterName", Value: "api-version"}}})
			return
		}
		if !supportedVersion(v) {
			writeError(rw, r, &service.Error{Code: api.CodeUnsupportedRequestVersion,
				Message: fmt.Sprintf("The specified api-version %q is not supported; use a GA version from 2018-08-01.7.0 to 2025-06-01.", v),
				Values:  []api.BatchErrorDetail{{Key: "QueryParameterName", Value: "api-version"}, {Key: "QueryParameterValue", Value: v}}})
			return
		}
		limit := 30
		if strings.HasSuffix(r.URL.Path, "/addtaskcollection") {
			limit = 120
		}
		timeout := limit
		if tv, ok := queryGet(r, "timeout"); ok {
			n, err := parseInt(tv)
			if err != nil || n < 1 {
				writeError(rw, r, badQuery("timeout", tv, "timeout must be a positive number of seconds."))
				return
			}
			timeout = min(n, limit)
		}
		ctx, cancel := context.WithTimeout(r.Context(), time.Duration(timeout)*time.Second)
		defer cancel()
		r = r.WithContext(ctx)
		if r.ContentLength > MaxBodyBytes {
			writeError(rw, r, tooLarge())
			return
		}
		if r.Body != nil {
			r.Body = http.MaxBytesReader(rw, r.Body, MaxBodyBytes)
		}
		next.ServeHTTP(rw, r)
	})
}

func tooLarge() *service.Error {
	return &service.Error{Code: api.CodeRequestBodyTooLarge,
		Message: fmt.Sprintf("The request body is too large; the limit is %d bytes. Send fewer tasks per addtaskcollection call (at most 100) or smaller tasks.", MaxBodyBytes)}
}

func badQuery(name, value, reason string) *service.Error {
	return &service.Error{Code: api.CodeInvalidQueryParameterValue,
		Message: fmt.Sprintf("The value for one of the query parameters specified in the request URI is invalid: %s. %s", name, reason),
		Values: []api.BatchErrorDetail{{Key: "QueryParameterName", Value: name}, {Key: "QueryParameterValue", Value: value},
			{Key: "Reason", Value: reason}}}
}

// statusWriter records the status and turns the mux's own plain-text 404
// and 405 replies into Batch error bodies.
type statusWriter struct {
	http.ResponseWriter
	req      *http.Request
	srv      *Server
	status   int
	replaced bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status != 0 {
		return
	}
	w.status = code
	if (code == http.StatusNotFound || code == http.StatusMethodNotAllowed) &&
		strings.HasPrefix(w.Header().Get("Content-Type"), "text/plain") {
		w.replaced = true
		e := &service.Error{Code: api.CodeInvalidURI,
			Message: fmt.Sprintf("The requested URI does not represent any resource on the server: %s.", w.req.URL.Path)}
		if code == http.StatusMethodNotAllowed {
			e = &service.Error{Code: api.CodeUnsupportedHTTPVerb,
				Message: fmt.Sprintf("The resource doesn't support the specified HTTP verb %s.", w.req.Method)}
		}
		w.Header().Del("X-Content-Type-Options")
		status := statusOf(e.Code)
		if code == http.StatusNotFound {
			status = http.StatusNotFound // InvalidUri for a path that names no resource
		}
		body := errorBody(w.req, e)
		w.Header().Set("Content-Type", jsonContentType)
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.ResponseWriter.WriteHeader(status)
		_, _ = w.ResponseWriter.Write(body)
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		return len(b), nil
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func parseInt(s string) (int, error) {
	var n int
	if s == "" {
		return 0, fmt.Errorf("empty")
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("not a number")
		}
		n = n*10 + int(c-'0')
		if n > 1<<30 {
			return 0, fmt.Errorf("too large")
		}
	}
	return n, nil
}
