package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
)

// TestAutoScaleAPI pins the wire behaviour of autoscale: pool add with a
// formula, enableautoscale, evaluateautoscale and disableautoscale, the
// pool's autoScaleRun, and the refusals (with nothing changed) of bad
// settings and of a resize while autoscale is on.
func TestAutoScaleAPI(t *testing.T) {
	srv, c := startDev(t)
	ep := srv.Endpoint
	pool := func(id string, extra map[string]any) map[string]any {
		m := map[string]any{"id": id, "vmSize": "standard_d2s_v3"}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	wantStatus(t, "add autoscale pool", send(t, ep, "POST", "/pools", pool("as1", map[string]any{
		"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes = 2;\n$NodeDeallocationOption = taskcompletion;"})), http.StatusCreated)
	m := send(t, ep, "GET", "/pools/as1", nil).JSON(t)
	if m["enableAutoScale"] != true || m["targetDedicatedNodes"] != 2.0 || m["autoScaleEvaluationInterval"] != "PT15M" {
		t.Fatalf("autoscale pool after add = %v", m)
	}
	if r, _ := get(m, "autoScaleRun", "results").(string); r != "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion" {
		t.Fatalf("autoScaleRun after add = %v", m["autoScaleRun"])
	}
	if ts, _ := get(m, "autoScaleRun", "timestamp").(string); ts == "" {
		t.Fatalf("autoScaleRun has no timestamp: %v", m["autoScaleRun"])
	}

	// Bad pool adds: each refused with Azure's code, and no pool made.
	for _, tc := range []struct {
		name     string
		body     map[string]any
		code     string
		mentions string
	}{
		{"targets with autoscale", map[string]any{"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes=1", "targetDedicatedNodes": 1},
			api.CodeInvalidAutoScalingSettings, "targetDedicatedNodes"},
		{"no formula", map[string]any{"enableAutoScale": true}, api.CodeMissingRequiredProperty, "autoScaleFormula"},
		{"formula without autoscale", map[string]any{"targetDedicatedNodes": 0, "autoScaleFormula": "$TargetDedicatedNodes=1"},
			api.CodeInvalidAutoScalingSettings, "autoScaleFormula"},
		{"syntax error", map[string]any{"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes = 1 +;"},
			api.CodeAutoScalingFormulaSyntaxError, "Line 1, Col 28"},
		{"too long", map[string]any{"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes = 1;" + strings.Repeat(" ", 8192)},
			api.CodeAutoScalingFormulaTooLong, "8192"},
		{"interval too short", map[string]any{"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes=1", "autoScaleEvaluationInterval": "PT1M"},
			api.CodeInvalidAutoScalingSettings, "autoScaleEvaluationInterval"},
		{"interval too long", map[string]any{"enableAutoScale": true, "autoScaleFormula": "$TargetDedicatedNodes=1", "autoScaleEvaluationInterval": "P8D"},
			api.CodeInvalidAutoScalingSettings, "autoScaleEvaluationInterval"},
	} {
		wantError(t, "add pool: "+tc.name, send(t, ep, "POST", "/pools", pool("bad", tc.body)), http.StatusBadRequest, tc.code, tc.mentions)
		wantError(t, "pool after refused add: "+tc.name, send(t, ep, "GET", "/pools/bad", nil), http.StatusNotFound, api.CodePoolNotFound)
	}

	wantError(t, "resize while autoscale is on", send(t, ep, "POST", "/pools/as1/resize", map[string]any{"targetDedicatedNodes": 1}),
		http.StatusConflict, "AutoScalingEnabled")

	// Evaluate: the run comes back, the pool is left as it is.
	before := send(t, ep, "GET", "/pools/as1", nil).JSON(t)
	w := send(t, ep, "POST", "/pools/as1/evaluateautoscale", map[string]any{"autoScaleFormula": "$TargetDedicatedNodes = 1; $x = 3 * TimeInterval_Minute;"})
	wantStatus(t, "evaluateautoscale", w, http.StatusOK)
	if w.Header.Get("ETag") == "" || !strings.HasSuffix(w.Header.Get("DataServiceId"), "/pools/as1") {
		t.Fatalf("evaluateautoscale headers = %v", w.Header)
	}
	if r := w.JSON(t); r["results"] != "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$x=00:03:00" || r["timestamp"] == nil || r["error"] != nil {
		t.Fatalf("evaluateautoscale = %s", w.Body)
	}
	w = send(t, ep, "POST", "/pools/as1/evaluateautoscale", map[string]any{"autoScaleFormula": "$TargetDedicatedNodes = avg($CPUPercent.GetSample(TimeInterval_Minute * 5, 70));"})
	wantStatus(t, "evaluateautoscale without samples", w, http.StatusOK)
	if r := w.JSON(t); get(r, "error", "code") != "InsufficientSampleData" || get(r, "error", "values", 0, "name") != "Message" ||
		!strings.HasPrefix(get(r, "error", "values", 0, "value").(string), "Line 1, Col 41: Insufficient data from data set: $CPUPercent wanted 70%") {
		t.Fatalf("evaluateautoscale without samples = %s", w.Body)
	}
	w = send(t, ep, "POST", "/pools/as1/evaluateautoscale", map[string]any{"autoScaleFormula": "$TargetDedicatedNodes = ;"})
	wantStatus(t, "evaluateautoscale of a syntax error", w, http.StatusOK)
	if r := w.JSON(t); get(r, "error", "code") != api.CodeAutoScalingFormulaSyntaxError {
		t.Fatalf("evaluateautoscale of a syntax error = %s", w.Body)
	}
	wantError(t, "evaluateautoscale without formula", send(t, ep, "POST", "/pools/as1/evaluateautoscale", map[string]any{}),
		http.StatusBadRequest, api.CodeMissingRequiredProperty, "autoScaleFormula")
	after := send(t, ep, "GET", "/pools/as1", nil).JSON(t)
	// (Its ETag may change as its local nodes start; the run and targets
	// must not.)
	if get(after, "autoScaleRun", "timestamp") != get(before, "autoScaleRun", "timestamp") || after["targetDedicatedNodes"] != 2.0 ||
		after["autoScaleFormula"] != before["autoScaleFormula"] {
		t.Fatalf("evaluateautoscale changed the pool: %v -> %v", before, after)
	}

	// Enable on a fixed pool, then change only the interval, then disable.
	wantStatus(t, "add fixed pool", send(t, ep, "POST", "/pools", pool("fx", map[string]any{"targetDedicatedNodes": 0})), http.StatusCreated)
	wantError(t, "evaluateautoscale on a fixed pool", send(t, ep, "POST", "/pools/fx/evaluateautoscale", map[string]any{"autoScaleFormula": "$TargetDedicatedNodes=1"}),
		http.StatusConflict, api.CodeOperationInvalidForCurrentState)
	wantError(t, "enableautoscale without formula", send(t, ep, "POST", "/pools/fx/enableautoscale", map[string]any{"autoScaleEvaluationInterval": "PT5M"}),
		http.StatusBadRequest, api.CodeMissingRequiredProperty, "autoScaleFormula")
	wantError(t, "enableautoscale with a syntax error", send(t, ep, "POST", "/pools/fx/enableautoscale", map[string]any{"autoScaleFormula": "$a = (1"}),
		http.StatusBadRequest, api.CodeAutoScalingFormulaSyntaxError, "Line 1, Col 8")
	if m := send(t, ep, "GET", "/pools/fx", nil).JSON(t); m["enableAutoScale"] != false || m["autoScaleFormula"] != nil {
		t.Fatalf("refused enableautoscale changed the pool: %v", m)
	}
	w = send(t, ep, "POST", "/pools/fx/enableautoscale",
		map[string]any{"autoScaleFormula": "$TargetDedicatedNodes = $CurrentDedicatedNodes + 1;", "autoScaleEvaluationInterval": "PT5M"})
	wantStatus(t, "enableautoscale", w, http.StatusOK)
	m = send(t, ep, "GET", "/pools/fx", nil).JSON(t)
	// The new node then changes the pool again, so the ETag is only checked
	// for presence.
	if w.Header.Get("ETag") == "" || w.Header.Get("Last-Modified") == "" || !strings.HasSuffix(w.Header.Get("DataServiceId"), "/pools/fx") {
		t.Fatalf("enableautoscale headers = %v", w.Header)
	}
	if m["enableAutoScale"] != true || m["targetDedicatedNodes"] != 1.0 || m["autoScaleEvaluationInterval"] != "PT5M" || m["autoScaleRun"] == nil {
		t.Fatalf("pool after enableautoscale = %v", m)
	}
	// As on Azure, the next enableautoscale waits for the resize the
	// first one started (its new node) to end: until then it is
	// PoolBeingResized.
	waitSteady(t, c, "fx")
	wantStatus(t, "enableautoscale (interval only)", send(t, ep, "POST", "/pools/fx/enableautoscale",
		map[string]any{"autoScaleEvaluationInterval": "PT10M"}), http.StatusOK)
	m = send(t, ep, "GET", "/pools/fx", nil).JSON(t)
	if m["autoScaleEvaluationInterval"] != "PT10M" || !strings.Contains(m["autoScaleFormula"].(string), "$CurrentDedicatedNodes") {
		t.Fatalf("pool after enableautoscale of the interval = %v", m)
	}
	wantStatus(t, "disableautoscale", send(t, ep, "POST", "/pools/fx/disableautoscale", nil), http.StatusOK)
	m = send(t, ep, "GET", "/pools/fx", nil).JSON(t)
	if m["enableAutoScale"] != false || m["autoScaleFormula"] != nil || m["autoScaleRun"] != nil || m["autoScaleEvaluationInterval"] != nil {
		t.Fatalf("pool after disableautoscale = %v", m)
	}
	if tgt := m["targetDedicatedNodes"].(float64); tgt < 1 {
		t.Fatalf("disableautoscale changed the target to %v", tgt)
	}
	// The last evaluation's resize may still be underway: Azure refuses
	// a resize until the pool is steady.
	waitSteady(t, c, "fx")
	wantStatus(t, "resize after disableautoscale", send(t, ep, "POST", "/pools/fx/resize", map[string]any{"targetDedicatedNodes": 0}), http.StatusAccepted)
	wantError(t, "enableautoscale (missing pool)", send(t, ep, "POST", "/pools/nope/enableautoscale", map[string]any{"autoScaleFormula": "$TargetDedicatedNodes=1"}),
		http.StatusNotFound, api.CodePoolNotFound)
}

// TestAutoScaleGrowsAndShrinks runs the reconcile loop's periodic
// evaluation with a short interval (a test-only setting; the API accepts
// 5 minutes at least): a pool whose formula follows $PendingTasks grows to
// run the tasks added and shrinks to nothing when they are done.
func TestAutoScaleGrowsAndShrinks(t *testing.T) {
	srv, c := startDev(t, func(cfg *Config) {
		cfg.AutoScale = service.AutoScaleConfig{SamplePeriod: time.Second, MinInterval: time.Second}
	})
	ep := srv.Endpoint
	formula := "$pending = $PendingTasks.GetSample(1);\n" +
		"$TargetDedicatedNodes = len($pending) == 0 ? 0 : min(2, max($pending));\n" +
		"$NodeDeallocationOption = taskcompletion;"
	wantStatus(t, "add autoscale pool", send(t, ep, "POST", "/pools", map[string]any{"id": "grow", "vmSize": "standard_d2s_v3",
		"enableAutoScale": true, "autoScaleFormula": formula, "autoScaleEvaluationInterval": "PT2S"}), http.StatusCreated)
	wantStatus(t, "add job", send(t, ep, "POST", "/jobs", map[string]any{"id": "j", "poolInfo": map[string]any{"poolId": "grow"}}), http.StatusCreated)
	for _, id := range []string{"t1", "t2", "t3"} {
		wantStatus(t, "add task", send(t, ep, "POST", "/jobs/j/tasks", map[string]any{"id": id, "commandLine": "/bin/sh -c 'sleep 2'"}), http.StatusCreated)
	}

	waitPool := func(what string, ok func(m map[string]any, nodes int) bool) {
		t.Helper()
		deadline := time.Now().Add(90 * time.Second)
		for {
			m := send(t, ep, "GET", "/pools/grow", nil).JSON(t)
			nodes, _ := get(send(t, ep, "GET", "/pools/grow/nodes", nil).JSON(t), "value").([]any)
			if ok(m, len(nodes)) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: pool %v with %d nodes", what, m, len(nodes))
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	waitPool("grow to 2 nodes", func(m map[string]any, nodes int) bool { return m["targetDedicatedNodes"] == 2.0 && nodes == 2 })
	ctx := ctxT(t, 90*time.Second)
	for {
		counts, err := c.TaskCounts(ctx, "j")
		if err != nil {
			t.Fatal(err)
		}
		if counts.TaskCounts.Succeeded == 3 {
			break
		}
		if counts.TaskCounts.Failed > 0 {
			t.Fatalf("task failed: %+v", counts)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("tasks did not complete: %+v", counts)
		case <-time.After(200 * time.Millisecond):
		}
	}
	waitPool("shrink to nothing", func(m map[string]any, nodes int) bool {
		r, _ := get(m, "autoScaleRun", "results").(string)
		return m["targetDedicatedNodes"] == 0.0 && nodes == 0 && strings.HasPrefix(r, "$TargetDedicatedNodes=0;")
	})
}
