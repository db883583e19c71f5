package autoscale

import (
	"errors"
	"testing"
	"time"
)

// FuzzFormula parses and evaluates arbitrary formulas: neither may panic,
// every failure is an *Error with a position, and evaluation stays within
// its step budget. The seed corpus is testdata/fuzz/FuzzFormula.
func FuzzFormula(f *testing.F) {
	f.Add("$TargetDedicatedNodes = min(25, avg($PendingTasks.GetSample(TimeInterval_Minute * 5, 70)));")
	f.Add("$a = time().hour >= 8 ? 1 : 0; $TargetLowPriorityNodes = $a * 2;")
	samples := history(40, func(i int) map[string]float64 { return map[string]float64{PendingTasks: float64(i), CPUPercent: 0.5} })
	f.Fuzz(func(t *testing.T, src string) {
		fm, err := Parse(src)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos.Line < 1 || e.Pos.Col < 1 {
				t.Fatalf("parse error %v is not an *Error with a position", err)
			}
			return
		}
		r, err := Evaluate(fm, Env{Now: now, Samples: samples, SamplePeriod: 30 * time.Second, TargetDedicatedNodes: 1})
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Pos.Line < 1 {
				t.Fatalf("evaluation error %v is not an *Error with a position", err)
			}
			return
		}
		if r.TargetDedicatedNodes < 0 || r.TargetLowPriorityNodes < 0 || r.Results == "" {
			t.Fatalf("bad result %+v", r)
		}
	})
}
