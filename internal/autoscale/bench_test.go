package autoscale

import "testing"

// BenchmarkAzurePendingFormula parses and evaluates Azure's pending-tasks
// sample formula over a day of samples (2880, one every 30 s), the most a
// pool keeps.
func BenchmarkAzurePendingFormula(b *testing.B) {
	src := `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`
	samples := history(2880, func(i int) map[string]float64 { return map[string]float64{PendingTasks: float64(i % 7)} })
	b.ReportAllocs()
	for b.Loop() {
		f, err := Parse(src)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Evaluate(f, Env{Now: now, Samples: samples}); err != nil {
			b.Fatal(err)
		}
	}
}
