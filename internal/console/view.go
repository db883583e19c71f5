package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/openbatch/openbatch/internal/httpapi"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/redact"
)

//go:embed assets
var assets embed.FS

// fetchHeader marks the requests the page script makes (fetch): for a
// page the server then renders only its live part (the "main" template),
// which the script puts in place of the old one; and a request without a
// session gets 401, not a redirect to the sign-in form.
const fetchHeader = "X-Console-Fetch"

// pageNames are the templates under assets/templates, each rendered inside
// layout.html.
var pageNames = []string{"signin", "overview", "pools", "pool", "jobs", "job", "task", "file", "outputs", "error"}

type pages struct {
	t map[string]*template.Template
}

func loadPages() *pages {
	p := &pages{t: map[string]*template.Template{}}
	for _, name := range pageNames {
		p.t[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(assets,
			"assets/templates/layout.html", "assets/templates/partials.html", "assets/templates/"+name+".html"))
	}
	return p
}

// layoutView is what layout.html renders around a page.
type layoutView struct {
	Title string
	// Open is true when no sign-in is needed (no sign-out button).
	Open bool
	// Signed is true when a session is present.
	Signed bool
	// Poll is how often, in milliseconds, the page script refreshes the
	// page's live part (0: never).
	Poll int
	Data any
}

// pollMillis is how often each page refreshes: output listings call
// storage, so less often; sign-in, error and file pages never (a file
// page follows its file instead).
func pollMillis(page string) int {
	switch page {
	case "signin", "error", "file":
		return 0
	case "outputs":
		return 5000
	}
	return 2000
}

// render writes page with data, or only its "main" template for the page
// script's polling requests.
func (c *Console) render(w http.ResponseWriter, r *http.Request, status int, page, title string, data any) {
	t := c.pages.t[page]
	var buf bytes.Buffer
	var err error
	if r.Header.Get(fetchHeader) != "" {
		err = t.ExecuteTemplate(&buf, "main", data)
	} else {
		_, signed := c.session(r)
		err = t.ExecuteTemplate(&buf, "layout.html", layoutView{Title: title, Open: c.cfg.Open, Signed: signed, Poll: pollMillis(page), Data: data})
	}
	if err != nil {
		c.cfg.Log.Error("console: render", "page", page, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// errorView is the error page.
type errorView struct{ Message string }

func (c *Console) notFound(w http.ResponseWriter, r *http.Request, msg string) {
	c.render(w, r, http.StatusNotFound, "error", "Not found", errorView{Message: msg})
}

// fail shows an error from the service: its Batch error message (written
// for people, with no secret) and status.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, msg := http.StatusInternalServerError, "The server could not read this: see its log."
	if se := (*service.Error)(nil); errors.As(err, &se) {
		status, msg = httpapi.StatusOf(se.Code), se.Message
	} else {
		c.cfg.Log.Error("console", "path", r.URL.Path, "err", redact.Error(err))
	}
	c.render(w, r, status, "error", "Error", errorView{Message: msg})
}

func staticHandler() http.Handler {
	sub, _ := fs.Sub(assets, "assets/static")
	fsrv := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Static files are the binary's own: cache them for a while.
		w.Header().Set("Cache-Control", "max-age=300")
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + r.PathValue("file")
		fsrv.ServeHTTP(w, r2)
	})
}

var funcs = template.FuncMap{
	"when":  when,
	"ago":   ago,
	"bytes": func(n int64) string { return humanize.IBytes(uint64(max(n, 0))) },
	"dur":   duration,
	"pct": func(part, total int32) int32 {
		if total <= 0 {
			return 0
		}
		return part * 100 / total
	},
	"lower": strings.ToLower,
	"deref": func(p *int32) int32 {
		if p == nil {
			return 0
		}
		return *p
	},
	"path": pathEscape,
	"list": func(v ...string) []string { return v },
}

// when formats a time in UTC, or "-".
func when(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// ago says how long ago t was, for tooltips next to times.
func ago(t *time.Time) string {
	if t == nil || t.IsZero() {
		return ""
	}
	return humanize.Time(*t)
}

// duration is end-start, or the time since start while end is unset.
func duration(start, end *time.Time) string {
	if start == nil {
		return "-"
	}
	e := time.Now()
	if end != nil {
		e = *end
	}
	d := e.Sub(*start).Round(time.Millisecond)
	if d >= time.Second {
		d = d.Round(time.Second / 10)
	}
	return d.String()
}

// pathEscape escapes each segment of a relative file path for a URL.
func pathEscape(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}
