package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent/cmdline"
)

// processStep runs the command line: split without a shell (package
// cmdline), program resolved against wd or the task's PATH, cwd = wd,
// stdout/stderr appended to the task directory's stdout.txt/stderr.txt as
// the process writes them, in a process group of its own. On cancellation
// or wall-clock expiry the whole group gets SIGTERM, then SIGKILL after
// Config.KillGrace; the step returns only when no process of the group is
// left. When the process exits by itself, any process it left running in
// its group is killed too, except for a start task (start tasks commonly
// launch daemons that must outlive them, as on Azure). Processes that leave
// the group (setsid, setpgid) are not tracked: that needs cgroups.
type processStep struct{}

func (processStep) Name() string { return "process" }

func (processStep) Run(ctx context.Context, run *TaskRun) error {
	argv, err := cmdline.Split(run.Spec.CommandLine)
	if err != nil {
		return launchFailure("The command line could not be parsed: "+err.Error(), err)
	}
	if len(argv) == 0 {
		return launchFailure("The command line is empty", errors.New("no program to run"))
	}
	prog, ferr := resolveProgram(argv[0], run.Paths.WorkingDir, run.Env["PATH"])
	if ferr != nil {
		return ferr
	}

	stdout, err := openLog(run.Paths.Stdout)
	if err != nil {
		return launchFailure("The task's stdout.txt could not be opened", err)
	}
	defer stdout.Close()
	stderr, err := openLog(run.Paths.Stderr)
	if err != nil {
		return launchFailure("The task's stderr.txt could not be opened", err)
	}
	defer stderr.Close()

	cmd := &exec.Cmd{
		Path:   prog,
		Args:   argv,
		Dir:    run.Paths.WorkingDir,
		Env:    run.Env.Environ(),
		Stdout: stdout, // *os.File: the child writes the file directly
		Stderr: stderr,
		// Pdeathsig: if the agent dies (kill -9), the task's direct child
		// dies with it instead of running on unsupervised; the service
		// requeues the task after the node's heartbeat timeout.
		SysProcAttr: &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	}
	if id := run.User; id != nil {
		// The task's user (Config.Users): its uid, gid and groups only.
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: id.UID, Gid: id.GID, Groups: append([]uint32{}, id.Groups...)}
	}
	if ctx.Err() != nil {
		return endedFailure(ctx, true)
	}
	started := time.Now()
	// Pdeathsig fires when the thread that started the child exits, so the
	// child is started and waited for on one locked OS thread that lives as
	// long as the child does.
	startErr := make(chan error, 1)
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			startErr <- err
			return
		}
		startErr <- nil
		done <- cmd.Wait()
	}()
	if err := <-startErr; err != nil {
		return startFailure(prog, err)
	}
	pgid := cmd.Process.Pid
	run.Log.Info("process started", "pid", pgid, "program", prog, "user", userName(run.User))
	if g := run.cfg.Groups; g != nil {
		g.Started(pgid)
		defer g.Ended(pgid)
	}

	var ended *Failure
	select {
	case <-done:
	case <-ctx.Done():
		ended = endedFailure(ctx, false)
		run.Log.Info("stopping process group", "pgid", pgid, "reason", ended.Info.Message)
		stopGroup(pgid, done, run.cfg.KillGrace)
	}
	if ended != nil || run.Spec.Kind != KindStartTask {
		killGroup(pgid)
	}

	st := cmd.ProcessState
	code := exitCode(st)
	run.Result.ExitCode = &code
	run.Result.Stats = statistics(st, started, time.Now())
	run.Log.Info("process exited", "exitCode", code, "elapsed", time.Since(started))
	if ended != nil {
		return ended
	}
	return nil
}

// openLog opens a task's stdout.txt or stderr.txt for appending. It never
// follows a symbolic link: the task directory belongs to the task's user,
// who could otherwise make the agent append to any file on the node.
func openLog(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o644)
}

func launchFailure(msg string, err error) *Failure {
	return NewFailure(api.UserError, api.FailureCommandLaunchFailed, msg, true, err,
		api.NameValuePair{Name: "Message", Value: err.Error()})
}

func notFoundFailure(prog string, err error) *Failure {
	return NewFailure(api.UserError, api.FailureCommandProgramNotFound, "The specified command program is not found", true, err,
		api.NameValuePair{Name: "Message", Value: fmt.Sprintf("%s: No such file or directory", prog)})
}

// resolveProgram finds the file to execute: a name with a "/" is a path
// (relative ones against wd); a bare name is searched in path, the task's
// PATH (empty or relative entries relative to wd), like execvp.
func resolveProgram(name, wd, path string) (string, *Failure) {
	if strings.Contains(name, "/") {
		p := name
		if !filepath.IsAbs(p) {
			p = filepath.Join(wd, p)
		}
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
			return "", notFoundFailure(name, err)
		case err != nil:
			return "", launchFailure("The command program could not be launched", err)
		case fi.IsDir():
			return "", launchFailure("The command program is a directory", fmt.Errorf("%s: is a directory", name))
		case fi.Mode()&0o111 == 0:
			return "", launchFailure("The command program is not executable", fmt.Errorf("%s: permission denied", name))
		}
		return p, nil
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" || !filepath.IsAbs(dir) {
			dir = filepath.Join(wd, dir)
		}
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil || fi.IsDir() {
			continue
		}
		if fi.Mode()&0o111 == 0 {
			denied = fmt.Errorf("%s: permission denied", p)
			continue
		}
		return p, nil
	}
	if denied != nil {
		return "", launchFailure("The command program is not executable", denied)
	}
	return "", notFoundFailure(name, fmt.Errorf("%s not found in PATH %q", name, path))
}

// startFailure maps an exec error. ENOENT after resolveProgram found the
// file means its interpreter (#! line or ELF loader) is missing: reported
// as CommandProgramNotFound, as execve reports it.
func startFailure(prog string, err error) *Failure {
	if errors.Is(err, syscall.ENOENT) {
		return NewFailure(api.UserError, api.FailureCommandProgramNotFound, "The specified command program is not found", true, err,
			api.NameValuePair{Name: "Message", Value: prog + ": its interpreter was not found"})
	}
	return launchFailure("The command program could not be launched", err)
}

// exitCode is the process's exit status, or 128+signal when a signal
// killed it (the convention of POSIX shells).
func exitCode(st *os.ProcessState) int32 {
	if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return int32(128 + int(ws.Signal()))
	}
	return int32(st.ExitCode())
}

// userName names the user a process runs as, for logs.
func userName(id *Identity) string {
	if id == nil {
		return "(agent's user)"
	}
	return id.Name
}
