package autoscale

import (
	"math"
	"sort"
	"strings"
	"time"
)

// functions are the built-in functions by lower-case name.
var functions = map[string]bool{
	"avg": true, "len": true, "count": true, "lg": true, "ln": true, "log": true, "max": true, "min": true,
	"norm": true, "percentile": true, "rand": true, "range": true, "std": true, "stop": true, "sum": true,
	"time": true, "val": true, "abs": true, "ceil": true, "floor": true, "round": true,
}

func (e *evaluator) args(xs []expr) ([]value, error) {
	out := make([]value, len(xs))
	for i, x := range xs {
		v, err := e.eval(x)
		if err != nil {
			return nil, err
		}
		if err := notMetric(v, x.at()); err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// flatten turns a doubleVecList (doubles and doubleVecs) into one vector.
func (e *evaluator) flatten(c *call, args []value) ([]float64, error) {
	var out []float64
	for i, a := range args {
		switch a.k {
		case kDouble:
			out = append(out, a.d)
		case kVec:
			out = append(out, a.v...)
		default:
			return nil, evalErr(c.args[i].at(), "%s takes doubles and doubleVecs, not a %s", c.name, a.k)
		}
	}
	return out, e.step(len(out), c.p)
}

func (e *evaluator) call(c *call) (value, error) {
	if c.name == "stop" {
		if len(c.args) != 0 {
			return value{}, evalErr(c.p, "stop takes no arguments")
		}
		return value{}, errStop{}
	}
	args, err := e.args(c.args)
	if err != nil {
		return value{}, err
	}
	nargs := func(min, max int) error {
		if len(args) < min || len(args) > max {
			if min == max {
				return evalErr(c.p, "%s takes %d argument(s), not %d", c.name, min, len(args))
			}
			return evalErr(c.p, "%s takes %d to %d arguments, not %d", c.name, min, max, len(args))
		}
		return nil
	}
	switch c.name {
	case "rand":
		if err := nargs(0, 0); err != nil {
			return value{}, err
		}
		if e.env.Rand == nil {
			return dbl(0.5), nil
		}
		return dbl(e.env.Rand()), nil
	case "time":
		if err := nargs(0, 1); err != nil {
			return value{}, err
		}
		if len(args) == 0 || args[0].k == kString && args[0].s == "" {
			return value{k: kTime, t: e.env.Now.UTC()}, nil
		}
		if args[0].k != kString {
			return value{}, evalErr(c.p, "time takes a string, not a %s", args[0].k)
		}
		for _, layout := range []string{time.RFC3339Nano, time.RFC1123, time.RFC1123Z, "2006-01-02T15:04Z07:00", "2006-01-02", "2006-01"} {
			if t, err := time.Parse(layout, strings.TrimSpace(args[0].s)); err == nil {
				return value{k: kTime, t: t.UTC()}, nil
			}
		}
		return value{}, evalErr(c.args[0].at(), "%q is not a W3C-DTF or RFC 1123 date-time", args[0].s)
	case "val":
		if err := nargs(2, 2); err != nil {
			return value{}, err
		}
		v, err := e.flatten(c, args[:1])
		if err != nil {
			return value{}, err
		}
		if args[1].k != kDouble {
			return value{}, evalErr(c.args[1].at(), "val's index must be a double, not a %s", args[1].k)
		}
		i := args[1].d
		if i < 0 || int(i) >= len(v) || math.IsNaN(i) {
			return value{}, evalErr(c.args[1].at(), "index %s is outside the vector of %d values", fmtNum(i), len(v))
		}
		return dbl(v[int(i)]), nil
	case "percentile":
		if err := nargs(2, 2); err != nil {
			return value{}, err
		}
		v, err := e.flatten(c, args[:1])
		if err != nil {
			return value{}, err
		}
		if args[1].k != kDouble || args[1].d < 0 || args[1].d > 100 || math.IsNaN(args[1].d) {
			return value{}, evalErr(c.args[1].at(), "percentile's p must be a double from 0 to 100")
		}
		if len(v) == 0 {
			return value{}, evalErr(c.p, "percentile of an empty vector")
		}
		return dbl(percentile(v, args[1].d)), nil
	case "lg", "ln", "log", "abs", "ceil", "floor", "round":
		if err := nargs(1, math.MaxInt); err != nil {
			return value{}, err
		}
		fn := map[string]func(float64) float64{"lg": math.Log2, "ln": math.Log, "log": math.Log10, "abs": math.Abs,
			"ceil": math.Ceil, "floor": math.Floor, "round": math.Round}[c.name]
		if len(args) == 1 && args[0].k == kDouble {
			return dbl(fn(args[0].d)), nil
		}
		v, err := e.flatten(c, args)
		if err != nil {
			return value{}, err
		}
		out := make([]float64, len(v))
		for i, f := range v {
			out[i] = fn(f)
		}
		return value{k: kVec, v: out}, nil
	}
	// The rest reduce a doubleVecList to a double.
	v, err := e.flatten(c, args)
	if err != nil {
		return value{}, err
	}
	switch c.name {
	case "len", "count":
		return dbl(float64(len(v))), nil
	case "sum":
		return dbl(sum(v)), nil
	case "norm":
		s := 0.0
		for _, f := range v {
			s += f * f
		}
		return dbl(math.Sqrt(s)), nil
	}
	if len(v) == 0 {
		return value{}, evalErr(c.p, "%s of an empty list", c.name)
	}
	switch c.name {
	case "avg":
		return dbl(sum(v) / float64(len(v))), nil
	case "min", "max", "range":
		lo, hi := v[0], v[0]
		for _, f := range v[1:] {
			lo, hi = math.Min(lo, f), math.Max(hi, f)
		}
		return dbl(map[string]float64{"min": lo, "max": hi, "range": hi - lo}[c.name]), nil
	case "std":
		if len(v) < 2 {
			return dbl(0), nil
		}
		m := sum(v) / float64(len(v))
		s := 0.0
		for _, f := range v {
			s += (f - m) * (f - m)
		}
		return dbl(math.Sqrt(s / float64(len(v)-1))), nil
	}
	return value{}, evalErr(c.p, "unknown function %s", c.name)
}

func sum(v []float64) float64 {
	s := 0.0
	for _, f := range v {
		s += f
	}
	return s
}

// percentile interpolates linearly between the closest ranks (the method
// of numpy's default); Azure does not document its method.
func percentile(v []float64, p float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	r := p / 100 * float64(len(s)-1)
	lo := int(math.Floor(r))
	if lo >= len(s)-1 {
		return s[len(s)-1]
	}
	return s[lo] + (r-float64(lo))*(s[lo+1]-s[lo])
}

// method runs a sampled variable's method.
func (e *evaluator) method(m *method) (value, error) {
	recv, err := e.eval(m.recv)
	if err != nil {
		return recv, err
	}
	if recv.k != kMetric {
		return recv, evalErr(m.p, "a %s has no method %s", recv.k, m.name)
	}
	args, err := e.args(m.args)
	if err != nil {
		return value{}, err
	}
	name := recv.m
	hist := e.env.Samples
	if err := e.step(len(hist), m.p); err != nil {
		return value{}, err
	}
	switch strings.ToLower(m.name) {
	case "count":
		if len(args) != 0 {
			return value{}, evalErr(m.p, "Count takes no arguments")
		}
		return dbl(float64(len(hist))), nil
	case "getsampleperiod":
		if len(args) != 0 {
			return value{}, evalErr(m.p, "GetSamplePeriod takes no arguments")
		}
		return value{k: kInterval, i: e.env.SamplePeriod}, nil
	case "historicbegintime", "historybegintime":
		if len(args) != 0 {
			return value{}, evalErr(m.p, "%s takes no arguments", m.name)
		}
		if len(hist) == 0 {
			return value{}, sampleErr(m.p, "%s has no samples yet", name)
		}
		return value{k: kTime, t: hist[0].Time.UTC()}, nil
	case "getsamplepercent":
		if len(args) < 1 || len(args) > 2 {
			return value{}, evalErr(m.p, "GetSamplePercent takes a start and optionally an end time")
		}
		from, to, err := e.window(m, args)
		if err != nil {
			return value{}, err
		}
		_, pct := e.samples(name, from, to)
		return dbl(pct), nil
	case "getsample":
		if len(args) == 1 && args[0].k == kDouble {
			n := args[0].d
			if n < 0 || math.IsNaN(n) {
				return value{}, evalErr(m.args[0].at(), "GetSample's count must be at least 0")
			}
			out := []float64{}
			for i := len(hist) - 1; i >= 0 && float64(len(out)) < n; i-- {
				out = append(out, hist[i].Values[name])
			}
			return value{k: kVec, v: out}, nil
		}
		if len(args) < 1 || len(args) > 3 {
			return value{}, evalErr(m.p, "GetSample takes a count, or a start time, an optional end time and an optional sample percent")
		}
		want := 0.0
		if last := args[len(args)-1]; len(args) > 1 && last.k == kDouble {
			want, args = last.d, args[:len(args)-1]
			if want < 0 || want > 100 || math.IsNaN(want) {
				return value{}, evalErr(m.args[len(args)].at(), "samplePercent must be from 0 to 100")
			}
		}
		from, to, err := e.window(m, args)
		if err != nil {
			return value{}, err
		}
		v, pct := e.samples(name, from, to)
		if pct < want {
			return value{}, sampleErr(m.p, "Insufficient data from data set: %s wanted %s%%, received %s%%", name, fmtNum(want), fmtNum(math.Floor(pct)))
		}
		return value{k: kVec, v: v}, nil
	}
	return value{}, evalErr(m.p, "%s has no method %s (GetSample, GetSamplePercent, GetSamplePeriod, Count, HistoricBeginTime)", name, m.name)
}

// window turns GetSample's time arguments into a time range. A time
// interval counts back from now; one argument is the window's start and
// now its end; with two, the later time is the end.
func (e *evaluator) window(m *method, args []value) (from, to time.Time, err error) {
	if len(args) > 2 {
		return from, to, evalErr(m.p, "%s takes at most two times", m.name)
	}
	ts := make([]time.Time, len(args))
	for i, a := range args {
		switch a.k {
		case kInterval:
			ts[i] = e.env.Now.Add(-a.i)
		case kTime:
			ts[i] = a.t
		default:
			return from, to, evalErr(m.args[i].at(), "%s takes a timestamp or timeinterval here, not a %s", m.name, a.k)
		}
	}
	from, to = ts[0], e.env.Now
	if len(ts) == 2 {
		from, to = ts[0], ts[1]
		if to.Before(from) {
			from, to = to, from
		}
	}
	return from, to, nil
}

// samples returns the variable's samples taken in (from, to], newest first,
// and what percentage they are of the samples the window should hold.
func (e *evaluator) samples(name string, from, to time.Time) ([]float64, float64) {
	out := []float64{}
	for i := len(e.env.Samples) - 1; i >= 0; i-- {
		s := e.env.Samples[i]
		if s.Time.After(from) && !s.Time.After(to) {
			out = append(out, s.Values[name])
		}
	}
	expected := int(to.Sub(from) / e.env.SamplePeriod)
	if expected < 1 {
		expected = 1
	}
	pct := math.Min(100, 100*float64(len(out))/float64(expected))
	return out, pct
}
