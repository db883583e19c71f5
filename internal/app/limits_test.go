package app

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// TestHugePoolTargetsRefused pins that a pool add or resize to a million
// nodes is refused with an Azure error before any node is created.
func TestHugePoolTargetsRefused(t *testing.T) {
	srv, c := startDev(t, func(cfg *Config) { cfg.MaxLocalNodes = 4 })
	ep := srv.Endpoint
	wantError(t, "pool add 1e6", send(t, ep, "POST", "/pools", map[string]any{"id": "big", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1000000}),
		http.StatusBadRequest, api.CodeInvalidPropertyValue, "targetDedicatedNodes", "at most")
	wantStatus(t, "pool add after refusal", send(t, ep, "HEAD", "/pools/big", nil), http.StatusNotFound)

	wantStatus(t, "pool add", send(t, ep, "POST", "/pools", map[string]any{"id": "p1", "vmSize": "standard_d2s_v3", "targetDedicatedNodes": 1}), http.StatusCreated)
	wantError(t, "resize 1e6", send(t, ep, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 1000000}),
		http.StatusBadRequest, api.CodeInvalidPropertyValue, "at most")
	wantError(t, "resize over local limit", send(t, ep, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 5}),
		http.StatusBadRequest, api.CodeInvalidPropertyValue, "--max-local-nodes")
	wantError(t, "resize low-priority over local limit", send(t, ep, "POST", "/pools/p1/resize", map[string]any{"targetLowPriorityNodes": 4}),
		http.StatusBadRequest, api.CodeInvalidPropertyValue, "OPENBATCH_MAX_LOCAL_NODES")
	after := send(t, ep, "GET", "/pools/p1", nil)
	if m := after.JSON(t); m["targetDedicatedNodes"] != 1.0 || m["targetLowPriorityNodes"] != 0.0 {
		t.Fatalf("refused resize changed the pool: %s", after.Body)
	}
	srv.local.mu.Lock()
	n := len(srv.local.nodes["p1"]) + len(srv.local.nodes["big"])
	srv.local.mu.Unlock()
	if n != 1 {
		t.Fatalf("local nodes = %d, want 1", n)
	}
	waitSteady(t, c, "p1") // the pool's first resize (to its 1 node) is over
	wantStatus(t, "resize within limit", send(t, ep, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 4}), http.StatusAccepted)
}

// TestOversizedStoredTargetStarts pins that a data directory holding a
// pool target beyond the local node limit (as an older version could
// write) starts, clamps the nodes and records a resize error.
func TestOversizedStoredTargetStarts(t *testing.T) {
	dir := t.TempDir()
	srv, c := startDev(t, func(cfg *Config) { cfg.DataDir = dir })
	if err := c.AddPool(ctxT(t, 5*time.Second), &api.Pool{ID: "p1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	// Write the oversized target behind the service's back, as an older
	// version without the limit would have stored it.
	if _, err := srv.store.UpdatePool(context.Background(), "p1", func(p *api.Pool) error {
		p.TargetDedicatedNodes = api.I32(1000000)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	srv.Close()

	srv2, _ := startDev(t, func(cfg *Config) { cfg.DataDir = dir; cfg.MaxLocalNodes = 3 })
	p, err := srv2.Service.GetPool(ctxT(t, 5*time.Second), "p1", service.Conditions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ResizeErrors) != 1 || p.ResizeErrors[0].Code != CodeLocalNodeLimit || !strings.Contains(p.ResizeErrors[0].Message, "max-local-nodes") {
		t.Fatalf("resizeErrors = %+v", p.ResizeErrors)
	}
	srv2.local.mu.Lock()
	n := len(srv2.local.nodes["p1"])
	srv2.local.mu.Unlock()
	if n != 3 {
		t.Fatalf("local nodes = %d, want 3 (the limit)", n)
	}
	// Resizing within the limit clears the error.
	wantStatus(t, "resize within limit", send(t, srv2.Endpoint, "POST", "/pools/p1/resize", map[string]any{"targetDedicatedNodes": 2}), http.StatusAccepted)
	if p, err := srv2.Service.GetPool(ctxT(t, 5*time.Second), "p1", service.Conditions{}); err != nil || len(p.ResizeErrors) != 0 {
		t.Fatalf("after resize: resizeErrors = %+v, %v", p.ResizeErrors, err)
	}
}

// TestInputLimits pins each task and job input limit: the error code and
// that nothing was added.
func TestInputLimits(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	mustPoolJob(t, c, 0, 1, &api.Job{UsesTaskDependencies: api.B(true)})
	long := strings.Repeat("x", api.MaxCommandLineLength+1)
	manyEnv := make([]map[string]any, api.MaxEnvironmentSettings+1)
	for i := range manyEnv {
		manyEnv[i] = map[string]any{"name": "V", "value": "1"}
	}
	manyFiles := make([]map[string]any, api.MaxResourceFiles+1)
	for i := range manyFiles {
		manyFiles[i] = map[string]any{"httpUrl": "https://example.com/x", "filePath": "x"}
	}
	manyMeta := make([]map[string]any, api.MaxMetadataItems+1)
	for i := range manyMeta {
		manyMeta[i] = map[string]any{"name": "k", "value": "v"}
	}
	cases := []struct {
		name   string
		method string
		path   string
		body   map[string]any
		status int
		code   string
	}{
		{"dependency range to int32 max", "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": "true",
			"dependsOn": map[string]any{"taskIdRanges": []any{map[string]any{"start": 1, "end": 2147483647}}}}, 400, api.CodeTaskDependencyRangesTooLong},
		{"dependency ranges summed", "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": "true",
			"dependsOn": map[string]any{"taskIdRanges": []any{map[string]any{"start": 0, "end": 60000}, map[string]any{"start": 0, "end": 60000}}}}, 400, api.CodeTaskDependencyRangesTooLong},
		{"command line", "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": long}, 400, api.CodeInvalidPropertyValue},
		{"environment count", "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": "true", "environmentSettings": manyEnv}, 400, api.CodeRequestEntityTooLarge},
		{"resource files", "POST", "/jobs/j1/tasks", map[string]any{"id": "t1", "commandLine": "true", "resourceFiles": manyFiles}, 400, api.CodeRequestEntityTooLarge},
		{"id length", "POST", "/jobs/j1/tasks", map[string]any{"id": strings.Repeat("a", 65), "commandLine": "true"}, 400, api.CodeInvalidPropertyValue},
		{"job metadata", "POST", "/jobs", map[string]any{"id": "j2", "poolInfo": map[string]any{"poolId": "p1"}, "metadata": manyMeta}, 400, api.CodeMetadataTooLarge},
		{"pool metadata bytes", "POST", "/pools", map[string]any{"id": "p2", "vmSize": "x", "targetDedicatedNodes": 0,
			"metadata": []any{map[string]any{"name": "k", "value": strings.Repeat("v", api.MaxMetadataBytes)}}}, 400, api.CodeMetadataTooLarge},
		{"job patch metadata", "PATCH", "/jobs/j1", map[string]any{"metadata": manyMeta}, 400, api.CodeMetadataTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			job := send(t, ep, "GET", "/jobs/j1", nil).Header.Get("ETag")
			wantError(t, tc.name, send(t, ep, tc.method, tc.path, tc.body), tc.status, tc.code)
			wantStatus(t, "task not added", send(t, ep, "GET", "/jobs/j1/tasks/t1", nil), http.StatusNotFound)
			wantStatus(t, "job not added", send(t, ep, "GET", "/jobs/j2", nil), http.StatusNotFound)
			wantStatus(t, "pool not added", send(t, ep, "GET", "/pools/p2", nil), http.StatusNotFound)
			if got := send(t, ep, "GET", "/jobs/j1", nil).Header.Get("ETag"); got != job {
				t.Fatalf("job ETag changed from %s to %s", job, got)
			}
		})
	}
}
