// Command openbatch is a self-hosted batch compute service that speaks the
// Azure Batch data-plane REST API: `openbatch dev` runs everything on one
// machine, `openbatch server` and `openbatch agent` split it across several.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	// The kubernetes node provider registers itself; it is imported only
	// here so client-go is linked into this binary alone.
	_ "github.com/openbatch/openbatch/internal/provider/kubernetes"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := newRootCmd().ExecuteContext(ctx); err != nil {
		// A command's own exit code (track) is passed on without a message:
		// the command already said what happened.
		if e, ok := err.(exitCoder); ok {
			os.Exit(e.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "openbatch:", err)
		os.Exit(1)
	}
}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:           "openbatch",
		Short:         "A self-hosted batch service that speaks the Azure Batch API",
		SilenceUsage:  true,
		SilenceErrors: true,
		// --version prints the same line as the version subcommand.
		Version: version,
	}
	root.SetVersionTemplate("openbatch {{.Version}}\n")
	root.AddCommand(newDemoCmd(), newDevCmd(), newServerCmd(), newAgentCmd(), newAgentReaperCmd(), newVersionCmd(),
		newOutputsCmd(), newConventionsCmd(), newTrackCmd(), newJobCmd(), newTaskCmd())
	return root
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		Run: func(cmd *cobra.Command, _ []string) {
			fmt.Fprintln(cmd.OutOrStdout(), "openbatch", version)
		},
	}
}

// exitCoder is an error that carries a process exit code (e.g. track
// returning its command's exit code).
type exitCoder interface{ ExitCode() int }
