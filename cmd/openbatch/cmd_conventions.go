package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/conventions"
)

func newConventionsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "conventions",
		Short: "Names and helpers of the Batch File Conventions standard",
		Long: `Helpers for the Batch File Conventions standard, the layout that the .NET
library Microsoft.Azure.Batch.Conventions.Files writes and the Azure portal
shows: one container per job, task outputs under {taskId}/$Kind/, job
outputs under $Kind/.`,
	}
	cmd.AddCommand(newConventionsContainerNameCmd(), newConventionsPrepareCmd(),
		newConventionsSASCmd(), newConventionsOutputFilesCmd())
	return cmd
}

func newConventionsContainerNameCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "container-name JOBID",
		Short: "Print the name of a job's output container",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), conventions.ContainerName(args[0]))
			return err
		},
	}
}

func newConventionsPrepareCmd() *cobra.Command {
	var storage outputsStorageFlags
	cmd := &cobra.Command{
		Use:   "prepare JOBID",
		Short: "Create a job's output container if it does not exist",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := conventions.PrepareOutputStorage(commandContext(cmd), storage.config(), args[0])
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), c.Name())
			return err
		},
	}
	storage.register(cmd.Flags())
	return cmd
}

func newConventionsSASCmd() *cobra.Command {
	var (
		storage outputsStorageFlags
		expiry  time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sas-url JOBID",
		Short: "Print a SAS URL of a job's output container (add, create, list, read, write)",
		Long: `Print the URL of a job's output container with a service SAS granting add,
create, list, read and write (never delete) for --expiry (default 7 days).
Needs the account key (--account-name/--account-key or AZURE_STORAGE_ACCOUNT/
AZURE_STORAGE_KEY). The URL is a secret: pass it to tasks, do not log it.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c := storage.config()
			if c.AccountName == "" || c.AccountKey == "" {
				return errors.New("signing a SAS needs --account-name and --account-key (or AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY)")
			}
			u, err := conventions.ContainerSASURL(c, args[0], &conventions.SASOptions{Expiry: expiry})
			if err != nil {
				return err
			}
			_, err = fmt.Fprintln(cmd.OutOrStdout(), u)
			return err
		},
	}
	storage.register(cmd.Flags())
	cmd.Flags().DurationVar(&expiry, "expiry", conventions.DefaultSASExpiry, "how long the SAS is valid")
	return cmd
}

func newConventionsOutputFilesCmd() *cobra.Command {
	var (
		containerURL, taskID, kind string
		logs                       bool
	)
	cmd := &cobra.Command{
		Use:   "output-files --container-url URL --task TASK [--kind TaskOutput] [--logs] [PATTERN...]",
		Short: "Print outputFiles JSON that makes the Batch service store files by the conventions",
		Long: `Print a JSON array of Batch outputFiles entries for a task definition: the
files matching each PATTERN go to {task}/$KIND/… in the container at
--container-url (a SAS URL with write permission, e.g. from
"openbatch conventions sas-url"), uploaded on task success; --logs adds
../std*.txt to {task}/$TaskLog/, uploaded whatever the outcome. Relative
patterns keep their path ("out/*.csv" → {task}/$KIND/out/x.csv).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if containerURL == "" || taskID == "" {
				return errors.New("--container-url and --task are required")
			}
			var files []api.OutputFile
			if len(args) > 0 {
				f, err := conventions.TaskOutputFiles(containerURL, taskID, conventions.Kind(kind), args...)
				if err != nil {
					return err
				}
				files = append(files, f...)
			}
			if logs {
				f, err := conventions.TaskLogFiles(containerURL, taskID)
				if err != nil {
					return err
				}
				files = append(files, f...)
			}
			if len(files) == 0 {
				return errors.New("give file patterns, --logs, or both")
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			return enc.Encode(files)
		},
	}
	cmd.Flags().StringVar(&containerURL, "container-url", "", "SAS URL of the job's output container")
	cmd.Flags().StringVar(&taskID, "task", "", "task ID")
	cmd.Flags().StringVar(&kind, "kind", string(conventions.TaskOutput), "kind of the files matching the patterns")
	cmd.Flags().BoolVar(&logs, "logs", false, "also upload stdout.txt and stderr.txt as TaskLog")
	return cmd
}
