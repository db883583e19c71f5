package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/bmatcuk/doublestar/v4"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/sync/errgroup"
	"golang.org/x/term"

	"github.com/openbatch/openbatch/conventions"
)

// Environment variables read for storage credentials when no credential flag
// is given. They are read at run time, never used as flag defaults, so that
// --help never shows a secret.
const (
	envOutputContainerURL = "OPENBATCH_OUTPUT_CONTAINER_URL"
	envConnectionString   = "AZURE_STORAGE_CONNECTION_STRING"
	envStorageAccount     = "AZURE_STORAGE_ACCOUNT"
	envStorageKey         = "AZURE_STORAGE_KEY"
	envBlobEndpoint       = "AZURE_STORAGE_BLOB_ENDPOINT"
)

// outputsStorageFlags are the storage credential flags shared by the
// outputs, conventions and track commands.
type outputsStorageFlags struct {
	containerURL, connectionString, accountName, accountKey, blobEndpoint string
}

func (f *outputsStorageFlags) register(fs *pflag.FlagSet) {
	fs.StringVar(&f.containerURL, "container-url", "", "URL of the job's output container with a SAS (env "+envOutputContainerURL+")")
	fs.StringVar(&f.connectionString, "connection-string", "", "storage account connection string (env "+envConnectionString+")")
	fs.StringVar(&f.accountName, "account-name", "", "storage account name, with --account-key (env "+envStorageAccount+")")
	fs.StringVar(&f.accountKey, "account-key", "", "storage account key (env "+envStorageKey+")")
	fs.StringVar(&f.blobEndpoint, "blob-endpoint", "", "blob service URL for --account-name, e.g. for Azurite (default https://ACCOUNT.blob.core.windows.net/; env "+envBlobEndpoint+")")
}

// config returns the storage configuration from the flags, or from the
// environment when no credential flag is set.
func (f *outputsStorageFlags) config() conventions.StorageConfig {
	c := conventions.StorageConfig{
		ContainerURL: f.containerURL, ConnectionString: f.connectionString,
		AccountName: f.accountName, AccountKey: f.accountKey, BlobEndpoint: f.blobEndpoint,
	}
	if c.ContainerURL == "" && c.ConnectionString == "" && c.AccountName == "" && c.AccountKey == "" {
		c.ContainerURL = os.Getenv(envOutputContainerURL)
		c.ConnectionString = os.Getenv(envConnectionString)
		c.AccountName = os.Getenv(envStorageAccount)
		c.AccountKey = os.Getenv(envStorageKey)
	}
	if c.BlobEndpoint == "" {
		c.BlobEndpoint = os.Getenv(envBlobEndpoint)
	}
	return c
}

// jobContainer opens the output container of jobID.
func (f *outputsStorageFlags) jobContainer(jobID string) (*conventions.JobContainer, error) {
	c := f.config()
	if c.ContainerURL == "" && jobID == "" {
		return nil, errors.New("give --job (or a --container-url)")
	}
	return c.JobContainer(jobID)
}

// outputsSelection is the selection flags of the outputs subcommands.
type outputsSelection struct {
	jobID, taskID, kind, pattern string
	jobOnly                      bool
}

func (s *outputsSelection) register(fs *pflag.FlagSet) {
	fs.StringVar(&s.jobID, "job", "", "job ID; names the container by the conventions (not needed with --container-url)")
	fs.StringVar(&s.taskID, "task", "", "only this task's outputs")
	fs.StringVar(&s.kind, "kind", "", "only this kind, e.g. TaskOutput, TaskLog, JobOutput or a custom kind")
	fs.BoolVar(&s.jobOnly, "job-outputs", false, "only job-level outputs ($JobOutput, $JobPreview, …)")
	fs.StringVar(&s.pattern, "pattern", "", "only files whose path (relative to their kind) matches this glob; ** crosses directories")
}

// list returns the selected outputs.
func (s *outputsSelection) list(ctx context.Context, c *conventions.JobContainer) ([]conventions.OutputFileReference, error) {
	if s.pattern != "" && !doublestar.ValidatePattern(s.pattern) {
		return nil, fmt.Errorf("--pattern %q is not a valid glob", s.pattern)
	}
	if s.jobOnly && s.taskID != "" {
		return nil, errors.New("--job-outputs and --task exclude each other")
	}
	f := conventions.ListFilter{TaskID: s.taskID, Kind: conventions.Kind(s.kind), JobOnly: s.jobOnly}
	var refs []conventions.OutputFileReference
	for r, err := range c.All(ctx, f) {
		if err != nil {
			return nil, err
		}
		if s.pattern != "" {
			if ok, _ := doublestar.Match(s.pattern, r.FilePath); !ok {
				continue
			}
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// localPath returns where a selected output is downloaded below the
// destination: its path below what was selected (the file path when task
// and kind are both given, "$Kind/path" for a task, the blob name
// otherwise), refusing names that would leave the destination.
func (s *outputsSelection) localPath(r conventions.OutputFileReference) (string, error) {
	rel := r.BlobName
	switch {
	case s.kind != "" && (s.taskID != "" || s.jobOnly):
		rel = r.FilePath
	case s.taskID != "" || s.jobOnly:
		rel = r.Kind.Folder() + "/" + r.FilePath
	}
	local := filepath.FromSlash(rel)
	if !filepath.IsLocal(local) {
		return "", fmt.Errorf("blob %q would be written outside the destination; skipped", r.BlobName)
	}
	return local, nil
}

func newOutputsCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "outputs",
		Short: "List and download task and job outputs stored by the Batch File Conventions",
		Long: `List and download the outputs that tasks and jobs persisted under the
Batch File Conventions standard: one container per job (see
"openbatch conventions container-name"), task outputs under
{taskId}/$Kind/ and job outputs under $Kind/.

Storage is given by --container-url (a SAS URL), --connection-string, or
--account-name and --account-key (+ --blob-endpoint), or else by the
environment: ` + envOutputContainerURL + `, ` + envConnectionString + `,
` + envStorageAccount + ` and ` + envStorageKey + `.`,
	}
	cmd.AddCommand(newOutputsListCmd(), newOutputsDownloadCmd())
	return cmd
}

func newOutputsListCmd() *cobra.Command {
	var (
		storage outputsStorageFlags
		sel     outputsSelection
	)
	cmd := &cobra.Command{
		Use:   "list --job JOB [--task TASK] [--kind KIND] [--pattern GLOB]",
		Short: "List outputs",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := commandContext(cmd)
			c, err := storage.jobContainer(sel.jobID)
			if err != nil {
				return err
			}
			refs, err := sel.list(ctx, c)
			if err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "TASK\tKIND\tSIZE\tMODIFIED\tPATH")
			for _, r := range refs {
				task := r.TaskID
				if task == "" {
					task = "(job)"
				}
				fmt.Fprintf(w, "%s\t%s\t%d\t%s\t%s\n", task, r.Kind, r.Size, r.LastModified.UTC().Format("2006-01-02T15:04:05Z"), r.FilePath)
			}
			return w.Flush()
		},
	}
	storage.register(cmd.Flags())
	sel.register(cmd.Flags())
	return cmd
}

func newOutputsDownloadCmd() *cobra.Command {
	var (
		storage    outputsStorageFlags
		sel        outputsSelection
		dest       string
		parallel   int
		noProgress bool
	)
	cmd := &cobra.Command{
		Use:   "download --job JOB [--task TASK] [--kind KIND] [--pattern GLOB] [--dest DIR]",
		Short: "Download outputs",
		Long: `Download the selected outputs below --dest. Files keep their path below
what was selected: with --task and --kind, the path relative to the kind;
with --task only, $Kind/path; otherwise the whole blob name
({taskId}/$Kind/path). Existing files are replaced; each file appears only
once complete. A progress bar is shown when stdout is a terminal.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := commandContext(cmd)
			if parallel < 1 {
				return fmt.Errorf("--parallel must be at least 1, not %d", parallel)
			}
			c, err := storage.jobContainer(sel.jobID)
			if err != nil {
				return err
			}
			refs, err := sel.list(ctx, c)
			if err != nil {
				return err
			}
			var total int64
			for _, r := range refs {
				total += r.Size
			}
			var progress io.Writer
			if !noProgress && isTerminal(os.Stdout) {
				bar := progressbar.NewOptions64(total,
					progressbar.OptionSetWriter(cmd.ErrOrStderr()),
					progressbar.OptionSetDescription(fmt.Sprintf("%d files", len(refs))),
					progressbar.OptionShowBytes(true), progressbar.OptionShowTotalBytes(true),
					progressbar.OptionThrottle(100*time.Millisecond), progressbar.OptionShowCount(),
					progressbar.OptionOnCompletion(func() { fmt.Fprintln(cmd.ErrOrStderr()) }),
					progressbar.OptionSetPredictTime(true), progressbar.OptionFullWidth())
				defer bar.Finish()
				progress = bar
			}
			g, gctx := errgroup.WithContext(ctx)
			g.SetLimit(parallel)
			var mu sync.Mutex // serialises the per-file lines
			for _, r := range refs {
				local, err := sel.localPath(r)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), "warning:", err)
					continue
				}
				dst := filepath.Join(dest, local)
				g.Go(func() error {
					if _, err := r.DownloadToFile(gctx, dst, &conventions.DownloadOptions{Progress: progress}); err != nil {
						return err
					}
					if progress == nil {
						mu.Lock()
						fmt.Fprintln(cmd.OutOrStdout(), dst)
						mu.Unlock()
					}
					return nil
				})
			}
			return g.Wait()
		},
	}
	storage.register(cmd.Flags())
	sel.register(cmd.Flags())
	cmd.Flags().StringVar(&dest, "dest", ".", "directory to download into")
	cmd.Flags().IntVar(&parallel, "parallel", 4, "files downloaded at once")
	cmd.Flags().BoolVar(&noProgress, "no-progress", false, "never show a progress bar")
	return cmd
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// commandContext returns the command's context, or Background when the
// command was executed without one.
func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
