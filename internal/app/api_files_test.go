package app

import (
	"net/http"
	"net/url"
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// taskFilesScript leaves a known tree in the task directory: stdout.txt,
// wd/data.txt, nested files with spaces, and links that stay inside or
// leave the directory.
const taskFilesScript = `/bin/sh -c 'echo hello; printf 0123456789 > data.txt; mkdir -p "sub dir" deep/a; ` +
	`echo nested > "sub dir/out file.txt"; echo b > deep/a/b.txt; ` +
	`ln -s /etc/passwd esc.txt; ln -s ../../../../../../../../../.. up; ln -s data.txt rel.txt; ln -s ../../t2 sibling; ` +
	`echo keep > "$AZ_BATCH_NODE_SHARED_DIR/keep.txt"; ln -s "$AZ_BATCH_NODE_SHARED_DIR/keep.txt" abs.txt'`

func fileNames(t *testing.T, w wire) (names []string, byName map[string]map[string]any) {
	t.Helper()
	byName = map[string]map[string]any{}
	for _, v := range w.JSON(t)["value"].([]any) {
		f := v.(map[string]any)
		n := f["name"].(string)
		names = append(names, n)
		byName[n] = f
	}
	sort.Strings(names)
	return names, byName
}

// TestAPITaskAndNodeFiles checks the files API of tasks and nodes: listing,
// reading (whole, ranged, HEAD), deleting, encoded nested paths, and that
// paths leaving the directory are refused and never served.
func TestAPITaskAndNodeFiles(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 1, nil)
	addTaskOK(t, c, "j1", &api.Task{ID: "t1", CommandLine: taskFilesScript})
	addTaskOK(t, c, "j1", &api.Task{ID: "t2", CommandLine: "/bin/sh -c 'echo secret-of-t2'"})
	if task := waitTask(t, c, "j1", "t1"); task.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("t1 failed: %+v", task.ExecutionInfo)
	}
	waitTask(t, c, "j1", "t2")
	base := "/jobs/j1/tasks/t1/files"

	// Non-recursive list: the task directory's top level.
	w := send(t, ep, "GET", base, nil)
	wantStatus(t, "list", w, http.StatusOK)
	names, by := fileNames(t, w)
	for _, n := range []string{"stdout.txt", "stderr.txt", "wd"} {
		if by[n] == nil {
			t.Errorf("list lacks %s: %v", n, names)
		}
	}
	if by["wd"]["isDirectory"] != true || by["stdout.txt"]["isDirectory"] != false {
		t.Errorf("isDirectory wrong: %v", by)
	}
	if u := by["stdout.txt"]["url"]; u != ep+base+"/stdout.txt" {
		t.Errorf("stdout.txt url = %v", u)
	}
	if cl := get(by["stdout.txt"], "properties", "contentLength"); cl != "6" {
		t.Errorf("contentLength = %#v, want the JSON string \"6\"", cl)
	}
	for _, n := range names {
		if strings.Contains(n, "/") {
			t.Errorf("non-recursive list has nested %s", n)
		}
	}

	// Recursive list, and a startswith filter.
	names, by = fileNames(t, send(t, ep, "GET", base+"?recursive=true", nil))
	for _, n := range []string{"wd/data.txt", "wd/sub dir", "wd/sub dir/out file.txt", "wd/deep/a/b.txt", "wd/rel.txt"} {
		if by[n] == nil {
			t.Errorf("recursive list lacks %q: %v", n, names)
		}
	}
	if u := by["wd/sub dir/out file.txt"]["url"]; u != ep+base+"/wd/sub%20dir/out%20file.txt" {
		t.Errorf("nested url = %v", u)
	}
	for _, n := range names {
		if strings.HasPrefix(n, "wd/esc.txt") || strings.HasPrefix(n, "wd/up/") || strings.HasPrefix(n, "wd/sibling/") {
			t.Errorf("recursive list shows escaping link or its contents: %s", n)
		}
	}
	w = send(t, ep, "GET", base+"?recursive=true&$filter="+url.QueryEscape("startswith(name,'wd/sub')"), nil)
	wantStatus(t, "list filtered", w, http.StatusOK)
	names, _ = fileNames(t, w)
	if strings.Join(names, "|") != "wd/sub dir|wd/sub dir/out file.txt" {
		t.Errorf("startswith(name,'wd/sub') = %q", names)
	}
	wantError(t, "bad file filter", send(t, ep, "GET", base+"?$filter="+url.QueryEscape("name eq 'x'"), nil), 400,
		api.CodeInvalidQueryParameterValue, "startswith")
	wantError(t, "bad recursive", send(t, ep, "GET", base+"?recursive=maybe", nil), 400, api.CodeInvalidQueryParameterValue, "recursive")

	// Paging of file lists.
	ids := 0
	seen := map[string]bool{}
	for path := base + "?recursive=true&maxresults=3"; path != ""; {
		w := send(t, ep, "GET", path, nil)
		wantStatus(t, "file page", w, http.StatusOK)
		m := w.JSON(t)
		for _, v := range m["value"].([]any) {
			n := v.(map[string]any)["name"].(string)
			if seen[n] {
				t.Errorf("file %s listed twice", n)
			}
			seen[n] = true
			ids++
		}
		next, _ := m["odata.nextLink"].(string)
		path = strings.TrimPrefix(next, ep)
	}
	if all, _ := fileNames(t, send(t, ep, "GET", base+"?recursive=true", nil)); ids != len(all) {
		t.Errorf("paged file list has %d entries, unpaged %d", ids, len(all))
	}

	// Reads.
	w = send(t, ep, "GET", base+"/stdout.txt", nil)
	wantStatus(t, "get stdout", w, http.StatusOK)
	if string(w.Body) != "hello\n" {
		t.Errorf("stdout = %q", w.Body)
	}
	w = send(t, ep, "GET", base+"/wd%2Fdata.txt", nil, hdr("ocp-range", "bytes=2-5"))
	wantStatus(t, "ranged get", w, http.StatusOK)
	if string(w.Body) != "2345" || w.Header.Get("Content-Length") != "4" {
		t.Errorf("ranged body %q, Content-Length %s", w.Body, w.Header.Get("Content-Length"))
	}
	w = send(t, ep, "GET", base+"/wd/data.txt", nil, hdr("ocp-range", "bytes=7-"))
	if string(w.Body) != "789" {
		t.Errorf("open range body %q", w.Body)
	}
	wantError(t, "range past the end", send(t, ep, "GET", base+"/wd/data.txt", nil, hdr("ocp-range", "bytes=50-60")), 416, api.CodeInvalidRange)
	w = send(t, ep, "GET", base+"/wd%2Fsub%20dir%2Fout%20file.txt", nil)
	wantStatus(t, "%2F-encoded nested get", w, http.StatusOK)
	if string(w.Body) != "nested\n" {
		t.Errorf("nested file = %q", w.Body)
	}
	if w := send(t, ep, "GET", base+"/wd/rel.txt", nil); w.Status != 200 || string(w.Body) != "0123456789" {
		t.Errorf("link inside the directory: %d %q", w.Status, w.Body)
	}

	// Properties (HEAD).
	w = send(t, ep, "HEAD", base+"/wd%2Fdata.txt", nil)
	wantStatus(t, "head file", w, http.StatusOK)
	h := w.Header
	if len(w.Body) != 0 || h.Get("ocp-batch-file-isdirectory") != "False" || h.Get("Content-Length") != "10" ||
		h.Get("ocp-batch-file-mode") != "0o100644" || h.Get("Content-Type") != "text/plain" {
		t.Errorf("HEAD headers %v body %q", h, w.Body)
	}
	if fu, err := url.QueryUnescape(h.Get("ocp-batch-file-url")); err != nil || fu != ep+base+"/wd/data.txt" {
		t.Errorf("ocp-batch-file-url %q (%q)", h.Get("ocp-batch-file-url"), fu)
	}
	if _, err := http.ParseTime(h.Get("Last-Modified")); err != nil {
		t.Errorf("Last-Modified %q", h.Get("Last-Modified"))
	}
	w = send(t, ep, "HEAD", base+"/wd", nil)
	wantStatus(t, "head directory", w, http.StatusOK)
	if w.Header.Get("ocp-batch-file-isdirectory") != "True" {
		t.Errorf("HEAD directory headers %v", w.Header)
	}
	wantError(t, "get directory", send(t, ep, "GET", base+"/wd", nil), 404, api.CodeFileNotFound)
	lm := send(t, ep, "HEAD", base+"/stdout.txt", nil).Header.Get("Last-Modified")
	wantStatus(t, "file If-Modified-Since", send(t, ep, "GET", base+"/stdout.txt", nil, hdr("If-Modified-Since", lm)), http.StatusNotModified)
	wantError(t, "file If-Unmodified-Since", send(t, ep, "GET", base+"/stdout.txt", nil,
		hdr("If-Unmodified-Since", time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat))), 412, api.CodeConditionNotMet)

	// Escapes: never served, always 404 (GET, HEAD and DELETE).
	for _, p := range []string{
		"..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd",
		"%2Fetc%2Fpasswd",
		"%2F%2Fetc%2Fpasswd",
		"wd%2F..%2F..%2Ft2%2Fstdout.txt",
		"..%2Ft2%2Fstdout.txt",
		"wd%2Fesc.txt",
		"wd/esc.txt",
		"wd%2Fup%2Fetc%2Fpasswd",
		"wd/up/etc/passwd",
		"wd/sibling/stdout.txt",
		"%2E%2E%2F%2E%2E%2Fetc%2Fpasswd",
	} {
		for _, m := range []string{"GET", "HEAD", "DELETE"} {
			w := send(t, ep, m, base+"/"+p, nil)
			if m == "HEAD" {
				if w.Status != 404 {
					t.Errorf("%s %s: %d, want 404", m, p, w.Status)
				}
				continue
			}
			if m == "DELETE" && w.Status == 200 && (p == "wd%2Fesc.txt" || p == "wd/esc.txt") {
				continue // deleting the link itself is allowed; its target is untouched
			}
			if w.Status != 404 || w.Err(t).Code != api.CodeFileNotFound {
				t.Errorf("%s %s: %d %s, want 404 FileNotFound", m, p, w.Status, w.Body)
			}
			if strings.Contains(string(w.Body), "root:") || strings.Contains(string(w.Body), "secret-of-t2") {
				t.Errorf("%s %s served a file outside the directory: %s", m, p, w.Body)
			}
		}
	}
	// Unencoded dot segments are cleaned by the router and never reach a
	// file outside the task directory.
	for _, p := range []string{base + "/../../t2/files/stdout.txt", base + "/wd/../../../../../../etc/passwd"} {
		w, err := trySend(ep, "GET", p, nil)
		if err == nil && (w.Status == 200 && (strings.Contains(string(w.Body), "root:") || strings.Contains(string(w.Body), "secret-of-t2"))) {
			t.Errorf("GET %s served %q", p, w.Body)
		}
	}
	wantError(t, "absolute link into the node", send(t, ep, "GET", base+"/wd/abs.txt", nil), 404, api.CodeFileNotFound)
	if w := send(t, ep, "DELETE", base+"/wd/abs.txt", nil); w.Status != 200 && w.Status != 404 {
		t.Errorf("DELETE absolute link: %d %s", w.Status, w.Body)
	}
	if w := send(t, ep, "GET", "/jobs/j1/tasks/t2/files/stdout.txt", nil); string(w.Body) != "secret-of-t2\n" {
		t.Fatalf("escaping DELETE removed t2's stdout: %d %q", w.Status, w.Body)
	}

	// Delete.
	wantStatus(t, "delete file", send(t, ep, "DELETE", base+"/wd%2Fdata.txt", nil), http.StatusOK)
	wantError(t, "get deleted file", send(t, ep, "GET", base+"/wd/data.txt", nil), 404, api.CodeFileNotFound, "wd/data.txt")
	wantError(t, "delete non-empty dir", send(t, ep, "DELETE", base+"/wd%2Fdeep", nil), 409, "DirectoryNotEmpty", "recursive")
	wantStatus(t, "delete dir recursive", send(t, ep, "DELETE", base+"/wd%2Fdeep?recursive=true", nil), http.StatusOK)
	wantStatus(t, "dangling link after its target is deleted", send(t, ep, "GET", base+"/wd/rel.txt", nil), http.StatusNotFound)
	wantError(t, "missing task files", send(t, ep, "GET", "/jobs/j1/tasks/nope/files", nil), 404, api.CodeTaskNotFound)
	if _, err := os.Stat("/etc/passwd"); err != nil {
		t.Fatalf("/etc/passwd: %v", err)
	}

	// Node files.
	w = send(t, ep, "GET", "/pools/p1/nodes", nil)
	nodeID := get(w.JSON(t), "value", 0, "id").(string)
	nb := "/pools/p1/nodes/" + nodeID + "/files"
	w = send(t, ep, "GET", nb+"?recursive=true&$filter="+url.QueryEscape("startswith(name,'workitems/j1/job-1/t1/')"), nil)
	wantStatus(t, "node files list", w, http.StatusOK)
	names, by = fileNames(t, w)
	if by["workitems/j1/job-1/t1/stdout.txt"] == nil {
		t.Fatalf("node file list lacks the task's stdout: %v", names)
	}
	if u := by["workitems/j1/job-1/t1/stdout.txt"]["url"]; u != ep+nb+"/workitems/j1/job-1/t1/stdout.txt" {
		t.Errorf("node file url %v", u)
	}
	for _, n := range names {
		if !strings.HasPrefix(n, "workitems/j1/job-1/t1/") {
			t.Errorf("filtered node list has %s", n)
		}
	}
	names, _ = fileNames(t, send(t, ep, "GET", nb, nil))
	for _, want := range []string{"shared", "startup", "workitems"} {
		if sort.SearchStrings(names, want) >= len(names) || names[sort.SearchStrings(names, want)] != want {
			t.Errorf("node root lacks %s: %v", want, names)
		}
	}
	w = send(t, ep, "GET", nb+"/workitems%2Fj1%2Fjob-1%2Ft1%2Fstdout.txt", nil, hdr("ocp-range", "bytes=0-1"))
	if w.Status != 200 || string(w.Body) != "he" {
		t.Errorf("node file ranged get: %d %q", w.Status, w.Body)
	}
	w = send(t, ep, "HEAD", nb+"/workitems/j1/job-1/t1/stdout.txt", nil)
	if w.Status != 200 || w.Header.Get("ocp-batch-file-isdirectory") != "False" || w.Header.Get("ocp-batch-file-mode") == "" ||
		w.Header.Get("ocp-batch-file-url") == "" || w.Header.Get("Content-Length") != "6" {
		t.Errorf("node file HEAD: %d %v", w.Status, w.Header)
	}
	for _, p := range []string{"..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd",
		"workitems%2Fj1%2Fjob-1%2Ft1%2Fwd%2Fesc.txt", "workitems/j1/job-1/t1/wd/up/etc/passwd"} {
		for _, m := range []string{"GET", "DELETE"} {
			w := send(t, ep, m, nb+"/"+p, nil)
			if w.Status != 404 || strings.Contains(string(w.Body), "root:") {
				t.Errorf("node %s %s: %d %s", m, p, w.Status, w.Body)
			}
		}
	}
	if w := send(t, ep, "GET", nb+"/shared/keep.txt", nil); w.Status != 200 || string(w.Body) != "keep\n" {
		t.Errorf("the target of a deleted absolute link is gone: %d %q", w.Status, w.Body)
	}
	wantStatus(t, "node file delete", send(t, ep, "DELETE", nb+"/workitems%2Fj1%2Fjob-1%2Ft1%2Fstderr.txt", nil), http.StatusOK)
	wantError(t, "node file after delete", send(t, ep, "GET", base+"/stderr.txt", nil), 404, api.CodeFileNotFound)
	wantError(t, "missing node files", send(t, ep, "GET", "/pools/p1/nodes/nope/files", nil), 404, api.CodeNodeNotFound)
}

// TestAPITaskFilesBeforeRun checks the files of a task that has not run.
func TestAPITaskFilesBeforeRun(t *testing.T) {
	srv, c := startDev(t)
	setupPoolJob(t, c, 0, nil)
	addTaskOK(t, c, "j1", &api.Task{ID: "t1", CommandLine: "echo"})
	wantError(t, "list files of a task that has not run", send(t, srv.Endpoint, "GET", "/jobs/j1/tasks/t1/files", nil), 409, api.CodeTaskFilesUnavailable)
	wantError(t, "get file of a task that has not run", send(t, srv.Endpoint, "GET", "/jobs/j1/tasks/t1/files/stdout.txt", nil), 409, api.CodeTaskFilesUnavailable)
}
