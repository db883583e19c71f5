package agent

import "context"

// environmentStep computes the task's environment (see BuildEnvironment)
// into run.Env. It cannot fail.
type environmentStep struct{}

func (environmentStep) Name() string { return "environment" }

func (environmentStep) Run(_ context.Context, run *TaskRun) error {
	run.Env = BuildEnvironment(run.cfg, run.Spec, run.Paths, run.Log)
	if id := run.User; id != nil {
		// USER and LOGNAME name the task's user, not the agent's.
		run.Env["USER"], run.Env["LOGNAME"] = id.Name, id.Name
	}
	return nil
}
