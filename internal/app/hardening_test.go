package app

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/sharedkey"
)

// rawDo sends a request exactly as given (no path cleaning, no redirects
// followed), signed with the dev key when sign is true.
func rawDo(t *testing.T, method, url string, body []byte, sign bool) wire {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; odata=minimalmetadata; charset=utf-8")
	}
	if sign {
		cred, err := sharedkey.NewCredential(DevAccountName, DevAccountKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := cred.Sign(req); err != nil {
			t.Fatal(err)
		}
	}
	hc := &http.Client{Timeout: 30 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	return wire{Status: resp.StatusCode, Header: resp.Header, Body: b.Bytes()}
}

// apiRoutes lists the method and path of every route registered in
// internal/httpapi/routes.go, with path parameters filled in, so the
// tests below cover routes added later without being edited.
func apiRoutes(t *testing.T) [][2]string {
	t.Helper()
	src, err := os.ReadFile("../httpapi/routes.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`HandleFunc\("([A-Z]+) (/[^"]*)"`)
	param := regexp.MustCompile(`\{[A-Za-z]+(\.\.\.)?\}`)
	var out [][2]string
	for _, m := range re.FindAllStringSubmatch(string(src), -1) {
		p := param.ReplaceAllStringFunc(m[2], func(s string) string {
			if strings.HasSuffix(s, "...}") {
				return "wd/x.txt"
			}
			return "x1"
		})
		out = append(out, [2]string{m[1], p})
	}
	if len(out) < 40 {
		t.Fatalf("found only %d routes in routes.go; has its form changed?", len(out))
	}
	return out
}

// TestNoUnauthenticatedAccess pins that every route, and every
// non-canonical variant of it, answers an unsigned request with an
// authentication error only: no data, no redirect, no 404 that would tell
// which resources exist, and no change.
func TestNoUnauthenticatedAccess(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, nil)
	etag := send(t, ep, "GET", "/jobs/j1", nil).Header.Get("ETag")
	n := 0
	for _, r := range apiRoutes(t) {
		method, p := r[0], r[1]
		for _, variant := range []string{p, "/pools/..%2f.." + p, "/x/.." + p, "/." + p, "/" + p, p + "/./", "/_openbatch/agent/v1/../../.." + p} {
			url := ep + variant + "?api-version=" + apiVersion
			var body []byte
			if method == "POST" || method == "PUT" || method == "PATCH" {
				body = []byte(`{"id":"evil","commandLine":"true","poolInfo":{"poolId":"p1"},"vmSize":"x","targetDedicatedNodes":1}`)
			}
			w := rawDo(t, method, url, body, false)
			n++
			if w.Status != http.StatusUnauthorized && w.Status != http.StatusForbidden && w.Status != http.StatusBadRequest {
				t.Fatalf("unsigned %s %s: status %d, want an authentication error; body %s", method, variant, w.Status, w.Body)
			}
			if method == "HEAD" {
				continue
			}
			code := w.Err(t).Code
			if code != api.CodeInvalidAuthenticationInfo && code != api.CodeAuthenticationFailed {
				t.Fatalf("unsigned %s %s: code %q, want an authentication error; body %s", method, variant, code, w.Body)
			}
		}
	}
	if got := send(t, ep, "GET", "/jobs/j1", nil).Header.Get("ETag"); got != etag {
		t.Fatalf("unsigned requests changed job j1 (ETag %s -> %s)", etag, got)
	}
	wantStatus(t, "no evil job", send(t, ep, "GET", "/jobs/evil", nil), http.StatusNotFound)
	wantStatus(t, "no evil pool", send(t, ep, "GET", "/pools/evil", nil), http.StatusNotFound)
	t.Logf("%d unsigned requests refused", n)
}

// TestNonCanonicalPathRefusedAfterAuth pins that a signed request whose
// path has "..", "." or empty segments gets 400 InvalidUri, not a redirect.
func TestNonCanonicalPathRefusedAfterAuth(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, nil)
	for _, p := range []string{"/pools/../jobs", "/jobs/./j1", "//jobs", "/jobs/j1/../j1", "/_openbatch/agent/v1/../../../jobs"} {
		w := rawDo(t, "GET", ep+p+"?api-version="+apiVersion, nil, true)
		wantError(t, "GET "+p, w, http.StatusBadRequest, api.CodeInvalidURI, "canonical")
	}
}

// TestNonObjectBodiesRefused pins that PATCH, PUT and POST bodies that are
// valid JSON but not objects get 400 InvalidRequestBody and change nothing.
func TestNonObjectBodiesRefused(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, nil)
	wantStatus(t, "task add", send(t, ep, "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": "true"}), http.StatusCreated)
	targets := []struct{ method, path, get string }{
		{"PATCH", "/jobs/j1", "/jobs/j1"},
		{"PUT", "/jobs/j1", "/jobs/j1"},
		{"PATCH", "/pools/p1", "/pools/p1"},
		{"PUT", "/jobs/j1/tasks/t1", "/jobs/j1/tasks/t1"},
		{"POST", "/pools/p1/resize", "/pools/p1"},
		{"POST", "/pools/p1/updateproperties", "/pools/p1"},
		{"POST", "/jobs/j1/disable", "/jobs/j1"},
		{"POST", "/jobs/j1/addtaskcollection", "/jobs/j1"},
	}
	for _, tc := range targets {
		for _, body := range []string{"null", " null ", "[]", `[{"priority":1}]`, "1", `"x"`, "true"} {
			before := send(t, ep, "GET", tc.get, nil).Header.Get("ETag")
			wantError(t, tc.method+" "+tc.path+" "+body, send(t, ep, tc.method, tc.path, body), http.StatusBadRequest, api.CodeInvalidRequestBody, "JSON object")
			if after := send(t, ep, "GET", tc.get, nil).Header.Get("ETag"); after != before {
				t.Fatalf("%s %s with %s changed the ETag %s -> %s", tc.method, tc.path, body, before, after)
			}
		}
	}
}

// TestMalformedRequestsNever5xx sends malformed bodies, headers and query
// strings to every route and pins that none is answered with a 5xx.
func TestMalformedRequestsNever5xx(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, nil)
	bodies := []string{"", "{", "}", "null", "[]", `{"id":`, `{"id":1}`, `{"id":"a","commandLine":{}}`, "\x00\xff", `{"value":[null,1,"x",{}]}`,
		`{"targetDedicatedNodes":"many"}`, `{"metadata":[{"name":1}]}`, `{"constraints":{"maxWallClockTime":"P-1D"}}`, strings.Repeat("[", 10000)}
	queries := []string{"", "&$filter=(((", "&$select=,,,", "&maxresults=-1", "&timeout=abc", "&$filter=" + strings.Repeat("not%20", 2000) + "true", "&$filter=startswith(id,%27%27%27)"}
	n := 0
	for _, r := range apiRoutes(t) {
		method, p := r[0], r[1]
		for _, q := range queries {
			for _, b := range bodies {
				if method == "GET" || method == "HEAD" || method == "DELETE" {
					if b != "" {
						continue
					}
				}
				var body any
				if b != "" {
					body = b
				}
				w := send(t, ep, method, p+"?api-version="+apiVersion+q, body)
				n++
				if w.Status >= 500 {
					t.Fatalf("%s %s%s body %.40q: status %d; body %s", method, p, q, b, w.Status, w.Body)
				}
			}
		}
	}
	t.Logf("%d malformed requests, none answered with 5xx", n)
}
