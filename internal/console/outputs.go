package console

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/conventions"
	"github.com/openbatch/openbatch/outputfiles"
	"github.com/openbatch/openbatch/redact"
)

// Bounds of the output files page.
const (
	// maxDestinations is the most outputFiles entries whose blobs are listed.
	maxDestinations = 20
	// maxBlobs is the most blobs listed over all entries.
	maxBlobs = 1000
	// maxLogBytes is how much of the end of fileuploadout.txt and
	// fileuploaderr.txt is shown.
	maxLogBytes = 64 << 10
	// listTimeout bounds the storage calls of one page.
	listTimeout = 20 * time.Second
	// maxManifestBytes is the largest upload manifest read.
	maxManifestBytes = 4 << 20
)

// destView is one outputFiles entry of the task and what its listing found.
type destView struct {
	Index     int
	Pattern   string
	Container string // redacted: no SAS signature
	Path      string
	Condition string
	// Prefix is the blob name (or virtual directory) the entry writes.
	Prefix string
	Blobs  int
	// Err says why the destination could not be listed.
	Err       string
	Truncated bool
}

// blobRow is one blob that landed.
type blobRow struct {
	Dest         int
	Name         string
	Size         int64
	MD5          string
	LastModified time.Time
	// FilePath is the path under the kind's folder, for conventions blobs.
	FilePath string
}

// blobGroup is the blobs of one Batch File Conventions kind ("" when the
// blob names do not follow the conventions' layout).
type blobGroup struct {
	Kind  string
	Blobs []blobRow
}

type logLine struct {
	Text  string
	Level string // "error", "warn" or ""
}

type outputsView struct {
	JobID   string
	Task    *api.Task
	Failure *api.TaskFailureInformation
	Dests   []destView
	Groups  []blobGroup
	// Listing is false when the server has no blob opener; Listed is true
	// when at least one destination could be listed.
	Listing  bool
	Listed   bool
	OutLog   []logLine
	ErrLog   []string
	LogsNote string
	// Manifest is the task's upload manifest (fileuploadmanifest.json,
	// written when the task asks for one), nil when there is none.
	Manifest     *outputfiles.Manifest
	ManifestNote string
	Truncated    bool
}

func (c *Console) outputsPage(w http.ResponseWriter, r *http.Request) {
	jobID := r.PathValue("job")
	t, err := c.cfg.Service.GetTask(r.Context(), jobID, r.PathValue("task"), noConditions)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	v := outputsView{JobID: jobID, Task: t, Listing: c.cfg.Blobs != nil}
	if ei := t.ExecutionInfo; ei != nil && ei.FailureInfo != nil && strings.HasPrefix(ei.FailureInfo.Code, "FileUpload") {
		v.Failure = ei.FailureInfo
	}
	v.OutLog, v.ErrLog, v.LogsNote, v.Manifest, v.ManifestNote = c.uploadLogs(r, jobID, t)
	ctx, cancel := context.WithTimeout(r.Context(), listTimeout)
	defer cancel()
	v.Dests, v.Groups, v.Truncated = c.listOutputs(ctx, t)
	for _, d := range v.Dests {
		v.Listed = v.Listed || d.Err == ""
	}
	c.render(w, r, http.StatusOK, "outputs", "Output files of "+t.ID, v)
}

// readEnd reads at most limit bytes from the end of a file of the task's
// directory, and its whole size; ok is false when there is no such file.
func readEnd(ctx context.Context, d Dir, name string, limit int64) (data []byte, size int64, ok bool) {
	st, err := d.Stat(ctx, name)
	if err != nil || st.Properties == nil {
		return nil, 0, false
	}
	size = st.Properties.ContentLength
	start := max(size-limit, 0)
	rc, err := d.Open(ctx, name, start, size-start)
	if err != nil {
		return nil, size, false
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	return b, size, err == nil
}

// uploadLogs reads the ends of fileuploadout.txt and fileuploaderr.txt
// from the task's directory, ERROR and WARN lines marked, and the upload
// manifest when the task wrote one.
func (c *Console) uploadLogs(r *http.Request, jobID string, t *api.Task) ([]logLine, []string, string, *outputfiles.Manifest, string) {
	if c.cfg.Files == nil || t.NodeInfo == nil || t.NodeInfo.NodeID == "" {
		return nil, nil, "The task has not run on a node yet.", nil, ""
	}
	d, err := c.cfg.Files.TaskDir(r.Context(), jobID, t.ID)
	if err != nil {
		return nil, nil, "The task's directory cannot be read now: " + redact.Text(err.Error()), nil, ""
	}
	read := func(name string) (string, bool) {
		b, _, ok := readEnd(r.Context(), d, name, maxLogBytes)
		return strings.ToValidUTF8(string(b), "\uFFFD"), ok
	}
	var out []logLine
	outText, ok := read(outputfiles.OutLogName)
	for _, l := range strings.Split(strings.TrimRight(outText, "\n"), "\n") {
		if l == "" {
			continue
		}
		// Lines are "time LEVEL message" (outputfiles' upload log), already
		// redacted when written; redacted again in case an older agent
		// wrote them.
		level := ""
		if f := strings.Fields(l); len(f) > 1 {
			switch f[1] {
			case "ERROR":
				level = "error"
			case "WARN":
				level = "warn"
			}
		}
		out = append(out, logLine{Text: redact.Text(l), Level: level})
	}
	errText, _ := read(outputfiles.ErrLogName)
	var errs []string
	for _, l := range strings.Split(strings.TrimRight(errText, "\n"), "\n") {
		if l != "" {
			errs = append(errs, redact.Text(l))
		}
	}
	note := ""
	if !ok {
		note = "The task has no " + outputfiles.OutLogName + " (it uploads no output files, or has not reached the upload yet)."
	}
	var man *outputfiles.Manifest
	manNote := ""
	if b, size, ok := readEnd(r.Context(), d, outputfiles.ManifestName, maxManifestBytes); ok {
		m := new(outputfiles.Manifest)
		switch {
		case size > maxManifestBytes:
			manNote = "The upload manifest is too large to show; download " + outputfiles.ManifestName + " from the task's files."
		case json.Unmarshal(b, m) != nil:
			manNote = "The upload manifest is not valid JSON."
		default:
			for i := range m.Files {
				m.Files[i].Destination = redact.URL(m.Files[i].Destination)
				m.Files[i].Error = redact.Text(m.Files[i].Error)
			}
			man = m
		}
	}
	return out, errs, note, man, manNote
}

// listOutputs lists, for each outputFiles entry, the blobs under the name
// or virtual directory it writes, opened with the entry's own destination
// URL (a SAS needs list permission, "l"). Blobs are grouped by Batch File
// Conventions kind where their names follow that layout.
func (c *Console) listOutputs(ctx context.Context, t *api.Task) ([]destView, []blobGroup, bool) {
	env := map[string]string{}
	for _, e := range t.EnvironmentSettings {
		env[e.Name] = e.Value
	}
	var dests []destView
	var rows []blobRow
	seen := map[string]bool{}
	truncated := false
	for i, of := range t.OutputFiles {
		if i >= maxDestinations {
			truncated = true
			break
		}
		cd := of.Destination.Container
		if cd == nil {
			continue
		}
		d := destView{Index: i, Pattern: of.FilePattern, Container: redact.URL(cd.ContainerURL), Path: cd.Path,
			Condition: strings.ToLower(string(of.UploadOptions.UploadCondition))}
		prefix, exact, err := destPrefix(of.FilePattern, cd.Path, env)
		if err != nil {
			d.Err = redact.Text(err.Error())
			dests = append(dests, d)
			continue
		}
		d.Prefix = prefix
		if c.cfg.Blobs == nil || ctx.Err() != nil {
			dests = append(dests, d)
			continue
		}
		found, more, err := c.listDest(ctx, cd, prefix, exact, maxBlobs-len(rows))
		if err != nil {
			d.Err = listError(err)
		}
		for _, it := range found {
			key := redact.URL(cd.ContainerURL) + "\x00" + it.Name
			if seen[key] {
				continue
			}
			seen[key] = true
			row := blobRow{Dest: i, Name: it.Name, Size: it.Size, LastModified: it.LastModified}
			if len(it.ContentMD5) > 0 {
				row.MD5 = base64.StdEncoding.EncodeToString(it.ContentMD5)
			}
			rows = append(rows, row)
			d.Blobs++
		}
		d.Truncated = more
		truncated = truncated || more
		dests = append(dests, d)
	}
	return dests, groupBlobs(rows), truncated
}

// destPrefix is where an outputFiles entry writes: with no wildcard the
// whole blob name (exact), with one a virtual directory ("" = the whole
// container). It uses the output engine's own naming, so it agrees with
// what the upload did.
func destPrefix(pattern, dest string, env map[string]string) (string, bool, error) {
	const wd = "/task/wd"
	p, err := outputfiles.ParsePattern(pattern, wd, env)
	if err != nil {
		return "", false, err
	}
	if !p.Wildcard {
		return outputfiles.BlobName(p, dest, p.Full), true, nil
	}
	return strings.TrimSuffix(outputfiles.BlobName(p, dest, p.Base+"/x"), "x"), false, nil
}

// listDest lists up to limit blobs of one destination.
func (c *Console) listDest(ctx context.Context, cd *api.OutputFileBlobContainerDestination, prefix string, exact bool, limit int) ([]blob.Item, bool, error) {
	var opts blob.OpenOptions
	if cd.IdentityReference != nil {
		opts.IdentityResourceID = cd.IdentityReference.ResourceID
	}
	ct, err := c.cfg.Blobs.Open(ctx, cd.ContainerURL, opts)
	if err != nil {
		return nil, false, err
	}
	var out []blob.Item
	for it, err := range ct.List(ctx, prefix) {
		if err != nil {
			return out, false, err
		}
		if exact && it.Name != prefix {
			continue
		}
		if len(out) >= limit {
			return out, true, nil
		}
		out = append(out, it)
		if exact {
			break
		}
	}
	return out, false, nil
}

// listError says why a destination could not be listed, without secrets.
func listError(err error) string {
	switch blob.KindOf(err) {
	case blob.AccessDenied:
		return "Listing was refused: the destination URL's SAS grants no list permission (sp needs l), or it expired. The upload log below says what was uploaded."
	case blob.ContainerNotFound:
		return "The container does not exist."
	}
	return "Listing failed: " + redact.Text(err.Error())
}

// groupBlobs groups rows by conventions kind, well-known kinds first.
func groupBlobs(rows []blobRow) []blobGroup {
	byKind := map[string][]blobRow{}
	for _, r := range rows {
		kind := ""
		if loc, ok := conventions.ParseBlobName(r.Name); ok {
			kind, r.FilePath = string(loc.Kind), loc.FilePath
		}
		byKind[kind] = append(byKind[kind], r)
	}
	order := []string{string(conventions.TaskOutput), string(conventions.TaskLog), string(conventions.TaskPreview),
		string(conventions.TaskIntermediate), string(conventions.JobOutput), string(conventions.JobPreview)}
	var kinds []string
	for k := range byKind {
		if k != "" && !slices.Contains(order, k) {
			kinds = append(kinds, k)
		}
	}
	slices.Sort(kinds)
	var out []blobGroup
	for _, k := range append(append(order, kinds...), "") {
		if rs := byKind[k]; len(rs) > 0 {
			out = append(out, blobGroup{Kind: k, Blobs: rs})
		}
	}
	return out
}

// outputBlob streams one blob that an outputFiles entry wrote, as an
// attachment (never rendered by the browser): ?dest= is the entry's index
// and ?name= the blob, which must be under what that entry writes.
func (c *Console) outputBlob(w http.ResponseWriter, r *http.Request) {
	if c.cfg.Blobs == nil {
		http.Error(w, "this server does not read output blobs", http.StatusNotFound)
		return
	}
	t, err := c.cfg.Service.GetTask(r.Context(), r.PathValue("job"), r.PathValue("task"), noConditions)
	if err != nil {
		rawError(w, err)
		return
	}
	q := r.URL.Query()
	i, err := strconv.Atoi(q.Get("dest"))
	name := q.Get("name")
	if err != nil || i < 0 || i >= len(t.OutputFiles) || t.OutputFiles[i].Destination.Container == nil || name == "" || len(name) > 1024 {
		http.Error(w, "dest must name one of the task's outputFiles entries, and name one of its blobs", http.StatusBadRequest)
		return
	}
	cd := t.OutputFiles[i].Destination.Container
	env := map[string]string{}
	for _, e := range t.EnvironmentSettings {
		env[e.Name] = e.Value
	}
	prefix, exact, err := destPrefix(t.OutputFiles[i].FilePattern, cd.Path, env)
	if err != nil || (exact && name != prefix) || (!exact && !strings.HasPrefix(name, prefix)) {
		http.Error(w, "the blob is not one this outputFiles entry writes", http.StatusBadRequest)
		return
	}
	var opts blob.OpenOptions
	if cd.IdentityReference != nil {
		opts.IdentityResourceID = cd.IdentityReference.ResourceID
	}
	ct, err := c.cfg.Blobs.Open(r.Context(), cd.ContainerURL, opts)
	if err != nil {
		http.Error(w, redact.Text(err.Error()), http.StatusBadGateway)
		return
	}
	rc, props, err := ct.Get(r.Context(), name)
	if err != nil {
		status := http.StatusBadGateway
		if errors.Is(err, blob.ErrBlobNotFound) {
			status = http.StatusNotFound
		}
		http.Error(w, listError(err), status)
		return
	}
	defer rc.Close()
	base := name[strings.LastIndex(name, "/")+1:]
	h := w.Header()
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Content-Disposition", "attachment; filename*=UTF-8''"+url.PathEscape(base))
	h.Set("Content-Length", strconv.FormatInt(props.Size, 10))
	if len(props.ContentMD5) > 0 {
		h.Set("Content-MD5", base64.StdEncoding.EncodeToString(props.ContentMD5))
	}
	w.WriteHeader(http.StatusOK)
	if _, err := io.Copy(w, rc); err != nil {
		c.cfg.Log.Debug("console: blob download ended early", "err", redact.Error(err))
	}
}
