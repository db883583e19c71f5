// Package demo runs openbatch's main job end to end on one machine: a local
// openbatch dev server, a pool of local nodes, a job whose tasks write
// output files, and those outputs persisted to blob storage (Azurite when
// its npm package is installed, else a local directory) under the Batch
// File Conventions names. `openbatch demo` calls it.
package demo

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/azurite"
)

// Options configure a demo run.
type Options struct {
	// DataDir holds the server's database, nodes and local storage; empty
	// means a fresh temporary directory.
	DataDir string
	// Tasks is how many tasks the job has (default 6).
	Tasks int
	// Keep keeps the server running after the job completes, until ctx ends.
	Keep bool
	Out  io.Writer
	Log  *slog.Logger
}

const (
	poolID = "demo-pool"
	jobID  = "demo-job"
	// container follows the Batch File Conventions: job-{jobId}.
	container = "job-demo-job"
)

// Run runs the demo.
func Run(ctx context.Context, o Options) error {
	if o.Tasks <= 0 {
		o.Tasks = 6
	}
	if o.Log == nil {
		o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	out := o.Out
	if o.DataDir == "" {
		d, err := os.MkdirTemp("", "openbatch-demo-*")
		if err != nil {
			return err
		}
		o.DataDir = d
		// Registered first, so it runs last: after the server and the
		// storage emulator have stopped writing there.
		defer func() {
			if err := os.RemoveAll(d); err != nil {
				fmt.Fprintf(out, "could not remove the demo's files in %s: %v\n", d, err)
				return
			}
			fmt.Fprintf(out, "removed the demo's files in %s (pass --data-dir DIR to keep them)\n", d)
		}()
		fmt.Fprintf(out, "demo files (database, node directories, storage) in %s; removed when the demo ends\n", d)
	} else {
		fmt.Fprintf(out, "demo files (database, node directories, storage) in %s; kept after the demo\n", o.DataDir)
	}
	store, cleanup, err := openStorage(ctx, o.DataDir, out)
	if err != nil {
		return err
	}
	defer cleanup()

	srv, err := app.Start(ctx, app.Config{Listen: "127.0.0.1:0", DataDir: filepath.Join(o.DataDir, "server"), LocalNodes: true, Log: o.Log,
		ConsoleOpen: true})
	if err != nil {
		return err
	}
	defer srv.Close()
	fmt.Fprintf(out, "openbatch dev running at %s (account %s); web console at %s\n", srv.Endpoint, app.DevAccountName, srv.ConsoleURL)
	c, err := client.New(srv.Endpoint, app.DevAccountName, app.DevAccountKey)
	if err != nil {
		return err
	}
	if err := c.AddPool(ctx, &api.Pool{ID: poolID, VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(2), TaskSlotsPerNode: api.I32(2)}); err != nil {
		return fmt.Errorf("create pool: %w", err)
	}
	if err := c.AddJob(ctx, &api.Job{ID: jobID, PoolInfo: &api.PoolInformation{PoolID: poolID}}); err != nil {
		return fmt.Errorf("create job: %w", err)
	}
	fmt.Fprintf(out, "pool %s: 2 local nodes x 2 slots; job %s with %d tasks\n", poolID, jobID, o.Tasks)
	var tasks []*api.Task
	for i := 1; i <= o.Tasks; i++ {
		id := fmt.Sprintf("task-%d", i)
		// Each task computes squares and writes a result file; task-3 fails
		// on purpose, so its failure-only log is uploaded too.
		cmd := fmt.Sprintf(`/bin/sh -c 'for n in $(seq 1 %d); do echo "$n $((n*n))"; done > result.txt; echo "task %s on $AZ_BATCH_NODE_ID"'`, 1000*i, id)
		if i == 3 {
			cmd = `/bin/sh -c 'echo "something went wrong" >&2; echo detail > debug.log; exit 3'`
		}
		tasks = append(tasks, &api.Task{ID: id, CommandLine: cmd, OutputFiles: []api.OutputFile{
			outputFile("result.txt", store.url, id+"/$TaskOutput/result.txt", api.UploadOnSuccess),
			outputFile("../std*.txt", store.url, id+"/$TaskLog", api.UploadOnCompletion),
			outputFile("*.log", store.url, id+"/$TaskLog", api.UploadOnFailure),
		}})
	}
	if _, err := c.AddTasks(ctx, jobID, tasks); err != nil {
		return fmt.Errorf("add tasks: %w", err)
	}
	start := time.Now()
	for _, t := range tasks {
		done, err := c.WaitTask(ctx, jobID, t.ID)
		if err != nil {
			return err
		}
		ei := done.ExitCode()
		fmt.Fprintf(out, "  %-8s %-9s exit %-3s %s\n", t.ID, done.State, ei, failure(done))
	}
	fmt.Fprintf(out, "all tasks completed in %s\n\nblobs in %s:\n", time.Since(start).Round(time.Millisecond), store.display)
	names, err := store.list(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		fmt.Fprintf(out, "  %s\n", n)
	}
	if o.Keep {
		fmt.Fprintf(out, "\nserver still running at %s (web console: %s); press Ctrl-C to stop\n", srv.Endpoint, srv.ConsoleURL)
		<-ctx.Done()
	}
	return nil
}

func failure(t *api.Task) string {
	if t.ExecutionInfo != nil && t.ExecutionInfo.FailureInfo != nil {
		f := t.ExecutionInfo.FailureInfo
		return f.Code + ": " + f.Message
	}
	return ""
}

func outputFile(pattern, containerURL, path string, cond api.OutputFileUploadCondition) api.OutputFile {
	return api.OutputFile{FilePattern: pattern,
		Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: containerURL, Path: path}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: cond}}
}

type storage struct {
	url     string // container URL given to tasks (with a write-and-list SAS)
	display string
	list    func(context.Context) ([]string, error)
}

// openStorage starts Azurite (if installed) and makes the job's container
// with a write-and-list SAS, or falls back to a local directory.
func openStorage(ctx context.Context, dataDir string, out io.Writer) (*storage, func(), error) {
	if _, err := azurite.NodeBin("azurite-blob"); err != nil {
		st, cleanup, err := openLocal(dataDir)
		if err == nil {
			fmt.Fprintf(out, "Azurite is not installed (run scripts/setup.sh, or npm install -g azurite); outputs go to %s\n", st.display)
		}
		return st, cleanup, err
	}
	return openAzurite(ctx, dataDir, out)
}

// openLocal stores outputs in a directory through file:// URLs.
func openLocal(dataDir string) (*storage, func(), error) {
	dir := filepath.Join(dataDir, "storage", container)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	return &storage{url: (&url.URL{Scheme: "file", Path: dir}).String(), display: dir, list: func(context.Context) ([]string, error) {
		var names []string
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				if d != nil && d.Name() == ".openbatch-blob" {
					return filepath.SkipDir
				}
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			names = append(names, filepath.ToSlash(rel))
			return nil
		})
		sort.Strings(names)
		return names, err
	}}, func() {}, nil
}

// openAzurite starts Azurite and makes the job's container with a SAS
// that may write (what uploads need) and list, so that the web console can
// show the blobs that landed with their sizes and Content-MD5.
func openAzurite(ctx context.Context, dataDir string, out io.Writer) (*storage, func(), error) {
	az, err := azurite.Start(ctx, filepath.Join(dataDir, "azurite"))
	if err != nil {
		return nil, nil, err
	}
	fmt.Fprintf(out, "Azurite blob storage running at %s\n", az.Endpoint)
	cred, err := azblob.NewSharedKeyCredential(az.Account, az.Key)
	if err != nil {
		az.Close()
		return nil, nil, err
	}
	co, err := azure.ClientOptionsFromEnv(azcore.ClientOptions{})
	if err != nil {
		az.Close()
		return nil, nil, err
	}
	cl, err := azblob.NewClientWithSharedKeyCredential(az.Endpoint+"/", cred, &azblob.ClientOptions{ClientOptions: co})
	if err != nil {
		az.Close()
		return nil, nil, err
	}
	if _, err := cl.CreateContainer(ctx, container, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		az.Close()
		return nil, nil, fmt.Errorf("create container: %w", err)
	}
	q, err := sas.BlobSignatureValues{Protocol: sas.ProtocolHTTPSandHTTP, ExpiryTime: time.Now().Add(24 * time.Hour).UTC(),
		Permissions: (&sas.ContainerPermissions{Write: true, List: true}).String(), ContainerName: container}.SignWithSharedKey(cred)
	if err != nil {
		az.Close()
		return nil, nil, err
	}
	return &storage{url: az.Endpoint + "/" + container + "?" + q.Encode(), display: az.Endpoint + "/" + container,
		list: func(ctx context.Context) ([]string, error) {
			var names []string
			pager := cl.NewListBlobsFlatPager(container, nil)
			for pager.More() {
				page, err := pager.NextPage(ctx)
				if err != nil {
					return nil, err
				}
				for _, b := range page.Segment.BlobItems {
					names = append(names, fmt.Sprintf("%s (%d bytes)", *b.Name, *b.Properties.ContentLength))
				}
			}
			return names, nil
		}}, az.Close, nil
}
