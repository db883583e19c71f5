package conventions

import (
	"errors"
	"fmt"
	"strings"
)

// maxBlobNameLength is Azure Blob Storage's limit on a blob name.
const maxBlobNameLength = 1024

// ErrInvalidPath is returned (wrapped) for a path that cannot be stored under
// a kind's prefix: empty, rooted, or escaping the prefix with "..".
var ErrInvalidPath = errors.New("invalid output path")

// ErrInvalidID is returned (wrapped) for a task or job ID that cannot form
// part of a blob name.
var ErrInvalidID = errors.New("invalid ID")

// NormalizePath turns a file path into the relative path stored under a
// kind's prefix, the way .NET's GetDestinationBlobPath does, made safe:
//
//   - '\' becomes '/';
//   - leading "../" segments are stripped, so "../stdout.txt" (a task's
//     stdout, one level above its working directory) becomes "stdout.txt";
//   - "." and empty segments are dropped, and "x/.." pairs cancel;
//   - a rooted path ("/x", "\\server\x", "C:\x") is refused, and so is a ".."
//     that would climb above the start once the leading ones are stripped
//     ("a/../../b"): such a path would leave the kind's prefix.
//
// Each step consumes a segment, so the function always terminates (the .NET
// loop does not for "../../x").
func NormalizePath(p string) (string, error) {
	rel, err := normalize(p)
	if err == nil && rel == "" {
		err = fmt.Errorf("%w %q: names no file", ErrInvalidPath, p)
	}
	return rel, err
}

// normalize is NormalizePath, except that a path with nothing left after
// stripping (like "" or "../") yields "" and no error.
func normalize(p string) (string, error) {
	s := strings.ReplaceAll(p, `\`, "/")
	if strings.HasPrefix(s, "/") || hasDriveLetter(s) {
		return "", fmt.Errorf("%w %q: rooted paths cannot be stored under a kind; give a relative path", ErrInvalidPath, p)
	}
	segs := strings.Split(s, "/")
	// Strip leading ".." (and "." or empty) segments.
	for len(segs) > 0 && (segs[0] == ".." || segs[0] == "." || segs[0] == "") {
		segs = segs[1:]
	}
	out := make([]string, 0, len(segs))
	for _, seg := range segs {
		switch seg {
		case "", ".":
		case "..":
			if len(out) == 0 {
				return "", fmt.Errorf("%w %q: '..' would leave the kind's folder", ErrInvalidPath, p)
			}
			out = out[:len(out)-1]
		default:
			out = append(out, seg)
		}
	}
	return strings.Join(out, "/"), nil
}

// hasDriveLetter reports whether s starts with a Windows drive ("C:").
func hasDriveLetter(s string) bool {
	return len(s) >= 2 && s[1] == ':' && (s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z')
}

// validateID checks a task ID used as the first segment of blob names.
func validateID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty %s ID", ErrInvalidID, what)
	case strings.ContainsAny(id, `/\`):
		return fmt.Errorf("%w: %s ID %q contains a path separator", ErrInvalidID, what, id)
	case id == "." || id == "..":
		return fmt.Errorf("%w: %s ID %q", ErrInvalidID, what, id)
	case strings.HasPrefix(id, "$"):
		return fmt.Errorf("%w: %s ID %q starts with '$', which marks a kind folder", ErrInvalidID, what, id)
	}
	return nil
}

// TaskPrefix returns the folder of a task's outputs of one kind,
// "{taskID}/${kind}", without a trailing slash (as .NET's
// GetOutputStoragePath). Use it as an outputFiles destination path or to
// show users where outputs are; list with [TaskListPrefix].
func TaskPrefix(taskID string, kind Kind) (string, error) {
	if err := validateID("task", taskID); err != nil {
		return "", err
	}
	if err := kind.Validate(); err != nil {
		return "", err
	}
	return taskID + "/" + kind.Folder(), nil
}

// JobPrefix returns the folder of a job's outputs of one kind, "${kind}",
// without a trailing slash.
func JobPrefix(kind Kind) (string, error) {
	if err := kind.Validate(); err != nil {
		return "", err
	}
	return kind.Folder(), nil
}

// TaskListPrefix returns the listing prefix for a task's outputs of one kind,
// "{taskID}/${kind}/". The trailing slash keeps a listing of TaskOutput from
// also returning a custom kind "TaskOutputX" (a quirk of .NET v4).
func TaskListPrefix(taskID string, kind Kind) (string, error) {
	p, err := TaskPrefix(taskID, kind)
	return p + "/", err
}

// JobListPrefix returns the listing prefix for a job's outputs of one kind,
// "${kind}/".
func JobListPrefix(kind Kind) (string, error) {
	p, err := JobPrefix(kind)
	return p + "/", err
}

// TaskBlobName returns the blob name "{taskID}/${kind}/{path}" of a task
// output, with path normalised by [NormalizePath].
func TaskBlobName(taskID string, kind Kind, path string) (string, error) {
	prefix, err := TaskPrefix(taskID, kind)
	if err != nil {
		return "", err
	}
	return joinBlobName(prefix, path)
}

// JobBlobName returns the blob name "${kind}/{path}" of a job output, with
// path normalised by [NormalizePath].
func JobBlobName(kind Kind, path string) (string, error) {
	prefix, err := JobPrefix(kind)
	if err != nil {
		return "", err
	}
	return joinBlobName(prefix, path)
}

func joinBlobName(prefix, path string) (string, error) {
	rel, err := NormalizePath(path)
	if err != nil {
		return "", err
	}
	name := prefix + "/" + rel
	if len(name) > maxBlobNameLength {
		return "", fmt.Errorf("%w: blob name of %q is %d characters, more than Azure's %d", ErrInvalidPath, path, len(name), maxBlobNameLength)
	}
	return name, nil
}

// BlobLocation is what a conventions blob name says about its blob.
type BlobLocation struct {
	// TaskID is the task that owns the output; empty for job outputs.
	TaskID string
	// Kind is the output's kind.
	Kind Kind
	// FilePath is the path relative to the kind's folder, like .NET's
	// OutputFileReference.FilePath.
	FilePath string
}

// ParseBlobName splits a blob name laid out by the conventions into task,
// kind and file path. It reports false for blobs that do not follow the
// layout (which listings skip).
func ParseBlobName(name string) (BlobLocation, bool) {
	first, rest, ok := strings.Cut(name, "/")
	if !ok {
		return BlobLocation{}, false
	}
	var loc BlobLocation
	if !strings.HasPrefix(first, "$") {
		loc.TaskID = first
		first, rest, ok = strings.Cut(rest, "/")
		if !ok || !strings.HasPrefix(first, "$") {
			return BlobLocation{}, false
		}
	}
	loc.Kind = Kind(first[1:])
	loc.FilePath = rest
	if loc.Kind == "" || loc.FilePath == "" {
		return BlobLocation{}, false
	}
	return loc, true
}

// BlobName returns the blob name that loc describes.
func (loc BlobLocation) BlobName() (string, error) {
	if loc.TaskID == "" {
		return JobBlobName(loc.Kind, loc.FilePath)
	}
	return TaskBlobName(loc.TaskID, loc.Kind, loc.FilePath)
}
