package agent

import "context"

// environmentStep computes the task's environment (see BuildEnvironment)
// into run.Env. It cannot fail.
type environmentStep struct{}

func (environmentStep) Name() string { return "environment" }

func (environmentStep) Run(_ context.Context, run *TaskRun) error {
	run.Env = BuildEnvironment(run.cfg, run.Spec, run.Paths, run.Log)
	return nil
}
