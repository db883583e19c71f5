package app

import (
	"bytes"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/openbatch/openbatch/api"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// scrape GETs /metrics unsigned and parses it with the Prometheus text parser.
func scrape(t *testing.T, base string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams
}

// value sums the samples of a family whose labels include want.
func value(fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return 0
	}
	var sum float64
next:
	for _, m := range f.GetMetric() {
		for k, v := range want {
			found := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == k && lp.GetValue() == v {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			sum += m.GetCounter().GetValue()
		case m.Gauge != nil:
			sum += m.GetGauge().GetValue()
		case m.Histogram != nil:
			sum += float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sum
}

func TestMetricsMoveAsTasksRunAndUploadsFail(t *testing.T) {
	logs := &syncBuffer{}
	srv, c := startDev(t, func(cfg *Config) {
		cfg.Log = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	before := scrape(t, srv.Endpoint)
	if v := value(before, "openbatch_task_completions_total", nil); v != 0 {
		t.Fatalf("completions before any task = %v", v)
	}
	mustPoolJob(t, c, 1, 2, nil)
	ctx := ctxT(t, 60*time.Second)
	missing := "file://" + t.TempDir() + "/no/such/container"
	tasks := []*api.Task{
		{ID: "ok", CommandLine: "/bin/sh -c 'echo fine'"},
		{ID: "bad", CommandLine: "/bin/sh -c 'exit 2'"},
		{ID: "upload", CommandLine: "/bin/true", OutputFiles: []api.OutputFile{outFile("../stdout.txt", missing, "", api.UploadOnCompletion)}},
	}
	if _, err := c.AddTasks(ctx, "j1", tasks); err != nil {
		t.Fatal(err)
	}
	var uploadCode string
	for _, tk := range tasks {
		got, err := c.WaitTask(ctx, "j1", tk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if tk.ID == "upload" && got.ExecutionInfo.FailureInfo != nil {
			uploadCode = got.ExecutionInfo.FailureInfo.Code
		}
	}
	if !strings.HasPrefix(uploadCode, "FileUpload") {
		t.Fatalf("upload task failure code %q, want a FileUpload* code", uploadCode)
	}
	after := scrape(t, srv.Endpoint)
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"openbatch_task_completions_total", map[string]string{"result": "success"}, 1},
		{"openbatch_task_completions_total", map[string]string{"result": "failure", "failure_code": api.FailureExitCode}, 1},
		{"openbatch_task_completions_total", map[string]string{"failure_code": uploadCode}, 1},
		{"openbatch_task_scheduling_latency_seconds", nil, 3},
		{"openbatch_task_end_to_end_seconds", nil, 3},
		{"openbatch_task_state_transitions_total", map[string]string{"from": "none", "to": "active"}, 3},
		{"openbatch_output_upload_failures_total", map[string]string{"code": uploadCode}, 1},
		{"openbatch_output_upload_files_total", map[string]string{"result": "failed"}, 1},
		{"openbatch_pool_tasks", map[string]string{"pool": "p1", "state": "succeeded"}, 1},
		{"openbatch_pool_tasks", map[string]string{"pool": "p1", "state": "failed"}, 2},
		{"openbatch_job_tasks", map[string]string{"job": "j1", "state": "failed"}, 2},
		{"openbatch_nodes", map[string]string{"pool": "p1"}, 1},
		{"openbatch_api_requests_total", map[string]string{"operation": "POST /jobs/{jobId}/addtaskcollection", "status": "200"}, 1},
		{"openbatch_state_collect_success", nil, 1},
	}
	for _, ck := range checks {
		if got := value(after, ck.name, ck.labels); got != ck.want {
			t.Errorf("%s%v = %v, want %v", ck.name, ck.labels, got, ck.want)
		}
	}
	if value(after, "openbatch_store_operation_duration_seconds", map[string]string{"operation": "UpdateTask"}) == 0 {
		t.Error("store latency of UpdateTask not recorded")
	}

	log := logs.String()
	for _, want := range []string{`"msg":"request"`, `"route":"POST /jobs/{jobId}/addtaskcollection"`, `"msg":"task state"`} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %s", want)
		}
	}
	for _, secret := range []string{DevAccountKey, "sig=", "SharedKey "} {
		if strings.Contains(log, secret) {
			t.Errorf("log contains %q", secret)
		}
	}
}

func TestHealthUnsignedAndReadyFollowsStore(t *testing.T) {
	logs := &syncBuffer{}
	srv, _ := startDev(t, func(cfg *Config) { cfg.Log = slog.New(slog.NewTextHandler(logs, nil)) })
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.Endpoint + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz = %d, want 200", got)
	}
	if got := get("/readyz"); got != http.StatusOK {
		t.Errorf("/readyz = %d, want 200", got)
	}
	// An unsigned API call is still refused, and logged as a failed sign-in.
	if got := get("/jobs?api-version=2024-07-01.20.0"); got < 400 {
		t.Errorf("unsigned GET /jobs = %d, want a 4xx", got)
	}
	if !strings.Contains(logs.String(), "sign-in failed") {
		t.Error("failed sign-in not logged")
	}
	srv.store.Close()
	if got := get("/readyz"); got != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the store closed = %d, want 503", got)
	}
	if got := get("/healthz"); got != http.StatusOK {
		t.Errorf("/healthz with the store closed = %d, want 200", got)
	}
}
