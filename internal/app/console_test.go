package app

import (
	"net"
	"net/http"
	"strings"
	"testing"
)

// TestConsoleWiring checks how the console is mounted on the API listener:
// open without sign-in only for openbatch dev on a loopback address, and
// every Batch API path still authenticated.
func TestConsoleWiring(t *testing.T) {
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(t *testing.T, url string) *http.Response {
		t.Helper()
		resp, err := noRedirect.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	cases := []struct {
		name       string
		listen     string
		open       bool
		wantOpen   bool
		wantStatus int
	}{
		{"dev on loopback is open", "127.0.0.1:0", true, true, http.StatusOK},
		{"dev on every interface asks for sign-in", "0.0.0.0:0", true, false, http.StatusSeeOther},
		{"server asks for sign-in", "127.0.0.1:0", false, false, http.StatusSeeOther},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, _ := startDev(t, func(c *Config) { c.Listen, c.ConsoleOpen = tc.listen, tc.open })
			if srv.ConsoleOpen != tc.wantOpen {
				t.Fatalf("ConsoleOpen = %v, want %v", srv.ConsoleOpen, tc.wantOpen)
			}
			_, port, _ := net.SplitHostPort(srv.listener.Addr().String())
			base := "http://127.0.0.1:" + port
			if !strings.HasSuffix(srv.ConsoleURL, ":"+port+"/console/") {
				t.Fatalf("ConsoleURL = %q", srv.ConsoleURL)
			}
			resp := get(t, base+"/console/jobs")
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("GET /console/jobs = %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantStatus == http.StatusSeeOther && !strings.HasPrefix(resp.Header.Get("Location"), "/console/signin") {
				t.Fatalf("redirected to %q, want the sign-in form", resp.Header.Get("Location"))
			}
			if resp := get(t, base+"/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/console/" {
				t.Fatalf("GET / = %d %q, want a redirect to /console/", resp.StatusCode, resp.Header.Get("Location"))
			}
			// The Batch API is untouched: unsigned requests are refused.
			if resp := get(t, base+"/jobs?api-version=2024-07-01.20.0"); resp.StatusCode < 400 || !strings.Contains(resp.Header.Get("Content-Type"), "json") {
				t.Fatalf("unsigned GET /jobs = %d %q, want a Batch JSON error", resp.StatusCode, resp.Header.Get("Content-Type"))
			}
		})
	}
}
