package agent

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
)

func TestNodeVisible(t *testing.T) {
	tests := []struct {
		rel  string
		want bool
	}{
		{"", true}, {".", true}, {"shared", true}, {"startup/wd/x", true}, {"workitems/j/job-1/t/stdout.txt", true},
		{"applications", true}, {"fsmounts/m", true},
		{"volatile", false}, {"volatile/state", false}, {"join-token", false}, {"node-identity.json", false},
		{"shared/../volatile", false}, {"./volatile", false}, {"/volatile", false}, {"sharedx", false},
	}
	for _, tt := range tests {
		if got := nodeVisible(tt.rel); got != tt.want {
			t.Errorf("nodeVisible(%q) = %v, want %v", tt.rel, got, tt.want)
		}
	}
}

// TestFileServerHidesAgentFiles: the node files service never lists,
// reads, stats or deletes the agent's own files in the node root.
func TestFileServerHidesAgentFiles(t *testing.T) {
	node := testNode(t)
	l := node.Layout
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	for p, body := range map[string]string{
		filepath.Join(l.Root, "join-token"):          "obj1.secret",
		filepath.Join(l.VolatileDir(), "state.json"): "{}",
		filepath.Join(l.SharedDir(), "visible.txt"):  "ok",
	} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(FileHandler(l.Root, "tok", nil))
	defer srv.Close()
	call := func(method, op string, q url.Values) (int, string) {
		req, _ := http.NewRequest(method, srv.URL+FilePathPrefix+op+"?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer tok")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	code, body := call("GET", FileOpList, url.Values{FileParamRecursive: {"true"}})
	var files []api.NodeFile
	if code != http.StatusOK || json.Unmarshal([]byte(body), &files) != nil {
		t.Fatalf("list: %d %s", code, body)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	joined := strings.Join(names, " ")
	if !strings.Contains(joined, "shared/visible.txt") || strings.Contains(joined, "join-token") || strings.Contains(joined, "volatile") {
		t.Fatalf("root listing = %v; want shared/visible.txt and neither join-token nor volatile", names)
	}
	for _, tc := range []struct {
		method, op string
		q          url.Values
	}{
		{"GET", FileOpRead, url.Values{FileParamPath: {"join-token"}}},
		{"GET", FileOpStat, url.Values{FileParamPath: {"join-token"}}},
		{"GET", FileOpRead, url.Values{FileParamPath: {"volatile/state.json"}}},
		{"GET", FileOpList, url.Values{FileParamPath: {"volatile"}}},
		{"GET", FileOpList, url.Values{FileParamDir: {"volatile"}}},
		{"GET", FileOpRead, url.Values{FileParamDir: {"shared"}, FileParamPath: {"../join-token"}}},
		{"POST", FileOpDelete, url.Values{FileParamPath: {"join-token"}}},
	} {
		code, body := call(tc.method, tc.op, tc.q)
		if code != http.StatusNotFound && code != http.StatusBadRequest {
			t.Errorf("%s %s %v: %d %q, want 404 or 400", tc.method, tc.op, tc.q, code, body)
		}
		if strings.Contains(body, "obj1.secret") {
			t.Errorf("%s %s %v: the secret was served", tc.method, tc.op, tc.q)
		}
	}
	if _, err := os.Stat(filepath.Join(l.Root, "join-token")); err != nil {
		t.Fatalf("the agent's file was deleted: %v", err)
	}
	if code, body := call("GET", FileOpRead, url.Values{FileParamPath: {"shared/visible.txt"}}); code != http.StatusOK || body != "ok" {
		t.Fatalf("shared/visible.txt: %d %q", code, body)
	}
}

// FuzzNodeVisible: whatever the path, a visible one stays inside one of
// the visible directories (or is the root itself).
func FuzzNodeVisible(f *testing.F) {
	for _, s := range []string{"", "shared/x", "volatile", "shared/../volatile", "/workitems/j", "startup/./../../etc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		if !nodeVisible(rel) {
			return
		}
		c := filepath.ToSlash(filepath.Clean("/" + filepath.FromSlash(rel)))
		if c == "/" {
			return
		}
		first, _, _ := strings.Cut(strings.TrimPrefix(c, "/"), "/")
		if !nodeVisibleDirs[first] {
			t.Fatalf("nodeVisible(%q) = true, but it cleans to %q", rel, c)
		}
	})
}
