package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
)

// waitPollInterval is how often `job wait` reads the job's task counts.
const waitPollInterval = time.Second

// waitFailedError makes `job wait` / `task wait` exit 1 after it listed the
// failed tasks (it implements exitCoder).
type waitFailedError struct{ failed int }

func (e *waitFailedError) Error() string { return fmt.Sprintf("%d task(s) failed", e.failed) }

// ExitCode returns 1: some task failed.
func (e *waitFailedError) ExitCode() int { return 1 }

// batchClient returns a client for the account named by the same variables
// `az batch` reads: AZURE_BATCH_ACCOUNT, AZURE_BATCH_ACCESS_KEY and
// AZURE_BATCH_ENDPOINT.
func batchClient() (*client.Client, error) {
	account, key, endpoint := os.Getenv("AZURE_BATCH_ACCOUNT"), os.Getenv("AZURE_BATCH_ACCESS_KEY"), os.Getenv("AZURE_BATCH_ENDPOINT")
	if account == "" || key == "" || endpoint == "" {
		return nil, errors.New("set AZURE_BATCH_ACCOUNT, AZURE_BATCH_ACCESS_KEY and AZURE_BATCH_ENDPOINT (openbatch dev prints them)")
	}
	c, err := client.New(endpoint, account, key)
	if err != nil {
		return nil, fmt.Errorf("AZURE_BATCH_ACCESS_KEY: %w", err)
	}
	return c, nil
}

func newJobCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "job", Short: "Watch jobs on a Batch account (AZURE_BATCH_* variables)"}
	cmd.AddCommand(&cobra.Command{
		Use:   "wait JOB",
		Short: "Wait until every task of JOB completed (or the job ended), showing progress",
		Long: `Wait until every task of JOB has completed, or the job itself completed
(terminated), showing task counts by state, rate and ETA: a progress bar
when stdout is a terminal, a plain line per change otherwise. Then list
the failed tasks with their failure codes; exit 1 if any failed.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := batchClient()
			if err != nil {
				return err
			}
			return waitJob(cmd.Context(), c, args[0], cmd.OutOrStdout(), isTerminal(os.Stdout))
		},
	})
	return cmd
}

func newTaskCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "task", Short: "Watch tasks on a Batch account (AZURE_BATCH_* variables)"}
	cmd.AddCommand(newTaskTailCmd(), &cobra.Command{
		Use:   "wait JOB TASK",
		Short: "Wait until TASK completed; exit 1 if it failed",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := batchClient()
			if err != nil {
				return err
			}
			t, err := c.WaitTask(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			return reportFailed(cmd.OutOrStdout(), []api.Task{*t})
		},
	})
	return cmd
}

// waitJob polls JOB's task counts until nothing is active or running and
// at least one task exists, or the job completed.
func waitJob(ctx context.Context, c *client.Client, jobID string, out io.Writer, tty bool) error {
	var bar *progressbar.ProgressBar
	last := ""
	start := time.Now()
	for {
		job, err := c.GetJob(ctx, jobID)
		if err != nil {
			return err
		}
		counts, err := c.TaskCounts(ctx, jobID)
		if err != nil {
			return err
		}
		tc := counts.TaskCounts
		total := int64(tc.Active + tc.Running + tc.Completed)
		line := fmt.Sprintf("%s: %d active, %d running, %d succeeded, %d failed", jobID, tc.Active, tc.Running, tc.Succeeded, tc.Failed)
		if tty {
			if bar == nil || bar.GetMax64() != total {
				bar = progressbar.NewOptions64(max(total, 1), progressbar.OptionSetWriter(out),
					progressbar.OptionShowCount(), progressbar.OptionSetPredictTime(true),
					progressbar.OptionShowIts(), progressbar.OptionSetItsString("tasks"), progressbar.OptionFullWidth())
			}
			bar.Describe(line)
			_ = bar.Set64(int64(tc.Completed))
		} else if line != last {
			rate := float64(tc.Completed) / max(time.Since(start).Seconds(), 1e-3)
			fmt.Fprintf(out, "%s (%.1f tasks/s)\n", line, rate)
			last = line
		}
		done := job.State == api.JobCompleted || (total > 0 && tc.Active == 0 && tc.Running == 0)
		if done {
			if bar != nil {
				_ = bar.Finish()
				fmt.Fprintln(out)
			}
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(waitPollInterval):
		}
	}
	tasks, err := c.ListTasks(ctx, jobID, "")
	if err != nil {
		return err
	}
	return reportFailed(out, tasks)
}

// reportFailed lists the failed (or, for a finished job, unfinished) tasks
// and returns an exitCoder error when any task failed.
func reportFailed(out io.Writer, tasks []api.Task) error {
	failed := 0
	for _, t := range tasks {
		ei := t.ExecutionInfo
		if t.State != api.TaskCompleted {
			fmt.Fprintf(out, "not completed: %s (%s)\n", t.ID, t.State)
			continue
		}
		if ei == nil || ei.Result != api.ResultFailure {
			continue
		}
		failed++
		code, msg := "", ""
		if ei.FailureInfo != nil {
			code, msg = ei.FailureInfo.Code, ei.FailureInfo.Message
		}
		fmt.Fprintf(out, "failed: %s exit code %s: %s %s\n", t.ID, t.ExitCode(), code, msg)
	}
	if failed > 0 {
		return &waitFailedError{failed: failed}
	}
	return nil
}

// tailPollInterval is how often `task tail` reads new output.
const tailPollInterval = 500 * time.Millisecond

func newTaskTailCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "tail JOB TASK [stdout|stderr]",
		Short: "Follow a task's stdout.txt (or stderr.txt) until the task completes",
		Args:  cobra.RangeArgs(2, 3),
		RunE: func(cmd *cobra.Command, args []string) error {
			stream := "stdout"
			if len(args) == 3 {
				stream = args[2]
			}
			if stream != "stdout" && stream != "stderr" {
				return fmt.Errorf("the stream must be stdout or stderr, not %q", stream)
			}
			c, err := batchClient()
			if err != nil {
				return err
			}
			return tailTask(cmd.Context(), c, args[0], args[1], stream+".txt", cmd.OutOrStdout())
		},
	}
}

// notYet reports whether a task-file error only means the file does not
// exist yet: the task has not started on a node, or has not written it.
func notYet(code string) bool {
	return code == api.CodeFileNotFound || code == api.CodeNodeNotFound || code == api.CodeTaskFilesUnavailable
}

// tailTask copies file to out as it grows, with ranged reads of the task
// file API, until the task has completed and the file was read to its end.
// A file that does not exist yet (the task is still queued) is waited for.
func tailTask(ctx context.Context, c *client.Client, jobID, taskID, file string, out io.Writer) error {
	var offset int64
	for {
		t, err := c.GetTask(ctx, jobID, taskID)
		if err != nil {
			return err
		}
		b, err := c.GetTaskFileFrom(ctx, jobID, taskID, file, offset)
		if err != nil && !notYet(client.Code(err)) {
			return err
		}
		if len(b) > 0 {
			if _, err := out.Write(b); err != nil {
				return err
			}
			offset += int64(len(b))
			continue // read on until nothing is new
		}
		if t.State == api.TaskCompleted {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(tailPollInterval):
		}
	}
}
