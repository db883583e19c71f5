package agent

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/internal/agent/nodefiles"
)

// FilePathPrefix is where an agent serves its node's files to the server.
const FilePathPrefix = "/_openbatch/node/v1/files/"

// File service operations, appended to FilePathPrefix.
const (
	FileOpList   = "list"
	FileOpStat   = "stat"
	FileOpRead   = "read"
	FileOpDelete = "delete"
)

// File service query parameters. Every operation takes "dir", a directory
// relative to the node root that the request is confined to (a task
// directory for task files, "" for node files), and "path", a file path
// relative to dir; a path can never reach outside dir, just as for a local
// node where dir is the root handed to nodefiles.
const (
	FileParamDir       = "dir"
	FileParamPath      = "path"
	FileParamRecursive = "recursive"
	FileParamPrefix    = "prefix"
	FileParamStart     = "start"
	FileParamLength    = "length"
)

// FileErrorHeader carries the nodefiles error of a failed file request as
// one of the codes below, so that the server maps it back to the same
// sentinel error (and the same Batch error) as for a local node.
const FileErrorHeader = "X-Openbatch-File-Error"

// File error codes sent in FileErrorHeader.
const (
	FileErrNotFound          = "NotFound"
	FileErrInvalidPath       = "InvalidPath"
	FileErrIsDirectory       = "IsDirectory"
	FileErrNotDirectory      = "NotDirectory"
	FileErrDirectoryNotEmpty = "DirectoryNotEmpty"
)

// fileErrors pairs each code with its sentinel and HTTP status.
var fileErrors = []struct {
	code   string
	err    error
	status int
}{
	{FileErrNotFound, nodefiles.ErrNotFound, http.StatusNotFound},
	{FileErrInvalidPath, nodefiles.ErrInvalidPath, http.StatusBadRequest},
	{FileErrIsDirectory, nodefiles.ErrIsDirectory, http.StatusConflict},
	{FileErrNotDirectory, nodefiles.ErrNotDirectory, http.StatusConflict},
	{FileErrDirectoryNotEmpty, nodefiles.ErrDirectoryNotEmpty, http.StatusConflict},
}

// FileErrorOf returns the nodefiles sentinel error for a code sent in
// FileErrorHeader, or nil for an unknown code.
func FileErrorOf(code string) error {
	for _, e := range fileErrors {
		if e.code == code {
			return e.err
		}
	}
	return nil
}

// FileHandler serves the files under a node's root directory to the
// openbatch server (which proxies the Batch API's task and node file
// operations to it). Every request must carry token as a bearer token (the
// pool's node join token), compared in constant time. Access goes through
// package nodefiles, so nothing outside the requested directory — by "..",
// absolute paths or symbolic links — is ever served, listed or deleted.
func FileHandler(root, token string, log *slog.Logger) http.Handler {
	if log == nil {
		log = slog.Default()
	}
	fs := &fileServer{root: root, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+FilePathPrefix+FileOpList, fs.list)
	mux.HandleFunc("GET "+FilePathPrefix+FileOpStat, fs.stat)
	mux.HandleFunc("GET "+FilePathPrefix+FileOpRead, fs.read)
	mux.HandleFunc("POST "+FilePathPrefix+FileOpDelete, fs.delete)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(token)) != 1 {
			http.Error(w, "node join token missing or wrong", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// ServeFiles serves FileHandler(root, token, log) on ln until ctx ends,
// then shuts the server down.
func ServeFiles(ctx context.Context, ln net.Listener, root, token string, log *slog.Logger) error {
	srv := &http.Server{Handler: FileHandler(root, token, log), ReadHeaderTimeout: 10 * time.Second}
	stop := context.AfterFunc(ctx, func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	})
	defer stop()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve node files: %w", err)
	}
	return nil
}

type fileServer struct {
	root string
	log  *slog.Logger
}

// nodeVisibleDirs are the node root's entries the node files API shows
// (Layout.TaskVisibleDirs): the agent's own files beside them (its state
// in volatile/, a token or credential file) are never served, listed or
// deleted, as if they did not exist.
var nodeVisibleDirs = map[string]bool{"shared": true, "startup": true, "applications": true, "fsmounts": true, "workitems": true}

// nodeVisible reports whether rel (relative to the node root, "/" or OS
// separators) lies in one of nodeVisibleDirs; the root itself is visible
// (its listing is filtered).
func nodeVisible(rel string) bool {
	rel = filepath.ToSlash(filepath.Clean(filepath.FromSlash(rel)))
	if rel == "." || rel == "" {
		return true
	}
	first, _, _ := strings.Cut(strings.TrimPrefix(rel, "/"), "/")
	return nodeVisibleDirs[first]
}

// hiddenPath reports whether path, relative to the request's dir
// parameter, names something the node files API does not show.
func hiddenPath(r *http.Request) bool {
	q := r.URL.Query()
	return !nodeVisible(filepath.Join(filepath.FromSlash(q.Get(FileParamDir)), filepath.FromSlash(q.Get(FileParamPath))))
}

// dirOf returns the directory a request is confined to: the node root
// joined with the "dir" parameter, which must be a local path that does
// not resolve (through symbolic links) outside the node root.
func (s *fileServer) dirOf(r *http.Request) (string, error) {
	d := r.URL.Query().Get(FileParamDir)
	if d == "" || d == "." {
		return s.root, nil
	}
	if !filepath.IsLocal(filepath.FromSlash(d)) {
		return "", fmt.Errorf("%w: directory %q leaves the node root", nodefiles.ErrInvalidPath, d)
	}
	if !nodeVisible(d) {
		return "", fmt.Errorf("%w: %s", nodefiles.ErrNotFound, d)
	}
	// The directory may be missing (cleaned up): the nodefiles call then
	// reports ErrNotFound. When it exists, it must stay inside the root even
	// after a task replaced a component with a symbolic link.
	nf, _, err := nodefiles.Stat(s.root, d)
	if err != nil {
		return "", err
	}
	if !nf.IsDirectory {
		return "", fmt.Errorf("%w: %s is not a directory", nodefiles.ErrNotFound, d)
	}
	return filepath.Join(s.root, filepath.FromSlash(d)), nil
}

func (s *fileServer) list(w http.ResponseWriter, r *http.Request) {
	dir, err := s.dirOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	if hiddenPath(r) {
		s.fail(w, r, nodefiles.ErrNotFound)
		return
	}
	recursive, _ := strconv.ParseBool(q.Get(FileParamRecursive))
	files, err := nodefiles.List(dir, q.Get(FileParamPath), recursive, q.Get(FileParamPrefix))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	shown := files[:0]
	for _, f := range files {
		if nodeVisible(filepath.Join(filepath.FromSlash(q.Get(FileParamDir)), filepath.FromSlash(f.Name))) {
			shown = append(shown, f)
		}
	}
	writeJSON(w, shown)
}

func (s *fileServer) stat(w http.ResponseWriter, r *http.Request) {
	dir, err := s.dirOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if hiddenPath(r) {
		s.fail(w, r, nodefiles.ErrNotFound)
		return
	}
	nf, _, err := nodefiles.Stat(dir, r.URL.Query().Get(FileParamPath))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, nf)
}

// read streams length bytes from start (the whole file from start when
// length is absent). The answer may be shorter if the file shrank.
func (s *fileServer) read(w http.ResponseWriter, r *http.Request) {
	dir, err := s.dirOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	start, length := int64(0), int64(-1)
	if v := q.Get(FileParamStart); v != "" {
		if start, err = strconv.ParseInt(v, 10, 64); err != nil || start < 0 {
			http.Error(w, "start must be a non-negative number", http.StatusBadRequest)
			return
		}
	}
	if v := q.Get(FileParamLength); v != "" {
		if length, err = strconv.ParseInt(v, 10, 64); err != nil || length < 0 {
			http.Error(w, "length must be a non-negative number", http.StatusBadRequest)
			return
		}
	}
	if hiddenPath(r) {
		s.fail(w, r, nodefiles.ErrNotFound)
		return
	}
	f, _, err := nodefiles.Open(dir, q.Get(FileParamPath))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if length < 0 || start+length > fi.Size() {
		length = max(fi.Size()-start, 0)
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, io.NewSectionReader(f, start, length)); err != nil {
		s.log.Debug("send node file", "path", q.Get(FileParamPath), "err", err)
	}
}

func (s *fileServer) delete(w http.ResponseWriter, r *http.Request) {
	dir, err := s.dirOf(r)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	if hiddenPath(r) {
		s.fail(w, r, nodefiles.ErrNotFound)
		return
	}
	recursive, _ := strconv.ParseBool(q.Get(FileParamRecursive))
	if err := nodefiles.Delete(dir, q.Get(FileParamPath), recursive); err != nil {
		s.fail(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// fail answers a nodefiles error with its code, or 500 for anything else.
func (s *fileServer) fail(w http.ResponseWriter, r *http.Request, err error) {
	for _, e := range fileErrors {
		if errors.Is(err, e.err) {
			w.Header().Set(FileErrorHeader, e.code)
			http.Error(w, err.Error(), e.status)
			return
		}
	}
	s.log.Warn("node file request", "op", r.URL.Path, "err", err)
	http.Error(w, err.Error(), http.StatusInternalServerError)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}
