package outputfiles

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openbatch/openbatch/blob"
)

// ManifestName is the upload manifest written in the task directory when a
// task asks for one (beyond Azure: an opt-in record of what was stored).
const ManifestName = "fileuploadmanifest.json"

// Manifest records every file a task's upload handled: where it went, its
// size and Content-MD5, or why it failed. Destinations carry no SAS
// signature.
type Manifest struct {
	Generated time.Time       `json:"generated"`
	Uploaded  int             `json:"uploaded"`
	Failed    int             `json:"failed"`
	Bytes     int64           `json:"bytes"`
	Files     []ManifestEntry `json:"files"`
}

// ManifestEntry is one file of a Manifest.
type ManifestEntry struct {
	File        string `json:"file"`
	Pattern     string `json:"pattern"`
	Blob        string `json:"blob"`
	Destination string `json:"destination"`
	Size        int64  `json:"size"`
	ContentMD5  string `json:"contentMD5,omitempty"`
	Retries     int    `json:"retries,omitempty"`
	Error       string `json:"error,omitempty"`
	Code        string `json:"code,omitempty"`
}

// NewManifest summarises an upload's result.
func NewManifest(res *Result, now time.Time) *Manifest {
	m := &Manifest{Generated: now.UTC(), Uploaded: res.Uploaded, Failed: res.Failed, Bytes: res.Bytes,
		Files: make([]ManifestEntry, 0, len(res.Files))}
	for _, f := range res.Files {
		e := ManifestEntry{File: f.File, Pattern: f.Pattern, Blob: f.Blob, Destination: f.Destination,
			Size: f.Size, Retries: f.Retries, Code: f.Code}
		if len(f.ContentMD5) > 0 {
			e.ContentMD5 = base64.StdEncoding.EncodeToString(f.ContentMD5)
		}
		if f.Err != nil {
			e.Error = blob.RedactText(f.Err.Error())
		}
		m.Files = append(m.Files, e)
	}
	return m
}

// WriteManifest writes the manifest of res as taskDir/fileuploadmanifest.json
// (atomically: a reader never sees half a manifest).
func WriteManifest(taskDir string, res *Result, now time.Time) error {
	data, err := json.MarshalIndent(NewManifest(res, now), "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(taskDir, "."+ManifestName+".tmp")
	// O_EXCL after removing any leftover: never write through a symbolic
	// link a task planted in its directory (the agent may be root).
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("write upload manifest: %w", err)
	}
	_, err = f.Write(append(data, '\n'))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write upload manifest: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(taskDir, ManifestName)); err != nil {
		return fmt.Errorf("write upload manifest: %w", err)
	}
	return nil
}
