package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"golang.org/x/sync/errgroup"

	"github.com/openbatch/openbatch/api"
)

// resourceFilesStep downloads the run's resource files into its working
// directory before the process starts: httpUrl files one each,
// storageContainerUrl and autoStorageContainerName containers listed (with
// blobPrefix) and every blob downloaded under filePath keeping its full
// blob name as a relative path. Downloads run in parallel, at most
// Config.DownloadConcurrency at once, each streamed to a temporary file
// that is renamed into place when complete, so a task never sees a partial
// file. Every write goes through an os.Root on the working directory: no
// filePath, blob name or symbolic link left by an earlier attempt can make
// the node write outside it. The first failure cancels the other downloads
// and ends the run with a pre-processing failure (codes in download.go).
type resourceFilesStep struct{}

func (resourceFilesStep) Name() string { return "resourcefiles" }

func (resourceFilesStep) Run(ctx context.Context, run *TaskRun) error {
	files := run.Spec.ResourceFiles
	if len(files) == 0 {
		return nil
	}
	// The downloads write into the task directory: the owner step must
	// walk it.
	run.freshDir = false
	if err := ValidateResourceFiles(files); err != nil {
		return NewFailure(api.UserError, api.FailureResourceFileCreateFailed, "A resource file specification is invalid", true, err,
			api.NameValuePair{Name: "Message", Value: err.Error()})
	}
	root, err := os.OpenRoot(run.Paths.WorkingDir)
	if err != nil {
		return NewFailure(api.ServerError, failureResourceDirectoryCreateFailed, "The task working directory could not be opened", true, err)
	}
	defer root.Close()

	d := &downloader{cfg: run.cfg, root: root, log: run.Log}
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(gctx)
	g.SetLimit(run.cfg.DownloadConcurrency)

	var listErr error
	for _, rf := range files {
		mode := DefaultResourceFileMode
		if rf.FileMode != "" {
			mode, _ = parseFileMode(rf.FileMode) // validated above
		}
		if rf.HTTPURL != "" {
			target, _ := cleanFilePath(rf.FilePath, true)
			g.Go(func() error { return d.downloadURL(gctx, rf.HTTPURL, target, mode) })
			continue
		}
		src, err := d.container(gctx, rf)
		if err != nil {
			listErr = err
			break
		}
		base := "."
		if rf.FilePath != "" {
			base, _ = cleanFilePath(rf.FilePath, false)
		}
		names, err := d.listContainer(gctx, src, rf.BlobPrefix)
		for _, name := range names {
			target := path.Join(base, name)
			if target == ".." || strings.HasPrefix(target, "../") {
				err = NewFailure(api.UserError, api.FailureResourceFileCreateFailed,
					"A blob name points outside the task working directory", true,
					fmt.Errorf("blob %q would be written to %q", name, target),
					api.NameValuePair{Name: "BlobName", Value: name})
				break
			}
			g.Go(func() error { return d.downloadBlob(gctx, src, name, target, mode) })
		}
		if err != nil {
			listErr = err
			break
		}
	}
	if listErr != nil {
		// A listing that failed only because a download already failed
		// reports the download's failure.
		var f *Failure
		if !errors.As(listErr, &f) && gctx.Err() != nil && ctx.Err() == nil {
			listErr = nil
		}
		cancel()
	}
	werr := g.Wait()
	if listErr != nil {
		return listErr
	}
	return werr
}
