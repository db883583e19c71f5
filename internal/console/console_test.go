package console_test

import (
	"context"
	"crypto/md5"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/local"
	"github.com/openbatch/openbatch/internal/console"
	"github.com/openbatch/openbatch/internal/httpapi"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
	"github.com/openbatch/openbatch/outputfiles"
)

// Test account. The key is 64 random-looking bytes, as an account key is.
const (
	testAccount = "consoleacct"
	testKeyB64  = "q1w2e3r4t5y6u7i8o9p0AaSsDdFfGgHhJjKkLlZzXxCcVvBbNnMm1234567890abcdefghijklmnopqrstuvwxyzAB=="
	secretSig   = "SECRETSIGNATURE123"
	secretEnv   = "hunter2-very-secret"
)

func testKey(t testing.TB) []byte {
	t.Helper()
	k, err := base64.StdEncoding.DecodeString(testKeyB64)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// dirFiles keeps task directories under root/JOB/TASK.
type dirFiles struct{ root string }

func (f dirFiles) TaskDir(_ context.Context, jobID, taskID string) (console.Dir, error) {
	return httpapi.LocalDir(filepath.Join(f.root, jobID, taskID)), nil
}

// env is a console over a real service and SQLite store holding pool p1
// (two nodes) and job j1.
type env struct {
	t       testing.TB
	svc     *service.Service
	st      store.Store
	files   string
	outputs string // a file:// output container's directory
	srv     *httptest.Server
	now     time.Time
}

func newEnv(t testing.TB, mut func(*console.Config)) *env {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	svc := service.New(st, log)
	e := &env{t: t, svc: svc, st: st, files: t.TempDir(), outputs: t.TempDir(), now: time.Now()}
	pool := &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(2), TaskSlotsPerNode: api.I32(4),
		VirtualMachineConfiguration: json.RawMessage(`{"imageReference":{"publisher":"canonical","offer":"0001-com-ubuntu-server-focal","sku":"20_04-lts"},"nodeAgentSKUId":"batch.node.ubuntu 20.04"}`)}
	if err := svc.AddPool(ctx, pool); err != nil {
		t.Fatal(err)
	}
	for i, state := range []api.NodeState{api.NodeIdle, api.NodeUnusable} {
		n := &store.Node{PoolID: "p1", Node: &api.ComputeNode{ID: fmt.Sprintf("node%d", i), State: state, IsDedicated: true}}
		if err := st.PutNode(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	if err := svc.AddJob(ctx, &api.Job{ID: "j1", PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
		t.Fatal(err)
	}
	// Blobs: file:// containers through blob/local; any other URL fails
	// with an error that quotes it (as a real backend's might).
	blobs := blob.OpenerFunc(func(ctx context.Context, u string, o blob.OpenOptions) (blob.Container, error) {
		if strings.HasPrefix(u, "file://") {
			return local.New().Open(ctx, u, o)
		}
		return nil, &blob.Error{Kind: blob.AccessDenied, Op: "list", Err: errors.New("refused " + u)}
	})
	cfg := console.Config{Service: svc, Files: dirFiles{e.files}, Blobs: blobs, AccountName: testAccount,
		AccountKey: testKey(t), Log: log, Now: func() time.Time { return e.now }}
	if mut != nil {
		mut(&cfg)
	}
	c := console.New(cfg)
	apiStub := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Api", "1")
		http.Error(w, `{"code":"AuthenticationFailed"}`, http.StatusUnauthorized)
	})
	e.srv = httptest.NewServer(c.Mount(apiStub))
	t.Cleanup(e.srv.Close)
	return e
}

// task adds a task and puts it in a state, as the scheduler and agent
// would have; files are written into its directory.
func (e *env) task(t *api.Task, state api.TaskState, ei *api.TaskExecutionInformation, files map[string]string) {
	e.t.Helper()
	ctx := context.Background()
	if err := e.svc.AddTask(ctx, "j1", t); err != nil {
		e.t.Fatal(err)
	}
	if state == api.TaskActive {
		return
	}
	_, err := e.st.UpdateTask(ctx, "j1", t.ID, func(r *store.TaskRow) error {
		r.Task.State = state
		r.Task.ExecutionInfo = ei
		r.Task.NodeInfo = &api.ComputeNodeInformation{PoolID: "p1", NodeID: "node0"}
		if state == api.TaskRunning {
			r.NodeID, r.Epoch = "node0", 1
		}
		return nil
	})
	if err != nil {
		e.t.Fatal(err)
	}
	for name, content := range files {
		p := filepath.Join(e.files, "j1", t.ID, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			e.t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			e.t.Fatal(err)
		}
	}
}

func exitInfo(code int32, fi *api.TaskFailureInformation) *api.TaskExecutionInformation {
	now := time.Now()
	res := api.ResultSuccess
	if code != 0 || fi != nil {
		res = api.ResultFailure
	}
	return &api.TaskExecutionInformation{StartTime: &now, EndTime: &now, ExitCode: &code, Result: res, FailureInfo: fi}
}

// client returns an HTTP client that keeps cookies and does not follow
// redirects.
func (e *env) client() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Jar: jar(e.t)}
}

func jar(t testing.TB) http.CookieJar {
	t.Helper()
	j, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return j
}

type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(c *http.Client, method, path string, form url.Values, hdr map[string]string) response {
	e.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, e.srv.URL+path, body)
	if err != nil {
		e.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.t.Fatal(err)
	}
	return response{resp.StatusCode, resp.Header, string(b)}
}

func (e *env) get(path string) response {
	e.t.Helper()
	return e.do(e.client(), http.MethodGet, path, nil, nil)
}

func open(c *console.Config) { c.Open = true }

func TestMount(t *testing.T) {
	e := newEnv(t, open)
	cases := []struct {
		name, method, path string
		status             int
		api                bool
		location           string
	}{
		{"root redirects to the console", "GET", "/", http.StatusFound, false, "/console/"},
		{"root HEAD redirects too", "HEAD", "/", http.StatusFound, false, "/console/"},
		{"POST / stays the API's", "POST", "/", http.StatusUnauthorized, true, ""},
		{"Batch API paths untouched", "GET", "/jobs", http.StatusUnauthorized, true, ""},
		{"pools API untouched", "GET", "/pools/p1", http.StatusUnauthorized, true, ""},
		{"console page", "GET", "/console/", http.StatusOK, false, ""},
		{"dot segments go to the API", "GET", "/console/../jobs", http.StatusUnauthorized, true, ""},
		{"encoded dot segments go to the API", "GET", "/console/%2e%2e/jobs", http.StatusUnauthorized, true, ""},
		{"unknown console page", "GET", "/console/nope", http.StatusNotFound, false, ""},
		{"static file", "GET", "/console/static/console.js", http.StatusOK, false, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, e.srv.URL+tc.path, nil)
			req.URL.Opaque = tc.path // keep the path exactly as written
			resp, err := e.client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if got := resp.Header.Get("X-Api") == "1"; got != tc.api {
				t.Fatalf("served by API = %v, want %v", got, tc.api)
			}
			if tc.location != "" && resp.Header.Get("Location") != tc.location {
				t.Fatalf("Location = %q, want %q", resp.Header.Get("Location"), tc.location)
			}
			if !tc.api && !strings.Contains(resp.Header.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
				t.Fatalf("console response without its CSP: %v", resp.Header)
			}
		})
	}
}

func TestOpenConsoleNeedsNoSignIn(t *testing.T) {
	e := newEnv(t, open)
	for _, p := range []string{"/console/", "/console/pools", "/console/pools/p1", "/console/jobs", "/console/jobs/j1"} {
		if r := e.get(p); r.status != http.StatusOK {
			t.Errorf("GET %s = %d, want 200", p, r.status)
		}
	}
	if r := e.get("/console/signin"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/" {
		t.Errorf("sign-in page of an open console = %d %q, want a redirect to the console", r.status, r.header.Get("Location"))
	}
}

func signIn(e *env, c *http.Client, form url.Values) response {
	e.t.Helper()
	return e.do(c, http.MethodPost, "/console/signin", form, map[string]string{"Origin": e.srv.URL})
}

func TestSignInRequiredInServerMode(t *testing.T) {
	e := newEnv(t, nil)
	t.Run("pages redirect to the sign-in form", func(t *testing.T) {
		r := e.get("/console/jobs/j1?state=running")
		if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin?next="+url.QueryEscape("/console/jobs/j1?state=running") {
			t.Fatalf("GET without session = %d %q", r.status, r.header.Get("Location"))
		}
	})
	t.Run("script requests get 401", func(t *testing.T) {
		r := e.do(e.client(), "GET", "/console/jobs/j1", nil, map[string]string{"X-Console-Fetch": "1"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("partial without session = %d", r.status)
		}
		r = e.do(e.client(), "GET", "/console/jobs/j1/tasks/t/raw/stdout.txt?offset=0", nil, map[string]string{"X-Console-Fetch": "1"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("raw without session = %d", r.status)
		}
	})
	t.Run("the form renders", func(t *testing.T) {
		r := e.get("/console/signin?next=/console/jobs")
		if r.status != http.StatusOK || !strings.Contains(r.body, `name="key"`) || !strings.Contains(r.body, `value="/console/jobs"`) {
			t.Fatalf("sign-in form = %d\n%s", r.status, r.body)
		}
		if strings.Contains(r.body, `name="token"`) {
			t.Fatal("token field shown without a bearer verifier")
		}
	})

	cases := []struct {
		name   string
		form   url.Values
		origin string
		status int
		signed bool
	}{
		{"wrong key", url.Values{"account": {testAccount}, "key": {base64.StdEncoding.EncodeToString([]byte("wrong"))}}, "", http.StatusUnauthorized, false},
		{"key not base64", url.Values{"account": {testAccount}, "key": {"!!!"}}, "", http.StatusUnauthorized, false},
		{"wrong account", url.Values{"account": {"other"}, "key": {testKeyB64}}, "", http.StatusUnauthorized, false},
		{"nothing given", url.Values{"account": {testAccount}}, "", http.StatusUnauthorized, false},
		{"token without verifier", url.Values{"token": {"abc"}}, "", http.StatusUnauthorized, false},
		{"cross-origin form", url.Values{"account": {testAccount}, "key": {testKeyB64}}, "https://evil.example", http.StatusForbidden, false},
		{"right key", url.Values{"account": {testAccount}, "key": {testKeyB64}, "next": {"/console/jobs"}}, "", http.StatusSeeOther, true},
		{"account name case-insensitive", url.Values{"account": {strings.ToUpper(testAccount)}, "key": {testKeyB64}}, "", http.StatusSeeOther, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := e.client()
			origin := e.srv.URL
			if tc.origin != "" {
				origin = tc.origin
			}
			r := e.do(c, http.MethodPost, "/console/signin", tc.form, map[string]string{"Origin": origin})
			if r.status != tc.status {
				t.Fatalf("sign-in = %d, want %d\n%s", r.status, tc.status, r.body)
			}
			ck := r.header.Get("Set-Cookie")
			if (ck != "") != tc.signed {
				t.Fatalf("Set-Cookie = %q, want a session: %v", ck, tc.signed)
			}
			if strings.Contains(r.body, testKeyB64) {
				t.Fatal("the response echoes the key")
			}
			if !tc.signed {
				return
			}
			for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/console/"} {
				if !strings.Contains(ck, attr) {
					t.Errorf("cookie %q lacks %s", ck, attr)
				}
			}
			if strings.Contains(ck, "Secure") {
				t.Errorf("cookie %q is Secure over plain HTTP (the browser would drop it)", ck)
			}
			if strings.Contains(ck, testKeyB64) || strings.Contains(ck, url.QueryEscape(testKeyB64)) {
				t.Fatal("the cookie holds the key")
			}
			if want := tc.form.Get("next"); want != "" && r.header.Get("Location") != want {
				t.Errorf("redirect after sign-in = %q, want %q", r.header.Get("Location"), want)
			}
			if r := e.do(c, "GET", "/console/jobs/j1", nil, nil); r.status != http.StatusOK {
				t.Fatalf("GET with session = %d", r.status)
			}
		})
	}

	t.Run("session expires", func(t *testing.T) {
		c := e.client()
		signIn(e, c, url.Values{"account": {testAccount}, "key": {testKeyB64}})
		if r := e.do(c, "GET", "/console/", nil, nil); r.status != http.StatusOK {
			t.Fatalf("fresh session = %d", r.status)
		}
		saved := e.now
		e.now = e.now.Add(9 * time.Hour)
		defer func() { e.now = saved }()
		if r := e.do(c, "GET", "/console/", nil, nil); r.status != http.StatusSeeOther {
			t.Fatalf("expired session = %d, want a redirect to sign in", r.status)
		}
	})
	t.Run("tampered cookie refused", func(t *testing.T) {
		c := e.client()
		r := signIn(e, c, url.Values{"account": {testAccount}, "key": {testKeyB64}})
		val := regexp.MustCompile(`openbatch_console=([^;]+)`).FindStringSubmatch(r.header.Get("Set-Cookie"))[1]
		payload, sig, _ := strings.Cut(val, ".")
		raw, _ := base64.RawURLEncoding.DecodeString(payload)
		raw[0] ^= 0x7f // a later expiry
		forged := base64.RawURLEncoding.EncodeToString(raw) + "." + sig
		got := e.do(e.client(), "GET", "/console/", nil, map[string]string{"Cookie": "openbatch_console=" + forged})
		if got.status != http.StatusSeeOther {
			t.Fatalf("forged session = %d, want a redirect to sign in", got.status)
		}
	})
	t.Run("sign-out clears the session", func(t *testing.T) {
		c := e.client()
		signIn(e, c, url.Values{"account": {testAccount}, "key": {testKeyB64}})
		r := e.do(c, http.MethodPost, "/console/signout", url.Values{}, map[string]string{"Origin": e.srv.URL})
		if r.status != http.StatusSeeOther || !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
			t.Fatalf("sign-out = %d %q", r.status, r.header.Get("Set-Cookie"))
		}
		if r := e.do(c, "GET", "/console/", nil, nil); r.status != http.StatusSeeOther {
			t.Fatalf("after sign-out = %d", r.status)
		}
	})
	t.Run("no open redirect", func(t *testing.T) {
		for _, next := range []string{"https://evil.example/", "//evil.example/", "/jobs", `/console/\evil`} {
			r := signIn(e, e.client(), url.Values{"account": {testAccount}, "key": {testKeyB64}, "next": {next}})
			if loc := r.header.Get("Location"); loc != "/console/" {
				t.Errorf("next=%q redirected to %q, want /console/", next, loc)
			}
		}
	})
	t.Run("Secure behind a TLS proxy", func(t *testing.T) {
		r := e.do(e.client(), http.MethodPost, "/console/signin", url.Values{"account": {testAccount}, "key": {testKeyB64}},
			map[string]string{"Origin": e.srv.URL, "X-Forwarded-Proto": "https"})
		if ck := r.header.Get("Set-Cookie"); !strings.Contains(ck, "Secure") {
			t.Fatalf("cookie %q not Secure behind a TLS proxy", ck)
		}
	})
	t.Run("GET never signs in", func(t *testing.T) {
		r := e.get("/console/signin?account=" + testAccount + "&key=" + url.QueryEscape(testKeyB64))
		if r.header.Get("Set-Cookie") != "" {
			t.Fatal("a GET set a session")
		}
	})
}

type fakeBearer struct{}

func (fakeBearer) VerifyBearer(_ context.Context, raw string) error {
	if raw == "good-token" {
		return nil
	}
	return errors.New("token signature invalid")
}

func TestSignInWithEntraToken(t *testing.T) {
	e := newEnv(t, func(c *console.Config) { c.Bearer = fakeBearer{} })
	if r := e.get("/console/signin"); !strings.Contains(r.body, `name="token"`) {
		t.Fatal("the form has no token field with a verifier")
	}
	if r := signIn(e, e.client(), url.Values{"token": {"bad-token"}}); r.status != http.StatusUnauthorized {
		t.Fatalf("bad token = %d", r.status)
	}
	c := e.client()
	r := signIn(e, c, url.Values{"token": {"good-token"}})
	if r.status != http.StatusSeeOther || strings.Contains(r.header.Get("Set-Cookie"), "good-token") {
		t.Fatalf("good token = %d, cookie %q", r.status, r.header.Get("Set-Cookie"))
	}
	if r := e.do(c, "GET", "/console/", nil, nil); r.status != http.StatusOK {
		t.Fatalf("GET with token session = %d", r.status)
	}
	// A token session lasts at most an hour.
	e.now = e.now.Add(61 * time.Minute)
	if r := e.do(c, "GET", "/console/", nil, nil); r.status != http.StatusSeeOther {
		t.Fatalf("token session after an hour = %d", r.status)
	}
}

// countOf reads the number shown for a state on the job page.
func countOf(t *testing.T, body, state string) string {
	t.Helper()
	m := regexp.MustCompile(`data-count="` + state + `">(\d+)<`).FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no %s count on the page", state)
	}
	return m[1]
}

func taskRows(body string) []string {
	var ids []string
	for _, m := range regexp.MustCompile(`<tr data-task="([^"]+)">`).FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

func TestJobPage(t *testing.T) {
	e := newEnv(t, open)
	fail := &api.TaskFailureInformation{Category: api.UserError, Code: "FailureExitCode", Message: "exit"}
	e.task(&api.Task{ID: "ok1", CommandLine: "true"}, api.TaskCompleted, exitInfo(0, nil), nil)
	e.task(&api.Task{ID: "ok2", CommandLine: "true"}, api.TaskCompleted, exitInfo(0, nil), nil)
	e.task(&api.Task{ID: "bad3", CommandLine: "false"}, api.TaskCompleted, exitInfo(3, fail), nil)
	e.task(&api.Task{ID: "bad7", CommandLine: "false"}, api.TaskCompleted, exitInfo(7, fail), nil)
	e.task(&api.Task{ID: "run", CommandLine: "sleep 9"}, api.TaskRunning, &api.TaskExecutionInformation{StartTime: api.T(time.Now())}, nil)
	for i := range 3 {
		e.task(&api.Task{ID: fmt.Sprintf("wait%d", i), CommandLine: "true"}, api.TaskActive, nil, nil)
	}

	r := e.get("/console/jobs/j1")
	want := map[string]string{"active": "3", "running": "1", "completed": "4", "succeeded": "2", "failed": "2", "total": "8"}
	for state, n := range want {
		if got := countOf(t, r.body, state); got != n {
			t.Errorf("%s = %s, want %s", state, got, n)
		}
	}
	if !strings.Contains(r.body, `<progress max="8" value="4">`) {
		t.Error("no progress bar at 4 of 8")
	}

	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"ok1", "ok2", "bad3", "bad7", "run", "wait0", "wait1", "wait2"}},
		{"state=running", []string{"run"}},
		{"state=active", []string{"wait0", "wait1", "wait2"}},
		{"result=failure", []string{"bad3", "bad7"}},
		{"result=success", []string{"ok1", "ok2"}},
		{"exitCode=7", []string{"bad7"}},
		{"result=failure&exitCode=0", nil},
		{"state=bogus", []string{"ok1", "ok2", "bad3", "bad7", "run", "wait0", "wait1", "wait2"}},
		{"sort=id&state=completed", []string{"bad3", "bad7", "ok1", "ok2"}},
		{"sort=exit&result=failure", []string{"bad3", "bad7"}},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			r := e.get("/console/jobs/j1?" + tc.query)
			if r.status != http.StatusOK {
				t.Fatalf("status %d", r.status)
			}
			if got := taskRows(r.body); strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("tasks = %v, want %v", got, tc.want)
			}
		})
	}

	t.Run("paging follows the store's continuation", func(t *testing.T) {
		var seen []string
		path := "/console/jobs/j1?size=25"
		// Add enough tasks for two pages of 25.
		for i := range 40 {
			e.task(&api.Task{ID: fmt.Sprintf("more%02d", i), CommandLine: "true"}, api.TaskActive, nil, nil)
		}
		for pages := 0; path != "" && pages < 5; pages++ {
			r := e.get(path)
			seen = append(seen, taskRows(r.body)...)
			path = ""
			if m := regexp.MustCompile(`href="(/console/jobs/j1\?[^"]*)" rel="next"`).FindStringSubmatch(r.body); m != nil {
				path = strings.ReplaceAll(m[1], "&amp;", "&")
			}
		}
		if len(seen) != 48 {
			t.Fatalf("paged through %d tasks, want 48", len(seen))
		}
		if r := e.get("/console/jobs/j1?page=garbage"); r.status != http.StatusBadRequest {
			t.Fatalf("bad page token = %d, want 400", r.status)
		}
	})
	t.Run("missing job", func(t *testing.T) {
		if r := e.get("/console/jobs/nope"); r.status != http.StatusNotFound || !strings.Contains(r.body, "nope") {
			t.Fatalf("missing job = %d\n%s", r.status, r.body)
		}
	})
	t.Run("polling renders only the live part", func(t *testing.T) {
		r := e.do(e.client(), "GET", "/console/jobs/j1", nil, map[string]string{"X-Console-Fetch": "1"})
		if r.status != http.StatusOK || strings.Contains(r.body, "<html") || !strings.Contains(r.body, `data-count="failed"`) {
			t.Fatalf("partial = %d\n%s", r.status, r.body)
		}
	})
}

func TestPoolPages(t *testing.T) {
	e := newEnv(t, open)
	for _, p := range []string{"/console/pools", "/console/pools/p1", "/console/"} {
		r := e.get(p)
		if strings.Count(r.body, `class="cell n-idle" title=`) != 1 || strings.Count(r.body, `class="cell n-unusable" title=`) != 1 {
			t.Errorf("%s: heat map does not show one idle and one unusable node:\n%s", p, r.body)
		}
		if !strings.Contains(r.body, `<td class="slots">0 / 8</td>`) && !strings.Contains(r.body, `<dd class="slots">0 / 8</dd>`) {
			t.Errorf("%s: slots in use not 0 / 8", p)
		}
	}
	if r := e.get("/console/pools/nope"); r.status != http.StatusNotFound {
		t.Errorf("missing pool = %d", r.status)
	}
}

func TestTaskPageHidesSecrets(t *testing.T) {
	e := newEnv(t, open)
	sasURL := "https://acct.blob.core.windows.net/out?sv=2023-01-03&sp=rwl&sig=" + secretSig
	task := &api.Task{ID: "t1", CommandLine: "run --fast",
		EnvironmentSettings: []api.EnvironmentSetting{{Name: "MODE", Value: "fast"}, {Name: "DB_PASSWORD", Value: secretEnv},
			{Name: "OUTPUT_URL", Value: sasURL}},
		OutputFiles: []api.OutputFile{{FilePattern: "*.txt", Destination: api.OutputFileDestination{
			Container: &api.OutputFileBlobContainerDestination{ContainerURL: sasURL, Path: "t1"}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}}}
	fi := &api.TaskFailureInformation{Category: api.UserError, Code: "FileUploadAccessDenied", Message: "denied",
		Details: []api.NameValuePair{{Name: "Destination", Value: "https://acct.blob.core.windows.net/out/t1/a.txt?sp=rwl&sig=REDACTED"}}}
	manifest, err := json.Marshal(outputfiles.Manifest{Uploaded: 1, Failed: 1, Bytes: 5, Files: []outputfiles.ManifestEntry{
		{File: "wd/a.txt", Blob: "t1/a.txt", Destination: sasURL, Size: 5, ContentMD5: "q1w2e3==", Code: "FileUploadAccessDenied", Error: "denied at " + sasURL},
		{File: "wd/b.txt", Blob: "t1/b.txt", Destination: sasURL, Size: 5, ContentMD5: "z9y8x7=="},
	}})
	if err != nil {
		t.Fatal(err)
	}
	e.task(task, api.TaskCompleted, exitInfo(0, fi), map[string]string{
		"fileuploadmanifest.json": string(manifest),
		"stdout.txt":              "hello\n",
		"fileuploadout.txt":       "2026-01-01T00:00:00.000Z ERROR Upload failed - blob: t1/a.txt, destination: " + sasURL + "\n",
		"fileuploaderr.txt":       `{"error":"denied ` + sasURL + `"}` + "\n",
	})
	for _, p := range []string{"/console/jobs/j1/tasks/t1", "/console/jobs/j1/tasks/t1/outputs"} {
		r := e.get(p)
		if r.status != http.StatusOK {
			t.Fatalf("%s = %d", p, r.status)
		}
		for _, secret := range []string{secretSig, secretEnv} {
			if strings.Contains(r.body, secret) {
				t.Errorf("%s shows a secret (%s)", p, secret)
			}
		}
	}
	r := e.get("/console/jobs/j1/tasks/t1")
	for _, want := range []string{"run --fast", "FileUploadAccessDenied", "Destination", "<th>MODE</th><td><code>fast</code>",
		"<th>DB_PASSWORD</th><td><code>REDACTED</code>", "sig=REDACTED", "stdout.txt"} {
		if !strings.Contains(r.body, want) {
			t.Errorf("task page lacks %q", want)
		}
	}
	r = e.get("/console/jobs/j1/tasks/t1/outputs")
	for _, want := range []string{`id="upload-failure"`, `class="l-error"`, "Listing was refused", "fileuploaderr.txt",
		"Upload manifest", "<code>t1/b.txt</code>", "z9y8x7==", `<tr class="bad"><td><code>wd/a.txt</code>`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("outputs page lacks %q", want)
		}
	}
}

func TestOutputsPageListsBlobs(t *testing.T) {
	e := newEnv(t, open)
	container := "file://" + filepath.ToSlash(e.outputs)
	ct, err := local.New().Open(context.Background(), container, blob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// Stored as an upload stores them: with their Content-MD5.
	put := func(name, content string) {
		if _, err := ct.Put(context.Background(), name, strings.NewReader(content), int64(len(content)), blob.PutOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	put("t2/$TaskOutput/result.csv", "a,b\n1,2\n")
	put("t2/$TaskLog/stdout.txt", "hi\n")
	put("t2/$TaskLog/stderr.txt", "")
	put("elsewhere/other.txt", "not this task's")
	dest := func(pattern, path string) api.OutputFile {
		return api.OutputFile{FilePattern: pattern, Destination: api.OutputFileDestination{
			Container: &api.OutputFileBlobContainerDestination{ContainerURL: container, Path: path}},
			UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnSuccess}}
	}
	e.task(&api.Task{ID: "t2", CommandLine: "x", OutputFiles: []api.OutputFile{
		dest("result.csv", "t2/$TaskOutput/result.csv"), dest("../std*.txt", "t2/$TaskLog")}},
		api.TaskCompleted, exitInfo(0, nil), map[string]string{"fileuploadout.txt": "2026-01-01T00:00:00.000Z INFO  Summary - uploaded: 3\n"})

	r := e.get("/console/jobs/j1/tasks/t2/outputs")
	sum := md5.Sum([]byte("a,b\n1,2\n"))
	for _, want := range []string{
		`<h3 class="kind">TaskOutput</h3>`, `<h3 class="kind">TaskLog</h3>`,
		`data-blob="t2/$TaskOutput/result.csv"`, `data-bytes="8"`, `data-blob="t2/$TaskLog/stdout.txt"`, `data-bytes="3"`,
		base64.StdEncoding.EncodeToString(sum[:]), "Summary - uploaded: 3",
	} {
		if !strings.Contains(r.body, want) {
			t.Errorf("outputs page lacks %q", want)
		}
	}
	if strings.Contains(r.body, "elsewhere/other.txt") {
		t.Error("outputs page lists a blob no outputFiles entry writes")
	}

	cases := []struct {
		name, query string
		status      int
		body        string
	}{
		{"a listed blob", "dest=0&name=" + url.QueryEscape("t2/$TaskOutput/result.csv"), http.StatusOK, "a,b\n1,2\n"},
		{"under the wildcard entry", "dest=1&name=" + url.QueryEscape("t2/$TaskLog/stdout.txt"), http.StatusOK, "hi\n"},
		{"not what the entry writes", "dest=0&name=" + url.QueryEscape("elsewhere/other.txt"), http.StatusBadRequest, ""},
		{"outside the wildcard prefix", "dest=1&name=" + url.QueryEscape("elsewhere/other.txt"), http.StatusBadRequest, ""},
		{"no such entry", "dest=5&name=x", http.StatusBadRequest, ""},
		{"missing blob", "dest=1&name=" + url.QueryEscape("t2/$TaskLog/none.txt"), http.StatusNotFound, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get("/console/jobs/j1/tasks/t2/outputs/blob?" + tc.query)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status == http.StatusOK {
				if r.body != tc.body || r.header.Get("Content-Type") != "application/octet-stream" ||
					!strings.HasPrefix(r.header.Get("Content-Disposition"), "attachment") {
					t.Fatalf("download = %q %v", r.body, r.header)
				}
			}
		})
	}
}

func TestTaskFiles(t *testing.T) {
	e := newEnv(t, open)
	e.task(&api.Task{ID: "t3", CommandLine: "x"}, api.TaskRunning, &api.TaskExecutionInformation{StartTime: api.T(time.Now())},
		map[string]string{"stdout.txt": "line one\nline two\n", "wd/<script>.html": "<script>alert(1)</script>"})
	e.task(&api.Task{ID: "never", CommandLine: "x"}, api.TaskActive, nil, nil)

	r := e.get("/console/jobs/j1/tasks/t3/files/stdout.txt")
	if r.status != http.StatusOK || !strings.Contains(r.body, "line two") || !strings.Contains(r.body, `data-offset="18"`) {
		t.Fatalf("file page = %d\n%s", r.status, r.body)
	}
	r = e.get("/console/jobs/j1/tasks/t3/files/" + "wd/" + url.PathEscape("<script>.html"))
	if strings.Contains(r.body, "<script>alert") {
		t.Fatal("file content rendered as HTML")
	}
	cases := []struct {
		name, path string
		status     int
		body, typ  string
	}{
		{"tail from an offset", "stdout.txt?offset=9", http.StatusOK, "line two\n", "text/plain; charset=utf-8"},
		{"tail at the end", "stdout.txt?offset=18", http.StatusOK, "", "text/plain; charset=utf-8"},
		{"tail past the end", "stdout.txt?offset=1000", http.StatusOK, "", "text/plain; charset=utf-8"},
		{"bad offset", "stdout.txt?offset=-1", http.StatusBadRequest, "", ""},
		{"download", "stdout.txt?download=1", http.StatusOK, "line one\nline two\n", "application/octet-stream"},
		{"html served as text", "wd/" + url.PathEscape("<script>.html"), http.StatusOK, "<script>alert(1)</script>", "text/plain; charset=utf-8"},
		{"missing", "nope.txt", http.StatusNotFound, "", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := e.get("/console/jobs/j1/tasks/t3/raw/" + tc.path)
			if r.status != tc.status {
				t.Fatalf("status = %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != http.StatusOK {
				return
			}
			if r.body != tc.body || r.header.Get("Content-Type") != tc.typ || r.header.Get("X-Task-State") != "running" {
				t.Fatalf("body %q type %q state %q", r.body, r.header.Get("Content-Type"), r.header.Get("X-Task-State"))
			}
			if r.header.Get("X-Content-Type-Options") != "nosniff" {
				t.Fatal("raw file without nosniff")
			}
		})
	}
	r = e.get("/console/jobs/j1/tasks/never")
	if !strings.Contains(r.body, "has not started on a node yet") {
		t.Errorf("task that never ran: no note on its files:\n%s", r.body)
	}
	if r := e.get("/console/jobs/j1/tasks/never/raw/stdout.txt"); r.status != http.StatusConflict {
		t.Errorf("raw file of a task that never ran = %d, want 409", r.status)
	}
}
