package autoscale

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"
)

// DefaultSamplePeriod is how often the service records a sample of each
// sampled variable (Azure: every 30 seconds).
const DefaultSamplePeriod = 30 * time.Second

// MaxSteps bounds the work of one evaluation: every expression node and
// every vector element it touches is a step.
const MaxSteps = 1 << 22

// Sample is the value of every sampled variable at one time.
type Sample struct {
	Time time.Time `json:"t"`
	// Values by variable name ("$PendingTasks"); a variable missing from
	// a sample reads as 0.
	Values map[string]float64 `json:"v"`
}

// Env is what a formula is evaluated against.
type Env struct {
	// Now is the evaluation time: time() and the sample windows use it.
	Now time.Time
	// Current and target node counts and the pool's task slots per node.
	CurrentDedicatedNodes, CurrentLowPriorityNodes float64
	TargetDedicatedNodes, TargetLowPriorityNodes   float64
	TaskSlotsPerNode                               float64
	// Samples is the sampled variables' history, oldest first.
	Samples []Sample
	// SamplePeriod is the interval between samples (DefaultSamplePeriod
	// when zero); GetSamplePercent counts the samples a window should hold
	// with it.
	SamplePeriod time.Duration
	// Rand returns a number in [0, 1) for rand(); nil: rand() returns 0.5.
	Rand func() float64
}

// Result is a successful evaluation.
type Result struct {
	TargetDedicatedNodes, TargetLowPriorityNodes int32
	// NodeDeallocationOption is requeue, terminate, taskcompletion or
	// retaineddata (default requeue).
	NodeDeallocationOption string
	// Results is the AutoScaleRun results string: the targets, the
	// deallocation option, then every user variable by name.
	Results string
}

type kind int

const (
	kDouble kind = iota
	kVec
	kString
	kTime
	kInterval
	kMetric
	kNone
)

var kindNames = [...]string{"double", "doubleVec", "string", "timestamp", "timeinterval", "sampled variable", "nothing"}

func (k kind) String() string { return kindNames[k] }

type value struct {
	k kind
	d float64
	v []float64
	s string
	t time.Time
	i time.Duration
	m string // sampled variable name
}

func dbl(d float64) value { return value{k: kDouble, d: d} }
func boolean(b bool) value {
	if b {
		return dbl(1)
	}
	return dbl(0)
}

// errStop ends an evaluation early at stop().
type errStop struct{}

func (errStop) Error() string { return "stop" }

type evaluator struct {
	env   Env
	vars  map[string]value
	steps int
}

// Evaluate runs a parsed formula against env. An error is an *Error.
func Evaluate(f *Formula, env Env) (*Result, error) {
	if env.SamplePeriod <= 0 {
		env.SamplePeriod = DefaultSamplePeriod
	}
	e := &evaluator{env: env, vars: map[string]value{
		TargetDedicatedNodes:   dbl(env.TargetDedicatedNodes),
		TargetLowPriorityNodes: dbl(env.TargetLowPriorityNodes),
		NodeDeallocationOption: {k: kString, s: "requeue"},
	}}
	for _, st := range f.stmts {
		v, err := e.eval(st.x)
		if _, ok := err.(errStop); ok {
			break
		}
		if err != nil {
			return nil, err
		}
		if st.target == "" {
			continue
		}
		if v.k == kMetric {
			return nil, evalErr(st.x.at(), "%s is a sampled variable; assign one of its samples, e.g. %s.GetSample(1)", v.m, v.m)
		}
		if v.k == kNone {
			return nil, evalErr(st.x.at(), "the expression has no value")
		}
		e.vars[st.target] = v
	}
	return e.result(f)
}

func (e *evaluator) result(f *Formula) (*Result, error) {
	r := &Result{}
	pos := func(name string) Pos {
		for i := len(f.stmts) - 1; i >= 0; i-- {
			if f.stmts[i].target == name {
				return f.stmts[i].p
			}
		}
		return Pos{1, 1}
	}
	for _, t := range []struct {
		name string
		dst  *int32
	}{{TargetDedicatedNodes, &r.TargetDedicatedNodes}, {TargetLowPriorityNodes, &r.TargetLowPriorityNodes}} {
		v := e.vars[t.name]
		if v.k == kVec && len(v.v) == 1 {
			v = dbl(v.v[0])
		}
		if v.k != kDouble {
			return nil, evalErr(pos(t.name), "%s must be a double, not a %s", t.name, v.k)
		}
		if math.IsNaN(v.d) || v.d < 0 || v.d > math.MaxInt32 {
			return nil, evalErr(pos(t.name), "%s is %s; it must be a number from 0 to %d", t.name, format(v), math.MaxInt32)
		}
		// Azure truncates a fractional target (its sample formulas add 3
		// before dividing by 4 to round up).
		*t.dst = int32(v.d)
	}
	o := e.vars[NodeDeallocationOption]
	if o.k != kString || !isDeallocation(o.s) {
		return nil, evalErr(pos(NodeDeallocationOption), "%s is %s; it must be one of %s", NodeDeallocationOption, format(o), strings.Join(DeallocationOptions, ", "))
	}
	r.NodeDeallocationOption = strings.ToLower(o.s)
	parts := []string{
		TargetDedicatedNodes + "=" + strconv.Itoa(int(r.TargetDedicatedNodes)),
		TargetLowPriorityNodes + "=" + strconv.Itoa(int(r.TargetLowPriorityNodes)),
		NodeDeallocationOption + "=" + r.NodeDeallocationOption,
	}
	var users []string
	for n := range e.vars {
		if !strings.HasPrefix(n, "$") {
			users = append(users, n)
		}
	}
	sort.Slice(users, func(i, j int) bool {
		a, b := strings.ToLower(users[i]), strings.ToLower(users[j])
		if a != b {
			return a < b
		}
		return users[i] < users[j]
	})
	for _, n := range users {
		parts = append(parts, "$"+n+"="+format(e.vars[n]))
	}
	r.Results = strings.Join(parts, ";")
	return r, nil
}

func isDeallocation(s string) bool {
	for _, o := range DeallocationOptions {
		if strings.EqualFold(o, s) {
			return true
		}
	}
	return false
}

// format renders a value as the results string shows it.
func format(v value) string {
	switch v.k {
	case kDouble:
		return fmtNum(v.d)
	case kVec:
		s := make([]string, len(v.v))
		for i, x := range v.v {
			s[i] = fmtNum(x)
		}
		return "[" + strings.Join(s, ",") + "]"
	case kString:
		return v.s
	case kTime:
		return v.t.UTC().Format("2006-01-02T15:04:05.000Z")
	case kInterval:
		return fmtInterval(v.i)
	case kMetric:
		return v.m
	}
	return ""
}

func fmtNum(f float64) string {
	if math.Abs(f) < 1e15 {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// fmtInterval renders a duration as .NET prints a TimeSpan: [-][d.]hh:mm:ss[.fffffff].
func fmtInterval(d time.Duration) string {
	sign := ""
	if d < 0 {
		sign, d = "-", -d
	}
	days := d / (24 * time.Hour)
	d -= days * 24 * time.Hour
	s := fmt.Sprintf("%02d:%02d:%02d", d/time.Hour, d%time.Hour/time.Minute, d%time.Minute/time.Second)
	if days > 0 {
		s = fmt.Sprintf("%d.%s", days, s)
	}
	if frac := d % time.Second / 100; frac > 0 {
		s += fmt.Sprintf(".%07d", frac)
	}
	return sign + s
}

func (e *evaluator) step(n int, p Pos) error {
	e.steps += n
	if e.steps > MaxSteps {
		return evalErr(p, "the formula needs more than %d evaluation steps", MaxSteps)
	}
	return nil
}

func (e *evaluator) eval(x expr) (value, error) {
	if err := e.step(1, x.at()); err != nil {
		return value{}, err
	}
	switch x := x.(type) {
	case *numLit:
		return dbl(x.v), nil
	case *strLit:
		return value{k: kString, s: x.s}, nil
	case *ident:
		return e.lookup(x)
	case *unary:
		v, err := e.eval(x.x)
		if err != nil {
			return v, err
		}
		return e.unary(x, v)
	case *binary:
		return e.binary(x)
	case *ternary:
		c, err := e.eval(x.c)
		if err != nil {
			return c, err
		}
		if c.k != kDouble {
			return c, evalErr(x.c.at(), "the condition of '?' must be a double, not a %s", c.k)
		}
		if c.d != 0 {
			return e.eval(x.a)
		}
		return e.eval(x.b)
	case *call:
		return e.call(x)
	case *method:
		return e.method(x)
	case *member:
		return e.member(x)
	}
	return value{}, evalErr(x.at(), "unknown expression")
}

func (e *evaluator) lookup(x *ident) (value, error) {
	name := canonical(x.name)
	if v, ok := e.vars[name]; ok {
		return v, nil
	}
	if sv, ok := serviceVars[name]; ok {
		switch {
		case sv.sampled:
			return value{k: kMetric, m: name}, nil
		case name == CurrentDedicatedNodes:
			return dbl(e.env.CurrentDedicatedNodes), nil
		case name == CurrentLowPriorityNodes:
			return dbl(e.env.CurrentLowPriorityNodes), nil
		case name == TaskSlotsPerNode:
			return dbl(e.env.TaskSlotsPerNode), nil
		}
	}
	if d, ok := constants[x.name]; ok {
		return value{k: kInterval, i: d}, nil
	}
	if isDeallocation(x.name) && !strings.HasPrefix(x.name, "$") {
		return value{k: kString, s: strings.ToLower(x.name)}, nil
	}
	return value{}, evalErr(x.p, "%s is not defined", x.name)
}

func notMetric(v value, p Pos) error {
	if v.k == kMetric {
		return evalErr(p, "%s is a sampled variable; use one of its methods, e.g. %s.GetSample(1)", v.m, v.m)
	}
	return nil
}

func (e *evaluator) unary(x *unary, v value) (value, error) {
	if err := notMetric(v, x.x.at()); err != nil {
		return v, err
	}
	switch {
	case x.op == "-" && v.k == kDouble:
		return dbl(-v.d), nil
	case x.op == "-" && v.k == kInterval:
		return value{k: kInterval, i: -v.i}, nil
	case x.op == "-" && v.k == kVec:
		if err := e.step(len(v.v), x.p); err != nil {
			return v, err
		}
		out := make([]float64, len(v.v))
		for i, f := range v.v {
			out[i] = -f
		}
		return value{k: kVec, v: out}, nil
	case x.op == "!" && v.k == kDouble:
		return boolean(v.d == 0), nil
	}
	return v, evalErr(x.p, "operator %s does not apply to a %s", x.op, v.k)
}

func (e *evaluator) binary(x *binary) (value, error) {
	l, err := e.eval(x.l)
	if err != nil {
		return l, err
	}
	if err := notMetric(l, x.l.at()); err != nil {
		return l, err
	}
	if x.op == "&&" || x.op == "||" {
		if l.k != kDouble {
			return l, evalErr(x.p, "operator %s needs doubles, not a %s", x.op, l.k)
		}
		if x.op == "&&" && l.d == 0 || x.op == "||" && l.d != 0 {
			return boolean(l.d != 0), nil
		}
		r, err := e.eval(x.r)
		if err != nil {
			return r, err
		}
		if r.k != kDouble {
			return r, evalErr(x.p, "operator %s needs doubles, not a %s", x.op, r.k)
		}
		return boolean(r.d != 0), nil
	}
	r, err := e.eval(x.r)
	if err != nil {
		return r, err
	}
	if err := notMetric(r, x.r.at()); err != nil {
		return r, err
	}
	bad := func() (value, error) {
		return value{}, evalErr(x.p, "operator %s does not apply to a %s and a %s", x.op, l.k, r.k)
	}
	switch x.op {
	case "==", "!=", "<", "<=", ">", ">=":
		var c int
		switch {
		case l.k == kDouble && r.k == kDouble:
			c = cmpFloat(l.d, r.d)
		case l.k == kString && r.k == kString:
			c = strings.Compare(l.s, r.s)
		case l.k == kTime && r.k == kTime:
			c = l.t.Compare(r.t)
		case l.k == kInterval && r.k == kInterval:
			c = cmpFloat(float64(l.i), float64(r.i))
		default:
			return bad()
		}
		switch x.op {
		case "==":
			return boolean(c == 0), nil
		case "!=":
			return boolean(c != 0), nil
		case "<":
			return boolean(c < 0), nil
		case "<=":
			return boolean(c <= 0), nil
		case ">":
			return boolean(c > 0), nil
		}
		return boolean(c >= 0), nil
	}
	switch {
	case l.k == kDouble && r.k == kDouble:
		d, err := arith(x.op, l.d, r.d, x.p)
		return dbl(d), err
	case l.k == kVec || r.k == kVec:
		return e.vecArith(x, l, r)
	case l.k == kInterval && r.k == kInterval && (x.op == "+" || x.op == "-"):
		if x.op == "+" {
			return value{k: kInterval, i: l.i + r.i}, nil
		}
		return value{k: kInterval, i: l.i - r.i}, nil
	case l.k == kInterval && r.k == kDouble && (x.op == "*" || x.op == "/"):
		f, err := arith(x.op, float64(l.i), r.d, x.p)
		return interval(f, x.p, err)
	case l.k == kDouble && r.k == kInterval && x.op == "*":
		return interval(l.d*float64(r.i), x.p, nil)
	case l.k == kTime && r.k == kInterval && (x.op == "+" || x.op == "-"):
		if x.op == "+" {
			return value{k: kTime, t: l.t.Add(r.i)}, nil
		}
		return value{k: kTime, t: l.t.Add(-r.i)}, nil
	case l.k == kInterval && r.k == kTime && x.op == "+":
		return value{k: kTime, t: r.t.Add(l.i)}, nil
	case l.k == kTime && r.k == kTime && x.op == "-":
		return value{k: kInterval, i: l.t.Sub(r.t)}, nil
	}
	return bad()
}

func interval(f float64, p Pos, err error) (value, error) {
	if err != nil {
		return value{}, err
	}
	if math.IsNaN(f) || math.Abs(f) > math.MaxInt64 {
		return value{}, evalErr(p, "the time interval is out of range")
	}
	return value{k: kInterval, i: time.Duration(f)}, nil
}

func cmpFloat(a, b float64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func arith(op string, a, b float64, p Pos) (float64, error) {
	switch op {
	case "+":
		return a + b, nil
	case "-":
		return a - b, nil
	case "*":
		return a * b, nil
	case "/":
		if b == 0 {
			return 0, evalErr(p, "division by zero")
		}
		return a / b, nil
	}
	return 0, evalErr(p, "unknown operator %s", op)
}

func (e *evaluator) vecArith(x *binary, l, r value) (value, error) {
	if (l.k != kVec && l.k != kDouble) || (r.k != kVec && r.k != kDouble) {
		return value{}, evalErr(x.p, "operator %s does not apply to a %s and a %s", x.op, l.k, r.k)
	}
	n := len(l.v)
	if l.k != kVec {
		n = len(r.v)
	}
	if l.k == kVec && r.k == kVec && len(l.v) != len(r.v) {
		return value{}, evalErr(x.p, "the vectors have different lengths (%d and %d)", len(l.v), len(r.v))
	}
	if err := e.step(n, x.p); err != nil {
		return value{}, err
	}
	at := func(v value, i int) float64 {
		if v.k == kVec {
			return v.v[i]
		}
		return v.d
	}
	out := make([]float64, n)
	for i := range out {
		f, err := arith(x.op, at(l, i), at(r, i), x.p)
		if err != nil {
			return value{}, err
		}
		out[i] = f
	}
	return value{k: kVec, v: out}, nil
}

func (e *evaluator) member(x *member) (value, error) {
	v, err := e.eval(x.recv)
	if err != nil {
		return v, err
	}
	if v.k != kTime {
		return v, evalErr(x.p, "a %s has no field %s", v.k, x.name)
	}
	t := v.t.UTC()
	switch strings.ToLower(x.name) {
	case "year":
		return dbl(float64(t.Year())), nil
	case "month":
		return dbl(float64(t.Month())), nil
	case "day":
		return dbl(float64(t.Day())), nil
	case "weekday":
		return dbl(float64(t.Weekday())), nil
	case "hour":
		return dbl(float64(t.Hour())), nil
	case "minute":
		return dbl(float64(t.Minute())), nil
	case "second":
		return dbl(float64(t.Second())), nil
	}
	return v, evalErr(x.p, "a timestamp has no field %s (year, month, day, weekday, hour, minute, second)", x.name)
}
