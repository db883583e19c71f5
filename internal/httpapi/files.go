package httpapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent/nodefiles"
	"github.com/openbatch/openbatch/internal/service"
)

// FileServer finds the directories that task and node files are served
// from: local directories for openbatch dev's nodes, a remote agent's file
// service for `openbatch agent` nodes.
type FileServer interface {
	// TaskDir returns the directory of a task on the node that ran it.
	TaskDir(ctx context.Context, jobID, taskID string) (Dir, error)
	// NodeDir returns a node's root directory.
	NodeDir(ctx context.Context, poolID, nodeID string) (Dir, error)
}

// Dir is a directory tree files are served from. Paths are relative and
// "/"-separated; implementations never reach outside the tree and report
// nodefiles errors (ErrNotFound, ErrInvalidPath, ...).
type Dir interface {
	List(ctx context.Context, rel string, recursive bool, prefix string) ([]api.NodeFile, error)
	Stat(ctx context.Context, rel string) (api.NodeFile, error)
	// Open returns length bytes of the file from offset start.
	Open(ctx context.Context, rel string, start, length int64) (io.ReadCloser, error)
	Delete(ctx context.Context, rel string, recursive bool) error
}

// LocalDir is a Dir on this machine.
type LocalDir string

// List implements Dir.
func (d LocalDir) List(_ context.Context, rel string, recursive bool, prefix string) ([]api.NodeFile, error) {
	return nodefiles.List(string(d), rel, recursive, prefix)
}

// Stat implements Dir.
func (d LocalDir) Stat(_ context.Context, rel string) (api.NodeFile, error) {
	nf, _, err := nodefiles.Stat(string(d), rel)
	return nf, err
}

// Open implements Dir.
func (d LocalDir) Open(_ context.Context, rel string, start, length int64) (io.ReadCloser, error) {
	f, _, err := nodefiles.Open(string(d), rel)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, start, length), f}, nil
}

// Delete implements Dir.
func (d LocalDir) Delete(_ context.Context, rel string, recursive bool) error {
	return nodefiles.Delete(string(d), rel, recursive)
}

// ErrFilesUnavailable means the task has not run on any node yet.
var ErrFilesUnavailable = errors.New("task files unavailable")

func (s *Server) fileError(err error, path string) error {
	switch {
	case errors.Is(err, nodefiles.ErrNotFound), errors.Is(err, nodefiles.ErrInvalidPath), errors.Is(err, nodefiles.ErrIsDirectory):
		return &service.Error{Code: api.CodeFileNotFound,
			Message: fmt.Sprintf("The specified file does not exist: %s.", path)}
	case errors.Is(err, nodefiles.ErrNotDirectory):
		return &service.Error{Code: api.CodeInvalidURI, Message: fmt.Sprintf("The path is not a directory: %s.", path)}
	case errors.Is(err, nodefiles.ErrDirectoryNotEmpty):
		return &service.Error{Code: api.CodeDirectoryNotEmpty,
			Message: fmt.Sprintf("The directory is not empty; delete it with recursive=true: %s.", path)}
	case errors.Is(err, ErrFilesUnavailable):
		return &service.Error{Code: api.CodeTaskFilesUnavailable,
			Message: "The task has not started on a node yet, so it has no files."}
	}
	return err
}

var startsWithRE = regexp.MustCompile(`^\s*startswith\(\s*name\s*,\s*'((?:[^']|'')*)'\s*\)\s*$`)

// fileListQuery parses recursive and $filter=startswith(name,'…').
func fileListQuery(r *http.Request) (recursive bool, prefix string, max int, err error) {
	max = 1000
	if v, ok := queryGet(r, "recursive"); ok {
		b, perr := strconv.ParseBool(v)
		if perr != nil {
			return false, "", 0, badQuery("recursive", v, "recursive must be true or false.")
		}
		recursive = b
	}
	if f, ok := queryGet(r, "$filter"); ok && strings.TrimSpace(f) != "" {
		m := startsWithRE.FindStringSubmatch(f)
		if m == nil {
			return false, "", 0, badQuery("$filter", f, "Files can only be filtered with startswith(name,'prefix').")
		}
		prefix = strings.ReplaceAll(m[1], "''", "'")
	}
	if v, ok := queryGet(r, "maxresults"); ok {
		n, perr := parseInt(v)
		if perr != nil || n < 1 || n > 1000 {
			return false, "", 0, badQuery("maxresults", v, "maxresults must be a whole number from 1 to 1000.")
		}
		max = n
	}
	return recursive, prefix, max, nil
}

func (s *Server) listFiles(w http.ResponseWriter, r *http.Request, dir Dir, baseURL string) {
	recursive, prefix, max, err := fileListQuery(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	files, err := dir.List(r.Context(), "", recursive, prefix)
	if err != nil {
		if errors.Is(err, nodefiles.ErrNotFound) {
			files = nil // directory already cleaned up: nothing to list
		} else {
			writeError(w, r, s.fileError(err, ""))
			return
		}
	}
	// Paging: the token is the index of the next entry in the sorted listing.
	start := 0
	if tok, ok := queryGet(r, "$skiptoken"); ok && tok != "" {
		n, perr := parseInt(tok)
		if perr != nil || n > len(files) {
			writeError(w, r, badQuery("$skiptoken", tok, "The continuation token is not one this server issued."))
			return
		}
		start = n
	}
	end := min(start+max, len(files))
	page := files[start:end]
	for i := range page {
		page[i].URL = baseURL + "/files/" + escapeFilePath(page[i].Name)
	}
	next := ""
	if end < len(files) {
		next = strconv.Itoa(end)
	}
	if page == nil {
		page = []api.NodeFile{}
	}
	writeList(w, r, "files", page, next, nil)
}

// escapeFilePath escapes each segment of a relative file path.
func escapeFilePath(p string) string {
	segs := strings.Split(p, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// parseRange parses an ocp-range header "bytes=start-end" (end optional).
func parseRange(v string, size int64) (start, length int64, err error) {
	spec, ok := strings.CutPrefix(strings.TrimSpace(v), "bytes=")
	if !ok {
		return 0, 0, errors.New("the range must have the form bytes=start-end")
	}
	a, b, _ := strings.Cut(spec, "-")
	start, err = strconv.ParseInt(strings.TrimSpace(a), 10, 64)
	if err != nil || start < 0 {
		return 0, 0, errors.New("the range start must be a non-negative number")
	}
	end := size - 1
	if strings.TrimSpace(b) != "" {
		end, err = strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if err != nil || end < start {
			return 0, 0, errors.New("the range end must be a number not below the start")
		}
	}
	if start >= size && size > 0 || size == 0 && start > 0 {
		return 0, 0, fmt.Errorf("the range starts at %d but the file has %d bytes", start, size)
	}
	if end >= size {
		end = size - 1
	}
	return start, end - start + 1, nil
}

func (s *Server) serveFile(w http.ResponseWriter, r *http.Request, dir Dir, rel, fileURL string) {
	nf, err := dir.Stat(r.Context(), rel)
	if err != nil {
		writeError(w, r, s.fileError(err, rel))
		return
	}
	h := w.Header()
	h.Set("ocp-batch-file-url", url.QueryEscape(fileURL))
	if nf.IsDirectory {
		if r.Method == http.MethodHead {
			h.Set("ocp-batch-file-isdirectory", "True")
			w.WriteHeader(http.StatusOK)
			return
		}
		writeError(w, r, s.fileError(nodefiles.ErrIsDirectory, rel))
		return
	}
	props := nf.Properties
	lm := props.LastModified.UTC()
	if ims := r.Header.Get("If-Modified-Since"); ims != "" {
		if t, err := http.ParseTime(ims); err == nil && !lm.Truncate(time.Second).After(t) {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	if ius := r.Header.Get("If-Unmodified-Since"); ius != "" {
		if t, err := http.ParseTime(ius); err == nil && lm.Truncate(time.Second).After(t) {
			writeError(w, r, &service.Error{Code: api.CodeConditionNotMet,
				Message: "The file was modified since If-Unmodified-Since."})
			return
		}
	}
	start, length := int64(0), props.ContentLength
	if rg := r.Header.Get("ocp-range"); rg != "" {
		start, length, err = parseRange(rg, props.ContentLength)
		if err != nil {
			writeError(w, r, &service.Error{Code: api.CodeInvalidRange,
				Message: "The range specified is invalid for the current size of the resource: " + err.Error() + "."})
			return
		}
	}
	var body io.ReadCloser
	if r.Method != http.MethodHead {
		if body, err = dir.Open(r.Context(), rel, start, length); err != nil {
			writeError(w, r, s.fileError(err, rel))
			return
		}
		defer body.Close()
	}
	h.Set("Content-Type", props.ContentType)
	h.Set("Last-Modified", lm.Format(http.TimeFormat))
	h.Set("ocp-batch-file-isdirectory", "False")
	h.Set("ocp-batch-file-mode", props.FileMode)
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	// Azure answers a ranged read with 200 (the Python SDK accepts only 200).
	w.WriteHeader(http.StatusOK)
	if body != nil {
		_, _ = io.CopyN(w, body, length)
	}
}

func (s *Server) deleteFile(w http.ResponseWriter, r *http.Request, dir Dir, rel string) {
	recursive := false
	if v, ok := queryGet(r, "recursive"); ok {
		b, err := strconv.ParseBool(v)
		if err != nil {
			writeError(w, r, badQuery("recursive", v, "recursive must be true or false."))
			return
		}
		recursive = b
	}
	if err := dir.Delete(r.Context(), rel, recursive); err != nil {
		writeError(w, r, s.fileError(err, rel))
		return
	}
	accepted(w, http.StatusOK, "")
}

func (s *Server) taskLoc(w http.ResponseWriter, r *http.Request) (Dir, bool) {
	jobID, taskID := r.PathValue("jobId"), r.PathValue("taskId")
	if _, err := s.Svc.GetTask(r.Context(), jobID, taskID, service.Conditions{}); err != nil {
		writeError(w, r, err)
		return nil, false
	}
	loc, err := s.Files.TaskDir(r.Context(), jobID, taskID)
	if err != nil {
		writeError(w, r, s.fileError(err, ""))
		return nil, false
	}
	return loc, true
}

func (s *Server) nodeLoc(w http.ResponseWriter, r *http.Request) (Dir, bool) {
	poolID, nodeID := r.PathValue("poolId"), r.PathValue("nodeId")
	if _, err := s.Svc.GetNode(r.Context(), poolID, nodeID); err != nil {
		writeError(w, r, err)
		return nil, false
	}
	loc, err := s.Files.NodeDir(r.Context(), poolID, nodeID)
	if err != nil {
		writeError(w, r, s.fileError(err, ""))
		return nil, false
	}
	return loc, true
}

func (s *Server) listTaskFiles(w http.ResponseWriter, r *http.Request) {
	if loc, ok := s.taskLoc(w, r); ok {
		s.listFiles(w, r, loc, taskURL(r, r.PathValue("jobId"), r.PathValue("taskId")))
	}
}

func (s *Server) getTaskFile(w http.ResponseWriter, r *http.Request) {
	if loc, ok := s.taskLoc(w, r); ok {
		rel := r.PathValue("path")
		s.serveFile(w, r, loc, rel, taskURL(r, r.PathValue("jobId"), r.PathValue("taskId"))+"/files/"+escapeFilePath(rel))
	}
}

func (s *Server) deleteTaskFile(w http.ResponseWriter, r *http.Request) {
	if loc, ok := s.taskLoc(w, r); ok {
		s.deleteFile(w, r, loc, r.PathValue("path"))
	}
}

func (s *Server) listNodeFiles(w http.ResponseWriter, r *http.Request) {
	if loc, ok := s.nodeLoc(w, r); ok {
		s.listFiles(w, r, loc, nodeURL(r, r.PathValue("poolId"), r.PathValue("nodeId")))
	}
}

func (s *Server) getNodeFile(w http.ResponseWriter, r *http.Request) {
	if loc, ok := s.nodeLoc(w, r); ok {
		rel := r.PathValue("path")
		s.serveFile(w, r, loc, rel, nodeURL(r, r.PathValue("poolId"), r.PathValue("nodeId"))+"/files/"+escapeFilePath(rel))
	}
}

func (s *Server) deleteNodeFile(w http.ResponseWriter, r *http.Request) {
	if loc, ok := s.nodeLoc(w, r); ok {
		s.deleteFile(w, r, loc, r.PathValue("path"))
	}
}
