package service

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/autoscale"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// Autoscale evaluation intervals Azure accepts, and its default.
const (
	MinAutoScaleInterval     = 5 * time.Minute
	MaxAutoScaleInterval     = 168 * time.Hour
	DefaultAutoScaleInterval = 15 * time.Minute
	// DefaultAutoScaleHistory is how long a pool's samples are kept: a
	// day, so formulas may look back up to 24 hours.
	DefaultAutoScaleHistory = 24 * time.Hour
)

// AutoScaleConfig tunes autoscale. The zero value is Azure's behaviour.
type AutoScaleConfig struct {
	// SamplePeriod is how often each autoscale pool's sampled variables
	// are recorded (default autoscale.DefaultSamplePeriod, 30 s).
	SamplePeriod time.Duration
	// MinInterval is the shortest autoScaleEvaluationInterval accepted
	// (default MinAutoScaleInterval, 5 min). Tests lower it so that a pool
	// grows and shrinks within seconds; nothing else should.
	MinInterval time.Duration
	// History is how long samples are kept (default DefaultAutoScaleHistory).
	History time.Duration
}

func (c AutoScaleConfig) samplePeriod() time.Duration {
	if c.SamplePeriod > 0 {
		return c.SamplePeriod
	}
	return autoscale.DefaultSamplePeriod
}

func (c AutoScaleConfig) minInterval() time.Duration {
	if c.MinInterval > 0 {
		return c.MinInterval
	}
	return MinAutoScaleInterval
}

func (c AutoScaleConfig) history() time.Duration {
	if c.History > 0 {
		return c.History
	}
	return DefaultAutoScaleHistory
}

// parseFormula checks a formula's length and syntax, as pool add,
// enableautoscale and evaluateautoscale do before any work.
func parseFormula(formula string) (*autoscale.Formula, error) {
	if formula == "" {
		return nil, AsError(api.Missing("autoScaleFormula"))
	}
	if len(formula) > autoscale.MaxFormulaLength {
		return nil, &Error{Code: api.CodeAutoScalingFormulaTooLong,
			Message: fmt.Sprintf("The specified auto-scaling formula exceeds lengths limit: it is %d bytes long; the most is %d.", len(formula), autoscale.MaxFormulaLength),
			Values:  []api.BatchErrorDetail{{Key: "PropertyName", Value: "autoScaleFormula"}}}
	}
	f, err := autoscale.Parse(formula)
	var ae *autoscale.Error
	if errors.As(err, &ae) {
		return nil, &Error{Code: api.CodeAutoScalingFormulaSyntaxError,
			Message: ae.Message, Values: []api.BatchErrorDetail{{Key: "Message", Value: ae.Detail}}}
	}
	return f, err
}

// validateInterval checks an autoScaleEvaluationInterval.
func (s *Service) validateInterval(d *api.Duration) error {
	if d == nil {
		return nil
	}
	if min := s.AutoScale.minInterval(); d.Std() < min || d.Std() > MaxAutoScaleInterval {
		return &Error{Code: api.CodeInvalidAutoScalingSettings,
			Message: fmt.Sprintf("The specified auto-scaling settings are not valid: autoScaleEvaluationInterval must be from %s to %s.", api.Duration(min), api.Duration(MaxAutoScaleInterval)),
			Values: []api.BatchErrorDetail{{Key: "PropertyName", Value: "autoScaleEvaluationInterval"},
				{Key: "PropertyValue", Value: d.String()}}}
	}
	return nil
}

// validatePoolAutoScale checks a new pool's autoscale settings: with
// enableAutoScale a formula and no targets, without it no formula or
// interval (Azure: "must not be specified").
func (s *Service) validatePoolAutoScale(p *api.Pool) error {
	invalid := func(property, why string) error {
		return &Error{Code: api.CodeInvalidAutoScalingSettings,
			Message: "The specified auto-scaling settings are not valid: " + why,
			Values:  []api.BatchErrorDetail{{Key: "PropertyName", Value: property}}}
	}
	if p.EnableAutoScale == nil || !*p.EnableAutoScale {
		if p.AutoScaleFormula != "" {
			return invalid("autoScaleFormula", "autoScaleFormula must not be given unless enableAutoScale is true.")
		}
		if p.AutoScaleEvaluationInterval != nil {
			return invalid("autoScaleEvaluationInterval", "autoScaleEvaluationInterval must not be given unless enableAutoScale is true.")
		}
		return nil
	}
	if p.TargetDedicatedNodes != nil || p.TargetLowPriorityNodes != nil {
		return invalid("targetDedicatedNodes", "targetDedicatedNodes and targetLowPriorityNodes must not be given when enableAutoScale is true; the formula sets them.")
	}
	if _, err := parseFormula(p.AutoScaleFormula); err != nil {
		return err
	}
	return s.validateInterval(p.AutoScaleEvaluationInterval)
}

// EnableAutoScale turns autoscale on for a pool, or changes its formula or
// interval, and evaluates the formula at once: the new evaluation schedule
// starts now, as in Azure. The last run is kept until that evaluation
// replaces it, so the reconcile loop does not evaluate the pool a second
// time meanwhile; if the request stops short, the client's retry (or the
// loop, one interval after the last run) evaluates it.
func (s *Service) EnableAutoScale(ctx context.Context, id string, body *api.PoolEnableAutoScale, cond Conditions) (*api.Pool, error) {
	if body.AutoScaleFormula != "" {
		if _, err := parseFormula(body.AutoScaleFormula); err != nil {
			return nil, err
		}
	}
	if err := s.validateInterval(body.AutoScaleEvaluationInterval); err != nil {
		return nil, err
	}
	p, err := s.updatePool(ctx, id, cond, func(p *api.Pool) error {
		on := p.EnableAutoScale != nil && *p.EnableAutoScale
		if !on && body.AutoScaleFormula == "" {
			return AsError(api.Missing("autoScaleFormula"))
		}
		if on && body.AutoScaleFormula == "" && body.AutoScaleEvaluationInterval == nil {
			return &Error{Code: api.CodeInvalidAutoScalingSettings,
				Message: "The specified auto-scaling settings are not valid: give autoScaleFormula, autoScaleEvaluationInterval or both."}
		}
		// Azure: "You cannot enable automatic scaling on a Pool if a
		// resize operation is in progress on the Pool."
		if err := s.checkSteady(p); err != nil {
			return err
		}
		p.EnableAutoScale = api.B(true)
		if body.AutoScaleFormula != "" {
			p.AutoScaleFormula = body.AutoScaleFormula
		}
		if body.AutoScaleEvaluationInterval != nil {
			p.AutoScaleEvaluationInterval = body.AutoScaleEvaluationInterval
		} else if p.AutoScaleEvaluationInterval == nil {
			p.AutoScaleEvaluationInterval = api.D(DefaultAutoScaleInterval)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.autoScale(ctx, p); err != nil {
		return nil, err
	}
	return s.Store.GetPool(ctx, id)
}

// DisableAutoScale turns autoscale off; the pool keeps its current targets
// and loses its formula, interval and last run, which Azure sets only on
// pools that scale automatically.
func (s *Service) DisableAutoScale(ctx context.Context, id string, cond Conditions) (*api.Pool, error) {
	return s.updatePool(ctx, id, cond, func(p *api.Pool) error {
		p.EnableAutoScale = api.B(false)
		p.AutoScaleFormula, p.AutoScaleEvaluationInterval, p.AutoScaleRun = "", nil, nil
		return nil
	})
}

// EvaluateAutoScale evaluates a formula against a pool without changing
// the pool. The pool must scale automatically (as in Azure). A formula
// that does not parse or fails to evaluate is a successful call whose run
// carries the error. The pool is returned for its ETag.
func (s *Service) EvaluateAutoScale(ctx context.Context, id, formula string) (*api.AutoScaleRun, *api.Pool, error) {
	if formula == "" {
		return nil, nil, AsError(api.Missing("autoScaleFormula"))
	}
	if len(formula) > autoscale.MaxFormulaLength {
		_, err := parseFormula(formula)
		return nil, nil, err
	}
	p, err := s.GetPool(ctx, id, Conditions{})
	if err != nil {
		return nil, nil, err
	}
	if p.EnableAutoScale == nil || !*p.EnableAutoScale {
		return nil, nil, errorf(api.CodeOperationInvalidForCurrentState,
			"The pool does not scale automatically; enable autoscale on it before evaluating a formula: %s.", id)
	}
	run, _, err := s.evaluate(ctx, p, formula)
	return run, p, err
}

// evaluate runs a formula against a pool's current state and samples. It
// returns the run as Azure reports it and, when the run succeeded, the
// result.
func (s *Service) evaluate(ctx context.Context, p *api.Pool, formula string) (*api.AutoScaleRun, *autoscale.Result, error) {
	now := s.Now()
	run := &api.AutoScaleRun{Timestamp: now}
	f, err := autoscale.Parse(formula)
	if err == nil {
		var env autoscale.Env
		env, err = s.autoScaleEnv(ctx, p, now)
		if err != nil {
			return nil, nil, err
		}
		var r *autoscale.Result
		if r, err = autoscale.Evaluate(f, env); err == nil {
			run.Results = r.Results
			return run, r, nil
		}
	}
	var ae *autoscale.Error
	if !errors.As(err, &ae) {
		return nil, nil, err
	}
	run.Error = &api.AutoScaleRunError{Code: ae.Code, Message: ae.Message,
		Values: []api.NameValuePair{{Name: "Message", Value: ae.Detail}}}
	return run, nil, nil
}

// autoScaleEnv gathers what a formula reads: node counts, targets and the
// pool's sample history.
func (s *Service) autoScaleEnv(ctx context.Context, p *api.Pool, now time.Time) (autoscale.Env, error) {
	env := autoscale.Env{Now: now, SamplePeriod: s.AutoScale.samplePeriod(), Rand: rand.Float64}
	nodes, err := s.Store.ListNodes(ctx, p.ID)
	if err != nil {
		return env, fmt.Errorf("autoscale: nodes of pool %s: %w", p.ID, err)
	}
	for _, n := range nodes {
		if n.Node.IsDedicated {
			env.CurrentDedicatedNodes++
		} else {
			env.CurrentLowPriorityNodes++
		}
	}
	if p.TargetDedicatedNodes != nil {
		env.TargetDedicatedNodes = float64(*p.TargetDedicatedNodes)
	}
	if p.TargetLowPriorityNodes != nil {
		env.TargetLowPriorityNodes = float64(*p.TargetLowPriorityNodes)
	}
	env.TaskSlotsPerNode = 1
	if p.TaskSlotsPerNode != nil {
		env.TaskSlotsPerNode = float64(*p.TaskSlotsPerNode)
	}
	samples, err := s.Store.AutoScaleSamples(ctx, p.ID, now.Add(-s.AutoScale.history()))
	if err != nil {
		return env, fmt.Errorf("autoscale: samples of pool %s: %w", p.ID, err)
	}
	for _, sm := range samples {
		if !sm.Time.After(now) {
			env.Samples = append(env.Samples, autoscale.Sample{Time: sm.Time, Values: sm.Values})
		}
	}
	return env, nil
}

// autoScale evaluates a pool's own formula now, records the run on the
// pool and, if the run succeeded, sets the pool's targets the way a resize
// does. The update re-checks that the pool still scales automatically with
// the same formula, so a concurrent disable or enable wins.
func (s *Service) autoScale(ctx context.Context, p *api.Pool) error {
	formula := p.AutoScaleFormula
	run, r, err := s.evaluate(ctx, p, formula)
	if err != nil {
		return err
	}
	np, err := s.updatePool(ctx, p.ID, Conditions{}, func(q *api.Pool) error {
		if q.EnableAutoScale == nil || !*q.EnableAutoScale || q.AutoScaleFormula != formula {
			return errAutoScaleChanged
		}
		q.AutoScaleRun = run
		if r == nil {
			return nil
		}
		if err := s.validateTargetNodes(q.ID, &r.TargetDedicatedNodes, &r.TargetLowPriorityNodes); err != nil {
			// The targets do not fit (e.g. openbatch dev's node limit):
			// the run records why and the pool keeps its targets.
			msg := err.Error()
			var pe *api.PropertyError
			if errors.As(err, &pe) {
				msg = pe.Reason
			}
			run.Error = &api.AutoScaleRunError{Code: autoscale.CodeEvaluationError, Message: "Autoscale evaluation failed.",
				Values: []api.NameValuePair{{Name: "Message", Value: msg}}}
			return nil
		}
		changed := i32(q.TargetDedicatedNodes) != r.TargetDedicatedNodes || i32(q.TargetLowPriorityNodes) != r.TargetLowPriorityNodes
		q.TargetDedicatedNodes, q.TargetLowPriorityNodes = api.I32(r.TargetDedicatedNodes), api.I32(r.TargetLowPriorityNodes)
		// A run that changes the targets starts a resize; one that keeps
		// them leaves a resize underway (and its timeout) alone, and
		// starts one only for a steady pool short of its targets.
		if changed || (lifecycle.PoolSteady(q) && !lifecycle.TargetsReached(q)) {
			s.startResize(q)
		}
		return nil
	})
	if errors.Is(err, errAutoScaleChanged) {
		return nil
	}
	if err != nil || r == nil || run.Error != nil {
		return err
	}
	s.reconcileNodesNow(ctx, np, r.NodeDeallocationOption)
	return nil
}

var errAutoScaleChanged = errors.New("the pool's autoscale settings changed during the evaluation")

// AutoScalePools is the periodic autoscale work of the reconcile loop: for
// every active pool that scales automatically it records a sample when one
// is due and evaluates the formula when its interval has passed since the
// last run. Both are decided from the store, so whichever server leads the
// loop carries on where another stopped.
func (s *Service) AutoScalePools(ctx context.Context) error {
	var errs []error
	tok := ""
	for {
		pools, next, err := s.Store.ListPools(ctx, store.Page{Token: tok, Match: func(v any) bool {
			p := v.(*api.Pool)
			return p.State == api.PoolActive && p.EnableAutoScale != nil && *p.EnableAutoScale
		}})
		if err != nil {
			return errors.Join(append(errs, err)...)
		}
		for _, p := range pools {
			if err := s.autoScaleTick(ctx, p); err != nil {
				errs = append(errs, fmt.Errorf("autoscale pool %s: %w", p.ID, err))
			}
		}
		if next == "" {
			return errors.Join(errs...)
		}
		tok = next
	}
}

func (s *Service) autoScaleTick(ctx context.Context, p *api.Pool) error {
	now := s.Now()
	period := s.AutoScale.samplePeriod()
	// A sample is due once the newest is a whole period old (the store
	// keeps milliseconds and its "since" is inclusive).
	recent, err := s.Store.AutoScaleSamples(ctx, p.ID, now.Add(-period+time.Millisecond))
	if err != nil {
		return err
	}
	if len(recent) == 0 {
		if err := s.recordSample(ctx, p, now); err != nil {
			return err
		}
	}
	interval := DefaultAutoScaleInterval
	if p.AutoScaleEvaluationInterval != nil {
		interval = p.AutoScaleEvaluationInterval.Std()
	}
	if p.AutoScaleRun != nil && now.Sub(p.AutoScaleRun.Timestamp) < interval {
		return nil
	}
	return s.autoScale(ctx, p)
}

// recordSample stores the current value of each sampled variable of a
// pool. Node resource metrics ($CPUPercent, $MemoryBytes, …) are 0: agents
// do not report them.
func (s *Service) recordSample(ctx context.Context, p *api.Pool, now time.Time) error {
	// Zero values are left out (a missing variable reads as 0), which keeps
	// a day of samples per pool small.
	v := map[string]float64{}
	tok := ""
	for {
		jobs, next, err := s.Store.ListJobs(ctx, store.Page{Token: tok, Match: func(x any) bool {
			return strings.EqualFold(x.(*api.Job).RunsOn(), p.ID)
		}})
		if err != nil {
			return err
		}
		for _, j := range jobs {
			c, err := s.Store.TaskStateCounts(ctx, j.ID)
			if err != nil {
				return err
			}
			if j.State == api.JobActive {
				v[autoscale.ActiveTasks] += float64(c.TaskCounts.Active)
			}
			v[autoscale.RunningTasks] += float64(c.TaskCounts.Running)
			v[autoscale.SucceededTasks] += float64(c.TaskCounts.Succeeded)
			v[autoscale.FailedTasks] += float64(c.TaskCounts.Failed)
		}
		if next == "" {
			break
		}
		tok = next
	}
	v[autoscale.PendingTasks] = v[autoscale.ActiveTasks] + v[autoscale.RunningTasks]
	nodes, err := s.Store.ListNodes(ctx, p.ID)
	if err != nil {
		return err
	}
	for _, n := range nodes {
		v[autoscale.SampleNodeCount]++
		switch n.Node.State {
		case api.NodeIdle, api.NodeRunning:
			v[autoscale.UsableNodeCount]++
		case "preempted": // no provider preempts nodes yet; counted if one does
			v[autoscale.PreemptedNodeCount]++
		}
	}
	for name, x := range v {
		if x == 0 {
			delete(v, name)
		}
	}
	return s.Store.AddAutoScaleSample(ctx, p.ID, store.AutoScaleSample{Time: now, Values: v}, now.Add(-s.AutoScale.history()))
}

func i32(v *int32) int32 {
	if v == nil {
		return 0
	}
	return *v
}
