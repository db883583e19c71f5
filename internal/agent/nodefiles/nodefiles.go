// Package nodefiles serves the files of a compute node or of one task
// directory to the HTTP layer (GET/HEAD/DELETE of a file, list of files)
// without ever reaching outside the directory it is given.
//
// Every function takes a root directory (the node root for node files, the
// task directory for task files) and a path relative to it, with "/"
// separators as clients send them (the HTTP layer decodes %2F first).
// Names in results are relative to the root and "/"-joined, as the Batch
// API returns them ("wd/out.txt").
//
// Containment: all access goes through os.Root (openat-style resolution in
// the kernel, one component at a time), so
//
//   - absolute paths, and paths whose ".." would climb above the root, are
//     refused with ErrInvalidPath before touching the disk;
//   - a symbolic link is followed only if it is relative and stays inside
//     the root; one that points outside (or is absolute, or dangles) is
//     reported as ErrNotFound by Stat/Open and left out of listings, so its
//     target is never served or even stat'ed;
//   - listings never descend into a symbolic link to a directory (that would
//     allow loops); such a link is listed as a directory;
//   - Delete removes a link itself, never its target, and refuses the root.
//
// The HTTP layer maps ErrNotFound and ErrInvalidPath to 404 FileNotFound
// (not revealing which), ErrIsDirectory on GET to 404/400 as it sees fit,
// and ErrDirectoryNotEmpty to 409.
package nodefiles

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"os"
	"path"
	"sort"
	"strings"
	"syscall"

	"github.com/openbatch/openbatch/api"
)

// Errors of this package; test with errors.Is.
var (
	// ErrNotFound: nothing exists at the path, or it is reachable only
	// through a symbolic link that leaves the root.
	ErrNotFound = errors.New("file not found")
	// ErrInvalidPath: the path is absolute, contains NUL, or climbs above
	// the root with "..".
	ErrInvalidPath = errors.New("invalid file path")
	// ErrIsDirectory: Open was asked for a directory.
	ErrIsDirectory = errors.New("the path is a directory")
	// ErrNotDirectory: List was asked to list a file.
	ErrNotDirectory = errors.New("the path is not a directory")
	// ErrDirectoryNotEmpty: non-recursive Delete of a non-empty directory.
	ErrDirectoryNotEmpty = errors.New("the directory is not empty")
)

// cleanRel validates rel and returns it cleaned ("." for the root itself).
func cleanRel(rel string) (string, error) {
	if strings.ContainsRune(rel, 0) {
		return "", fmt.Errorf("%w: %q contains NUL", ErrInvalidPath, rel)
	}
	if strings.HasPrefix(rel, "/") {
		return "", fmt.Errorf("%w: %q is absolute", ErrInvalidPath, rel)
	}
	c := path.Clean(rel)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: %q leaves the directory", ErrInvalidPath, rel)
	}
	return c, nil
}

// mapErr turns an os.Root error into this package's errors. Escapes
// (symlinks leaving the root) become ErrNotFound so that a client cannot
// probe what exists outside.
func mapErr(rel string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR), errors.Is(err, syscall.ELOOP):
		return fmt.Errorf("%w: %s", ErrNotFound, rel)
	case strings.Contains(err.Error(), "escapes from parent"), strings.Contains(err.Error(), "path escapes"):
		return fmt.Errorf("%w: %s", ErrNotFound, rel)
	}
	return fmt.Errorf("%s: %w", rel, err)
}

func openRoot(root string) (*os.Root, error) {
	r, err := os.OpenRoot(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: root directory %s", ErrNotFound, root)
		}
		return nil, fmt.Errorf("open root directory: %w", err)
	}
	return r, nil
}

// FileMode formats a file mode as the Batch API does on Linux: "0o" and the
// octal st_mode with file-type bits, e.g. "0o100644" for a regular file.
func FileMode(fi fs.FileInfo) string {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fmt.Sprintf("0o%o", uint32(st.Mode))
	}
	m := fi.Mode()
	v := uint32(m.Perm())
	switch {
	case m.IsDir():
		v |= 0o040000
	case m&fs.ModeSymlink != 0:
		v |= 0o120000
	default:
		v |= 0o100000
	}
	return fmt.Sprintf("0o%o", v)
}

// ContentType guesses a file's media type from its extension: text/plain
// for .txt and .log (stdout.txt, stderr.txt), the system's MIME table
// otherwise, application/octet-stream when unknown.
func ContentType(name string) string {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".txt", ".log":
		return "text/plain"
	case "":
		return "application/octet-stream"
	}
	if t := mime.TypeByExtension(ext); t != "" {
		if mt, _, err := mime.ParseMediaType(t); err == nil {
			return mt
		}
	}
	return "application/octet-stream"
}

func entry(name string, fi fs.FileInfo) api.NodeFile {
	if fi.IsDir() {
		return api.NodeFile{Name: name, IsDirectory: true}
	}
	return api.NodeFile{Name: name, Properties: &api.FileProperties{
		LastModified:  fi.ModTime().UTC(),
		ContentLength: fi.Size(),
		ContentType:   ContentType(name),
		FileMode:      FileMode(fi),
	}}
}

// Stat describes the file or directory at rel under root, following
// symbolic links that stay inside root. URL is left empty for the caller.
func Stat(root, rel string) (api.NodeFile, fs.FileInfo, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return api.NodeFile{}, nil, err
	}
	r, err := openRoot(root)
	if err != nil {
		return api.NodeFile{}, nil, err
	}
	defer r.Close()
	fi, err := r.Stat(c)
	if err != nil {
		return api.NodeFile{}, nil, mapErr(c, err)
	}
	return entry(c, fi), fi, nil
}

// Open opens the regular file at rel under root for reading; the
// *os.File supports ReadAt and Seek for ranged reads (http.ServeContent,
// io.NewSectionReader). The caller closes it. Directories give
// ErrIsDirectory.
func Open(root, rel string) (*os.File, api.NodeFile, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return nil, api.NodeFile{}, err
	}
	r, err := openRoot(root)
	if err != nil {
		return nil, api.NodeFile{}, err
	}
	defer r.Close() // files opened through r stay valid
	f, err := r.OpenFile(c, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, api.NodeFile{}, mapErr(c, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, api.NodeFile{}, mapErr(c, err)
	}
	if fi.IsDir() {
		f.Close()
		return nil, api.NodeFile{}, fmt.Errorf("%w: %s", ErrIsDirectory, c)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, api.NodeFile{}, fmt.Errorf("%w: %s is not a regular file", ErrNotFound, c)
	}
	return f, entry(c, fi), nil
}

// List lists the directory rel under root ("" or "." for root itself):
// its immediate children, or with recursive every descendant. Names are
// relative to root and "/"-joined; only entries whose name starts with
// prefix are returned (the $filter startswith(name,'…') of the API).
// Directories have no properties. Entries are sorted by name. Symbolic
// links are described by their target when it stays inside root and are
// left out otherwise; links to directories are never descended into.
func List(root, rel string, recursive bool, prefix string) ([]api.NodeFile, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return nil, err
	}
	r, err := openRoot(root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	fi, err := r.Stat(c)
	if err != nil {
		return nil, mapErr(c, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s", ErrNotDirectory, c)
	}
	var out []api.NodeFile
	if err := walk(r, c, recursive, prefix, &out); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func walk(r *os.Root, dir string, recursive bool, prefix string, out *[]api.NodeFile) error {
	d, err := r.Open(dir)
	if err != nil {
		return mapErr(dir, err)
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return mapErr(dir, err)
	}
	for _, e := range ents {
		name := e.Name()
		if dir != "." {
			name = dir + "/" + name
		}
		var fi fs.FileInfo
		descend := false
		if e.Type()&fs.ModeSymlink != 0 {
			fi, err = r.Stat(name) // follows only inside the root
			if err != nil {
				continue // escaping, absolute or dangling link: not listed
			}
		} else {
			fi, err = e.Info()
			if err != nil {
				continue // removed while listing
			}
			descend = fi.IsDir()
		}
		if strings.HasPrefix(name, prefix) {
			*out = append(*out, entry(name, fi))
		}
		// Descend only where a match can still be found.
		if recursive && descend && (strings.HasPrefix(name, prefix) || strings.HasPrefix(prefix, name+"/")) {
			if err := walk(r, name, recursive, prefix, out); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// Delete removes the file or directory at rel under root. A directory is
// removed only if empty unless recursive is set (then with everything in
// it). A symbolic link is removed itself, never its target. The root
// itself cannot be deleted (ErrInvalidPath).
func Delete(root, rel string, recursive bool) error {
	c, err := cleanRel(rel)
	if err != nil {
		return err
	}
	if c == "." {
		return fmt.Errorf("%w: the root directory itself cannot be deleted", ErrInvalidPath)
	}
	r, err := openRoot(root)
	if err != nil {
		return err
	}
	defer r.Close()
	fi, err := r.Lstat(c)
	if err != nil {
		return mapErr(c, err)
	}
	if fi.IsDir() && recursive {
		return mapErr(c, r.RemoveAll(c))
	}
	if err := r.Remove(c); err != nil {
		if errors.Is(err, syscall.ENOTEMPTY) || errors.Is(err, syscall.EEXIST) {
			return fmt.Errorf("%w: %s", ErrDirectoryNotEmpty, c)
		}
		return mapErr(c, err)
	}
	return nil
}
