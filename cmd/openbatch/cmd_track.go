package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/conventions"
)

// trackFinalFlushTimeout bounds the final flush after the command exits.
const trackFinalFlushTimeout = 5 * time.Minute

// trackExitError carries COMMAND's exit code out of `openbatch track`; main
// exits with it (it implements exitCoder).
type trackExitError struct{ code int }

func (e *trackExitError) Error() string { return fmt.Sprintf("command exited with code %d", e.code) }

// ExitCode returns the exit code to exit with.
func (e *trackExitError) ExitCode() int { return e.code }

// trackForwardedSignals are passed on to COMMAND (the set that exists on
// every platform Go supports, so the binary also builds for Windows).
var trackForwardedSignals = []os.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT}

func newTrackCmd() *cobra.Command {
	var (
		storage        outputsStorageFlags
		jobID, taskID  string
		kind           string
		interval       time.Duration
		failOnUploadEr bool
	)
	cmd := &cobra.Command{
		Use:   "track [--kind TaskLog] [--interval 15s] FILE... -- COMMAND [ARG...]",
		Short: "Run a command and stream growing files to storage by the Batch File Conventions",
		Long: `Run COMMAND and, while it runs, stream each FILE (typically a log, or
../stdout.txt and ../stderr.txt in a Batch task) to
{task}/$KIND/{file} in the job's output container, appending what is new
every --interval and once more when COMMAND exits. Works inside a task on any
Batch service, Azure's included.

The job and task come from --job/--task or $AZ_BATCH_JOB_ID and
$AZ_BATCH_TASK_ID; the container from --container-url or
$` + envOutputContainerURL + ` (a SAS URL, e.g. from "openbatch conventions
sas-url"), or from a connection string / account key and the job ID. The
container must exist ("openbatch conventions prepare").

FILE paths: a relative path keeps its path with leading ../ removed
(../stdout.txt → stdout.txt); an absolute path keeps its base name.
Streaming resumes where a previous run stopped (a retried task does not
duplicate content); a file that shrinks or is replaced continues in a new
blob FILE.genN.

Signals are forwarded to COMMAND. openbatch exits with COMMAND's exit code
(128+N if it was killed by signal N). Upload errors are logged; with
--fail-on-upload-error a failed final upload turns a success into exit 1.`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			if dash < 0 || dash == len(args) {
				return errors.New("give the command after --: openbatch track FILE... -- COMMAND [ARG...]")
			}
			if dash == 0 {
				return errors.New("give at least one FILE to stream before --")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			// From here on, errors are not about usage, and COMMAND's exit
			// code is not an error to print.
			cmd.SilenceUsage = true
			dash := cmd.ArgsLenAtDash()
			files, command := args[:dash], args[dash:]
			if jobID == "" {
				jobID = os.Getenv("AZ_BATCH_JOB_ID")
			}
			if taskID == "" {
				taskID = os.Getenv("AZ_BATCH_TASK_ID")
			}
			if taskID == "" {
				return errors.New("no task ID: set --task or AZ_BATCH_TASK_ID")
			}
			k := conventions.Kind(kind)
			if err := k.Validate(); err != nil {
				return err
			}
			dests := make([]string, len(files))
			for i, f := range files {
				d, err := trackDestination(f)
				if err != nil {
					return err
				}
				dests[i] = d
			}
			if jobID == "" && storage.config().ContainerURL == "" {
				return errors.New("no job ID: set --job or AZ_BATCH_JOB_ID (or give a --container-url)")
			}
			c, err := storage.jobContainer(jobID)
			if err != nil {
				return err
			}
			task, err := c.Task(taskID)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil)).With("cmd", "openbatch track")
			return runTracked(commandContext(cmd), cmd, log, task, k, files, dests, interval, command, failOnUploadEr)
		},
	}
	storage.register(cmd.Flags())
	cmd.Flags().StringVar(&jobID, "job", "", "job ID (default $AZ_BATCH_JOB_ID); names the container")
	cmd.Flags().StringVar(&taskID, "task", "", "task ID (default $AZ_BATCH_TASK_ID)")
	cmd.Flags().StringVar(&kind, "kind", string(conventions.TaskLog), "kind the files are stored as")
	cmd.Flags().DurationVar(&interval, "interval", 15*time.Second, "how often new content is uploaded")
	cmd.Flags().BoolVar(&failOnUploadEr, "fail-on-upload-error", false, "exit 1 when COMMAND succeeded but the final upload failed")
	return cmd
}

// trackDestination maps a FILE argument to its path under the kind.
func trackDestination(file string) (string, error) {
	if filepath.IsAbs(file) {
		return filepath.Base(file), nil
	}
	return conventions.NormalizePath(filepath.ToSlash(file))
}

// runTracked starts the trackers, runs command, stops the trackers and
// returns command's exit code as a trackExitError when it is not 0.
func runTracked(ctx context.Context, cmd *cobra.Command, log *slog.Logger, task *conventions.TaskOutputStorage,
	kind conventions.Kind, files, dests []string, interval time.Duration, command []string, failOnUploadErr bool) error {
	// Streaming goes on while COMMAND handles a signal that cancels ctx;
	// only the command's exit ends it.
	trackCtx, cancelTrack := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelTrack()
	trackers := make([]*conventions.TrackedSave, 0, len(files))
	stopAll := func() error {
		stopCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), trackFinalFlushTimeout)
		defer cancel()
		var wg sync.WaitGroup
		errs := make([]error, len(trackers))
		for i, tr := range trackers {
			wg.Go(func() { errs[i] = tr.Stop(stopCtx) })
		}
		wg.Wait()
		return errors.Join(errs...)
	}
	for i, f := range files {
		tr, err := task.SaveTracked(trackCtx, kind, f, dests[i], interval, &conventions.TrackOptions{Logger: log})
		if err != nil {
			_ = stopAll()
			return err
		}
		log.Info("streaming", "file", f, "blob", tr.Status().BlobName, "interval", interval)
		trackers = append(trackers, tr)
	}

	child := exec.Command(command[0], command[1:]...)
	child.Stdin, child.Stdout, child.Stderr = cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr()
	sigs := make(chan os.Signal, 8)
	signal.Notify(sigs, trackForwardedSignals...)
	defer signal.Stop(sigs)
	if err := child.Start(); err != nil {
		uploadErr := stopAll()
		if uploadErr != nil {
			log.Error("final upload failed", "err", uploadErr)
		}
		fmt.Fprintf(cmd.ErrOrStderr(), "openbatch track: cannot start %s: %v\n", command[0], err)
		cmd.SilenceErrors = true
		return &trackExitError{code: 127}
	}
	waited := make(chan error, 1)
	go func() { waited <- child.Wait() }()
	var waitErr error
loop:
	for {
		select {
		case s := <-sigs:
			_ = child.Process.Signal(s)
		case waitErr = <-waited:
			break loop
		}
	}
	code := 0
	var ee *exec.ExitError
	switch {
	case waitErr == nil:
	case errors.As(waitErr, &ee):
		code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			code = 128 + int(ws.Signal())
		}
	default:
		log.Error("waiting for the command failed", "err", waitErr)
		code = 1
	}

	if err := stopAll(); err != nil {
		log.Error("final upload failed", "err", err)
		if failOnUploadErr && code == 0 {
			code = 1
		}
	}
	if code != 0 {
		cmd.SilenceErrors = true
		return &trackExitError{code: code}
	}
	return nil
}
