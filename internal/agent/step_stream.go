package agent

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/conventions"
	"github.com/openbatch/openbatch/outputfiles"
)

// StreamEnv is the task environment variable naming output files to stream
// while the task runs: file patterns separated by ";", resolved like
// outputFiles filePatterns (relative to the working directory, so
// "../stdout.txt" is the task's stdout), e.g.
// "../stdout.txt;../stderr.txt;progress/*.csv". A file is streamed when it
// matches one of them and an outputFiles entry with a container destination
// names it; it is appended, as it grows, to the blob name that entry gives
// it, with conventions' tracked save (append blobs, appends conditional on
// the blob's length, so no byte is stored twice across retries). After the
// process exits the output-files step uploads the file as usual, which
// replaces the streamed blob with the same content and its Content-MD5.
const StreamEnv = "OPENBATCH_STREAM_OUTPUTS"

// Streamer streams task outputs named by StreamEnv. Its StartStep goes in
// Config.BeforeProcess and its StopStep in Config.AfterProcess before the
// output-files step. One Streamer serves any number of concurrent runs.
type Streamer struct {
	// Opener opens destinations, as OutputFilesStep's does.
	Opener blob.Opener
	// Interval is how often files are looked for and flushed (0 means
	// conventions.DefaultFlushInterval).
	Interval time.Duration

	mu   sync.Mutex
	runs map[*TaskRun]*streamRun
}

// streamRun is the streaming of one run: a scanner goroutine, owned by
// stop, that starts a tracker for each streamed file it finds.
type streamRun struct {
	cancel   context.CancelFunc
	done     chan struct{} // closed when the scanner has returned
	trackers []streamedFile
}

// streamedFile is one tracked file and where it goes.
type streamedFile struct {
	tr   *conventions.TrackedSave
	c    blob.Container
	name string
	file string
}

// blockUploadSize is the file size from which the final upload may be made
// of blocks (blob/azure's default single-request limit), which Azure
// refuses on the name of an existing append blob (409 InvalidBlobType).
const blockUploadSize = azure.DefaultBlockSize

// StartStep returns the step that starts streaming (Config.BeforeProcess).
func (s *Streamer) StartStep() Step { return streamStart{s} }

// StopStep returns the step that stops streaming with a final flush
// (Config.AfterProcess, before OutputFilesStep).
func (s *Streamer) StopStep() Step { return streamStop{s} }

type streamStart struct{ s *Streamer }

func (streamStart) Name() string { return "stream-start" }

func (st streamStart) Run(ctx context.Context, run *TaskRun) error {
	s := st.s
	patterns := splitStreamPatterns(run.Env[StreamEnv])
	if run.Spec.Kind != KindTask || len(patterns) == 0 || len(run.Spec.OutputFiles) == 0 {
		return nil
	}
	interval := s.Interval
	if interval <= 0 {
		interval = conventions.DefaultFlushInterval
	}
	// The scanner outlives this step (it runs while the process does), so
	// it gets its own context, cancelled by the stop step.
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	sr := &streamRun{cancel: cancel, done: make(chan struct{})}
	s.mu.Lock()
	if s.runs == nil {
		s.runs = map[*TaskRun]*streamRun{}
	}
	s.runs[run] = sr
	s.mu.Unlock()
	go func() {
		defer close(sr.done)
		s.scan(sctx, run, sr, patterns, interval)
	}()
	return nil
}

// scan looks for streamed files every interval until ctx ends.
func (s *Streamer) scan(ctx context.Context, run *TaskRun, sr *streamRun, patterns []string, interval time.Duration) {
	wd := run.Paths.WorkingDir
	env := map[string]string(run.Env)
	started := map[string]bool{} // container key + blob name
	containers := map[string]blob.Container{}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		for _, f := range run.Spec.OutputFiles {
			c := f.Destination.Container
			if c == nil {
				continue
			}
			p, err := outputfiles.ParsePattern(f.FilePattern, wd, env)
			if err != nil || strings.Contains(p.Full, "**") {
				continue
			}
			files := []string{p.Full}
			if p.Wildcard {
				files, _ = filepath.Glob(p.Full)
			}
			for _, file := range files {
				if !streamed(file, patterns, wd, env) {
					continue
				}
				name := outputfiles.BlobName(p, c.Path, file)
				key := c.ContainerURL + "\n" + name
				if started[key] {
					continue
				}
				bc, ok := containers[c.ContainerURL]
				if !ok {
					var opts blob.OpenOptions
					if c.IdentityReference != nil {
						opts.IdentityResourceID = c.IdentityReference.ResourceID
					}
					bc, err = s.Opener.Open(ctx, c.ContainerURL, opts)
					if err != nil {
						run.Log.Warn("stream outputs: cannot open destination", "err", err)
						started[key] = true
						continue
					}
					containers[c.ContainerURL] = bc
				}
				started[key] = true
				tr, err := conventions.TrackBlob(ctx, bc, file, name, interval, &conventions.TrackOptions{Logger: run.Log})
				if err != nil {
					run.Log.Warn("stream outputs: cannot stream file", "file", file, "blob", name, "err", blob.RedactText(err.Error()))
					continue
				}
				run.Log.Info("streaming output file", "file", file, "blob", name)
				s.mu.Lock()
				sr.trackers = append(sr.trackers, streamedFile{tr: tr, c: bc, name: name, file: file})
				s.mu.Unlock()
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// streamed reports whether file matches one of the stream patterns.
func streamed(file string, patterns []string, wd string, env map[string]string) bool {
	for _, q := range patterns {
		p, err := outputfiles.ParsePattern(q, wd, env)
		if err != nil {
			continue
		}
		if p.Full == file {
			return true
		}
		if ok, _ := filepath.Match(p.Full, file); ok && p.Wildcard {
			return true
		}
	}
	return false
}

// splitStreamPatterns splits StreamEnv's value at ";", dropping empties.
func splitStreamPatterns(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ";") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type streamStop struct{ s *Streamer }

func (streamStop) Name() string { return "stream-stop" }

// RunsAfterFailure: trackers must be stopped whatever happened.
func (streamStop) RunsAfterFailure() bool { return true }

func (st streamStop) Run(ctx context.Context, run *TaskRun) error {
	s := st.s
	s.mu.Lock()
	sr := s.runs[run]
	delete(s.runs, run)
	s.mu.Unlock()
	if sr == nil {
		return nil
	}
	sr.cancel()
	<-sr.done
	s.mu.Lock()
	trackers := sr.trackers
	s.mu.Unlock()
	for _, sf := range trackers {
		// The final flush; the output-files step then replaces the blob
		// with a normal upload (same content, with Content-MD5).
		if err := sf.tr.Stop(ctx); err != nil {
			run.Log.Warn("stream outputs: final flush failed", "err", blob.RedactText(err.Error()))
		}
		// A block upload cannot replace an append blob: remove the
		// streamed blob first when the credential allows deleting.
		if fi, err := os.Stat(sf.file); err == nil && fi.Size() > blockUploadSize {
			if err := sf.c.Delete(ctx, sf.name); err != nil {
				run.Log.Warn("stream outputs: cannot remove the streamed blob before the final block upload; it may fail with FileUploadConflict",
					"blob", sf.name, "err", blob.RedactText(err.Error()))
			}
		}
	}
	return nil
}
