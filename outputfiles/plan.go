package outputfiles

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"slices"
	"strings"

	"github.com/openbatch/openbatch/api"
)

// Outcome is how the task ended; with each entry's uploadCondition it
// decides what is uploaded.
type Outcome struct {
	// Exited is false when the task failed before its process exited with a
	// code (e.g. it could not be launched).
	Exited bool
	// ExitCode is the process's exit code when Exited.
	ExitCode int
}

// ExitedWith returns the Outcome of a process that exited with code.
func ExitedWith(code int) Outcome { return Outcome{Exited: true, ExitCode: code} }

// Succeeded reports exit code 0.
func (o Outcome) Succeeded() bool { return o.Exited && o.ExitCode == 0 }

// String describes the outcome for logs.
func (o Outcome) String() string {
	if !o.Exited {
		return "failed before exit"
	}
	return fmt.Sprintf("exit code %d", o.ExitCode)
}

// ShouldUpload reports whether an entry with condition c is uploaded after
// outcome o: tasksuccess on exit code 0, taskfailure on a non-zero exit code
// or a failure before exit, taskcompletion always. The condition is compared
// case-insensitively; an unknown condition uploads nothing.
func ShouldUpload(c api.OutputFileUploadCondition, o Outcome) bool {
	switch api.OutputFileUploadCondition(strings.ToLower(string(c))) {
	case api.UploadOnSuccess:
		return o.Succeeded()
	case api.UploadOnFailure:
		return !o.Succeeded()
	case api.UploadOnCompletion:
		return true
	}
	return false
}

// Mapping is one file → blob upload of a plan.
type Mapping struct {
	// Entry is the index of the OutputFile entry in the request.
	Entry int
	// Root is the absolute directory the file is read through (the task
	// directory or an extra root): reads cannot leave it, even via symlinks.
	Root string
	// Rel is the file's path relative to Root ("/"-separated).
	Rel string
	// File is the file's absolute path.
	File string
	// Blob is the destination blob name.
	Blob string
}

// EntryPlan is the plan for one OutputFile entry.
type EntryPlan struct {
	// Index is the entry's position in the request.
	Index int
	// OutputFile is the entry itself.
	OutputFile api.OutputFile
	// Pattern is the resolved filePattern (zero if Skipped before parsing).
	Pattern Pattern
	// Skipped is true when the entry's uploadCondition excludes the outcome.
	Skipped bool
	// Err is set when the entry cannot be planned: a malformed pattern, a
	// pattern outside the allowed roots, or a directory that cannot be read.
	// Files matched before the error are still in Mappings.
	Err error
	// Mappings are the entry's files and blob names, in path order.
	Mappings []Mapping
	// Ignored are matched paths that are not uploaded, with the reason
	// (special files, symlinks leading outside the root).
	Ignored []string
}

// Supersession records a mapping dropped because a later entry maps a file
// to the same blob of the same container.
type Supersession struct {
	Mapping Mapping
	// By is the index of the later entry that wins.
	By int
}

// Plan is the full upload plan of a task.
type Plan struct {
	Entries []EntryPlan
	// Uploads are the mappings to execute, after conflict resolution, in
	// entry order.
	Uploads []Mapping
	// Superseded are the mappings dropped by the conflict rule.
	Superseded []Supersession
}

// Planner turns OutputFile entries into a Plan. It only reads the file
// system (through FS); it never writes or uploads.
type Planner struct {
	// TaskDir is the task directory (absolute); patterns may read only
	// inside it or inside ExtraRoots.
	TaskDir string
	// WorkingDir is the task's working directory (absolute; default
	// TaskDir/wd); relative patterns start here.
	WorkingDir string
	// Env is the task's environment, for $VAR expansion in patterns.
	Env map[string]string
	// ExtraRoots are absolute directories outside TaskDir that patterns may
	// read from (e.g. the node's shared directory). "/" allows any absolute
	// path, as Azure Batch does.
	ExtraRoots []string
	// FS returns the file system rooted at an absolute directory (TaskDir or
	// an extra root). The engine uses os.Root, which refuses symlinks that
	// leave the root; tests use fstest.MapFS.
	FS func(dir string) (fs.FS, error)
}

// Plan resolves, matches and names every entry for outcome o, then applies
// the conflict rule: when several mappings name the same blob in the same
// container (compared without the query string), the one from the later
// entry wins and the others are recorded in Superseded and not uploaded.
func (pl Planner) Plan(files []api.OutputFile, o Outcome) *Plan {
	wd := pl.WorkingDir
	if wd == "" {
		wd = path.Join(pl.TaskDir, "wd")
	}
	plan := &Plan{Entries: make([]EntryPlan, len(files))}
	for i, f := range files {
		ep := &plan.Entries[i]
		ep.Index, ep.OutputFile = i, f
		if !ShouldUpload(f.UploadOptions.UploadCondition, o) {
			ep.Skipped = true
			continue
		}
		if f.Destination.Container == nil {
			ep.Err = errors.New("the entry has no destination container")
			continue
		}
		ep.Pattern, ep.Err = ParsePattern(f.FilePattern, wd, pl.Env)
		if ep.Err != nil {
			continue
		}
		root, ok := pl.rootFor(ep.Pattern.Base)
		if !ok {
			ep.Err = &PatternError{Pattern: f.FilePattern, Reason: fmt.Sprintf(
				"it resolves to %s, outside the task directory %s; only files under the task directory (or an extra root the agent allows) can be uploaded",
				ep.Pattern.Full, pl.TaskDir)}
			continue
		}
		fsys, err := pl.FS(root)
		if err != nil {
			ep.Err = fmt.Errorf("open %s: %w", root, err)
			continue
		}
		rels, ignored, err := MatchFS(fsys, relTo(root, ep.Pattern.Base), ep.Pattern.Segments)
		ep.Ignored, ep.Err = ignored, err
		dest := ""
		if f.Destination.Container != nil {
			dest = f.Destination.Container.Path
		}
		for _, rel := range rels {
			file := path.Join(root, rel)
			ep.Mappings = append(ep.Mappings, Mapping{Entry: i, Root: root, Rel: rel, File: file,
				Blob: BlobName(ep.Pattern, dest, file)})
		}
	}
	plan.Uploads, plan.Superseded = resolveConflicts(files, plan.Entries)
	return plan
}

// PatternError says why a filePattern cannot be used.
type PatternError struct {
	Pattern string
	Reason  string
}

func (e *PatternError) Error() string {
	return fmt.Sprintf("file pattern %q cannot be used: %s", e.Pattern, e.Reason)
}

// rootFor returns the longest allowed root containing dir.
func (pl Planner) rootFor(dir string) (string, bool) {
	best := ""
	for _, r := range append([]string{pl.TaskDir}, pl.ExtraRoots...) {
		r = path.Clean(r)
		if within(r, dir) && len(r) > len(best) {
			best = r
		}
	}
	return best, best != ""
}

func within(root, p string) bool {
	return root == "/" || p == root || strings.HasPrefix(p, root+"/")
}

func relTo(root, p string) string {
	if p == root {
		return "."
	}
	if root == "/" {
		return strings.TrimPrefix(p, "/")
	}
	return strings.TrimPrefix(p, root+"/")
}

// BlobName is the destination blob name of file (an absolute path matched by
// p) under destination path dest, following Azure Batch: with no wildcard in
// the pattern, dest is the full blob name (default: the file's name; a dest
// ending in "/" is a virtual directory, an openbatch extension); with a
// wildcard, dest is a virtual directory and the file keeps its path relative
// to p.Base. In dest, "\" is read as "/", repeated "/" collapse and a leading
// "/" is dropped.
func BlobName(p Pattern, dest, file string) string {
	dest = normalizeDest(dest)
	if !p.Wildcard {
		switch {
		case dest == "":
			return path.Base(file)
		case strings.HasSuffix(dest, "/"):
			return dest + path.Base(file)
		}
		return dest
	}
	rel := relTo(p.Base, file)
	if dest == "" || dest == "/" {
		return rel
	}
	return strings.TrimSuffix(dest, "/") + "/" + rel
}

func normalizeDest(d string) string {
	if d == "" {
		return ""
	}
	d = strings.ReplaceAll(d, `\`, "/")
	for strings.Contains(d, "//") {
		d = strings.ReplaceAll(d, "//", "/")
	}
	return strings.TrimPrefix(d, "/")
}

// containerKey identifies a container regardless of its credentials.
func containerKey(containerURL string) string {
	u, err := url.Parse(containerURL)
	if err != nil {
		return containerURL
	}
	return strings.ToLower(u.Scheme) + "://" + strings.ToLower(u.Host) + "/" + strings.Trim(u.Path, "/")
}

func resolveConflicts(files []api.OutputFile, entries []EntryPlan) ([]Mapping, []Supersession) {
	winner := map[string]int{} // key → index into all
	var all []Mapping
	for _, ep := range entries {
		if ep.OutputFile.Destination.Container == nil {
			continue
		}
		ck := containerKey(ep.OutputFile.Destination.Container.ContainerURL)
		for _, m := range ep.Mappings {
			winner[ck+"\n"+m.Blob] = len(all)
			all = append(all, m)
		}
	}
	var kept []Mapping
	var sup []Supersession
	for i, m := range all {
		ck := containerKey(files[m.Entry].Destination.Container.ContainerURL)
		w := winner[ck+"\n"+m.Blob]
		if w == i {
			kept = append(kept, m)
		} else {
			sup = append(sup, Supersession{Mapping: m, By: all[w].Entry})
		}
	}
	return kept, sup
}

// MatchFS matches the pattern segments segs under directory base of fsys
// ("." for its root) and returns the matching regular files' paths relative
// to fsys's root, sorted. Rules: a literal segment is looked up directly; a
// wildcard segment (see MatchSegment) lists the directory; "**" matches zero
// or more directories, and as the last segment every file below; names
// starting with "." are matched only by segments starting with "."; "**"
// never enters dot-directories nor follows symlinked directories (no
// cycles), while other segments follow symlinks; directories are never
// returned. A missing base or path is no match. ignored lists matched paths
// that are not regular files, with the reason. err reports a directory that
// could not be read (the files matched elsewhere are still returned).
func MatchFS(fsys fs.FS, base string, segs []string) (files, ignored []string, err error) {
	m := &matcher{fsys: fsys, seen: map[string]bool{}, dirs: map[string][]fs.DirEntry{}}
	m.walk(base, segs)
	slices.Sort(m.files)
	return m.files, m.ignored, errors.Join(m.errs...)
}

type matcher struct {
	fsys    fs.FS
	seen    map[string]bool
	dirs    map[string][]fs.DirEntry
	files   []string
	ignored []string
	errs    []error
}

func (m *matcher) readDir(dir string) []fs.DirEntry {
	if es, ok := m.dirs[dir]; ok {
		return es
	}
	es, err := fs.ReadDir(m.fsys, dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
		m.errs = append(m.errs, fmt.Errorf("read directory %s: %w", dir, err))
	}
	m.dirs[dir] = es
	return es
}

func isNotDir(err error) bool {
	return err != nil && strings.Contains(err.Error(), "not a directory")
}

func join(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

func (m *matcher) walk(dir string, segs []string) {
	if len(segs) == 0 {
		return
	}
	seg, last := segs[0], len(segs) == 1
	switch {
	case seg == "**":
		if last {
			m.all(dir)
			return
		}
		m.walk(dir, segs[1:])
		for _, e := range m.readDir(dir) {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				m.walk(join(dir, e.Name()), segs)
			}
		}
	case !hasMeta(seg):
		p := join(dir, seg)
		if last {
			m.file(p, nil)
		} else if m.isDir(p, nil) {
			m.walk(p, segs[1:])
		}
	default:
		for _, e := range m.readDir(dir) {
			if !MatchSegment(seg, e.Name()) {
				continue
			}
			p := join(dir, e.Name())
			if last {
				m.file(p, e)
			} else if m.isDir(p, e) {
				m.walk(p, segs[1:])
			}
		}
	}
}

// all adds every file below dir, skipping dot-names and symlinked dirs.
func (m *matcher) all(dir string) {
	for _, e := range m.readDir(dir) {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		p := join(dir, e.Name())
		if e.IsDir() {
			m.all(p)
		} else {
			m.file(p, e)
		}
	}
}

func (m *matcher) isDir(p string, e fs.DirEntry) bool {
	if e != nil && e.IsDir() {
		return true
	}
	if e != nil && e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := fs.Stat(m.fsys, p)
	return err == nil && fi.IsDir()
}

func (m *matcher) file(p string, e fs.DirEntry) {
	if m.seen[p] {
		return
	}
	if e != nil && e.Type().IsRegular() {
		m.seen[p] = true
		m.files = append(m.files, p)
		return
	}
	if e != nil && e.IsDir() {
		return
	}
	fi, err := fs.Stat(m.fsys, p)
	switch {
	case err != nil && (errors.Is(err, fs.ErrNotExist) || isNotDir(err)):
		if e != nil { // a dangling symlink
			m.ignored = append(m.ignored, p+": dangling symbolic link")
		}
	case err != nil:
		m.ignored = append(m.ignored, fmt.Sprintf("%s: %v (symbolic links may not lead outside the task directory)", p, err))
	case fi.Mode().IsRegular():
		m.seen[p] = true
		m.files = append(m.files, p)
	case fi.IsDir():
		// directories are never uploaded
	default:
		m.ignored = append(m.ignored, p+": not a regular file ("+fi.Mode().Type().String()+")")
	}
}
