package app

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

// TestAPIDefaultsOnRead checks that a task added with only id and
// commandLine reads back with the service's defaults filled in, and that
// entity responses carry odata.metadata, ETag (= body eTag, unquoted
// 0x… form), Last-Modified, request-id and DataServiceVersion.
func TestAPIDefaultsOnRead(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 0, nil) // no nodes: the task stays active
	wantStatus(t, "add", send(t, ep, "POST", "/jobs/j1/tasks", `{"id":"t1","commandLine":"echo hi"}`), http.StatusCreated)

	w := send(t, ep, "GET", "/jobs/j1/tasks/t1", nil)
	wantStatus(t, "get", w, http.StatusOK)
	m := w.JSON(t)
	for _, c := range []struct {
		path []any
		want any
	}{
		{[]any{"constraints", "maxWallClockTime"}, "P10675199DT2H48M5.4775807S"},
		{[]any{"constraints", "retentionTime"}, "P7D"},
		{[]any{"constraints", "maxTaskRetryCount"}, 0.0},
		{[]any{"userIdentity", "autoUser", "scope"}, "pool"},
		{[]any{"userIdentity", "autoUser", "elevationLevel"}, "nonadmin"},
		{[]any{"requiredSlots"}, 1.0},
		{[]any{"executionInfo", "retryCount"}, 0.0},
		{[]any{"executionInfo", "requeueCount"}, 0.0},
		{[]any{"state"}, "active"},
	} {
		if got := get(m, c.path...); got != c.want {
			t.Errorf("%v = %#v, want %#v", c.path, got, c.want)
		}
	}
	if md, _ := m["odata.metadata"].(string); !strings.HasPrefix(md, ep+"/$metadata#tasks/@Element") {
		t.Errorf("odata.metadata = %q", md)
	}
	if u, _ := m["url"].(string); u != ep+"/jobs/j1/tasks/t1" {
		t.Errorf("url = %q", u)
	}
	etag := w.Header.Get("ETag")
	if !etagRE.MatchString(etag) || m["eTag"] != etag {
		t.Errorf("ETag header %q, body eTag %v: want equal, unquoted 0x + 15 hex digits", etag, m["eTag"])
	}
	lm, err := http.ParseTime(w.Header.Get("Last-Modified"))
	if err != nil {
		t.Errorf("Last-Modified %q: %v", w.Header.Get("Last-Modified"), err)
	}
	if bt, err := time.Parse(time.RFC3339Nano, m["lastModified"].(string)); err != nil || !bt.Truncate(time.Second).Equal(lm) {
		t.Errorf("body lastModified %v vs header %v", m["lastModified"], lm)
	}
	if w.Header.Get("DataServiceVersion") != "3.0" || w.Header.Get("request-id") == "" {
		t.Errorf("headers %v", w.Header)
	}
	// Jobs get their defaults too.
	jm := send(t, ep, "GET", "/jobs/j1", nil).JSON(t)
	for k, want := range map[string]any{"priority": 0.0, "onAllTasksComplete": "noaction", "onTaskFailure": "noaction",
		"usesTaskDependencies": false, "maxParallelTasks": -1.0} {
		if jm[k] != want {
			t.Errorf("job %s = %#v, want %#v", k, jm[k], want)
		}
	}
	if get(jm, "constraints", "maxWallClockTime") != api.InfiniteWire {
		t.Errorf("job constraints = %v", jm["constraints"])
	}
}

// TestAPIRequestIDAndVersions checks request-id, client-request-id echo and
// the accepted api-versions.
func TestAPIRequestIDAndVersions(t *testing.T) {
	srv, _ := startDev(t)
	ep := srv.Endpoint
	uuidRE := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

	responses := map[string]wire{
		"list":          send(t, ep, "GET", "/jobs", nil),
		"not found":     send(t, ep, "GET", "/jobs/nope", nil),
		"unknown route": send(t, ep, "GET", "/nothing/here", nil),
		"bad verb":      send(t, ep, "PUT", "/pools", nil),
		"no version":    send(t, ep, "GET", "/jobs", nil, noVersion),
		"unsigned":      send(t, ep, "GET", "/jobs", nil, unsigned),
	}
	seen := map[string]bool{}
	for name, w := range responses {
		id := w.Header.Get("request-id")
		if !uuidRE.MatchString(id) || seen[id] {
			t.Errorf("%s: request-id %q (want a fresh UUID)", name, id)
		}
		seen[id] = true
		if w.Header.Get("DataServiceVersion") != "3.0" {
			t.Errorf("%s: DataServiceVersion %q", name, w.Header.Get("DataServiceVersion"))
		}
		if w.Status >= 400 && !strings.Contains(w.Err(t).Message.Value, "RequestId:"+id) {
			t.Errorf("%s: error message does not carry the request-id %s: %s", name, id, w.Body)
		}
	}

	for _, c := range []struct {
		name    string
		opts    []reqOpt
		wantCID string
	}{
		{"python form, return true", []reqOpt{hdr("client-request-id", "abc-1"), hdr("return-client-request-id", "true")}, "abc-1"},
		{"js form, return True", []reqOpt{hdr("x-ms-client-request-id", "abc-2"), hdr("return-client-request-id", "True")}, "abc-2"},
		{"python form, return false", []reqOpt{hdr("client-request-id", "abc-3"), hdr("return-client-request-id", "false")}, ""},
		{"no return header", []reqOpt{hdr("client-request-id", "abc-4")}, ""},
		{"js form, no return header", []reqOpt{hdr("x-ms-client-request-id", "abc-5")}, ""},
	} {
		w := send(t, ep, "GET", "/jobs", nil, c.opts...)
		wantStatus(t, c.name, w, http.StatusOK)
		if got := w.Header.Get("client-request-id"); got != c.wantCID {
			t.Errorf("%s: client-request-id %q, want %q", c.name, got, c.wantCID)
		}
	}
	// Also echoed on errors.
	w := send(t, ep, "GET", "/jobs/nope", nil, hdr("client-request-id", "err-1"), hdr("return-client-request-id", "true"))
	if w.Header.Get("client-request-id") != "err-1" {
		t.Errorf("client-request-id not echoed on an error: %v", w.Header)
	}

	for _, v := range []string{"2020-09-01.12.0", "2022-10-01.16.0", "2024-07-01.20.0", "2025-06-01"} {
		w := send(t, ep, "GET", "/jobs?api-version="+v, nil)
		wantStatus(t, "api-version "+v, w, http.StatusOK)
	}
	wantError(t, "missing api-version", send(t, ep, "GET", "/jobs", nil, noVersion), 400,
		api.CodeMissingRequiredQueryParameter, "api-version")
	wantError(t, "unknown api-version", send(t, ep, "GET", "/jobs?api-version=2099-01-01.99.0", nil), 400,
		api.CodeUnsupportedRequestVersion, "2099-01-01.99.0", "2025-06-01")
}

// TestAPIConditionalRequests checks ETag-based and date-based conditions.
func TestAPIConditionalRequests(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 0, nil)
	w := send(t, ep, "GET", "/jobs/j1", nil)
	etag, lm := w.Header.Get("ETag"), w.Header.Get("Last-Modified")
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	future := time.Now().Add(time.Hour).UTC().Format(http.TimeFormat)

	for _, c := range []struct {
		name   string
		method string
		body   any
		opts   []reqOpt
		status int
	}{
		{"GET If-None-Match match", "GET", nil, []reqOpt{hdr("If-None-Match", etag)}, http.StatusNotModified},
		{"GET If-None-Match quoted match", "GET", nil, []reqOpt{hdr("If-None-Match", `"`+etag+`"`)}, http.StatusNotModified},
		{"GET If-None-Match other", "GET", nil, []reqOpt{hdr("If-None-Match", "0x8DEADBEEF000000")}, http.StatusOK},
		{"GET If-Modified-Since = Last-Modified", "GET", nil, []reqOpt{hdr("If-Modified-Since", lm)}, http.StatusNotModified},
		{"GET If-Modified-Since future", "GET", nil, []reqOpt{hdr("If-Modified-Since", future)}, http.StatusNotModified},
		{"GET If-Modified-Since past", "GET", nil, []reqOpt{hdr("If-Modified-Since", past)}, http.StatusOK},
		{"GET If-Unmodified-Since past", "GET", nil, []reqOpt{hdr("If-Unmodified-Since", past)}, http.StatusPreconditionFailed},
		{"GET If-Match mismatch", "GET", nil, []reqOpt{hdr("If-Match", "0x8DEADBEEF000000")}, http.StatusPreconditionFailed},
		{"PATCH If-Match mismatch", "PATCH", `{"priority":9}`, []reqOpt{hdr("If-Match", "0x8DEADBEEF000000")}, http.StatusPreconditionFailed},
		{"PATCH If-Unmodified-Since past", "PATCH", `{"priority":9}`, []reqOpt{hdr("If-Unmodified-Since", past)}, http.StatusPreconditionFailed},
		{"PATCH If-None-Match match", "PATCH", `{"priority":9}`, []reqOpt{hdr("If-None-Match", etag)}, http.StatusPreconditionFailed},
		{"PUT If-Match mismatch", "PUT", `{"poolInfo":{"poolId":"p1"},"priority":9}`, []reqOpt{hdr("If-Match", "0x8DEADBEEF000000")}, http.StatusPreconditionFailed},
		{"DELETE If-Match mismatch", "DELETE", nil, []reqOpt{hdr("If-Match", "0x8DEADBEEF000000")}, http.StatusPreconditionFailed},
		{"terminate If-Match mismatch", "POST /terminate", nil, []reqOpt{hdr("If-Match", "0x8DEADBEEF000000")}, http.StatusPreconditionFailed},
		{"disable If-Match mismatch", "POST /disable", `{"disableTasks":"wait"}`, []reqOpt{hdr("If-Match", "0x8DEADBEEF000000")}, http.StatusPreconditionFailed},
	} {
		method, path := c.method, "/jobs/j1"
		if m, suffix, ok := strings.Cut(c.method, " "); ok {
			method, path = m, path+suffix
		}
		w := send(t, ep, method, path, c.body, c.opts...)
		if c.status == http.StatusPreconditionFailed {
			wantError(t, c.name, w, c.status, api.CodeConditionNotMet, "If-")
		} else {
			wantStatus(t, c.name, w, c.status)
		}
		if c.status == http.StatusNotModified && (len(w.Body) != 0 || w.Header.Get("request-id") == "" || w.Header.Get("ETag") != etag) {
			t.Errorf("%s: 304 with body %q / headers %v", c.name, w.Body, w.Header)
		}
	}
	// None of the refused writes changed the job.
	w = send(t, ep, "GET", "/jobs/j1", nil)
	if m := w.JSON(t); w.Header.Get("ETag") != etag || m["priority"] != 0.0 || m["state"] != "active" {
		t.Fatalf("job changed by refused writes: ETag %s→%s, %s", etag, w.Header.Get("ETag"), w.Body)
	}
	// A matching If-Match (bare or quoted) lets the write through and
	// changes the ETag.
	w = send(t, ep, "PATCH", "/jobs/j1", `{"priority":9}`, hdr("If-Match", `"`+etag+`"`))
	wantStatus(t, "PATCH If-Match match", w, http.StatusOK)
	if ne := w.Header.Get("ETag"); ne == etag || !etagRE.MatchString(ne) {
		t.Fatalf("ETag after patch %q (was %q)", ne, etag)
	}
	wantStatus(t, "PATCH If-Match *", send(t, ep, "PATCH", "/jobs/j1", `{"priority":8}`, hdr("If-Match", "*")), http.StatusOK)
	wantError(t, "bad If-Modified-Since", send(t, ep, "GET", "/jobs/j1", nil, hdr("If-Modified-Since", "yesterday")), 400,
		api.CodeInvalidHeaderValue, "If-Modified-Since")

	// Tasks honour the same conditions.
	addTaskOK(t, c, "j1", &api.Task{ID: "t1", CommandLine: "echo"})
	w = send(t, ep, "GET", "/jobs/j1/tasks/t1", nil)
	tag := w.Header.Get("ETag")
	wantStatus(t, "task If-None-Match", send(t, ep, "GET", "/jobs/j1/tasks/t1", nil, hdr("If-None-Match", tag)), http.StatusNotModified)
	wantError(t, "task update If-Match", send(t, ep, "PUT", "/jobs/j1/tasks/t1", `{"constraints":{"maxTaskRetryCount":3}}`,
		hdr("If-Match", "0x8DEADBEEF000000")), 412, api.CodeConditionNotMet)
	wantError(t, "task delete If-Match", send(t, ep, "DELETE", "/jobs/j1/tasks/t1", nil, hdr("If-Match", "0x8DEADBEEF000000")),
		412, api.CodeConditionNotMet)
	if w := send(t, ep, "GET", "/jobs/j1/tasks/t1", nil); w.Header.Get("ETag") != tag {
		t.Fatalf("task changed by refused writes")
	}
	// Pools too.
	w = send(t, ep, "GET", "/pools/p1", nil)
	wantStatus(t, "pool If-None-Match", send(t, ep, "GET", "/pools/p1", nil, hdr("If-None-Match", w.Header.Get("ETag"))), http.StatusNotModified)
	wantError(t, "pool resize If-Match", send(t, ep, "POST", "/pools/p1/resize", `{"targetDedicatedNodes":3}`,
		hdr("If-Match", "0x8DEADBEEF000000")), 412, api.CodeConditionNotMet)
	if m := send(t, ep, "GET", "/pools/p1", nil).JSON(t); m["targetDedicatedNodes"] != 0.0 {
		t.Fatalf("pool resized despite 412: %v", m["targetDedicatedNodes"])
	}
}

// listIDs follows odata.nextLink verbatim from path and returns the ids in
// order and the number of pages.
func listIDs(t *testing.T, ep, path string) ([]string, int) {
	t.Helper()
	var ids []string
	pages := 0
	for path != "" {
		w := send(t, ep, "GET", path, nil)
		wantStatus(t, "list "+path, w, http.StatusOK)
		m := w.JSON(t)
		if m["odata.metadata"] == nil {
			t.Fatalf("list lacks odata.metadata: %s", w.Body)
		}
		for _, v := range m["value"].([]any) {
			ids = append(ids, v.(map[string]any)["id"].(string))
		}
		pages++
		next, _ := m["odata.nextLink"].(string)
		if next != "" && !strings.HasPrefix(next, ep+"/") {
			t.Fatalf("nextLink %q is not an absolute URL on %s", next, ep)
		}
		path = strings.TrimPrefix(next, ep)
		if pages > 100 {
			t.Fatal("paging does not end")
		}
	}
	return ids, pages
}

// TestAPIPagingSelectFilter checks maxresults paging, $select and $filter
// over the wire.
func TestAPIPagingSelectFilter(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 1, nil)

	// Three tasks that complete with different exit codes.
	for _, tk := range []struct{ id, cmd string }{{"ok1", "exit 0"}, {"fail3", "exit 3"}, {"fail7", "exit 7"}} {
		addTaskOK(t, c, "j1", &api.Task{ID: tk.id, CommandLine: "/bin/sh -c '" + tk.cmd + "'"})
	}
	for _, id := range []string{"ok1", "fail3", "fail7"} {
		waitTask(t, c, "j1", id)
	}
	// Disable the job, then add tasks that stay active.
	wantStatus(t, "disable", send(t, ep, "POST", "/jobs/j1/disable", `{"disableTasks":"requeue"}`), http.StatusAccepted)
	var many []map[string]any
	for i := 0; i < 22; i++ {
		many = append(many, map[string]any{"id": fmt.Sprintf("act%02d", i), "commandLine": "echo"})
	}
	wantStatus(t, "addtaskcollection", send(t, ep, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": many}), http.StatusOK)
	act5 := send(t, ep, "GET", "/jobs/j1/tasks/act05", nil).JSON(t)

	// Paging: 25 tasks, 7 per page = 4 pages, every task exactly once.
	ids, pages := listIDs(t, ep, "/jobs/j1/tasks?maxresults=7")
	if pages != 4 || len(ids) != 25 {
		t.Fatalf("paging: %d pages, %d ids: %v", pages, len(ids), ids)
	}
	seen := map[string]int{}
	for _, id := range ids {
		seen[id]++
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("task %s listed %d times", id, n)
		}
	}
	if len(seen) != 25 {
		t.Errorf("paging saw %d distinct tasks, want 25", len(seen))
	}
	// Paging combined with a filter.
	ids, pages = listIDs(t, ep, "/jobs/j1/tasks?maxresults=2&$filter="+url.QueryEscape("state eq 'completed'"))
	if sort.Strings(ids); strings.Join(ids, ",") != "fail3,fail7,ok1" || pages < 2 {
		t.Errorf("filtered paging: %v in %d pages", ids, pages)
	}
	// Jobs and pools page too.
	for i := 2; i <= 5; i++ {
		if err := c.AddJob(ctxT(t, 5*time.Second), &api.Job{ID: fmt.Sprintf("j%d", i), PoolInfo: &api.PoolInformation{PoolID: "p1"}}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, pages := listIDs(t, ep, "/jobs?maxresults=2"); len(ids) != 5 || pages != 3 {
		t.Errorf("job paging: %v in %d pages", ids, pages)
	}
	for i := 2; i <= 3; i++ {
		if err := c.AddPool(ctxT(t, 5*time.Second), &api.Pool{ID: fmt.Sprintf("p%d", i), VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
			t.Fatal(err)
		}
	}
	if ids, pages := listIDs(t, ep, "/pools?maxresults=1"); len(ids) != 3 || pages != 3 {
		t.Errorf("pool paging: %v in %d pages", ids, pages)
	}
	wantError(t, "foreign skiptoken", send(t, ep, "GET", "/jobs/j1/tasks?$skiptoken=garbage", nil), 400,
		api.CodeInvalidQueryParameterValue, "skiptoken")

	// $select keeps only the named properties (list and get).
	w := send(t, ep, "GET", "/jobs/j1/tasks?maxresults=3&$select="+url.QueryEscape("id,state"), nil)
	wantStatus(t, "select list", w, http.StatusOK)
	for _, v := range w.JSON(t)["value"].([]any) {
		keys := keysOf(v.(map[string]any))
		if strings.Join(keys, ",") != "id,state" {
			t.Errorf("$select=id,state list item has %v", keys)
		}
	}
	w = send(t, ep, "GET", "/jobs/j1/tasks/ok1?$select="+url.QueryEscape("id,executionInfo"), nil)
	wantStatus(t, "select get", w, http.StatusOK)
	if keys := keysOf(w.JSON(t)); strings.Join(keys, ",") != "executionInfo,id,odata.metadata" {
		t.Errorf("$select=id,executionInfo get has %v", keys)
	}
	w = send(t, ep, "GET", "/jobs?$select=id", nil)
	for _, v := range w.JSON(t)["value"].([]any) {
		if keys := keysOf(v.(map[string]any)); strings.Join(keys, ",") != "id" {
			t.Errorf("job $select=id item has %v", keys)
		}
	}

	// $filter.
	all := func(prefix string) string {
		var out []string
		for i := 0; i < 22; i++ {
			if id := fmt.Sprintf("act%02d", i); strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
		return strings.Join(out, ",")
	}
	for _, f := range []struct{ filter, want string }{
		{"state eq 'completed'", "fail3,fail7,ok1"},
		{"state eq 'Completed'", "fail3,fail7,ok1"},
		{"state ne 'active'", "fail3,fail7,ok1"},
		{"id eq 'fail3'", "fail3"},
		{"executionInfo/exitCode gt 0", "fail3,fail7"},
		{"executionInfo/exitCode lt 5", "fail3,ok1"},
		{"executionInfo/exitCode eq 0", "ok1"},
		{"executionInfo/exitCode lt 5 and state eq 'completed'", "fail3,ok1"},
		{"executionInfo/result eq 'failure'", "fail3,fail7"},
		{"executionInfo/result eq 'success' or id eq 'act01'", "act01,ok1"},
		{"not (state eq 'active')", "fail3,fail7,ok1"},
		{"(id eq 'ok1' or id eq 'fail3') and executionInfo/exitCode eq 3", "fail3"},
		{"startswith(id,'fail')", "fail3,fail7"},
		{"startswith(id,'act1') and not (id eq 'act10')", "act11,act12,act13,act14,act15,act16,act17,act18,act19"},
		{"creationTime ge datetime'" + act5["creationTime"].(string) + "' and startswith(id,'act0')", "act05,act06,act07,act08,act09"},
		{"creationTime lt datetime'2000-01-01T00:00:00Z'", ""},
		{"state eq 'active' and startswith(id,'act2')", all("act2")},
	} {
		ids, _ := listIDs(t, ep, "/jobs/j1/tasks?$filter="+url.QueryEscape(f.filter))
		sort.Strings(ids)
		if got := strings.Join(ids, ","); got != f.want {
			t.Errorf("$filter=%s: got [%s], want [%s]", f.filter, got, f.want)
		}
	}
	// The old Go SDK re-encodes "$" as %24 and spaces as "+".
	w = send(t, ep, "GET", "/jobs/j1/tasks?%24filter=state+eq+%27completed%27&%24select=id&maxresults=2", nil)
	wantStatus(t, "go sdk encoding", w, http.StatusOK)
	next, _ := w.JSON(t)["odata.nextLink"].(string)
	u, _ := url.Parse(next)
	if n := len(w.JSON(t)["value"].([]any)); n != 2 || u == nil || u.Query().Get("$filter") != "state eq 'completed'" || u.Query().Get("$select") != "id" {
		t.Errorf("%%24-encoded query: %d items, nextLink %q", n, next)
	}
	if ids, _ := listIDs(t, ep, "/jobs?$filter="+url.QueryEscape("state eq 'disabled' or id eq 'j2'")); strings.Join(ids, ",") != "j1,j2" {
		t.Errorf("job filter: %v", ids)
	}

	// Bad queries are 400s that name the parameter and what is wrong.
	for _, b := range []struct {
		query, code string
		mentions    []string
	}{
		{"$filter=" + url.QueryEscape("nosuch eq 1"), api.CodeInvalidQueryParameterValue, []string{"$filter", "nosuch"}},
		{"$filter=" + url.QueryEscape("state eq"), api.CodeInvalidQueryParameterValue, []string{"$filter"}},
		{"$filter=" + url.QueryEscape("(state eq 'active'"), api.CodeInvalidQueryParameterValue, []string{"$filter"}},
		{"$filter=" + url.QueryEscape("executionInfo/exitCode eq 'x'"), api.CodeInvalidQueryParameterValue, []string{"$filter", "exitCode"}},
		{"$select=" + url.QueryEscape("id,nosuch"), api.CodeInvalidQueryParameterValue, []string{"$select", "nosuch"}},
		{"maxresults=abc", api.CodeInvalidQueryParameterValue, []string{"maxresults"}},
		{"maxresults=0", api.CodeOutOfRangeQueryParameterValue, []string{"maxresults", "1000"}},
		{"maxresults=1001", api.CodeOutOfRangeQueryParameterValue, []string{"maxresults", "1000"}},
		{"$expand=nosuch", api.CodeInvalidQueryParameterValue, []string{"$expand"}},
		{"timeout=-1", api.CodeInvalidQueryParameterValue, []string{"timeout"}},
	} {
		wantError(t, b.query, send(t, ep, "GET", "/jobs/j1/tasks?"+b.query, nil), 400, b.code, b.mentions...)
	}
	wantError(t, "job filter bad", send(t, ep, "GET", "/jobs?$filter="+url.QueryEscape("exitCode eq 1"), nil), 400,
		api.CodeInvalidQueryParameterValue, "exitCode")
	wantError(t, "pool maxresults", send(t, ep, "GET", "/pools?maxresults=1001", nil), 400, api.CodeOutOfRangeQueryParameterValue, "maxresults")
}

func keysOf(m map[string]any) []string {
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
