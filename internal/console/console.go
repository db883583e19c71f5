// Package console is openbatch's web console: server-rendered pages
// (html/template, embedded with the binary, a little vanilla JavaScript and
// no build step) that show pools, jobs, tasks, task files and output files
// to the people watching them, updated live by polling.
//
// The console is read-only: every page is a GET, and the only POSTs sign a
// person in and out. It reads state through internal/service — the same
// functions the Batch REST API handlers call — so what it shows is what
// `az batch` shows; it never reaches into the store. Task files come through
// the same file router as the files API (the node's directory, local or
// proxied to a remote agent), and output blobs through the blob package,
// opened with each task's own destination URL.
//
// Authentication: open, like Azurite's and Nomad's -dev, when Config.Open
// (openbatch dev on a loopback listener); otherwise a sign-in form takes the
// account name and key, or a Microsoft Entra ID access token, and sets a
// session cookie holding an HMAC-signed expiry (never the key).
package console

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/internal/service"
)

// Prefix is the path every console page is served under. GET / redirects
// here; Azure Batch clients never call either.
const Prefix = "/console/"

// Dir is a task's directory on the node that ran it. It is the part of
// httpapi.Dir the console needs (the console never deletes): paths are
// relative and "/"-separated, and errors are the nodefiles errors.
type Dir interface {
	List(ctx context.Context, rel string, recursive bool, prefix string) ([]api.NodeFile, error)
	Stat(ctx context.Context, rel string) (api.NodeFile, error)
	// Open returns length bytes of the file from offset start.
	Open(ctx context.Context, rel string, start, length int64) (io.ReadCloser, error)
}

// Files finds a task's directory on its node (internal/app's file router).
type Files interface {
	TaskDir(ctx context.Context, jobID, taskID string) (Dir, error)
}

// BearerVerifier checks a Microsoft Entra ID access token (internal/entra
// provides one); its error never contains the token.
type BearerVerifier interface {
	VerifyBearer(ctx context.Context, raw string) error
}

// Config configures the console.
type Config struct {
	// Service is where state is read.
	Service *service.Service
	// Files reads task directories; nil hides task files.
	Files Files
	// Blobs opens output destinations to list what landed there; nil hides
	// the blob listing (fileuploadout.txt is still shown).
	Blobs blob.Opener
	// Open serves the console without sign-in. Set it only for openbatch
	// dev on a loopback listener.
	Open bool
	// AccountName and AccountKey (decoded) are what a person signs in with;
	// the key also derives the session-signing key, so sessions are valid
	// on every server sharing the account and end when the key changes.
	AccountName string
	AccountKey  []byte
	// Bearer, when set, also lets a person sign in with an Entra ID token.
	Bearer BearerVerifier
	// SessionLifetime is how long a sign-in lasts (default 8h).
	SessionLifetime time.Duration
	Log             *slog.Logger
	// Now is the clock (default time.Now), for session expiry.
	Now func() time.Time
}

// Console serves the web console.
type Console struct {
	cfg   Config
	mux   *http.ServeMux
	pages *pages
	key   []byte // session-signing key
}

// New returns a console for cfg.
func New(cfg Config) *Console {
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 8 * time.Hour
	}
	c := &Console{cfg: cfg, pages: loadPages(), key: sessionKey(cfg.AccountKey)}
	c.mux = http.NewServeMux()
	c.routes()
	return c
}

// Mount returns a handler that serves the console at Prefix (and redirects
// GET / there) and passes every other request to api unchanged. Paths that
// are not clean (".", ".." or empty segments) also go to api, which
// authenticates them before refusing them, as it does for its own paths.
func (c *Console) Mount(api http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/" && (r.Method == http.MethodGet || r.Method == http.MethodHead):
			securityHeaders(w)
			http.Redirect(w, r, Prefix, http.StatusFound)
		case strings.HasPrefix(p, Prefix) && cleanPath(r):
			c.ServeHTTP(w, r)
		default:
			api.ServeHTTP(w, r)
		}
	})
}

// cleanPath reports whether the request path has no ".", ".." or empty
// segments, also when percent-encoded.
func cleanPath(r *http.Request) bool {
	p := r.URL.Path
	if path.Clean(p) != strings.TrimSuffix(p, "/") && path.Clean(p)+"/" != p {
		return false
	}
	esc := strings.ToLower(r.URL.EscapedPath())
	return !strings.Contains(esc, "%2e") && !strings.Contains(esc, "%2f") && !strings.Contains(esc, "//")
}

// ServeHTTP serves a console request (a path under Prefix).
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	securityHeaders(w)
	c.mux.ServeHTTP(w, r)
}

// securityHeaders keep the console's pages out of frames, scripts and
// styles to its own files, and responses from being sniffed as another type.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

func (c *Console) routes() {
	m := c.mux
	m.Handle("GET "+Prefix+"static/{file}", staticHandler())
	m.HandleFunc("GET "+Prefix+"signin", c.signInForm)
	m.HandleFunc("POST "+Prefix+"signin", c.signIn)
	m.HandleFunc("POST "+Prefix+"signout", c.signOut)

	page := func(pattern string, h func(http.ResponseWriter, *http.Request)) {
		m.Handle("GET "+Prefix+pattern, c.authed(http.HandlerFunc(h)))
	}
	page("{$}", c.overview)
	page("pools", c.poolsPage)
	page("pools/{pool}", c.poolPage)
	page("jobs", c.jobsPage)
	page("jobs/{job}", c.jobPage)
	page("jobs/{job}/tasks/{task}", c.taskPage)
	page("jobs/{job}/tasks/{task}/files/{path...}", c.filePage)
	page("jobs/{job}/tasks/{task}/raw/{path...}", c.rawFile)
	page("jobs/{job}/tasks/{task}/outputs", c.outputsPage)
	page("jobs/{job}/tasks/{task}/outputs/blob", c.outputBlob)
	m.HandleFunc(Prefix, func(w http.ResponseWriter, r *http.Request) {
		c.notFound(w, r, "There is no such page.")
	})
}
