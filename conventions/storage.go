package conventions

import (
	"context"
	"fmt"
	"io"
	"iter"
	"mime"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/local"
)

// JobContainer is the blob container of one job's outputs. It hands out
// [TaskOutputStorage] and [JobOutputStorage] views and lists across them.
// Like the .NET library it never creates the container; call
// [PrepareOutputStorage] first (or let the job's owner do so). Every
// storage call goes through a blob.Container, so it gets that package's
// retries, error classification and redaction, and works on any backend
// (Azure, file://, S3).
type JobContainer struct {
	c    blob.Container
	name string
}

// NewJobContainer wraps an opened container whose name is name.
func NewJobContainer(c blob.Container, name string) *JobContainer {
	return &JobContainer{c: c, name: name}
}

// DefaultOpener opens container URLs for [OpenJobContainer]: https and
// http go to blob/azure, file to blob/local. Replace it (before first use)
// to add backends.
var DefaultOpener blob.Opener = defaultOpener()

func defaultOpener() blob.Opener {
	// The storage service version comes from OPENBATCH_STORAGE_API_VERSION
	// (azure.ServiceVersionEnv), as for every storage client openbatch
	// builds; a malformed value fails every open, saying so.
	v, err := azure.ServiceVersionFromEnv()
	if err != nil {
		return failingOpener{err}
	}
	ab, err := azure.New(azure.Options{ServiceVersion: v})
	if err != nil {
		return failingOpener{err}
	}
	return blob.NewMux(map[string]blob.Opener{"https": ab, "http": ab, "file": local.New()})
}

// failingOpener refuses every open with err.
type failingOpener struct{ err error }

func (f failingOpener) Open(context.Context, string, blob.OpenOptions) (blob.Container, error) {
	return nil, f.err
}

// OpenJobContainer returns the container at containerURL, which must carry
// a SAS (as from [ContainerSASURL]) unless the container is public. The URL
// names the container, so no job ID is needed. No request is made.
func OpenJobContainer(ctx context.Context, containerURL string) (*JobContainer, error) {
	u, err := url.Parse(containerURL)
	if err != nil || u.Scheme == "" || (u.Host == "" && u.Scheme != "file") {
		return nil, fmt.Errorf("container URL %q is not an absolute URL", RedactURL(containerURL))
	}
	c, err := DefaultOpener.Open(ctx, containerURL, blob.OpenOptions{})
	if err != nil {
		return nil, fmt.Errorf("container URL %s: %w", RedactURL(containerURL), sanitize(err))
	}
	return NewJobContainer(withRetry(c), path.Base(u.Path)), nil
}

// withRetry adds the whole-operation retries of package blob.
func withRetry(c blob.Container) blob.Container {
	return blob.WithRetry(c, blob.RetryPolicy{BaseDelay: 500 * time.Millisecond, MaxDelay: 10 * time.Second})
}

// Name returns the container's name.
func (c *JobContainer) Name() string { return c.name }

// URL returns the container's URL without any SAS, safe to show.
func (c *JobContainer) URL() string { return RedactURL(c.c.String()) }

// Container returns the underlying blob.Container, for operations this
// package does not wrap.
func (c *JobContainer) Container() blob.Container { return c.c }

// Task returns the storage of the outputs of task taskID of this job.
func (c *JobContainer) Task(taskID string) (*TaskOutputStorage, error) {
	if err := validateID("task", taskID); err != nil {
		return nil, err
	}
	return &TaskOutputStorage{s: store{c: c.c, taskID: taskID}}, nil
}

// Job returns the storage of the job-level outputs of this job.
func (c *JobContainer) Job() *JobOutputStorage {
	return &JobOutputStorage{s: store{c: c.c}}
}

// ListFilter selects outputs in [JobContainer.All]. Zero fields match all.
type ListFilter struct {
	// TaskID restricts to one task's outputs (job outputs are excluded).
	TaskID string
	// Kind restricts to one kind, at task or job level.
	Kind Kind
	// JobOnly restricts to job-level outputs.
	JobOnly bool
}

// All iterates over the container's outputs that match f, in blob-name
// order. Blobs that do not follow the conventions' layout are skipped.
func (c *JobContainer) All(ctx context.Context, f ListFilter) iter.Seq2[OutputFileReference, error] {
	var prefix string
	var err error
	switch {
	case f.TaskID != "" && f.Kind != "":
		prefix, err = TaskListPrefix(f.TaskID, f.Kind)
	case f.TaskID != "":
		err = validateID("task", f.TaskID)
		prefix = f.TaskID + "/$"
	case f.JobOnly && f.Kind != "":
		prefix, err = JobListPrefix(f.Kind)
	case f.JobOnly:
		prefix = "$"
	case f.Kind != "":
		err = f.Kind.Validate()
	}
	match := func(loc BlobLocation) bool {
		return (f.Kind == "" || loc.Kind == f.Kind) &&
			(f.TaskID == "" || loc.TaskID == f.TaskID) &&
			(!f.JobOnly || loc.TaskID == "")
	}
	if err != nil {
		return func(yield func(OutputFileReference, error) bool) { yield(OutputFileReference{}, err) }
	}
	return listBlobs(ctx, c.c, prefix, match)
}

// List collects [JobContainer.All].
func (c *JobContainer) List(ctx context.Context, f ListFilter) ([]OutputFileReference, error) {
	return collect(c.All(ctx, f))
}

func collect(seq iter.Seq2[OutputFileReference, error]) ([]OutputFileReference, error) {
	var refs []OutputFileReference
	for r, err := range seq {
		if err != nil {
			return refs, err
		}
		refs = append(refs, r)
	}
	return refs, nil
}

// listBlobs lists blobs under prefix that parse as conventions names and
// satisfy match.
func listBlobs(ctx context.Context, c blob.Container, prefix string, match func(BlobLocation) bool) iter.Seq2[OutputFileReference, error] {
	return func(yield func(OutputFileReference, error) bool) {
		for item, err := range c.List(ctx, prefix) {
			if err != nil {
				yield(OutputFileReference{}, fmt.Errorf("list outputs under %q in container %s: %w", prefix, RedactURL(c.String()), sanitize(err)))
				return
			}
			loc, ok := ParseBlobName(item.Name)
			if !ok || !match(loc) {
				continue
			}
			ref := OutputFileReference{BlobLocation: loc, BlobName: item.Name, Size: item.Size,
				LastModified: item.LastModified, ContentMD5: item.ContentMD5, c: c}
			if !yield(ref, nil) {
				return
			}
		}
	}
}

// OutputFileReference is one stored output: where it is by the conventions,
// its size and a handle to read it. It corresponds to .NET's
// OutputFileReference.
type OutputFileReference struct {
	// BlobLocation holds TaskID (empty for job outputs), Kind and FilePath,
	// the path relative to the kind's folder.
	BlobLocation
	// BlobName is the full blob name in the container.
	BlobName string
	// Size is the blob's length in bytes.
	Size int64
	// LastModified is when the blob was last written.
	LastModified time.Time
	// ContentMD5 is the blob's Content-MD5, when the service has one.
	ContentMD5 []byte

	c blob.Container
}

// URL returns the blob's URL without SAS, safe to show.
func (r OutputFileReference) URL() string {
	return strings.TrimSuffix(RedactURL(r.c.String()), "/") + "/" + (&url.URL{Path: r.BlobName}).EscapedPath()
}

// Open starts a download of the blob. The reader retries broken connections
// from where it stopped (where the backend can); close it when done.
func (r OutputFileReference) Open(ctx context.Context) (io.ReadCloser, error) {
	rc, _, err := r.c.Get(ctx, r.BlobName)
	if err != nil {
		return nil, fmt.Errorf("download %s: %w", r.BlobName, sanitize(err))
	}
	return rc, nil
}

// Download writes the blob's content to w and returns the bytes written.
func (r OutputFileReference) Download(ctx context.Context, w io.Writer) (int64, error) {
	body, err := r.Open(ctx)
	if err != nil {
		return 0, err
	}
	defer body.Close()
	n, err := io.Copy(w, body)
	if err != nil {
		return n, fmt.Errorf("download %s: %w", r.BlobName, sanitize(err))
	}
	return n, nil
}

// DownloadOptions tunes [OutputFileReference.DownloadToFile].
type DownloadOptions struct {
	// Progress, if set, receives a copy of every byte downloaded (a progress
	// bar is an io.Writer).
	Progress io.Writer
}

// DownloadToFile downloads the blob to the file at dst, creating parent
// directories. The content goes to a temporary file beside dst that is
// renamed into place only when complete, so dst is never half-written.
func (r OutputFileReference) DownloadToFile(ctx context.Context, dst string, opts *DownloadOptions) (int64, error) {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return 0, fmt.Errorf("download %s: %w", r.BlobName, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), "."+filepath.Base(dst)+".*.part")
	if err != nil {
		return 0, fmt.Errorf("download %s: %w", r.BlobName, err)
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	var w io.Writer = tmp
	if opts != nil && opts.Progress != nil {
		w = io.MultiWriter(tmp, opts.Progress)
	}
	n, err := r.Download(ctx, w)
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("download %s to %s: %w", r.BlobName, dst, cerr)
	}
	if err != nil {
		return n, err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return n, fmt.Errorf("download %s: %w", r.BlobName, err)
	}
	return n, nil
}

// Delete deletes the blob.
func (r OutputFileReference) Delete(ctx context.Context) error {
	if err := r.c.Delete(ctx, r.BlobName); err != nil {
		return fmt.Errorf("delete %s: %w", r.BlobName, sanitize(err))
	}
	return nil
}

// store is the code shared by task and job storage: a container and, for
// task storage, the task ID that prefixes every blob name.
type store struct {
	c      blob.Container
	taskID string // empty for job storage
}

func (s store) prefix(kind Kind) (string, error) {
	if s.taskID == "" {
		return JobPrefix(kind)
	}
	return TaskPrefix(s.taskID, kind)
}

func (s store) blobName(kind Kind, rel string) (string, error) {
	p, err := s.prefix(kind)
	if err != nil {
		return "", err
	}
	return joinBlobName(p, rel)
}

func (s store) saveAs(ctx context.Context, kind Kind, sourcePath, destRelPath string) error {
	name, err := s.blobName(kind, destRelPath)
	if err != nil {
		return err
	}
	f, err := os.Open(sourcePath)
	if err != nil {
		return fmt.Errorf("save %s as %s: %w", sourcePath, name, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("save %s as %s: %w", sourcePath, name, err)
	}
	if _, err := s.c.Put(ctx, name, f, fi.Size(), blob.PutOptions{ContentType: contentTypeOf(name)}); err != nil {
		return fmt.Errorf("save %s as %s in container %s: %w", sourcePath, name, RedactURL(s.c.String()), sanitize(err))
	}
	return nil
}

func (s store) saveText(ctx context.Context, kind Kind, text, destRelPath string) error {
	name, err := s.blobName(kind, destRelPath)
	if err != nil {
		return err
	}
	opts := blob.PutOptions{ContentType: "text/plain; charset=utf-8"}
	if _, err := s.c.Put(ctx, name, strings.NewReader(text), int64(len(text)), opts); err != nil {
		return fmt.Errorf("save text as %s in container %s: %w", name, RedactURL(s.c.String()), sanitize(err))
	}
	return nil
}

func (s store) all(ctx context.Context, kind Kind) iter.Seq2[OutputFileReference, error] {
	p, err := s.prefix(kind)
	if err != nil {
		return func(yield func(OutputFileReference, error) bool) { yield(OutputFileReference{}, err) }
	}
	taskID := s.taskID
	return listBlobs(ctx, s.c, p+"/", func(loc BlobLocation) bool {
		return loc.Kind == kind && loc.TaskID == taskID
	})
}

func (s store) get(ctx context.Context, kind Kind, filePath string) (OutputFileReference, error) {
	name, err := s.blobName(kind, filePath)
	if err != nil {
		return OutputFileReference{}, err
	}
	props, err := s.c.Stat(ctx, name)
	if err != nil {
		return OutputFileReference{}, fmt.Errorf("get %s in container %s: %w", name, RedactURL(s.c.String()), sanitize(err))
	}
	loc, _ := ParseBlobName(name)
	return OutputFileReference{BlobLocation: loc, BlobName: name, Size: props.Size,
		LastModified: props.LastModified, ContentMD5: props.ContentMD5, c: s.c}, nil
}

// TaskOutputStorage saves, lists and reads the outputs of one task under
// "{taskId}/${Kind}/". Get one from [JobContainer.Task],
// [NewTaskOutputStorage] or [NewTaskOutputStorageFromURL]. It is safe for
// concurrent use.
type TaskOutputStorage struct{ s store }

// NewTaskOutputStorage returns the storage of task taskID of job jobID in the
// storage cfg names. The container must exist ([PrepareOutputStorage]).
func NewTaskOutputStorage(cfg StorageConfig, jobID, taskID string) (*TaskOutputStorage, error) {
	c, err := cfg.JobContainer(jobID)
	if err != nil {
		return nil, err
	}
	return c.Task(taskID)
}

// NewTaskOutputStorageFromURL returns the storage of task taskID in the job
// container at containerURL (with SAS, see [ContainerSASURL]).
func NewTaskOutputStorageFromURL(containerURL, taskID string) (*TaskOutputStorage, error) {
	c, err := OpenJobContainer(context.Background(), containerURL)
	if err != nil {
		return nil, err
	}
	return c.Task(taskID)
}

// TaskID returns the task whose outputs this storage holds.
func (t *TaskOutputStorage) TaskID() string { return t.s.taskID }

// Prefix returns "{taskId}/${kind}", the folder of the task's outputs of
// that kind (.NET's GetOutputStoragePath).
func (t *TaskOutputStorage) Prefix(kind Kind) (string, error) { return t.s.prefix(kind) }

// Save uploads the file at relativePath (relative to the working directory)
// and keeps that path, normalised, in the blob name: Save(ctx, TaskOutput,
// "out/a.txt") writes "{taskId}/$TaskOutput/out/a.txt", and "../stdout.txt"
// is stored as "stdout.txt".
func (t *TaskOutputStorage) Save(ctx context.Context, kind Kind, relativePath string) error {
	return t.s.saveAs(ctx, kind, relativePath, relativePath)
}

// SaveAs uploads the file at sourcePath as the block blob
// "{taskId}/${kind}/{destRelPath}", replacing any blob of that name.
func (t *TaskOutputStorage) SaveAs(ctx context.Context, kind Kind, sourcePath, destRelPath string) error {
	return t.s.saveAs(ctx, kind, sourcePath, destRelPath)
}

// SaveText stores text as the blob "{taskId}/${kind}/{destRelPath}".
func (t *TaskOutputStorage) SaveText(ctx context.Context, kind Kind, text, destRelPath string) error {
	return t.s.saveText(ctx, kind, text, destRelPath)
}

// All iterates over the task's outputs of one kind. The listing uses the
// prefix with a trailing "/", so a custom kind "TaskOutputX" never shows up
// in a listing of TaskOutput.
func (t *TaskOutputStorage) All(ctx context.Context, kind Kind) iter.Seq2[OutputFileReference, error] {
	return t.s.all(ctx, kind)
}

// List collects [TaskOutputStorage.All].
func (t *TaskOutputStorage) List(ctx context.Context, kind Kind) ([]OutputFileReference, error) {
	return collect(t.s.all(ctx, kind))
}

// Get returns the output at filePath (relative to the kind's folder). Unlike
// .NET's GetOutput it asks the service, so a missing output is reported here
// as an error matching [ErrNotFound].
func (t *TaskOutputStorage) Get(ctx context.Context, kind Kind, filePath string) (OutputFileReference, error) {
	return t.s.get(ctx, kind, filePath)
}

// Download writes the output at filePath to w.
func (t *TaskOutputStorage) Download(ctx context.Context, kind Kind, filePath string, w io.Writer) (int64, error) {
	ref, err := t.s.get(ctx, kind, filePath)
	if err != nil {
		return 0, err
	}
	return ref.Download(ctx, w)
}

// JobOutputStorage saves, lists and reads the job-level outputs of one job
// under "${Kind}/". It is safe for concurrent use.
type JobOutputStorage struct{ s store }

// NewJobOutputStorage returns the job-level storage of job jobID in the
// storage cfg names. The container must exist ([PrepareOutputStorage]).
func NewJobOutputStorage(cfg StorageConfig, jobID string) (*JobOutputStorage, error) {
	c, err := cfg.JobContainer(jobID)
	if err != nil {
		return nil, err
	}
	return c.Job(), nil
}

// NewJobOutputStorageFromURL returns the job-level storage of the job
// container at containerURL (with SAS).
func NewJobOutputStorageFromURL(containerURL string) (*JobOutputStorage, error) {
	c, err := OpenJobContainer(context.Background(), containerURL)
	if err != nil {
		return nil, err
	}
	return c.Job(), nil
}

// Prefix returns "${kind}", the folder of the job's outputs of that kind.
func (j *JobOutputStorage) Prefix(kind Kind) (string, error) { return j.s.prefix(kind) }

// Save uploads the file at relativePath and keeps that path, normalised, in
// the blob name "${kind}/{relativePath}".
func (j *JobOutputStorage) Save(ctx context.Context, kind Kind, relativePath string) error {
	return j.s.saveAs(ctx, kind, relativePath, relativePath)
}

// SaveAs uploads the file at sourcePath as the block blob
// "${kind}/{destRelPath}", replacing any blob of that name.
func (j *JobOutputStorage) SaveAs(ctx context.Context, kind Kind, sourcePath, destRelPath string) error {
	return j.s.saveAs(ctx, kind, sourcePath, destRelPath)
}

// SaveText stores text as the blob "${kind}/{destRelPath}" (an addition to
// the .NET API, which has SaveText only for tasks).
func (j *JobOutputStorage) SaveText(ctx context.Context, kind Kind, text, destRelPath string) error {
	return j.s.saveText(ctx, kind, text, destRelPath)
}

// All iterates over the job's outputs of one kind (listing "${kind}/").
func (j *JobOutputStorage) All(ctx context.Context, kind Kind) iter.Seq2[OutputFileReference, error] {
	return j.s.all(ctx, kind)
}

// List collects [JobOutputStorage.All].
func (j *JobOutputStorage) List(ctx context.Context, kind Kind) ([]OutputFileReference, error) {
	return collect(j.s.all(ctx, kind))
}

// Get returns the job output at filePath; a missing one is an error matching
// [ErrNotFound].
func (j *JobOutputStorage) Get(ctx context.Context, kind Kind, filePath string) (OutputFileReference, error) {
	return j.s.get(ctx, kind, filePath)
}

// Download writes the job output at filePath to w.
func (j *JobOutputStorage) Download(ctx context.Context, kind Kind, filePath string, w io.Writer) (int64, error) {
	ref, err := j.s.get(ctx, kind, filePath)
	if err != nil {
		return 0, err
	}
	return ref.Download(ctx, w)
}

// contentTypeOf guesses a blob's Content-Type from its extension, so that
// browsers and the portal show text as text; "" when unknown.
func contentTypeOf(name string) string {
	return mime.TypeByExtension(path.Ext(name))
}
