package app

import (
	"bufio"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/sharedkey"
)

// TestAPIBodyValidation checks that bad request bodies are refused with the
// right code and a message naming what to fix, and change nothing.
func TestAPIBodyValidation(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 0, nil)
	long := strings.Repeat("a", 65)

	for _, b := range []struct {
		name, path, body, code string
		mentions               []string
	}{
		{"task malformed JSON", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo"`, api.CodeInvalidRequestBody, []string{"JSON"}},
		{"task syntax error", "/jobs/j1/tasks", `{"id":"x1",,}`, api.CodeInvalidRequestBody, []string{"JSON"}},
		{"task not an object", "/jobs/j1/tasks", `[1,2]`, api.CodeInvalidRequestBody, nil},
		{"task empty body", "/jobs/j1/tasks", ``, api.CodeInvalidRequestBody, []string{"empty"}},
		{"task trailing data", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo"} {}`, api.CodeInvalidRequestBody, nil},
		{"task unknown property", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","comandLine2":"x"}`, api.CodeInvalidRequestBody, []string{"comandLine2"}},
		{"task nested unknown property", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","constraints":{"maxRetries":1}}`, api.CodeInvalidRequestBody, []string{"maxRetries"}},
		{"task wrong type", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","requiredSlots":"two"}`, api.CodeInvalidRequestBody, []string{"requiredSlots"}},
		{"task wrong type string", "/jobs/j1/tasks", `{"id":"x1","commandLine":5}`, api.CodeInvalidRequestBody, []string{"commandLine"}},
		{"task missing id", "/jobs/j1/tasks", `{"commandLine":"echo"}`, api.CodeMissingRequiredProperty, []string{"id"}},
		{"task missing commandLine", "/jobs/j1/tasks", `{"id":"x1"}`, api.CodeMissingRequiredProperty, []string{"commandLine"}},
		{"task id too long", "/jobs/j1/tasks", `{"id":"` + long + `","commandLine":"echo"}`, api.CodeInvalidPropertyValue, []string{"id", "64"}},
		{"task id bad char", "/jobs/j1/tasks", `{"id":"a.b","commandLine":"echo"}`, api.CodeInvalidPropertyValue, []string{"id", "'.'"}},
		{"task id space", "/jobs/j1/tasks", `{"id":"a b","commandLine":"echo"}`, api.CodeInvalidPropertyValue, []string{"id"}},
		{"task bad duration", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","constraints":{"maxWallClockTime":"1 hour"}}`, api.CodeInvalidRequestBody, []string{"constraints.maxWallClockTime", "1 hour"}},
		{"task duration wrong type", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","constraints":{"maxWallClockTime":5}}`, api.CodeInvalidRequestBody, []string{"constraints.maxWallClockTime", "number"}},
		{"task enum wrong type", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","outputFiles":[{"filePattern":"a","destination":{"container":{"containerUrl":"u"}},"uploadOptions":{"uploadCondition":7}}]}`, api.CodeInvalidRequestBody, []string{"outputFiles[0].uploadOptions.uploadCondition"}},
		{"collection value not a list", "/jobs/j1/addtaskcollection", `{"value":7}`, api.CodeInvalidRequestBody, []string{"value"}},
		{"task bad duration unit", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","constraints":{"retentionTime":"PT5X"}}`, api.CodeInvalidRequestBody, []string{"constraints.retentionTime", "PT5X"}},
		{"task negative slots", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","requiredSlots":0}`, api.CodeInvalidPropertyValue, []string{"requiredSlots"}},
		{"task bad enum", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","userIdentity":{"autoUser":{"scope":"galaxy"}}}`, api.CodeInvalidPropertyValue, []string{"scope", "galaxy"}},
		{"task dependsOn without usesTaskDependencies", "/jobs/j1/tasks", `{"id":"x1","commandLine":"echo","dependsOn":{"taskIds":["a"]}}`, api.CodeTaskDependenciesNotSpecified, []string{"usesTaskDependencies"}},
		{"job missing id", "/jobs", `{"poolInfo":{"poolId":"p1"}}`, api.CodeMissingRequiredProperty, []string{"id"}},
		{"job missing poolInfo", "/jobs", `{"id":"jx"}`, api.CodeMissingRequiredProperty, []string{"poolInfo"}},
		{"job id too long", "/jobs", `{"id":"` + long + `","poolInfo":{"poolId":"p1"}}`, api.CodeInvalidPropertyValue, []string{"id"}},
		{"job id bad char", "/jobs", `{"id":"j/x","poolInfo":{"poolId":"p1"}}`, api.CodeInvalidPropertyValue, []string{"id"}},
		{"job unknown property", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"prio":1}`, api.CodeInvalidRequestBody, []string{"prio"}},
		{"job malformed", "/jobs", `{"id":`, api.CodeInvalidRequestBody, nil},
		{"job bad priority", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"priority":5000}`, api.CodeInvalidPropertyValue, []string{"priority"}},
		{"job bad duration", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"constraints":{"maxWallClockTime":"forever"}}`, api.CodeInvalidRequestBody, []string{"maxWallClockTime"}},
		{"job manager bad slots", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"jobManagerTask":{"id":"jm","commandLine":"echo","requiredSlots":0}}`, api.CodeInvalidPropertyValue, []string{"jobManagerTask.requiredSlots"}},
		{"job manager bad retry", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"jobManagerTask":{"id":"jm","commandLine":"echo","constraints":{"maxTaskRetryCount":-5}}}`, api.CodeInvalidPropertyValue, []string{"jobManagerTask.constraints.maxTaskRetryCount"}},
		{"job manager bad user", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"jobManagerTask":{"id":"jm","commandLine":"echo","userIdentity":{"autoUser":{"elevationLevel":"root"}}}}`, api.CodeInvalidPropertyValue, []string{"jobManagerTask.userIdentity.autoUser.elevationLevel"}},
		{"job manager bad env", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"jobManagerTask":{"id":"jm","commandLine":"echo","environmentSettings":[{"value":"x"}]}}`, api.CodeMissingRequiredProperty, []string{"jobManagerTask.environmentSettings[0].name"}},
		{"job release without prep", "/jobs", `{"id":"jx","poolInfo":{"poolId":"p1"},"jobReleaseTask":{"commandLine":"echo"}}`, api.CodeInvalidPropertyValue, []string{"jobReleaseTask"}},
		{"pool missing id", "/pools", `{"vmSize":"x","targetDedicatedNodes":0}`, api.CodeMissingRequiredProperty, []string{"id"}},
		{"pool id bad char", "/pools", `{"id":"p!","vmSize":"x","targetDedicatedNodes":0}`, api.CodeInvalidPropertyValue, []string{"id"}},
		{"pool id too long", "/pools", `{"id":"` + long + `","vmSize":"x","targetDedicatedNodes":0}`, api.CodeInvalidPropertyValue, []string{"id"}},
		{"pool malformed", "/pools", `{"id":"px"`, api.CodeInvalidRequestBody, nil},
		{"pool wrong type", "/pools", `{"id":"px","vmSize":"x","targetDedicatedNodes":"one"}`, api.CodeInvalidRequestBody, []string{"targetDedicatedNodes"}},
	} {
		wantError(t, b.name, send(t, ep, "POST", b.path, b.body), 400, b.code, b.mentions...)
	}
	// Nothing was created.
	ids, _ := listIDs(t, ep, "/jobs/j1/tasks")
	if len(ids) != 0 {
		t.Fatalf("bad task bodies created tasks: %v", ids)
	}
	if ids, _ := listIDs(t, ep, "/jobs"); strings.Join(ids, ",") != "j1" {
		t.Fatalf("bad job bodies created jobs: %v", ids)
	}
	if ids, _ := listIDs(t, ep, "/pools"); strings.Join(ids, ",") != "p1" {
		t.Fatalf("bad pool bodies created pools: %v", ids)
	}

	// Bad bodies on updates leave the entity as it was.
	addTaskOK(t, c, "j1", &api.Task{ID: "t1", CommandLine: "echo"})
	before := send(t, ep, "GET", "/jobs/j1", nil)
	tBefore := send(t, ep, "GET", "/jobs/j1/tasks/t1", nil)
	for _, b := range []struct {
		name, method, path, body, code string
	}{
		{"job patch malformed", "PATCH", "/jobs/j1", `{"priority":`, api.CodeInvalidRequestBody},
		{"job patch unknown", "PATCH", "/jobs/j1", `{"priority":1,"bogus":true}`, api.CodeInvalidRequestBody},
		{"job patch out of range", "PATCH", "/jobs/j1", `{"priority":1001}`, api.CodeInvalidPropertyValue},
		{"job patch wrong type", "PATCH", "/jobs/j1", `{"priority":"high"}`, api.CodeInvalidRequestBody},
		{"job update missing poolInfo", "PUT", "/jobs/j1", `{"priority":1}`, api.CodeMissingRequiredProperty},
		{"job disable bad option", "POST", "/jobs/j1/disable", `{"disableTasks":"explode"}`, api.CodeInvalidPropertyValue},
		{"job disable missing option", "POST", "/jobs/j1/disable", `{}`, api.CodeMissingRequiredProperty},
		{"task update bad duration", "PUT", "/jobs/j1/tasks/t1", `{"constraints":{"maxWallClockTime":"soon"}}`, api.CodeInvalidRequestBody},
		{"task update unknown", "PUT", "/jobs/j1/tasks/t1", `{"constraints":{"maxTaskRetryCount":1},"x":1}`, api.CodeInvalidRequestBody},
		{"task update bad retry", "PUT", "/jobs/j1/tasks/t1", `{"constraints":{"maxTaskRetryCount":-2}}`, api.CodeInvalidPropertyValue},
	} {
		wantError(t, b.name, send(t, ep, b.method, b.path, b.body), 400, b.code)
	}
	if after := send(t, ep, "GET", "/jobs/j1", nil); after.Header.Get("ETag") != before.Header.Get("ETag") || after.JSON(t)["state"] != "active" {
		t.Fatalf("job changed by bad requests: %s → %s", before.Body, after.Body)
	}
	if after := send(t, ep, "GET", "/jobs/j1/tasks/t1", nil); after.Header.Get("ETag") != tBefore.Header.Get("ETag") {
		t.Fatalf("task changed by bad requests: %s → %s", tBefore.Body, after.Body)
	}

	// addtaskcollection reports per-task validation failures as
	// clienterror results and adds the valid tasks.
	w := send(t, ep, "POST", "/jobs/j1/addtaskcollection", `{"value":[
		{"id":"c1","commandLine":"echo"},
		{"id":"c2"},
		{"id":"c3","commandLine":"echo","bogus":1},
		{"id":"c4","commandLine":"echo","requiredSlots":"x"},
		{"id":"c/5","commandLine":"echo"},
		{"id":"C1","commandLine":"echo"},
		{"id":"t1","commandLine":"echo"}]}`)
	wantStatus(t, "mixed collection", w, http.StatusOK)
	want := map[string]string{"c1": "", "c2": api.CodeMissingRequiredProperty, "c3": api.CodeInvalidRequestBody,
		"c4": api.CodeInvalidRequestBody, "c/5": api.CodeInvalidPropertyValue, "C1": api.CodeTaskExists, "t1": api.CodeTaskExists}
	for i, v := range w.JSON(t)["value"].([]any) {
		r := v.(map[string]any)
		id, _ := r["taskId"].(string)
		code, ok := want[id]
		if !ok {
			t.Errorf("result %d has unexpected taskId %q: %v", i, id, r)
			continue
		}
		delete(want, id)
		if code == "" {
			if r["status"] != "success" {
				t.Errorf("%s: %v", id, r)
			}
		} else if r["status"] != "clienterror" || get(r, "error", "code") != code || get(r, "error", "message", "value") == nil {
			t.Errorf("%s: %v, want clienterror %s", id, r, code)
		}
	}
	if len(want) != 0 {
		t.Errorf("no results for %v", want)
	}
	if ids, _ := listIDs(t, ep, "/jobs/j1/tasks"); strings.Join(ids, ",") != "c1,t1" && strings.Join(ids, ",") != "t1,c1" {
		t.Errorf("tasks after mixed collection: %v", ids)
	}
	wantError(t, "collection without value", send(t, ep, "POST", "/jobs/j1/addtaskcollection", `{}`), 400,
		api.CodeMissingRequiredProperty, "value")
}

// TestAPIEnumsAndDuplicates checks enum case handling and duplicate IDs.
func TestAPIEnumsAndDuplicates(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 0, nil)

	w := send(t, ep, "POST", "/jobs", `{"id":"j2","poolInfo":{"poolId":"p1"},"onTaskFailure":"PerformExitOptionsJobAction","onAllTasksComplete":"NoAction"}`)
	wantStatus(t, "job with PascalCase enums", w, http.StatusCreated)
	m := send(t, ep, "GET", "/jobs/j2", nil).JSON(t)
	if m["onTaskFailure"] != "performexitoptionsjobaction" || m["onAllTasksComplete"] != "noaction" {
		t.Fatalf("job enums read back as %v / %v", m["onTaskFailure"], m["onAllTasksComplete"])
	}
	body := `{"id":"t1","commandLine":"echo",
		"userIdentity":{"autoUser":{"scope":"Task","elevationLevel":"Admin"}},
		"exitConditions":{"default":{"jobAction":"Terminate"}},
		"outputFiles":[{"filePattern":"../std*.txt",
			"destination":{"container":{"containerUrl":"http://127.0.0.1:1/devstoreaccount1/out?sv=x&sig=y","path":"t1"}},
			"uploadOptions":{"uploadCondition":"TaskCompletion"}}]}`
	wantStatus(t, "task with PascalCase enums", send(t, ep, "POST", "/jobs/j2/tasks", body), http.StatusCreated)
	w = send(t, ep, "GET", "/jobs/j2/tasks/t1", nil)
	m = w.JSON(t)
	for path, want := range map[string]any{
		"userIdentity/autoUser/scope":                 "task",
		"userIdentity/autoUser/elevationLevel":        "admin",
		"exitConditions/default/jobAction":            "terminate",
		"outputFiles/0/uploadOptions/uploadCondition": "taskcompletion",
	} {
		var p []any
		for _, s := range strings.Split(path, "/") {
			if s == "0" {
				p = append(p, 0)
			} else {
				p = append(p, s)
			}
		}
		if got := get(m, p...); got != want {
			t.Errorf("%s = %#v, want %#v", path, got, want)
		}
	}
	if strings.Contains(string(w.Body), "TaskCompletion") || strings.Contains(string(w.Body), `"Task"`) {
		t.Errorf("enum emitted in input case: %s", w.Body)
	}

	wantStatus(t, "disable with Requeue", send(t, ep, "POST", "/jobs/j2/disable", `{"disableTasks":"Requeue"}`), http.StatusAccepted)
	wantStatus(t, "enable", send(t, ep, "POST", "/jobs/j2/enable", nil), http.StatusAccepted)
	wantStatus(t, "pool with Pack", send(t, ep, "POST", "/pools", `{"id":"p9","vmSize":"x","targetDedicatedNodes":0,"taskSchedulingPolicy":{"nodeFillType":"Pack"}}`), http.StatusCreated)
	if m := send(t, ep, "GET", "/pools/p9", nil).JSON(t); get(m, "taskSchedulingPolicy", "nodeFillType") != "pack" {
		t.Errorf("nodeFillType = %v", get(m, "taskSchedulingPolicy", "nodeFillType"))
	}
	for _, d := range []struct{ name, path, body, code string }{
		{"duplicate task", "/jobs/j2/tasks", `{"id":"t1","commandLine":"echo"}`, api.CodeTaskExists},
		{"duplicate task other case", "/jobs/j2/tasks", `{"id":"T1","commandLine":"echo"}`, api.CodeTaskExists},
		{"duplicate job", "/jobs", `{"id":"j2","poolInfo":{"poolId":"p1"}}`, api.CodeJobExists},
		{"duplicate job other case", "/jobs", `{"id":"J2","poolInfo":{"poolId":"p1"}}`, api.CodeJobExists},
		{"duplicate pool", "/pools", `{"id":"p1","vmSize":"x","targetDedicatedNodes":0}`, api.CodePoolExists},
		{"duplicate pool other case", "/pools", `{"id":"P1","vmSize":"x","targetDedicatedNodes":0}`, api.CodePoolExists},
	} {
		wantError(t, d.name, send(t, ep, "POST", d.path, d.body), http.StatusConflict, d.code)
	}
	// The refused duplicates left the original as it was.
	if m := send(t, ep, "GET", "/jobs/j2/tasks/t1", nil).JSON(t); get(m, "userIdentity", "autoUser", "scope") != "task" {
		t.Fatalf("duplicate add overwrote the task: %v", m)
	}
	if ids, _ := listIDs(t, ep, "/jobs/j2/tasks"); strings.Join(ids, ",") != "t1" {
		t.Fatalf("tasks after duplicates: %v", ids)
	}
}

// TestAPIBodyLimits checks the 100-task and 1 MiB limits, whether the body
// length is declared, chunked or misdeclared.
func TestAPIBodyLimits(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 0, nil)

	var tasks []map[string]any
	for i := 0; i < 101; i++ {
		tasks = append(tasks, map[string]any{"id": fmt.Sprintf("t%d", i), "commandLine": "echo"})
	}
	wantError(t, "101 tasks", send(t, ep, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks}),
		http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge, "100")
	wantStatus(t, "100 tasks", send(t, ep, "POST", "/jobs/j1/addtaskcollection", map[string]any{"value": tasks[1:]}), http.StatusOK)

	big := `{"id":"big","commandLine":"echo ` + strings.Repeat("x", 1<<20) + `"}`
	wantError(t, "1 MiB body", send(t, ep, "POST", "/jobs/j1/tasks", big), http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge)
	wantError(t, "1 MiB body chunked", send(t, ep, "POST", "/jobs/j1/tasks", big, chunked()), http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge)
	bigColl := `{"value":[{"id":"big","commandLine":"echo ` + strings.Repeat("x", 1<<20) + `"}]}`
	wantError(t, "1 MiB collection chunked", send(t, ep, "POST", "/jobs/j1/addtaskcollection", bigColl, chunked()),
		http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge)
	wantError(t, "1 MiB job chunked", send(t, ep, "POST", "/jobs", `{"id":"jbig","poolInfo":{"poolId":"p1"},"displayName":"`+strings.Repeat("x", 1<<20)+`"}`, chunked()),
		http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge)
	wantError(t, "1 MiB pool", send(t, ep, "POST", "/pools", `{"id":"pbig","vmSize":"x","targetDedicatedNodes":0,"displayName":"`+strings.Repeat("x", 1<<20)+`"}`),
		http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge)
	// A body just under the limit is read (and here refused for its content, not its size).
	under := `{"id":"under","commandLine":"echo","displayName":"` + strings.Repeat("x", 1<<19) + `"}`
	wantError(t, "body under the limit", send(t, ep, "POST", "/jobs/j1/tasks", under), 400, api.CodeInvalidPropertyValue, "displayName")

	// A Content-Length that claims more than the limit is refused before
	// the body is read, even if the body is small.
	w := rawHTTP(t, ep, "POST", "/jobs/j1/tasks", `{"id":"liar","commandLine":"echo"}`, fmt.Sprint(2<<20))
	wantError(t, "Content-Length claims 2 MiB", w, http.StatusRequestEntityTooLarge, api.CodeRequestBodyTooLarge)
	// A Content-Length that claims less than is sent: only the declared
	// bytes are the body, so the JSON is cut short: 400, nothing created.
	w = rawHTTP(t, ep, "POST", "/jobs/j1/tasks", big, "100")
	wantError(t, "Content-Length claims 100 bytes", w, http.StatusBadRequest, api.CodeInvalidRequestBody)

	if ids, _ := listIDs(t, ep, "/jobs/j1/tasks"); len(ids) != 100 {
		t.Fatalf("%d tasks after the limit tests, want the 100 of the accepted collection", len(ids))
	}
}

// rawHTTP writes a signed HTTP/1.1 request on a plain TCP connection with
// the given Content-Length header (which may not match the body) and reads
// the first response.
func rawHTTP(t *testing.T, endpoint, method, path, body, contentLength string) wire {
	t.Helper()
	u, _ := url.Parse(endpoint + path + "?api-version=" + apiVersion)
	req, _ := http.NewRequest(method, u.String(), nil)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Length", contentLength)
	cred, _ := sharedkey.NewCredential(DevAccountName, DevAccountKey)
	if err := cred.Sign(req); err != nil {
		t.Fatal(err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	var sb strings.Builder
	fmt.Fprintf(&sb, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, u.RequestURI(), u.Host)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&sb, "%s: %s\r\n", k, v)
		}
	}
	sb.WriteString("\r\n")
	go func() {
		_, _ = conn.Write([]byte(sb.String()))
		_, _ = conn.Write([]byte(body))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("read response: %v", err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
	return wire{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
}

// TestAPIStateConflicts checks the 409s of operations not allowed in the
// entity's current state, and that they change nothing.
func TestAPIStateConflicts(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 1, nil)
	addTaskOK(t, c, "j1", &api.Task{ID: "ok", CommandLine: "/bin/sh -c 'exit 0'"})
	addTaskOK(t, c, "j1", &api.Task{ID: "slow", CommandLine: "/bin/sh -c 'sleep 30'"})
	waitTask(t, c, "j1", "ok")
	waitState(t, c, "j1", "slow", api.TaskRunning)

	okBefore := send(t, ep, "GET", "/jobs/j1/tasks/ok", nil).Header.Get("ETag")
	wantError(t, "reactivate succeeded task", send(t, ep, "POST", "/jobs/j1/tasks/ok/reactivate", nil), 409, api.CodeTaskSucceeded, "ok")
	wantError(t, "reactivate running task", send(t, ep, "POST", "/jobs/j1/tasks/slow/reactivate", nil), 409, api.CodeTaskNotCompleted, "slow")
	wantError(t, "update completed task", send(t, ep, "PUT", "/jobs/j1/tasks/ok", `{"constraints":{"maxTaskRetryCount":1}}`), 409, api.CodeTaskCompleted)
	if send(t, ep, "GET", "/jobs/j1/tasks/ok", nil).Header.Get("ETag") != okBefore {
		t.Fatal("refused operations changed the succeeded task")
	}
	if task, _ := c.GetTask(ctxT(t, 5*time.Second), "j1", "slow"); task.State != api.TaskRunning {
		t.Fatalf("refused reactivate changed the running task: %s", task.State)
	}

	// An active task (in a disabled job) cannot be reactivated either.
	wantStatus(t, "disable", send(t, ep, "POST", "/jobs/j1/disable", `{"disableTasks":"requeue"}`), http.StatusAccepted)
	waitState(t, c, "j1", "slow", api.TaskActive)
	wantError(t, "reactivate active task", send(t, ep, "POST", "/jobs/j1/tasks/slow/reactivate", nil), 409, api.CodeTaskNotCompleted, "active")
	wantError(t, "disable disabled job", send(t, ep, "POST", "/jobs/j1/disable", `{"disableTasks":"requeue"}`), 409, api.CodeJobNotActive)
	wantStatus(t, "enable", send(t, ep, "POST", "/jobs/j1/enable", nil), http.StatusAccepted)
	wantError(t, "enable active job", send(t, ep, "POST", "/jobs/j1/enable", nil), 409, api.CodeJobNotActive)

	// Completed job: no new tasks, no disable, no second terminate.
	wantStatus(t, "terminate", send(t, ep, "POST", "/jobs/j1/terminate", `{"terminateReason":"done"}`), http.StatusAccepted)
	jBefore := send(t, ep, "GET", "/jobs/j1", nil)
	if m := jBefore.JSON(t); m["state"] != "completed" || get(m, "executionInfo", "terminateReason") != "done" {
		t.Fatalf("job after terminate: %s", jBefore.Body)
	}
	wantError(t, "add task to completed job", send(t, ep, "POST", "/jobs/j1/tasks", `{"id":"late","commandLine":"echo"}`), 409, api.CodeJobCompleted, "j1")
	w := send(t, ep, "POST", "/jobs/j1/addtaskcollection", `{"value":[{"id":"late","commandLine":"echo"}]}`)
	wantError(t, "add collection to completed job", w, 409, api.CodeJobCompleted)
	w = send(t, ep, "POST", "/jobs/j1/disable", `{"disableTasks":"requeue"}`)
	if w.Status != 409 || (w.Err(t).Code != api.CodeJobNotActive && w.Err(t).Code != api.CodeJobCompleted) {
		t.Fatalf("disable completed job: %d %s", w.Status, w.Body)
	}
	wantError(t, "terminate completed job", send(t, ep, "POST", "/jobs/j1/terminate", nil), 409, api.CodeJobCompleted)
	wantError(t, "patch completed job", send(t, ep, "PATCH", "/jobs/j1", `{"priority":3}`), 409, api.CodeJobCompleted)
	if jAfter := send(t, ep, "GET", "/jobs/j1", nil); jAfter.Header.Get("ETag") != jBefore.Header.Get("ETag") {
		t.Fatalf("refused operations changed the completed job: %s → %s", jBefore.Body, jAfter.Body)
	}
	wantError(t, "get late task", send(t, ep, "GET", "/jobs/j1/tasks/late", nil), 404, api.CodeTaskNotFound)
	// Tasks of a completed job cannot be reactivated.
	wantError(t, "reactivate in completed job", send(t, ep, "POST", "/jobs/j1/tasks/slow/reactivate", nil), 409, api.CodeJobCompleted)
}

// TestAPIAuthAndRouting checks Shared Key failures and unknown routes or
// verbs, with raw net/http requests.
func TestAPIAuthAndRouting(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	setupPoolJob(t, c, 0, nil)
	date := time.Now().UTC().Format(http.TimeFormat)
	otherKey := base64.StdEncoding.EncodeToString([]byte("not the key of this account, 32b"))

	do := func(method, path string, body string, h map[string]string) wire {
		t.Helper()
		var req *http.Request
		if body != "" {
			req, _ = http.NewRequest(method, ep+path, strings.NewReader(body))
		} else {
			req, _ = http.NewRequest(method, ep+path, nil)
		}
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b strings.Builder
		_, _ = bufio.NewReader(resp.Body).WriteTo(&b)
		return wire{Status: resp.StatusCode, Header: resp.Header, Body: []byte(b.String())}
	}
	signedWith := func(key string, method, path, body string) wire {
		t.Helper()
		cred, err := sharedkey.NewCredential(DevAccountName, key)
		if err != nil {
			t.Fatal(err)
		}
		var req *http.Request
		if body != "" {
			req, _ = http.NewRequest(method, ep+path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
		} else {
			req, _ = http.NewRequest(method, ep+path, nil)
		}
		if err := cred.Sign(req); err != nil {
			t.Fatal(err)
		}
		h := map[string]string{}
		for k := range req.Header {
			h[k] = req.Header.Get(k)
		}
		return do(method, path, body, h)
	}
	v := "?api-version=" + apiVersion

	wantError(t, "missing Authorization", do("GET", "/jobs"+v, "", map[string]string{"ocp-date": date}), 400, api.CodeInvalidAuthenticationInfo)
	wantError(t, "malformed Authorization", do("GET", "/jobs"+v, "", map[string]string{"ocp-date": date, "Authorization": "Basic abc"}), 400, api.CodeInvalidAuthenticationInfo)
	wantError(t, "wrong key", signedWith(otherKey, "GET", "/jobs"+v, ""), 403, api.CodeAuthenticationFailed, "signature")
	wantError(t, "wrong key on write", signedWith(otherKey, "POST", "/jobs/j1/tasks"+v, `{"id":"evil","commandLine":"echo"}`), 403, api.CodeAuthenticationFailed)
	wantError(t, "wrong account", do("GET", "/jobs"+v, "", map[string]string{"ocp-date": date,
		"Authorization": "SharedKey someoneelse:" + strings.Repeat("A", 43) + "="}), 403, api.CodeAuthenticationFailed, "someoneelse")
	old := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	{
		cred, _ := sharedkey.NewCredential(DevAccountName, DevAccountKey)
		req, _ := http.NewRequest("GET", ep+"/jobs"+v, nil)
		req.Header.Set("ocp-date", old)
		_ = cred.Sign(req)
		wantError(t, "stale date", do("GET", "/jobs"+v, "", map[string]string{"ocp-date": old, "Authorization": req.Header.Get("Authorization")}),
			403, api.CodeAuthenticationFailed, "15 minutes")
	}
	// Authentication comes before the api-version check and routing.
	wantError(t, "unsigned unknown route", do("GET", "/nothing", "", nil), 400, api.CodeInvalidAuthenticationInfo)
	if ids, _ := listIDs(t, ep, "/jobs/j1/tasks"); len(ids) != 0 {
		t.Fatalf("unauthenticated write created %v", ids)
	}
	wantStatus(t, "right key", signedWith(DevAccountKey, "GET", "/jobs"+v, ""), 200)

	// Routing errors (signed) are Batch errors.
	for _, r := range []struct {
		method, path string
		status       int
		code         string
	}{
		{"GET", "/nothing", 404, api.CodeInvalidURI},
		{"GET", "/jobs/j1/nothing", 404, api.CodeInvalidURI},
		{"POST", "/jobs/j1/tasks/t1/explode", 404, api.CodeInvalidURI},
		{"PUT", "/pools", 405, api.CodeUnsupportedHTTPVerb},
		{"DELETE", "/jobs", 405, api.CodeUnsupportedHTTPVerb},
		{"PATCH", "/jobs/j1/tasks/t1", 405, api.CodeUnsupportedHTTPVerb},
		{"GET", "/jobs/j1/terminate", 405, api.CodeUnsupportedHTTPVerb},
	} {
		w := send(t, ep, r.method, r.path, nil)
		wantError(t, r.method+" "+r.path, w, r.status, r.code)
		if w.Header.Get("X-Content-Type-Options") != "" && r.status == 404 {
			t.Errorf("%s %s: leftover mux header %v", r.method, r.path, w.Header)
		}
	}
	if m := send(t, ep, "GET", "/jobs/j1", nil).JSON(t); m["state"] != "active" {
		t.Fatalf("job state %v after routing errors", m["state"])
	}
}
