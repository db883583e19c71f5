package e2e

import (
	"path/filepath"
	"strings"
	"testing"
)

// azureSampleFormula is the "pending tasks" sample formula of Azure's
// autoscale article.
const azureSampleFormula = `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`

// TestAzureCLIAutoScale drives `az batch pool autoscale enable / evaluate /
// disable` against openbatch dev with Azure's sample formulas.
func TestAzureCLIAutoScale(t *testing.T) {
	t.Parallel()
	bin := requireAz(t)
	tmp := t.TempDir()
	srv := startDev(t, filepath.Join(tmp, "data"))
	az := newAz(t, bin, filepath.Join(tmp, "azconfig"), srv, srv.Key)

	az.ok("batch", "pool", "create", "--id", "pas", "--vm-size", "standard_d2s_v3", "--target-dedicated-nodes", "0",
		"--image", "canonical:0001-com-ubuntu-server-focal:20_04-lts", "--node-agent-sku-id", "batch.node.ubuntu 20.04")
	az.ok("batch", "pool", "autoscale", "enable", "--pool-id", "pas", "--auto-scale-formula", azureSampleFormula,
		"--auto-scale-evaluation-interval", "PT5M")

	type run struct {
		Timestamp string `json:"timestamp"`
		Results   string `json:"results"`
		Error     *struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Values  []struct{ Name, Value string }
		} `json:"error"`
	}
	var p struct {
		EnableAutoScale             bool   `json:"enableAutoScale"`
		AutoScaleFormula            string `json:"autoScaleFormula"`
		AutoScaleEvaluationInterval string `json:"autoScaleEvaluationInterval"`
		TargetDedicatedNodes        int    `json:"targetDedicatedNodes"`
		AutoScaleRun                *run   `json:"autoScaleRun"`
	}
	az.json(&p, "batch", "pool", "show", "--pool-id", "pas")
	// No samples yet: the formula starts one node.
	if !p.EnableAutoScale || p.AutoScaleFormula != azureSampleFormula || p.TargetDedicatedNodes != 1 || p.AutoScaleRun == nil ||
		!strings.HasPrefix(p.AutoScaleRun.Results, "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion;") {
		t.Fatalf("pool after autoscale enable = %+v (run %+v)", p, p.AutoScaleRun)
	}
	if !strings.Contains(p.AutoScaleEvaluationInterval, "5:00") && p.AutoScaleEvaluationInterval != "PT5M" {
		t.Fatalf("autoScaleEvaluationInterval = %q", p.AutoScaleEvaluationInterval)
	}

	var r run
	az.json(&r, "batch", "pool", "autoscale", "evaluate", "--pool-id", "pas", "--auto-scale-formula",
		"$curTime = time();\n$workHours = $curTime.hour >= 8 && $curTime.hour < 18;\n"+
			"$isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;\n$isWorkingWeekdayHour = $workHours && $isWeekday;\n"+
			"$TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;")
	if r.Error != nil || r.Timestamp == "" || !strings.Contains(r.Results, ";$curTime=") ||
		!(strings.HasPrefix(r.Results, "$TargetDedicatedNodes=20;") || strings.HasPrefix(r.Results, "$TargetDedicatedNodes=10;")) {
		t.Fatalf("autoscale evaluate = %+v", r)
	}
	r = run{}
	az.json(&r, "batch", "pool", "autoscale", "evaluate", "--pool-id", "pas", "--auto-scale-formula",
		"$TargetDedicatedNodes = avg($CPUPercent.GetSample(TimeInterval_Minute * 5, 70));")
	if r.Error == nil || r.Error.Code != "InsufficientSampleData" || len(r.Error.Values) == 0 ||
		!strings.Contains(r.Error.Values[0].Value, "Line 1, Col 41") {
		t.Fatalf("autoscale evaluate without samples = %+v", r)
	}
	out := az.fails("batch", "pool", "resize", "--pool-id", "pas", "--target-dedicated-nodes", "3")
	if !strings.Contains(out, "autoscaling enabled") {
		t.Fatalf("resize of an autoscale pool: %s", out)
	}

	az.ok("batch", "pool", "autoscale", "disable", "--pool-id", "pas")
	p.AutoScaleFormula, p.AutoScaleRun, p.EnableAutoScale = "", nil, true // json leaves absent fields as they are
	az.json(&p, "batch", "pool", "show", "--pool-id", "pas")
	if p.EnableAutoScale || p.AutoScaleFormula != "" || p.AutoScaleRun != nil || p.TargetDedicatedNodes != 1 {
		t.Fatalf("pool after autoscale disable = %+v", p)
	}
	az.ok("batch", "pool", "resize", "--pool-id", "pas", "--target-dedicated-nodes", "0")
}
