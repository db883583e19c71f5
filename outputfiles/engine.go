package outputfiles

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/outputfiles/journal"
)

// Options configure an Engine. Zero fields take the documented defaults.
type Options struct {
	// Parallelism is the number of files larger than SmallFileSize
	// uploaded at once (default 8). Parallelism within a large file is the
	// backend's (blob/azure Options.BlockConcurrency), so the requests in
	// flight for large files are about Parallelism × BlockConcurrency.
	Parallelism int
	// SmallParallelism is the number of files uploaded at once in all,
	// small and large (default 32, at least Parallelism). A small file is
	// one request whose time is mostly latency, so many at once keep the
	// connection pool busy, as azcopy does with 32 connections on 2 cores;
	// large files are bounded by Parallelism and the backend's buffer
	// memory instead. It also bounds the files open at once.
	SmallParallelism int
	// SmallFileSize is the size up to which a file counts as small (default
	// 1 MiB).
	SmallFileSize int64
	// Retry is the whole-file retry applied around each Put for transient
	// errors that survive the backend's request-level retries (default: 3
	// attempts, 1s base delay). See blob.WithRetry.
	Retry blob.RetryPolicy
	// ExtraRoots are absolute directories outside the task directory that
	// file patterns may read, e.g. the node's shared directory. Empty (the
	// default) confines patterns to the task directory; "/" allows any
	// absolute path, as Azure Batch does.
	ExtraRoots []string
	// Logger receives the engine's own logs (default slog.Default()).
	Logger *slog.Logger
}

// Engine uploads a task's output files. It is immutable and safe for
// concurrent use by many tasks: each Upload opens its own containers, so one
// task's credentials never serve another's uploads.
type Engine struct {
	opener blob.Opener
	opts   Options
}

// New returns an Engine that opens destinations with opener (typically a
// blob.Mux over blob/azure and blob/local; see NewOpener).
func New(opener blob.Opener, opts Options) *Engine {
	if opts.Parallelism <= 0 {
		opts.Parallelism = 8
	}
	if opts.SmallParallelism <= 0 {
		opts.SmallParallelism = 32
	}
	opts.SmallParallelism = max(opts.SmallParallelism, opts.Parallelism)
	if opts.SmallFileSize <= 0 {
		opts.SmallFileSize = 1 << 20
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Engine{opener: opener, opts: opts}
}

// Request is one task's upload.
type Request struct {
	// TaskDir is the task directory (absolute): fileuploadout.txt and
	// fileuploaderr.txt are written here, and patterns may read only below
	// it (plus Options.ExtraRoots).
	TaskDir string
	// WorkingDir is the task's working directory (default TaskDir/wd).
	WorkingDir string
	// Env is the task's environment, for $VAR / ${VAR} in file patterns.
	Env map[string]string
	// OutputFiles are the task's outputFiles, validated by Validate.
	OutputFiles []api.OutputFile
	// Outcome is how the task ended; it selects entries by uploadCondition.
	Outcome Outcome
	// Journal, when set, is where large uploads record their progress so
	// that, after a crash, the same request given again resumes them
	// (blob.PutResumable) instead of sending every byte again. Nil: uploads
	// are not journalled.
	Journal *journal.Dir
	// Planned, when set, is called with the uploads planned, before any
	// starts: the agent records them durably there. An error stops the
	// upload before anything is sent.
	Planned func(uploads []Mapping) error
	// Recorded, when set, are the uploads an interrupted Upload of this
	// request planned (what Planned was given): they are uploaded in place
	// of those planned now, so that a resumed upload sends the files that
	// were matched when the task ended. Setting it implies Resumed.
	Recorded []Mapping
	// Resumed says the request finishes an upload an agent restart
	// interrupted (with or without Recorded): fileuploadout.txt says so.
	Resumed bool
	// Evicted, when not empty, says that the task did not end by itself but
	// was stopped (terminated, its node removed or drained) and why; it is
	// written to fileuploadout.txt so that a reader knows the upload was
	// one on eviction.
	Evicted string
}

// FileResult is the outcome of one file's upload.
type FileResult struct {
	Mapping
	// Pattern is the entry's filePattern as given.
	Pattern string
	// Destination is the blob's URL, redacted.
	Destination string
	// Size is the number of bytes uploaded.
	Size int64
	// ContentMD5 is the MD5 set on the blob.
	ContentMD5 []byte
	// Retries counts retried requests.
	Retries int
	// Duration is the upload's wall time.
	Duration time.Duration
	// Err is nil on success; Code is then "".
	Err error
	// Code is the Batch failure code of Err.
	Code string
}

// Result is the outcome of a task's upload.
type Result struct {
	// Plan is what was planned (entries, mappings, supersessions).
	Plan *Plan
	// Files are the per-file outcomes, in plan order.
	Files []FileResult
	// Uploaded and Failed count files; Bytes, Retries and Duration sum them.
	Uploaded, Failed int
	Bytes            int64
	Retries          int
	Duration         time.Duration
	// FailureInfo is nil when everything planned was uploaded; otherwise it
	// describes the first failure in entry order, for the task's
	// executionInfo.failureInfo.
	FailureInfo *api.TaskFailureInformation
}

// Upload plans and executes the uploads of req and returns when every
// upload has finished. Entries are independent: one entry's failure (a
// refused pattern, a missing container) does not stop the others, and
// every file is attempted; the task's failure is the first failure in entry
// order. Zero matches is success, logged. Upload returns an error only if
// the diagnostics files cannot be written or ctx ends; upload failures are
// in Result.FailureInfo.
func (e *Engine) Upload(ctx context.Context, req Request) (*Result, error) {
	start := time.Now()
	if !filepath.IsAbs(req.TaskDir) {
		return nil, fmt.Errorf("outputfiles: task directory %q is not absolute", req.TaskDir)
	}
	lg, err := openUploadLog(req.TaskDir, time.Now)
	if err != nil {
		return nil, err
	}
	defer lg.Close()

	roots := map[string]*os.Root{}
	defer func() {
		for _, r := range roots {
			r.Close()
		}
	}()
	planner := Planner{TaskDir: filepath.Clean(req.TaskDir), WorkingDir: req.WorkingDir, Env: req.Env,
		ExtraRoots: e.opts.ExtraRoots, FS: func(dir string) (fs.FS, error) {
			r, ok := roots[dir]
			if !ok {
				var err error
				if r, err = os.OpenRoot(dir); err != nil {
					return nil, err
				}
				roots[dir] = r
			}
			return r.FS(), nil
		}}
	req.Resumed = req.Resumed || req.Recorded != nil
	switch {
	case req.Recorded != nil:
		lg.Printf("INFO", "Resuming output file upload after an agent restart - files recorded at exit: %d; the task's command is not run again", len(req.Recorded))
	case req.Resumed:
		lg.Printf("INFO", "Resuming output file upload after an agent restart - files matched again (none were recorded); the task's command is not run again")
	}
	if req.Evicted != "" {
		lg.Printf("INFO", "Upload on eviction - the task was stopped before it exited: %s", req.Evicted)
	}
	lg.Printf("INFO", "Starting output file upload - entries: %d, outcome: %s", len(req.OutputFiles), req.Outcome)
	plan := planner.Plan(req.OutputFiles, req.Outcome)
	if req.Recorded != nil {
		plan.Uploads = planner.validRecorded(req.Recorded, len(req.OutputFiles))
		for _, m := range plan.Uploads {
			if _, ok := roots[m.Root]; !ok {
				if _, err := planner.FS(m.Root); err != nil {
					lg.Printf("WARN", "Cannot open %s: %v", m.Root, err)
				}
			}
		}
	}
	res := &Result{Plan: plan}
	if req.Planned != nil {
		if err := req.Planned(plan.Uploads); err != nil {
			return nil, fmt.Errorf("outputfiles: record the planned uploads: %w", err)
		}
	}

	putOpts := make([]blob.PutOptions, len(plan.Entries))
	entryErrs := make([]error, len(plan.Entries))
	for i := range plan.Entries {
		ep := &plan.Entries[i]
		pat := ep.OutputFile.FilePattern
		c := ep.OutputFile.Destination.Container
		if ep.Skipped {
			lg.Printf("INFO", "Skipped entry %d - original_pattern: %s, uploadCondition: %s, outcome: %s",
				i, pat, ep.OutputFile.UploadOptions.UploadCondition, req.Outcome)
			continue
		}
		for _, v := range ep.Pattern.Unset {
			lg.Printf("WARN", "Pattern %s references $%s, which is not set in the task's environment; it is matched literally", pat, v)
		}
		if c != nil {
			var herr error
			if putOpts[i], herr = PutOptions(c.UploadHeaders); herr != nil {
				ep.Err = errors.Join(ep.Err, herr)
			}
		}
		for _, m := range ep.Mappings {
			lg.Printf("INFO", "Resolved mapping - base_path: %s, full_pattern: %s, original_pattern: %s, destination: %s",
				ep.Pattern.Base, ep.Pattern.Full, pat, blobURL(c.ContainerURL, m.Blob))
		}
		for _, ig := range ep.Ignored {
			lg.Printf("WARN", "Not uploaded - original_pattern: %s, %s", pat, ig)
		}
		if ep.Err != nil {
			entryErrs[i] = ep.Err
			code, cat, _ := FailureCode(ep.Err)
			if code == api.FailureFileUploadMiscError && !errors.As(ep.Err, new(*PatternError)) {
				cat = api.UserError // unreadable directory, bad headers: the task's inputs
			}
			lg.Printf("ERROR", "Entry %d failed - original_pattern: %s, code: %s, error: %v", i, pat, code, ep.Err)
			lg.Failure(errRecord{Code: code, UserError: cat == api.UserError, Pattern: pat, File: ep.Pattern.Full,
				Destination: containerURLOf(ep.OutputFile)})
		}
		if len(ep.Mappings) == 0 && ep.Err == nil {
			lg.Printf("INFO", "No files matched - original_pattern: %s, full_pattern: %s (zero matches is not an error)", pat, ep.Pattern.Full)
		}
	}
	for _, s := range plan.Superseded {
		lg.Printf("WARN", "Superseded - file: %s, blob: %s: outputFiles[%d] maps a file to the same blob; the later entry wins and this upload is skipped",
			s.Mapping.File, s.Mapping.Blob, s.By)
	}

	containers := e.openContainers(ctx, req.OutputFiles, plan)
	res.Files = make([]FileResult, len(plan.Uploads))
	// Every file takes a slot of slots (SmallParallelism) for its whole
	// upload; one found larger than SmallFileSize also takes one of large
	// (Parallelism) once it is opened. Taking them in that order, and never
	// the other, cannot deadlock.
	slots := make(chan struct{}, e.opts.SmallParallelism)
	large := make(chan struct{}, e.opts.Parallelism)
	var wg sync.WaitGroup
	for i, m := range plan.Uploads {
		f := req.OutputFiles[m.Entry]
		fr := &res.Files[i]
		fr.Mapping, fr.Pattern = m, f.FilePattern
		fr.Destination = blobURL(f.Destination.Container.ContainerURL, m.Blob)
		oc := containers[destKey(f)]
		slots <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-slots }()
			e.uploadOne(ctx, lg, roots[m.Root], oc, putOpts[m.Entry], fr, large, req.Journal, f.Destination.Container.ContainerURL, req.Resumed)
		}()
	}
	wg.Wait()

	for i := range res.Files {
		fr := &res.Files[i]
		res.Retries += fr.Retries
		if fr.Err != nil {
			res.Failed++
			lg.Failure(errRecord{Code: fr.Code, UserError: isUserCode(fr.Code), Pattern: fr.Pattern, File: fr.File, Destination: fr.Destination})
			continue
		}
		res.Uploaded++
		res.Bytes += fr.Size
	}
	res.FailureInfo = failureInfo(plan, res, entryErrs)
	res.Duration = time.Since(start)
	lg.Printf("INFO", "Summary - entries: %d, files: %d, uploaded: %d, failed: %d, superseded: %d, bytes: %d, duration: %s, throughput: %s, retries: %d",
		len(req.OutputFiles), len(plan.Uploads), res.Uploaded, res.Failed, len(plan.Superseded), res.Bytes,
		res.Duration.Round(time.Millisecond), throughput(res.Bytes, res.Duration), res.Retries)
	attrs := []any{"taskDir", req.TaskDir, "files", len(plan.Uploads), "uploaded", res.Uploaded, "failed", res.Failed,
		"bytes", res.Bytes, "retries", res.Retries, "duration", res.Duration}
	if res.FailureInfo != nil {
		e.opts.Logger.WarnContext(ctx, "output file upload failed", append(attrs, "code", res.FailureInfo.Code)...)
	} else {
		e.opts.Logger.InfoContext(ctx, "output files uploaded", attrs...)
	}
	if err := lg.Close(); err != nil {
		return res, fmt.Errorf("outputfiles: write upload logs: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("outputfiles: upload interrupted: %w", err)
	}
	return res, nil
}

type openedContainer struct {
	c   blob.Container
	err error
}

func destKey(f api.OutputFile) string {
	c := f.Destination.Container
	id := ""
	if c.IdentityReference != nil {
		id = c.IdentityReference.ResourceID
	}
	return c.ContainerURL + "\n" + id
}

func containerURLOf(f api.OutputFile) string {
	if f.Destination.Container == nil {
		return ""
	}
	return f.Destination.Container.ContainerURL
}

// openContainers opens each distinct destination (URL and identity) once.
func (e *Engine) openContainers(ctx context.Context, files []api.OutputFile, plan *Plan) map[string]openedContainer {
	out := map[string]openedContainer{}
	for _, m := range plan.Uploads {
		f := files[m.Entry]
		k := destKey(f)
		if _, ok := out[k]; ok {
			continue
		}
		var oo blob.OpenOptions
		if ir := f.Destination.Container.IdentityReference; ir != nil {
			oo.IdentityResourceID = ir.ResourceID
		}
		c, err := e.opener.Open(ctx, f.Destination.Container.ContainerURL, oo)
		if err == nil {
			c = blob.WithRetry(c, e.opts.Retry)
		}
		out[k] = openedContainer{c: c, err: err}
	}
	return out
}

// uploadOne uploads one file; a file larger than SmallFileSize first takes a
// slot of large. With a journal directory jd, the upload is journalled so it
// can resume after a crash (resuming says this run is such a resumption).
func (e *Engine) uploadOne(ctx context.Context, lg *uploadLog, root *os.Root, oc openedContainer, opts blob.PutOptions, fr *FileResult,
	large chan struct{}, jd *journal.Dir, containerURL string, resuming bool) {
	start := time.Now()
	defer func() {
		fr.Duration = time.Since(start)
		if fr.Err == nil {
			lg.Printf("INFO", "Upload done - file: %s, blob: %s, bytes: %d, duration: %s, throughput: %s, retries: %d, content_md5: %s",
				fr.File, fr.Blob, fr.Size, fr.Duration.Round(time.Millisecond), throughput(fr.Size, fr.Duration), fr.Retries,
				base64.StdEncoding.EncodeToString(fr.ContentMD5))
			return
		}
		code, _, _ := FailureCode(fr.Err)
		fr.Code = code
		var be *blob.Error
		if errors.As(fr.Err, &be) {
			fr.Retries = be.Retries
		}
		lg.Printf("ERROR", "Upload failed - file: %s, blob: %s, destination: %s, code: %s, retries: %d, error: %v",
			fr.File, fr.Blob, fr.Destination, code, fr.Retries, fr.Err)
	}()
	if oc.err != nil {
		fr.Err = oc.err
		return
	}
	if root == nil {
		fr.Err = fmt.Errorf("no root open for %s", fr.Root)
		return
	}
	f, err := root.Open(fr.Rel)
	if err != nil {
		fr.Err = fmt.Errorf("open %s: %w", fr.File, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fr.Err = fmt.Errorf("stat %s: %w", fr.File, err)
		return
	}
	if !fi.Mode().IsRegular() {
		fr.Err = fmt.Errorf("%s is no longer a regular file", fr.File)
		return
	}
	if fi.Size() > e.opts.SmallFileSize {
		select {
		case large <- struct{}{}:
			defer func() { <-large }()
			start = time.Now() // the file's duration excludes the wait
		case <-ctx.Done():
			fr.Err = fmt.Errorf("upload of %s interrupted: %w", fr.File, context.Cause(ctx))
			return
		}
	}
	lg.Printf("INFO", "Upload start - file: %s, blob: %s, bytes: %d", fr.File, fr.Blob, fi.Size())
	var r blob.PutResult
	if resuming && !blob.CanResume(oc.c) {
		lg.Printf("INFO", "Upload restarts from the beginning - file: %s, blob: %s: this destination cannot resume an upload", fr.File, fr.Blob)
	}
	if jd != nil {
		j := newFileJournal(jd, containerURL, fr.Blob, fi)
		r, err = blob.PutResumable(ctx, oc.c, fr.Blob, f, fi.Size(), opts, j)
		if err == nil {
			j.done()
		}
		if r.Reused > 0 {
			lg.Printf("INFO", "Upload resumed - file: %s, blob: %s, blocks already staged and reused: %d of %d", fr.File, fr.Blob, r.Reused, r.Blocks)
		}
	} else {
		r, err = oc.c.Put(ctx, fr.Blob, f, fi.Size(), opts)
	}
	fr.Size, fr.ContentMD5, fr.Retries, fr.Err = r.Size, r.ContentMD5, r.Retries, err
}

// validRecorded returns the recorded mappings that name an entry of the
// request and read through a root the planner allows (a record is the
// agent's own, but it is read back from disk).
func (pl Planner) validRecorded(rec []Mapping, entries int) []Mapping {
	out := make([]Mapping, 0, len(rec))
	for _, m := range rec {
		root, ok := pl.rootFor(m.Root)
		if ok && root == path.Clean(m.Root) && m.Entry >= 0 && m.Entry < entries && m.Rel != "" && m.Blob != "" {
			out = append(out, m)
		}
	}
	return out
}

func isUserCode(code string) bool {
	return code == api.FailureFileUploadContainerNotFound || code == api.FailureFileUploadAccessDenied
}

// failureInfo describes the first failure in entry order.
func failureInfo(plan *Plan, res *Result, entryErrs []error) *api.TaskFailureInformation {
	total := len(plan.Uploads)
	for i, ep := range plan.Entries {
		var (
			err               error
			file, destination string
		)
		if entryErrs[i] != nil {
			err, file, destination = entryErrs[i], ep.Pattern.Full, blob.Redact(containerURLOf(ep.OutputFile))
		} else {
			for _, fr := range res.Files {
				if fr.Entry == i && fr.Err != nil {
					err, file, destination = fr.Err, fr.File, fr.Destination
					break
				}
			}
		}
		if err == nil {
			continue
		}
		code, cat, msg := FailureCode(err)
		if entryErrs[i] != nil && code == api.FailureFileUploadMiscError {
			cat = api.UserError
		}
		details := []api.NameValuePair{
			{Name: "FilePattern", Value: ep.OutputFile.FilePattern},
			{Name: "FilePath", Value: file},
			{Name: "Destination", Value: destination},
			{Name: "Message", Value: blob.RedactText(err.Error())},
		}
		var be *blob.Error
		if errors.As(err, &be) && be.Code != "" {
			details = append(details, api.NameValuePair{Name: "StorageErrorCode", Value: be.Code})
		}
		details = append(details, api.NameValuePair{Name: "FailedUploads", Value: fmt.Sprintf("%d of %d files", res.Failed, total)})
		return &api.TaskFailureInformation{Category: cat, Code: code, Message: msg, Details: details}
	}
	return nil
}

func throughput(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f MiB/s", float64(bytes)/(1<<20)/d.Seconds())
}
