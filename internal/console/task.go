package console

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent/nodefiles"
	"github.com/openbatch/openbatch/internal/httpapi"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/redact"
)

var noConditions = service.Conditions{}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// pageErr turns a continuation token the store refuses into a message for
// the person who followed (or edited) the link.
func pageErr(err error) error {
	if errors.Is(err, store.ErrBadToken) {
		return &service.Error{Code: api.CodeInvalidQueryParameterValue,
			Message: "The page link is not one this server made; go back to the first page."}
	}
	return err
}

// envVar is one environment setting as shown: secrets redacted.
type envVar struct{ Name, Value string }

// event is one entry of a task's timeline.
type event struct {
	Time *time.Time
	What string
}

type taskView struct {
	JobID string
	Task  *api.Task
	Env   []envVar
	// Timeline is what the task's record says happened, oldest first.
	Timeline []event
	Files    []api.NodeFile
	// FilesNote says why there are no files to list.
	FilesNote string
	Running   bool
	// UploadFailed is true when the task's failure is an output upload.
	UploadFailed bool
}

// maxTaskFiles is the most entries a task page lists.
const maxTaskFiles = 500

func (c *Console) taskPage(w http.ResponseWriter, r *http.Request) {
	jobID := r.PathValue("job")
	t, err := c.cfg.Service.GetTask(r.Context(), jobID, r.PathValue("task"), noConditions)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := taskView{JobID: jobID, Task: t, Timeline: timeline(t), Running: t.State == api.TaskRunning || t.State == api.TaskPreparing}
	for _, e := range t.EnvironmentSettings {
		v.Env = append(v.Env, envVar{Name: e.Name, Value: redact.Env(e.Name, e.Value)})
	}
	if ei := t.ExecutionInfo; ei != nil && ei.FailureInfo != nil && strings.HasPrefix(ei.FailureInfo.Code, "FileUpload") {
		v.UploadFailed = true
	}
	v.Files, v.FilesNote = c.taskFiles(r, jobID, t)
	c.render(w, r, http.StatusOK, "task", "Task "+t.ID, v)
}

// taskFiles lists a task's directory on its node, or says why it cannot.
func (c *Console) taskFiles(r *http.Request, jobID string, t *api.Task) ([]api.NodeFile, string) {
	if c.cfg.Files == nil {
		return nil, "This server does not serve task files."
	}
	if t.NodeInfo == nil || t.NodeInfo.NodeID == "" {
		return nil, "The task has not started on a node yet, so it has no files."
	}
	d, err := c.cfg.Files.TaskDir(r.Context(), jobID, t.ID)
	if err == nil {
		var files []api.NodeFile
		files, err = d.List(r.Context(), "", true, "")
		if err == nil {
			files = slices.DeleteFunc(files, func(f api.NodeFile) bool { return f.IsDirectory })
			if len(files) > maxTaskFiles {
				return files[:maxTaskFiles], "Only the first files are listed."
			}
			return files, ""
		}
	}
	return nil, "The task's files cannot be read now: " + redact.Text(err.Error())
}

// timeline puts the times a task's record holds in order. The record keeps
// the current and previous states, the run's start and end and the last
// retry and requeue (as Azure's does), not every transition.
func timeline(t *api.Task) []event {
	var ev []event
	add := func(tp *time.Time, what string) {
		if tp != nil && !tp.IsZero() {
			ev = append(ev, event{tp, what})
		}
	}
	add(t.CreationTime, "created")
	if t.PreviousState != "" {
		add(t.PreviousStateTransitionTime, "entered "+string(t.PreviousState))
	}
	add(t.StateTransitionTime, "entered "+string(t.State))
	if ei := t.ExecutionInfo; ei != nil {
		add(ei.StartTime, "process started")
		add(ei.EndTime, "process ended")
		add(ei.LastRetryTime, "retried (attempt "+itoa(ei.RetryCount+1)+")")
		add(ei.LastRequeueTime, "requeued ("+itoa(ei.RequeueCount)+" requeues)")
	}
	slices.SortStableFunc(ev, func(a, b event) int { return a.Time.Compare(*b.Time) })
	return ev
}

func itoa(n int32) string { return strconv.Itoa(int(n)) }

func itoa64(n int64) string { return strconv.FormatInt(n, 10) }

// parseOffset reads a tail offset: a whole number of bytes, "" being 0.
func parseOffset(v string) (int64, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("offset must be a whole number of bytes")
	}
	return n, nil
}

// fileView is the file page: the end of a file, and live tail for the
// task's standard streams while it runs.
type fileView struct {
	JobID, TaskID, Path string
	Size                int64
	Text                string
	// Offset is where Text starts; End where it ends (the tail continues
	// from End).
	Offset, End int64
	Tail        bool
}

// Bounds of file reads.
const (
	// viewBytes is how much of a file's end the file page shows.
	viewBytes = 256 << 10
	// tailChunk is the most bytes one tail request returns.
	tailChunk = 256 << 10
)

// fileDir returns the task's directory for its files pages.
func (c *Console) fileDir(r *http.Request) (Dir, *api.Task, error) {
	jobID := r.PathValue("job")
	t, err := c.cfg.Service.GetTask(r.Context(), jobID, r.PathValue("task"), noConditions)
	if err != nil {
		return nil, nil, err
	}
	if c.cfg.Files == nil || t.NodeInfo == nil || t.NodeInfo.NodeID == "" {
		return nil, t, &service.Error{Code: api.CodeTaskFilesUnavailable,
			Message: "The task has not started on a node yet, so it has no files."}
	}
	d, err := c.cfg.Files.TaskDir(r.Context(), jobID, t.ID)
	if err != nil {
		return nil, t, &service.Error{Code: api.CodeTaskFilesUnavailable,
			Message: "The task's files cannot be read now: " + redact.Text(err.Error())}
	}
	return d, t, nil
}

func fileErr(err error, rel string) error {
	if errors.Is(err, nodefiles.ErrNotFound) || errors.Is(err, nodefiles.ErrInvalidPath) || errors.Is(err, nodefiles.ErrIsDirectory) {
		return &service.Error{Code: api.CodeFileNotFound, Message: "The file does not exist: " + rel + "."}
	}
	return err
}

func (c *Console) filePage(w http.ResponseWriter, r *http.Request) {
	rel := r.PathValue("path")
	d, t, err := c.fileDir(r)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	st, err := d.Stat(r.Context(), rel)
	if err != nil {
		c.fail(w, r, fileErr(err, rel))
		return
	}
	var size int64
	if st.Properties != nil {
		size = st.Properties.ContentLength
	}
	start := max(size-viewBytes, 0)
	v := fileView{JobID: r.PathValue("job"), TaskID: t.ID, Path: rel, Size: size, Offset: start, End: size,
		Tail: t.State != api.TaskCompleted}
	if size > 0 {
		rc, err := d.Open(r.Context(), rel, start, size-start)
		if err != nil {
			c.fail(w, r, fileErr(err, rel))
			return
		}
		defer rc.Close()
		var b strings.Builder
		if _, err := io.CopyN(&b, rc, size-start); err != nil {
			c.fail(w, r, err)
			return
		}
		v.Text = strings.ToValidUTF8(b.String(), "\uFFFD")
	}
	c.render(w, r, http.StatusOK, "file", rel, v)
}

// rawFile returns a file's bytes as text/plain (never a type a browser
// would run): from ?offset= at most tailChunk bytes, for the live tail,
// with X-File-Size and X-Task-State; or, with ?download=1, the whole file
// as an attachment.
func (c *Console) rawFile(w http.ResponseWriter, r *http.Request) {
	rel := r.PathValue("path")
	d, t, err := c.fileDir(r)
	if err != nil {
		rawError(w, err)
		return
	}
	st, err := d.Stat(r.Context(), rel)
	if err != nil {
		rawError(w, fileErr(err, rel))
		return
	}
	var size int64
	if st.Properties != nil {
		size = st.Properties.ContentLength
	}
	h := w.Header()
	h.Set("X-File-Size", itoa64(size))
	h.Set("X-Task-State", string(t.State))
	start, length := int64(0), size
	if r.URL.Query().Get("download") == "1" {
		name := rel[strings.LastIndex(rel, "/")+1:]
		h.Set("Content-Type", "application/octet-stream")
		h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(name))
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
		off, err := parseOffset(r.URL.Query().Get("offset"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		start = min(off, size)
		length = min(size-start, tailChunk)
	}
	h.Set("Content-Length", itoa64(length))
	if length == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	rc, err := d.Open(r.Context(), rel, start, length)
	if err != nil {
		rawError(w, fileErr(err, rel))
		return
	}
	defer rc.Close()
	w.WriteHeader(http.StatusOK)
	_, _ = io.CopyN(w, rc, length)
}

func rawError(w http.ResponseWriter, err error) {
	if se := (*service.Error)(nil); errors.As(err, &se) {
		http.Error(w, se.Message, httpapi.StatusOf(se.Code))
		return
	}
	http.Error(w, "the file could not be read", http.StatusInternalServerError)
}
