package agent

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
)

func wantFailure(t *testing.T, res Result, code string, cat api.ErrorCategory, pre bool) {
	t.Helper()
	if res.FailureInfo == nil {
		t.Fatalf("no failure, want %s (exit code %v)", code, res.ExitCode)
	}
	if res.FailureInfo.Code != code || res.FailureInfo.Category != cat {
		t.Fatalf("failure %s/%s (%s), want %s/%s", res.FailureInfo.Code, res.FailureInfo.Category, res.FailureInfo.Message, code, cat)
	}
	if res.PreProcessingError != pre {
		t.Errorf("PreProcessingError = %v, want %v", res.PreProcessingError, pre)
	}
	if res.Outcome() != api.ResultFailure {
		t.Error("Outcome is not failure")
	}
}

func TestRunSuccessStdoutEnvAndStats(t *testing.T) {
	node := testNode(t)
	spec := taskSpec(node, `/bin/sh -c 'echo "out:$AZ_BATCH_TASK_ID:$MY_VAR:$(pwd)"; echo err >&2; env > env.txt'`)
	spec.JobEnvironment = []api.EnvironmentSetting{{Name: "MY_VAR", Value: "job"}}
	spec.Environment = []api.EnvironmentSetting{{Name: "MY_VAR", Value: "task-$AZ_BATCH_JOB_ID"}}
	res := testRunner(t, nil).Run(context.Background(), spec)
	if res.FailureInfo != nil || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result %+v failure %+v", res, res.FailureInfo)
	}
	if res.Outcome() != api.ResultSuccess {
		t.Error("outcome not success")
	}
	p, _ := node.Layout.TaskPaths("job1", "task1")
	if got, want := readFile(t, p.Stdout), "out:task1:task-job1:"+p.WorkingDir+"\n"; got != want {
		t.Errorf("stdout.txt = %q, want %q", got, want)
	}
	if got := readFile(t, p.Stderr); got != "err\n" {
		t.Errorf("stderr.txt = %q", got)
	}
	env := envLines(readFile(t, filepath.Join(p.WorkingDir, "env.txt")))
	for _, k := range []string{"AZ_BATCH_NODE_ROOT_DIR", "AZ_BATCH_TASK_WORKING_DIR", "AZ_BATCH_POOL_ID", "AZ_BATCH_NODE_IS_DEDICATED", "PATH", "HOME"} {
		if env[k] == "" {
			t.Errorf("process environment lacks %s", k)
		}
	}
	if res.Stats == nil || res.Stats.WallClockTime <= 0 || res.StartTime.IsZero() || res.EndTime.Before(res.StartTime) {
		t.Errorf("stats/times not filled: %+v %v %v", res.Stats, res.StartTime, res.EndTime)
	}
	// A second run (retry) appends to stdout.txt.
	testRunner(t, nil).Run(context.Background(), spec)
	if got := readFile(t, p.Stdout); strings.Count(got, "out:") != 2 {
		t.Errorf("stdout.txt after retry = %q, want two runs appended", got)
	}
}

func TestRunExitCodes(t *testing.T) {
	node := testNode(t)
	for _, tc := range []struct {
		cmd  string
		code int32
	}{
		{"/bin/sh -c 'exit 3'", 3},
		{"false", 1},
		{"true", 0},
		{`/bin/sh -c 'kill -9 $$'`, 128 + 9},
	} {
		res := testRunner(t, nil).Run(context.Background(), taskSpec(node, tc.cmd))
		if res.FailureInfo != nil {
			t.Errorf("%s: unexpected failure %+v", tc.cmd, res.FailureInfo)
			continue
		}
		if res.ExitCode == nil || *res.ExitCode != tc.code {
			t.Errorf("%s: exit code %v, want %d", tc.cmd, res.ExitCode, tc.code)
		}
	}
}

func TestRunProgramResolution(t *testing.T) {
	node := testNode(t)
	p, _ := node.Layout.TaskPaths("job1", "task1")
	if err := os.MkdirAll(filepath.Join(p.WorkingDir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(p.WorkingDir, "run.sh"), []byte("#!/bin/sh\necho relative \"$@\"\n"), 0o755)
	os.WriteFile(filepath.Join(p.WorkingDir, "bin", "tool"), []byte("#!/bin/sh\necho tool\n"), 0o755)
	os.WriteFile(filepath.Join(p.WorkingDir, "noexec.sh"), []byte("#!/bin/sh\n"), 0o644)
	os.WriteFile(filepath.Join(p.WorkingDir, "badinterp.sh"), []byte("#!/nonexistent/interpreter\n"), 0o755)
	os.WriteFile(filepath.Join(p.WorkingDir, "garbage"), []byte{0x7f, 'E', 'L', 'F', 1, 2, 3}, 0o755)

	r := testRunner(t, nil)
	run := func(cmd string, env ...api.EnvironmentSetting) Result {
		s := taskSpec(node, cmd)
		s.Environment = env
		return r.Run(context.Background(), s)
	}

	if res := run("./run.sh 'a b'"); res.ExitCode == nil || *res.ExitCode != 0 {
		t.Errorf("relative program: %+v %+v", res, res.FailureInfo)
	}
	if res := run("bin/tool"); res.ExitCode == nil || *res.ExitCode != 0 {
		t.Errorf("relative program in subdir: %+v", res.FailureInfo)
	}
	// A bare name is looked up in the task's PATH, not the agent's.
	if res := run("tool", api.EnvironmentSetting{Name: "PATH", Value: "$AZ_BATCH_TASK_WORKING_DIR/bin:$PATH"}); res.ExitCode == nil || *res.ExitCode != 0 {
		t.Errorf("PATH lookup: %+v", res.FailureInfo)
	}
	if !strings.Contains(readFile(t, p.Stdout), "relative a b\ntool\ntool\n") {
		t.Errorf("stdout.txt = %q", readFile(t, p.Stdout))
	}

	for _, cmd := range []string{"no-such-program-xyz --flag", "./missing.sh", "/no/such/dir/prog", "./badinterp.sh"} {
		res := run(cmd)
		wantFailure(t, res, api.FailureCommandProgramNotFound, api.UserError, true)
		if res.ExitCode != nil {
			t.Errorf("%s: exit code %d reported for a process that never ran", cmd, *res.ExitCode)
		}
	}
	wantFailure(t, run("tool"), api.FailureCommandProgramNotFound, api.UserError, true) // not in default PATH

	for _, cmd := range []string{"./noexec.sh", "./bin", "/bin/sh -c 'unterminated", `"`, "   ", "./garbage"} {
		res := run(cmd)
		wantFailure(t, res, api.FailureCommandLaunchFailed, api.UserError, true)
		if res.ExitCode != nil {
			t.Errorf("%q: exit code reported", cmd)
		}
	}
}

func TestRunStdoutReadableWhileRunningAndTerminate(t *testing.T) {
	node := testNode(t)
	p, _ := node.Layout.TaskPaths("job1", "task1")
	ctx, cancel := context.WithCancelCause(context.Background())
	done := make(chan Result, 1)
	go func() {
		// The pid file first: once "started" shows, it is written (the
		// other order let a fast terminate find it empty).
		done <- testRunner(t, nil).Run(ctx, taskSpec(node, `/bin/sh -c 'echo $$ > pid; echo started; sleep 1000'`))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if b, _ := os.ReadFile(p.Stdout); string(b) == "started\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("stdout.txt never showed output while the task ran")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel(ErrTerminated)
	res := <-done
	// Ended by SIGTERM (exit code 143), not by the SIGKILL that follows
	// the grace: the exit code says so whatever the machine's load.
	wantFailure(t, res, api.FailureTaskEnded, api.UserError, false)
	if res.ExitCode == nil || *res.ExitCode != 128+int32(syscall.SIGTERM) {
		t.Errorf("exit code %v, want 143", res.ExitCode)
	}
	assertGroupGone(t, filepath.Join(p.WorkingDir, "pid"))
}

func assertGroupGone(t *testing.T, pidFile string) {
	t.Helper()
	b, err := os.ReadFile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	if m := groupMembers(pgid); len(m) > 0 {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		t.Fatalf("processes of group %d left behind: %v", pgid, m)
	}
}

func TestRunWallClockKillsWholeGroup(t *testing.T) {
	for _, tc := range []struct{ name, cmd string }{
		{"background child", `/bin/sh -c 'echo $$ > pid; sleep 1000 & sleep 1000'`},
		// SIGTERM ignored everywhere: only SIGKILL after the grace ends it.
		{"ignores SIGTERM", `/bin/sh -c 'trap "" TERM; echo $$ > pid; sleep 1000 & sleep 1000'`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			node := testNode(t)
			spec := taskSpec(node, tc.cmd)
			spec.MaxWallClockTime = 400 * time.Millisecond
			t0 := time.Now()
			res := testRunner(t, nil).Run(context.Background(), spec)
			if el := time.Since(t0); el > 5*time.Second {
				t.Errorf("run took %v", el)
			}
			wantFailure(t, res, api.FailureTaskEnded, api.ServerError, false)
			if res.ExitCode == nil {
				t.Error("no exit code for a killed process")
			}
			p, _ := node.Layout.TaskPaths("job1", "task1")
			assertGroupGone(t, filepath.Join(p.WorkingDir, "pid"))
		})
	}
}

func TestRunKillsLeftoverBackgroundProcesses(t *testing.T) {
	node := testNode(t)
	res := testRunner(t, nil).Run(context.Background(), taskSpec(node, `/bin/sh -c 'echo $$ > pid; sleep 1000 &'`))
	if res.FailureInfo != nil || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result %+v %+v", res, res.FailureInfo)
	}
	p, _ := node.Layout.TaskPaths("job1", "task1")
	assertGroupGone(t, filepath.Join(p.WorkingDir, "pid"))
}

func TestRunStartTaskDaemonSurvives(t *testing.T) {
	node := testNode(t)
	res := testRunner(t, nil).Run(context.Background(), Spec{Kind: KindStartTask, Node: node,
		CommandLine: `/bin/sh -c 'echo $$ > pid; echo "[$AZ_BATCH_TASK_ID]"; sleep 1000 &'`})
	if res.FailureInfo != nil || res.ExitCode == nil || *res.ExitCode != 0 {
		t.Fatalf("result %+v %+v", res, res.FailureInfo)
	}
	if got := readFile(t, filepath.Join(node.Layout.StartupDir(), "stdout.txt")); got != "[]\n" {
		t.Errorf("start task stdout = %q", got)
	}
	b := readFile(t, filepath.Join(node.Layout.StartupWorkingDir(), "pid"))
	pgid, _ := strconv.Atoi(strings.TrimSpace(b))
	members := groupMembers(pgid)
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	if len(members) == 0 {
		t.Error("start task's background daemon was killed")
	}
}

func TestRunCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(ErrTerminated)
	res := testRunner(t, nil).Run(ctx, taskSpec(testNode(t), "true"))
	wantFailure(t, res, api.FailureTaskEnded, api.UserError, true)
	if res.ExitCode != nil {
		t.Error("exit code for a task that never started")
	}
}

func TestRunCustomCancelCause(t *testing.T) {
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(NewFailure(api.UserError, api.FailureTaskEnded, "The job was terminated", false, nil))
	res := testRunner(t, nil).Run(ctx, taskSpec(testNode(t), "true"))
	if res.FailureInfo == nil || res.FailureInfo.Message != "The job was terminated" {
		t.Fatalf("failure %+v", res.FailureInfo)
	}
}

func TestRunInvalidIDs(t *testing.T) {
	spec := taskSpec(testNode(t), "true")
	spec.TaskID = "../escape"
	wantFailure(t, testRunner(t, nil).Run(context.Background(), spec), api.FailureUnknown, api.ServerError, true)
}

// recordStep is an appended step that records what it saw.
type recordStep struct {
	name     string
	always   bool
	fail     error
	sawExit  *int32
	sawFail  *api.TaskFailureInformation
	ran      bool
	sawEnv   string
	ctxAlive bool
}

func (s *recordStep) Name() string           { return s.name }
func (s *recordStep) RunsAfterFailure() bool { return s.always }
func (s *recordStep) Run(ctx context.Context, run *TaskRun) error {
	s.ran = true
	s.sawExit = run.Result.ExitCode
	s.sawFail = run.Result.FailureInfo
	s.sawEnv = run.Env["AZ_BATCH_TASK_WORKING_DIR"]
	s.ctxAlive = ctx.Err() == nil
	return s.fail
}

func TestAppendedSteps(t *testing.T) {
	node := testNode(t)
	t.Run("after success", func(t *testing.T) {
		s := &recordStep{name: "outputs"}
		res := testRunner(t, func(c *Config) { c.AfterProcess = []Step{s} }).Run(context.Background(), taskSpec(node, "/bin/sh -c 'exit 2'"))
		if !s.ran || s.sawExit == nil || *s.sawExit != 2 || s.sawEnv == "" {
			t.Fatalf("step saw %+v", s)
		}
		if res.FailureInfo != nil || *res.ExitCode != 2 {
			t.Errorf("result %+v", res)
		}
	})
	t.Run("failing step keeps exit code", func(t *testing.T) {
		s := &recordStep{name: "outputs", fail: NewFailure(api.UserError, api.FailureFileUploadContainerNotFound, "no container", false, nil)}
		res := testRunner(t, func(c *Config) { c.AfterProcess = []Step{s} }).Run(context.Background(), taskSpec(node, "true"))
		wantFailure(t, res, api.FailureFileUploadContainerNotFound, api.UserError, false)
		if res.ExitCode == nil || *res.ExitCode != 0 {
			t.Error("exit code lost")
		}
	})
	t.Run("plain error is Unknown", func(t *testing.T) {
		s := &recordStep{name: "x", fail: errors.New("boom sig=SECRET")}
		res := testRunner(t, func(c *Config) { c.AfterProcess = []Step{s} }).Run(context.Background(), taskSpec(node, "true"))
		wantFailure(t, res, api.FailureUnknown, api.ServerError, false)
		if strings.Contains(res.FailureInfo.Message, "SECRET") {
			t.Error("secret in message")
		}
	})
	t.Run("after pre-processing failure", func(t *testing.T) {
		always := &recordStep{name: "always", always: true}
		normal := &recordStep{name: "normal"}
		res := testRunner(t, func(c *Config) { c.AfterProcess = []Step{normal, always} }).Run(context.Background(), taskSpec(node, "no-such-program-xyz"))
		wantFailure(t, res, api.FailureCommandProgramNotFound, api.UserError, true)
		if normal.ran {
			t.Error("a step without RunsAfterFailure ran after a failure")
		}
		if !always.ran || always.sawFail == nil || always.sawFail.Code != api.FailureCommandProgramNotFound {
			t.Errorf("RunsAfterFailure step: %+v", always)
		}
	})
	t.Run("after wall clock, ctx still alive", func(t *testing.T) {
		always := &recordStep{name: "always", always: true}
		spec := taskSpec(node, "sleep 1000")
		spec.MaxWallClockTime = 200 * time.Millisecond
		res := testRunner(t, func(c *Config) { c.AfterProcess = []Step{always} }).Run(context.Background(), spec)
		wantFailure(t, res, api.FailureTaskEnded, api.ServerError, false)
		if !always.ran || !always.ctxAlive {
			t.Errorf("appended step ran=%v ctxAlive=%v", always.ran, always.ctxAlive)
		}
	})
}

func TestRunJobPreparationAndReleaseDirs(t *testing.T) {
	node := testNode(t)
	r := testRunner(t, nil)
	prep := r.Run(context.Background(), Spec{Kind: KindJobPreparation, Node: node, JobID: "job1",
		CommandLine: `/bin/sh -c 'echo "$AZ_BATCH_TASK_ID" > marker'`, MaxWallClockTime: api.Infinite.Std()})
	if prep.FailureInfo != nil || *prep.ExitCode != 0 {
		t.Fatalf("prep: %+v", prep.FailureInfo)
	}
	pp, _ := node.Layout.TaskPaths("job1", DefaultJobPreparationTaskID)
	if got := readFile(t, filepath.Join(pp.WorkingDir, "marker")); got != "jobpreparation\n" {
		t.Errorf("prep marker %q", got)
	}
	rel := r.Run(context.Background(), Spec{Kind: KindJobRelease, Node: node, JobID: "job1", JobPreparationTaskID: DefaultJobPreparationTaskID,
		CommandLine: `/bin/sh -c 'cat "$AZ_BATCH_JOB_PREP_WORKING_DIR/marker"'`})
	if rel.FailureInfo != nil || *rel.ExitCode != 0 {
		t.Fatalf("release: %+v", rel.FailureInfo)
	}
	rp, _ := node.Layout.TaskPaths("job1", DefaultJobReleaseTaskID)
	if got := readFile(t, rp.Stdout); got != "jobpreparation\n" {
		t.Errorf("release stdout %q", got)
	}
}
