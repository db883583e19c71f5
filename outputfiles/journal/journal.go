// Package journal keeps small records durably in a directory, so that work
// interrupted by a crash (kill -9, power loss) can be found and resumed: the
// agent's record that a task's process exited, and the per-blob progress of
// resumable uploads (blob.UploadState).
//
// A record is written to a temporary file, fsynced, renamed over the old one
// and the directory fsynced, so a reader sees the old record or the new one,
// never a mix. Each record carries a format version and a SHA-256 of its
// payload: a torn or damaged file (a file system that does not keep the
// rename promise, a disk error, a hand edit) and a record of a version this
// code does not know are reported as such, never half-read. Records are
// private to the process's user (files 0600 in a 0700 directory): they may
// hold destination URLs with their SAS.
//
// It is written here rather than taken from a library because it is forty
// lines over os and the well-known libraries (google/renameio,
// natefinch/atomic) do not check what they read back.
package journal

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Version is the record format this package writes and reads.
const Version = 1

// MaxRecordSize bounds what Load reads: records are small (a task's
// outputFiles and matched files, or a blob's block list), and a bigger file
// is not one of ours.
const MaxRecordSize = 64 << 20

// Errors of Load. A record that is ErrDamaged or ErrUnknownVersion cannot
// be resumed from: callers discard it and start over.
var (
	ErrNotFound       = errors.New("journal: no such record")
	ErrDamaged        = errors.New("journal: record is damaged (torn write or corruption)")
	ErrUnknownVersion = errors.New("journal: record has an unknown format version")
)

// Dir is a directory of records, one file per key.
type Dir struct {
	path string
}

// Open returns the journal in directory path, creating it (mode 0700) if
// needed.
func Open(path string) (*Dir, error) {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	return &Dir{path: path}, nil
}

// Path returns the journal's directory.
func (d *Dir) Path() string { return d.path }

// Sub returns the journal in subdirectory name of d (created on first
// Save), e.g. one per task so that a task's records go together.
func (d *Dir) Sub(name string) *Dir {
	return &Dir{path: filepath.Join(d.path, fileName(name))}
}

// envelope is the on-disk form of a record.
type envelope struct {
	Version int             `json:"version"`
	Key     string          `json:"key"`
	SHA256  string          `json:"sha256"`
	Data    json.RawMessage `json:"data"`
}

// fileName turns a key into a file name: keys hold job and task IDs, blob
// names and URLs, which are not all valid or safe as file names.
func fileName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:16])
}

const ext = ".rec"

func (d *Dir) file(key string) string { return filepath.Join(d.path, fileName(key)+ext) }

// Save records v (marshalled as JSON) under key, replacing any earlier
// record of key, durably: when Save returns nil the record survives a crash.
func (d *Dir) Save(key string, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("journal: encode %s: %w", key, err)
	}
	sum := sha256.Sum256(data)
	b, err := json.Marshal(envelope{Version: Version, Key: key, SHA256: hex.EncodeToString(sum[:]), Data: data})
	if err != nil {
		return fmt.Errorf("journal: encode %s: %w", key, err)
	}
	if err := os.MkdirAll(d.path, 0o700); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return WriteFile(d.file(key), b)
}

// WriteFile replaces the file at path with data durably: temporary file in
// the same directory, fsync, rename, fsync of the directory. The file is
// created with mode 0600.
func WriteFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return fmt.Errorf("journal: write %s: %w", path, werr)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("journal: sync %s: %w", dir, err)
	}
	return nil
}

// Load reads the record of key into v. It returns ErrNotFound when there
// is none, ErrDamaged or ErrUnknownVersion (wrapped) when there is one that
// cannot be used.
func (d *Dir) Load(key string, v any) error {
	_, err := d.load(d.file(key), key, v)
	return err
}

func (d *Dir) load(path, key string, v any) (string, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return "", fmt.Errorf("journal: %w", err)
	}
	if fi.Size() > MaxRecordSize {
		return "", fmt.Errorf("%w: %s is %d bytes, over %d", ErrDamaged, path, fi.Size(), MaxRecordSize)
	}
	b := make([]byte, fi.Size())
	if _, err := f.ReadAt(b, 0); err != nil && fi.Size() > 0 {
		return "", fmt.Errorf("journal: read %s: %w", path, err)
	}
	var env envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	if env.Version != Version {
		return "", fmt.Errorf("%w: %s has version %d, this agent reads %d", ErrUnknownVersion, path, env.Version, Version)
	}
	sum := sha256.Sum256(env.Data)
	if hex.EncodeToString(sum[:]) != env.SHA256 {
		return "", fmt.Errorf("%w: %s: checksum mismatch", ErrDamaged, path)
	}
	if key != "" && env.Key != key || filepath.Base(path) != fileName(env.Key)+ext {
		return "", fmt.Errorf("%w: %s holds the record of another key (%q)", ErrDamaged, path, env.Key)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrDamaged, path, err)
	}
	return env.Key, nil
}

// Delete removes the record of key; a missing record is not an error.
func (d *Dir) Delete(key string) error {
	if err := os.Remove(d.file(key)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// RemoveAll removes the journal's directory and everything in it (e.g. a
// task's upload records once the task is reported).
func (d *Dir) RemoveAll() error {
	if err := os.RemoveAll(d.path); err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Entry is one record found by Scan.
type Entry struct {
	// Key is the record's key ("" when the record could not be read).
	Key string
	// File is the record's file, for logs and removal.
	File string
	// Err is set when the record cannot be used (ErrDamaged,
	// ErrUnknownVersion, or an I/O error).
	Err error
}

// Scan reads every record of d (not of its subdirectories), decoding each
// into a value from newV, and calls fn with the entry and that value. Stray
// temporary files of interrupted writes are removed.
func (d *Dir) Scan(newV func() any, fn func(Entry, any)) error {
	des, err := os.ReadDir(d.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("journal: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		p := filepath.Join(d.path, name)
		switch {
		case de.IsDir():
			continue
		case strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp"):
			_ = os.Remove(p) // a write that never reached its rename
			continue
		case !strings.HasSuffix(name, ext):
			continue
		}
		v := newV()
		key, err := d.load(p, "", v)
		fn(Entry{Key: key, File: p, Err: err}, v)
	}
	return nil
}
