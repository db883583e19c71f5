package autoscale

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2016, 10, 13, 19, 18, 47, 805e6, time.UTC) // a Thursday

// history returns n samples, one every 30 s up to now, with the values fn
// gives for sample i (0 = oldest).
func history(n int, fn func(i int) map[string]float64) []Sample {
	out := make([]Sample, n)
	for i := range out {
		out[i] = Sample{Time: now.Add(-time.Duration(n-1-i) * DefaultSamplePeriod), Values: fn(i)}
	}
	return out
}

func pending(v ...float64) []Sample {
	return history(len(v), func(i int) map[string]float64 {
		return map[string]float64{PendingTasks: v[i], ActiveTasks: v[i], RunningTasks: 0}
	})
}

func run(t *testing.T, formula string, env Env) (*Result, error) {
	t.Helper()
	f, err := Parse(formula)
	if err != nil {
		return nil, err
	}
	if env.Now.IsZero() {
		env.Now = now
	}
	return Evaluate(f, env)
}

// TestAzureSampleFormulas evaluates the formulas of Azure's autoscale
// article to the results the article describes.
func TestAzureSampleFormulas(t *testing.T) {
	const pendingFormula = `startingNumberOfVMs = 1;
maxNumberofVMs = 25;
pendingTaskSamplePercent = $PendingTasks.GetSamplePercent(180 * TimeInterval_Second);
pendingTaskSamples = pendingTaskSamplePercent < 70 ? startingNumberOfVMs : avg($PendingTasks.GetSample(180 * TimeInterval_Second));
$TargetDedicatedNodes=min(maxNumberofVMs, pendingTaskSamples);
$NodeDeallocationOption = taskcompletion;`
	const timeFormula = `
        $curTime = time();
        $workHours = $curTime.hour >= 8 && $curTime.hour < 18;
        $isWeekday = $curTime.weekday >= 1 && $curTime.weekday <= 5;
        $isWorkingWeekdayHour = $workHours && $isWeekday;
        $TargetDedicatedNodes = $isWorkingWeekdayHour ? 20:10;`
	const taskFormula = `// Get pending tasks for the past 15 minutes.
$samples = $PendingTasks.GetSamplePercent(TimeInterval_Minute * 15);
// If we have fewer than 70 percent data points, we use the last sample point,
// otherwise we use the maximum of last sample point and the history average.
$tasks = $samples < 70 ? max(0,$PendingTasks.GetSample(1)) : max( $PendingTasks.GetSample(1), avg($PendingTasks.GetSample(TimeInterval_Minute * 15)));
// If number of pending tasks is not 0, set targetVM to pending tasks, otherwise
// half of current dedicated.
$targetVMs = $tasks > 0? $tasks:max(0, $TargetDedicatedNodes/2);
// The pool size is capped at 20, if target VM value is more than that, set it
// to 20. This value should be adjusted according to your use case.
$TargetDedicatedNodes = max(0, min($targetVMs, 20));
// Set node deallocation mode - let running tasks finish before removing a node
$NodeDeallocationOption = taskcompletion;`
	const parallelFormula = `$samples = $ActiveTasks.GetSamplePercent(TimeInterval_Minute * 15);
$tasks = $samples < 70 ? max(0,$ActiveTasks.GetSample(1)) : max( $ActiveTasks.GetSample(1),avg($ActiveTasks.GetSample(TimeInterval_Minute * 15)));
$cores = $TargetDedicatedNodes * 4;
$extraVMs = (($tasks - $cores) + 3) / 4;
$targetVMs = ($TargetDedicatedNodes + $extraVMs);
$TargetDedicatedNodes = max(0,min($targetVMs,3));
$NodeDeallocationOption = taskcompletion;`
	const preemptedFormula = `maxNumberofVMs = 25;
$TargetDedicatedNodes = min(maxNumberofVMs, $PreemptedNodeCount.GetSample(180 * TimeInterval_Second));
$TargetLowPriorityNodes = min(maxNumberofVMs , maxNumberofVMs - $TargetDedicatedNodes);
$NodeDeallocationOption = taskcompletion;`
	const cpuFormula = `$totalDedicatedNodes =
    (min($CPUPercent.GetSample(TimeInterval_Minute * 10)) > 0.7) ?
    ($CurrentDedicatedNodes * 1.1) : $CurrentDedicatedNodes;
$totalDedicatedNodes =
    (avg($CPUPercent.GetSample(TimeInterval_Minute * 60)) < 0.2) ?
    ($CurrentDedicatedNodes * 0.9) : $totalDedicatedNodes;
$TargetDedicatedNodes = min(400, $totalDedicatedNodes)`
	initial := `lifespan         = time() - time("Thu, 13 Oct 2016 19:00:00 GMT");
    span             = TimeInterval_Minute * 60;
    startup          = TimeInterval_Minute * 10;
    ratio            = 50;
    $TargetDedicatedNodes = (lifespan > startup ? (max($RunningTasks.GetSample(span, ratio), $ActiveTasks.GetSample(span, ratio)) == 0 ? 0 : $TargetDedicatedNodes) : 4);`
	full := func(n int, vals map[string]float64) []Sample {
		return history(n, func(int) map[string]float64 { return vals })
	}
	tests := []struct {
		name, formula string
		env           Env
		dedicated     int32
		low           int32
		option        string
		results       string
	}{
		{"pending tasks: too few samples start one node", pendingFormula, Env{Samples: pending(9)}, 1, 0, "taskcompletion", ""},
		{"pending tasks: average of the last 3 minutes", pendingFormula, Env{Samples: pending(2, 4, 6, 8, 10, 12)}, 7, 0, "taskcompletion", ""},
		{"pending tasks: at most 25", pendingFormula, Env{Samples: pending(90, 90, 90, 90, 90, 90, 90)}, 25, 0, "taskcompletion", ""},
		{"pending tasks: idle pool shrinks to zero", pendingFormula, Env{Samples: pending(0, 0, 0, 0, 0, 0, 0), TargetDedicatedNodes: 5}, 0, 0, "taskcompletion", ""},
		{"time of day: Thursday evening", timeFormula, Env{}, 10, 0, "requeue",
			"$TargetDedicatedNodes=10;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$curTime=2016-10-13T19:18:47.805Z;$isWeekday=1;$isWorkingWeekdayHour=0;$workHours=0"},
		{"time of day: Thursday morning", timeFormula, Env{Now: now.Add(-9 * time.Hour)}, 20, 0, "requeue", ""},
		{"task based: few samples use the last one", taskFormula, Env{Samples: pending(7)}, 7, 0, "taskcompletion", ""},
		{"task based: no tasks halve the target", taskFormula, Env{Samples: pending(make([]float64, 30)...), TargetDedicatedNodes: 8}, 4, 0, "taskcompletion", ""},
		{"task based: capped at 20", taskFormula, Env{Samples: pending(make([]float64, 29)...)}, 0, 0, "taskcompletion", ""},
		{"parallel tasks: 5 active tasks on 1 node of 4 slots", parallelFormula, Env{Samples: pending(5), TargetDedicatedNodes: 1}, 2, 0, "taskcompletion", ""},
		{"parallel tasks: at most 3", parallelFormula, Env{Samples: pending(100), TargetDedicatedNodes: 1}, 3, 0, "taskcompletion", ""},
		{"preempted: 2 preempted become dedicated", preemptedFormula, Env{Samples: full(6, map[string]float64{PreemptedNodeCount: 2})}, 2, 23, "taskcompletion", ""},
		{"cpu: busy pool grows 10%", cpuFormula, Env{CurrentDedicatedNodes: 10, Samples: full(120, map[string]float64{CPUPercent: 0.9})}, 11, 0, "requeue", ""},
		{"cpu: idle pool shrinks 10%", cpuFormula, Env{CurrentDedicatedNodes: 10, Samples: full(120, map[string]float64{CPUPercent: 0.1})}, 9, 0, "requeue", ""},
		{"initial size: first 10 minutes", initial, Env{Now: time.Date(2016, 10, 13, 19, 5, 0, 0, time.UTC)}, 4, 0, "requeue", ""},
		{"initial size: idle after startup", initial, Env{Samples: full(120, map[string]float64{}), TargetDedicatedNodes: 4}, 0, 0, "requeue", ""},
		{"initial size: busy after startup keeps its target", initial, Env{Samples: full(120, map[string]float64{RunningTasks: 1}), TargetDedicatedNodes: 4}, 4, 0, "requeue", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := run(t, tc.formula, tc.env)
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if r.TargetDedicatedNodes != tc.dedicated || r.TargetLowPriorityNodes != tc.low || r.NodeDeallocationOption != tc.option {
				t.Errorf("got dedicated %d, low %d, %s; want %d, %d, %s (results %s)", r.TargetDedicatedNodes, r.TargetLowPriorityNodes,
					r.NodeDeallocationOption, tc.dedicated, tc.low, tc.option, r.Results)
			}
			if tc.results != "" && r.Results != tc.results {
				t.Errorf("results\n got %s\nwant %s", r.Results, tc.results)
			}
		})
	}
}

func TestExpressions(t *testing.T) {
	env := Env{Samples: pending(1, 2, 3, 4), CurrentDedicatedNodes: 3, TaskSlotsPerNode: 2, Rand: func() float64 { return 0.25 }}
	tests := []struct{ expr, want string }{
		{"1 + 2 * 3", "7"},
		{"(1 + 2) * 3", "9"},
		{"-2 - -3", "1"},
		{"10 / 4", "2.5"},
		{"!0 + !5", "1"},
		{"1 < 2 && 2 <= 2 && 3 > 2 && 3 >= 3 && 1 == 1 && 1 != 2", "1"},
		{"0 || 0", "0"},
		{"0 ? 1 : 2 ? 3 : 4", "3"},
		{`"a" < "b"`, "1"},
		{"TimeInterval_Minute * 5 == 300 * TimeInterval_Second", "1"},
		{"TimeInterval_Hour / 2", "00:30:00"},
		{"2 * TimeInterval_Day + TimeInterval_Minute", "2.00:01:00"},
		{"-TimeInterval_Second", "-00:00:01"},
		{"time() + TimeInterval_Hour", "2016-10-13T20:18:47.805Z"},
		{`time("2016-10-13T18:18:47.805Z") < time()`, "1"},
		{`time() - time("2016-10-13T19:18:47.805Z")`, "00:00:00"},
		{`time("Thu, 13 Oct 2016 19:00:00 GMT").minute`, "0"},
		{"time().year * 10000 + time().month * 100 + time().day", "20161013"},
		{"time().weekday", "4"},
		{"avg(1, 2, 3, 7)", "3.25"},
		{"sum($PendingTasks.GetSample(4))", "10"},
		{"$PendingTasks.GetSample(2)", "[4,3]"},
		{"$PendingTasks.GetSample(2) * 2 + 1", "[9,7]"},
		{"$PendingTasks.GetSample(2) + $PendingTasks.GetSample(2)", "[8,6]"},
		{"len($PendingTasks.GetSample(10), 5)", "5"},
		{"count(1, 2)", "2"},
		{"min(3, $PendingTasks.GetSample(4))", "1"},
		{"max(3, $PendingTasks.GetSample(4))", "4"},
		{"range(1, 5, 3)", "4"},
		{"std(2, 4, 4, 4, 5, 5, 7, 9)", "2.138089935299395"},
		{"norm(3, 4)", "5"},
		{"percentile($PendingTasks.GetSample(4), 50)", "2.5"},
		{"val($PendingTasks.GetSample(4), 0)", "4"},
		{"lg(8) + ln(1) + log(100)", "5"},
		{"lg($PendingTasks.GetSample(2))", "[2,1.5849625007211563]"},
		{"abs(-2) + ceil(1.2) + floor(1.8) + round(2.5)", "8"},
		{"rand()", "0.25"},
		{"$PendingTasks.Count()", "4"},
		{"$PendingTasks.GetSamplePeriod()", "00:00:30"},
		{"$PendingTasks.HistoricBeginTime()", "2016-10-13T19:17:17.805Z"},
		{"$PendingTasks.GetSamplePercent(TimeInterval_Minute * 4)", "50"},
		{"$PendingTasks.GetSamplePercent(TimeInterval_Minute * 4, TimeInterval_Minute)", "33.333333333333336"},
		{"$PendingTasks.GetSample(TimeInterval_Second * 61)", "[4,3,2]"},
		{"$PendingTasks.GetSample(TimeInterval_Second * 31, TimeInterval_Second * 91)", "[2,1]"},
		{"$PendingTasks.GetSample(TimeInterval_Minute * 2, 100)", "[4,3,2,1]"},
		{"$CurrentDedicatedNodes * $TaskSlotsPerNode", "6"},
		{"$TargetDedicatedNodes", "0"},
		{"requeue", "requeue"},
	}
	for _, tc := range tests {
		t.Run(tc.expr, func(t *testing.T) {
			r, err := run(t, "$x = "+tc.expr+";", env)
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			got := r.Results[strings.Index(r.Results, "$x=")+3:]
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestStatements(t *testing.T) {
	tests := []struct{ name, formula, results string }{
		{"user variables with and without $", "a = 1; $a = a + 1; b = $a * 2", "$a=2;$b=4"},
		{"alias of the target", "$TargetDedicated = 3", ""},
		{"stop keeps what was set before it", "$TargetDedicatedNodes = 2; stop(); $TargetDedicatedNodes = 5", ""},
		{"comments and blank statements", "/* block */ ;; $TargetDedicatedNodes = 1; // line\n", ""},
		{"fractional targets are truncated", "$TargetDedicatedNodes = 2.9; $TargetLowPriorityNodes = 0.5", ""},
		{"deallocation option in any case", "$NodeDeallocationOption = \"TaskCompletion\"", ""},
	}
	want := map[string]string{
		"alias of the target":               "$TargetDedicatedNodes=3;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue",
		"stop keeps what was set before it": "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue",
		"comments and blank statements":     "$TargetDedicatedNodes=1;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue",
		"fractional targets are truncated":  "$TargetDedicatedNodes=2;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue",
		"deallocation option in any case":   "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=taskcompletion",
		"user variables with and without $": "$TargetDedicatedNodes=0;$TargetLowPriorityNodes=0;$NodeDeallocationOption=requeue;$a=2;$b=4",
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := run(t, tc.formula, Env{})
			if err != nil {
				t.Fatalf("evaluate: %v", err)
			}
			if r.Results != want[tc.name] {
				t.Errorf("results\n got %s\nwant %s", r.Results, want[tc.name])
			}
		})
	}
}

func TestErrors(t *testing.T) {
	long := "$TargetDedicatedNodes = 1;" + strings.Repeat(" ", MaxFormulaLength)
	many := strings.Repeat("a = 1;", MaxStatements+1)
	deep := "$x = " + strings.Repeat("(", 500) + "1" + strings.Repeat(")", 500)
	tests := []struct {
		name, formula, code, detail string
		env                         Env
	}{
		{"missing semicolon", "$a = 1\n$b = 2", CodeSyntaxError, "Line 2, Col 1: expected ';' before '$b'", Env{}},
		{"missing operand", "$a = 1 +;", CodeSyntaxError, "Line 1, Col 9: expected a value but found ';'", Env{}},
		{"unknown function", "$a = foo(1);", CodeSyntaxError, "Line 1, Col 6: unknown function foo", Env{}},
		{"read-only variable", "$PendingTasks = 1;", CodeSyntaxError, "Line 1, Col 1: $PendingTasks is read-only", Env{}},
		{"unterminated string", `$a = "x`, CodeSyntaxError, "Line 1, Col 6: unterminated string", Env{}},
		{"bad character", "$a = 1 # 2", CodeSyntaxError, "Line 1, Col 8: unexpected character '#'", Env{}},
		{"empty", " // nothing", CodeSyntaxError, "Line 1, Col 1: the formula has no statement", Env{}},
		{"too long", long, CodeSyntaxError, "Line 1, Col 1: the formula is 8218 bytes long; the most is 8192", Env{}},
		{"too many statements", many, CodeSyntaxError, "Line 1, Col 601: the formula has more than 100 statements", Env{}},
		{"too deep", deep, CodeSyntaxError, "the expression is nested more than 100 deep", Env{}},
		{"undefined variable", "$TargetDedicatedNodes = nodes;", CodeEvaluationError, "Line 1, Col 25: nodes is not defined", Env{}},
		{"sampled variable as a value", "$TargetDedicatedNodes = $PendingTasks + 1;", CodeEvaluationError,
			"Line 1, Col 25: $PendingTasks is a sampled variable; use one of its methods, e.g. $PendingTasks.GetSample(1)", Env{}},
		{"division by zero", "$a = 1 / 0;", CodeEvaluationError, "Line 1, Col 8: division by zero", Env{}},
		{"type mismatch", `$a = "x" + 1;`, CodeEvaluationError, "Line 1, Col 10: operator + does not apply to a string and a double", Env{}},
		{"negative target", "$TargetDedicatedNodes = -1;", CodeEvaluationError, "Line 1, Col 1: $TargetDedicatedNodes is -1", Env{}},
		{"bad deallocation option", "$NodeDeallocationOption = \"later\";", CodeEvaluationError, "must be one of requeue, terminate, taskcompletion, retaineddata", Env{}},
		{"avg of nothing", "$TargetDedicatedNodes = avg($PendingTasks.GetSample(TimeInterval_Minute));", CodeEvaluationError, "Line 1, Col 25: avg of an empty list", Env{}},
		{"insufficient samples", "$a = 1;\n$TargetDedicatedNodes = avg($CPUPercent.GetSample(TimeInterval_Minute * 5, 70));", CodeInsufficientSampleData,
			"Line 2, Col 41: Insufficient data from data set: $CPUPercent wanted 70%, received 30%", Env{Samples: pending(0, 0, 0)}},
		{"vectors of different lengths", "$a = $PendingTasks.GetSample(1) + $PendingTasks.GetSample(2);", CodeEvaluationError,
			"vectors have different lengths", Env{Samples: pending(1, 2)}},
		{"unknown method", "$a = $PendingTasks.Foo();", CodeEvaluationError, "$PendingTasks has no method Foo", Env{}},
		{"unknown field", "$a = time().century;", CodeEvaluationError, "a timestamp has no field century", Env{}},
		{"bad date", `$a = time("yesterday");`, CodeEvaluationError, `"yesterday" is not a W3C-DTF or RFC 1123 date-time`, Env{}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := run(t, tc.formula, tc.env)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("got %v, want an *Error", err)
			}
			if e.Code != tc.code || !strings.Contains(e.Detail, tc.detail) {
				t.Errorf("got %s %q, want %s containing %q", e.Code, e.Detail, tc.code, tc.detail)
			}
		})
	}
}

// TestStepBudget pins that an evaluation over long vectors stops at the
// step budget instead of running on.
func TestStepBudget(t *testing.T) {
	samples := history(20000, func(int) map[string]float64 { return map[string]float64{PendingTasks: 1} })
	expr := "$PendingTasks.GetSample(20000)"
	for i := 0; i < 8; i++ {
		expr = "(" + expr + " + " + expr + ")"
		if len(expr) > 4000 {
			break
		}
	}
	var b strings.Builder
	for b.Len() < MaxFormulaLength-len(expr)-10 {
		b.WriteString("$a = " + expr + ";")
		if strings.Count(b.String(), ";") >= MaxStatements {
			break
		}
	}
	_, err := run(t, b.String(), Env{Samples: samples})
	var e *Error
	if !errors.As(err, &e) || e.Code != CodeEvaluationError || !strings.Contains(e.Detail, "evaluation steps") {
		t.Fatalf("got %v, want the step budget error", err)
	}
}
