package app

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// The one timestamp check of the suite: every JSON response any test in
// this package receives over HTTP (through send/trySend or client.Client,
// which both use http.DefaultTransport) is inspected, and the package fails
// if any date-time in it carries more than seven fractional digits, which
// .NET and other strict parsers refuse (Azure emits at most seven).

// TestMain installs the checking transport and fails the run on a
// violation, listing each with its request.
func TestMain(m *testing.M) {
	check := &timestampCheck{base: http.DefaultTransport}
	http.DefaultTransport = check
	code := m.Run()
	if v := check.violations(); len(v) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d response timestamps have more than 7 fractional digits:\n", len(v))
		for _, s := range v {
			fmt.Fprintln(os.Stderr, "  ", s)
		}
		code = 1
	} else if testing.Verbose() {
		fmt.Fprintf(os.Stderr, "timestamp check: %d timestamps in %d JSON responses, all with at most 7 fractional digits\n", check.stamps(), check.bodies())
	}
	os.Exit(code)
}

// dateTime matches a whole JSON string that is an RFC 3339 date-time with a
// fraction; group 1 is the fraction.
var dateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.(\d+)(?:Z|[+-]\d{2}:\d{2})$`)

// tooPrecise returns the date-time strings anywhere in the JSON document
// body with more than seven fractional digits, and how many date-times it
// saw. Only whole string values count, so a command line that mentions a
// time is not mistaken for one.
func tooPrecise(body []byte) (bad []string, seen int) {
	var doc any
	if json.Unmarshal(body, &doc) != nil {
		return nil, 0
	}
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case string:
			if m := dateTime.FindStringSubmatch(v); m != nil {
				seen++
				if len(m[1]) > 7 {
					bad = append(bad, v)
				}
			}
		}
	}
	walk(doc)
	return bad, seen
}

// timestampCheck is an http.RoundTripper that inspects JSON response
// bodies and records violations; the body is handed on unchanged.
type timestampCheck struct {
	base http.RoundTripper

	mu      sync.Mutex
	bad     []string
	nStamps int
	nBodies int
}

func (c *timestampCheck) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := c.base.RoundTrip(req)
	if err != nil || resp.Body == nil {
		return resp, err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if mt != "application/json" || isFileContent(req) {
		return resp, nil
	}
	body, rerr := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if rerr != nil {
		return resp, nil // the reader sees a short body and reports it
	}
	bad, seen := tooPrecise(body)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nBodies++
	c.nStamps += seen
	for _, b := range bad {
		c.bad = append(c.bad, fmt.Sprintf("%s %s: %s", req.Method, req.URL.Path, b))
	}
	return resp, nil
}

// isFileContent reports whether req reads a task or node file's content
// (GET …/files/{path}): that is whatever the task wrote, served with a
// content type from its name, not a resource the API encodes. File lists
// (…/files) are resources and are checked.
func isFileContent(req *http.Request) bool {
	_, rest, ok := strings.Cut(req.URL.Path, "/files/")
	return ok && rest != ""
}

func (c *timestampCheck) violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.bad)
}

func (c *timestampCheck) stamps() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nStamps
}

func (c *timestampCheck) bodies() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nBodies
}

// TestTimestampCheckFindsTooPreciseTimes pins the checker itself, so that a
// quiet suite means well-formed times rather than a blind check.
func TestTimestampCheckFindsTooPreciseTimes(t *testing.T) {
	for _, tc := range []struct {
		name string
		body string
		bad  int
		seen int
	}{
		{"nine digits", `{"endTime":"2026-11-24T08:16:12.378577138Z"}`, 1, 1},
		{"seven digits", `{"endTime":"2026-11-24T08:16:12.3785771Z"}`, 0, 1},
		{"nested in a list", `{"value":[{"executionInfo":{"startTime":"2026-11-24T08:16:12.12345678+01:00"}}]}`, 1, 1},
		{"no fraction is not counted", `{"t":"2026-11-24T08:16:12Z"}`, 0, 0},
		{"text mentioning a time", `{"commandLine":"echo 2026-11-24T08:16:12.378577138Z"}`, 0, 0},
		{"not JSON", `2026-11-24T08:16:12.378577138Z`, 0, 0},
	} {
		bad, seen := tooPrecise([]byte(tc.body))
		if len(bad) != tc.bad || seen != tc.seen {
			t.Errorf("%s: bad %q seen %d, want %d bad, %d seen", tc.name, bad, seen, tc.bad, tc.seen)
		}
	}
}

// TestTimestampCheckSeesTheSuitesResponses pins that the check is wired in:
// a GET through the package's helpers passes through it.
func TestTimestampCheckSeesTheSuitesResponses(t *testing.T) {
	check, ok := http.DefaultTransport.(*timestampCheck)
	if !ok {
		t.Fatal("http.DefaultTransport is not the timestamp check")
	}
	srv, _ := startDev(t)
	before := check.bodies()
	send(t, srv.Endpoint, http.MethodGet, "/pools", nil)
	if check.bodies() == before {
		t.Fatal("a GET /pools response did not pass through the timestamp check")
	}
}

func TestTimestampCheckSkipsOnlyFileContent(t *testing.T) {
	for path, want := range map[string]bool{
		"/jobs/j1/tasks/t1/files/wd/out.json":     true,
		"/pools/p1/nodes/n1/files/startup/x.json": true,
		"/jobs/j1/tasks/t1/files":                 false,
		"/jobs/j1/tasks/t1/files/":                false,
		"/jobs/j1/tasks/t1":                       false,
		"/jobs/files-job/tasks/t1":                false,
	} {
		req, err := http.NewRequest("GET", "http://h"+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := isFileContent(req); got != want {
			t.Errorf("isFileContent(%s) = %v, want %v", path, got, want)
		}
	}
}
