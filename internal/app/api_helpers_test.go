package app

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/sharedkey"
)

// Helpers shared by the api_*_test.go files: raw, signed HTTP requests so
// that status codes, headers and bodies can be checked exactly as a client
// sees them.

const apiVersion = "2024-07-01.20.0"

// wire is one raw HTTP exchange.
type wire struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into a generic map.
func (w wire) JSON(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(w.Body, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v: %s", err, w.Body)
	}
	return m
}

// Err decodes a Batch error body.
func (w wire) Err(t *testing.T) api.BatchError {
	t.Helper()
	var e api.BatchError
	if err := json.Unmarshal(w.Body, &e); err != nil {
		t.Fatalf("body is not a Batch error: %v: %s", err, w.Body)
	}
	return e
}

// reqOpt changes a raw request before it is signed.
type reqOpt func(*http.Request)

func hdr(name, value string) reqOpt { return func(r *http.Request) { r.Header.Set(name, value) } }

// chunked sends the body without a Content-Length.
func chunked() reqOpt {
	return func(r *http.Request) {
		r.ContentLength = -1
		r.Header.Del("Content-Length")
		body := r.Body
		r.Body = io.NopCloser(struct{ io.Reader }{body}) // hide the length from net/http
		r.GetBody = nil
	}
}

// unsigned skips signing.
var unsigned reqOpt = func(r *http.Request) { r.Header.Set("X-Test-Unsigned", "1") }

// send makes a signed request. path is relative to the endpoint and carries
// its own query; api-version is appended unless the path already names one
// or noVersion is set. body may be nil, []byte, string or a value to encode.
func send(t *testing.T, endpoint, method, path string, body any, opts ...reqOpt) wire {
	t.Helper()
	w, err := trySend(endpoint, method, path, body, opts...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return w
}

var noVersion reqOpt = func(r *http.Request) { r.Header.Set("X-Test-No-Version", "1") }

func trySend(endpoint, method, path string, body any, opts ...reqOpt) (wire, error) {
	var rd io.Reader
	var data []byte
	switch b := body.(type) {
	case nil:
	case []byte:
		data = b
	case string:
		data = []byte(b)
	default:
		var err error
		if data, err = json.Marshal(b); err != nil {
			return wire{}, err
		}
	}
	if body != nil {
		rd = bytes.NewReader(data)
	}
	u := endpoint + path
	req, err := http.NewRequestWithContext(context.Background(), method, u, rd)
	if err != nil {
		return wire{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json; odata=minimalmetadata; charset=utf-8")
		req.Header.Set("Content-Length", fmt.Sprint(len(data)))
	}
	for _, o := range opts {
		o(req)
	}
	if req.Header.Get("X-Test-No-Version") == "" && !strings.Contains(path, "api-version=") {
		q := req.URL.RawQuery
		if q != "" {
			q += "&"
		}
		req.URL.RawQuery = q + "api-version=" + apiVersion
	}
	req.Header.Del("X-Test-No-Version")
	if req.Header.Get("X-Test-Unsigned") == "" {
		cred, err := sharedkey.NewCredential(DevAccountName, DevAccountKey)
		if err != nil {
			return wire{}, err
		}
		if err := cred.Sign(req); err != nil {
			return wire{}, err
		}
	}
	req.Header.Del("X-Test-Unsigned")
	hc := &http.Client{Timeout: 30 * time.Second}
	resp, err := hc.Do(req)
	if err != nil {
		return wire{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return wire{}, err
	}
	return wire{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}

// wantStatus fails unless w has status.
func wantStatus(t *testing.T, what string, w wire, status int) {
	t.Helper()
	if w.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, w.Status, status, w.Body)
	}
}

// wantError fails unless w is a Batch error with status and code, whose
// message contains every one of mentions (case-insensitively).
func wantError(t *testing.T, what string, w wire, status int, code string, mentions ...string) {
	t.Helper()
	if w.Status != status {
		t.Fatalf("%s: status %d, want %d; body %s", what, w.Status, status, w.Body)
	}
	e := w.Err(t)
	if e.Code != code {
		t.Fatalf("%s: code %q, want %q; body %s", what, e.Code, code, w.Body)
	}
	if e.Message == nil || e.Message.Lang != "en-US" || !strings.Contains(e.Message.Value, "RequestId:") {
		t.Fatalf("%s: message %+v lacks lang/RequestId", what, e.Message)
	}
	if !strings.HasPrefix(w.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("%s: error Content-Type %q", what, w.Header.Get("Content-Type"))
	}
	if !strings.Contains(e.ODataMetadata, "$metadata#Microsoft.Azure.Batch.Protocol.Entities.Container.errors/@Element") {
		t.Fatalf("%s: error odata.metadata %q", what, e.ODataMetadata)
	}
	text := strings.ToLower(e.Message.Value)
	for _, v := range e.Values {
		text += "\n" + strings.ToLower(v.Key+"="+v.Value)
	}
	for _, m := range mentions {
		if !strings.Contains(text, strings.ToLower(m)) {
			t.Fatalf("%s: error does not mention %q: %s", what, m, w.Body)
		}
	}
}

// get walks a decoded JSON document by keys and array indexes.
func get(m any, path ...any) any {
	cur := m
	for _, p := range path {
		switch k := p.(type) {
		case string:
			mm, ok := cur.(map[string]any)
			if !ok {
				return nil
			}
			cur = mm[k]
		case int:
			a, ok := cur.([]any)
			if !ok || k >= len(a) {
				return nil
			}
			cur = a[k]
		}
	}
	return cur
}

var etagRE = regexp.MustCompile(`^0x[0-9A-F]{15}$`)

// setupPoolJob creates pool p1 with nodes local nodes and job j1 (plus
// extra job properties from job).
func setupPoolJob(t *testing.T, c *client.Client, nodes int32, job *api.Job) {
	t.Helper()
	mustPoolJob(t, c, nodes, 4, job)
}

// addTaskOK adds a task through the Go client.
func addTaskOK(t *testing.T, c *client.Client, jobID string, task *api.Task) {
	t.Helper()
	if err := c.AddTask(ctxT(t, 10*time.Second), jobID, task); err != nil {
		t.Fatalf("add task %s: %v", task.ID, err)
	}
}

// waitTask waits for a task to complete.
func waitTask(t *testing.T, c *client.Client, jobID, taskID string) *api.Task {
	t.Helper()
	task, err := c.WaitTask(ctxT(t, 30*time.Second), jobID, taskID)
	if err != nil {
		t.Fatal(err)
	}
	return task
}

// waitState polls until a task reaches state.
func waitState(t *testing.T, c *client.Client, jobID, taskID string, state api.TaskState) *api.Task {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	for {
		task, err := c.GetTask(ctx, jobID, taskID)
		if err != nil {
			t.Fatal(err)
		}
		if task.State == state {
			return task
		}
		select {
		case <-ctx.Done():
			t.Fatalf("task %s stayed %s, want %s", taskID, task.State, state)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
