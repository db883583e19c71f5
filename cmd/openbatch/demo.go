package main

import (
	"github.com/spf13/cobra"

	"github.com/openbatch/openbatch/internal/demo"
)

func newDemoCmd() *cobra.Command {
	var o demo.Options
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run a local openbatch with a pool, a job and tasks whose outputs land in blob storage",
		Long: `Run openbatch's main job end to end on this machine: a local server, a pool
of 2 local nodes, a job of tasks that write files, and their outputFiles
uploaded to blob storage under the Batch File Conventions names
(job-demo-job/{taskId}/$TaskOutput/… and …/$TaskLog/…). Storage is Azurite
when scripts/setup.sh has installed it, else a local directory.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			o.Out = cmd.OutOrStdout()
			return demo.Run(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.DataDir, "data-dir", "", "directory for the demo's database, nodes and storage (default: a new temporary directory)")
	cmd.Flags().IntVar(&o.Tasks, "tasks", 6, "number of tasks in the job")
	cmd.Flags().BoolVar(&o.Keep, "keep", false, "keep the server running after the job completes")
	return cmd
}
