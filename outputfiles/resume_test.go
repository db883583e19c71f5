package outputfiles

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/outputfiles/journal"
)

// A file's upload journal is resumed from only while the file is the one
// the upload began with.
func TestFileJournal(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "out.bin")
	if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file)
	if err != nil {
		t.Fatal(err)
	}
	state := &blob.UploadState{Size: 10, BlockSize: 4, Prefix: "p", Staged: map[int][]byte{0: []byte("0123456789abcdef")}}
	const container = "https://acct.blob.core.windows.net/c?sv=x&sig=secret"

	tests := []struct {
		name   string
		change func(t *testing.T) os.FileInfo // the file as the resumed upload sees it
		damage bool
		want   bool // state resumed
	}{
		{"unchanged file resumes", func(*testing.T) os.FileInfo { return fi }, false, true},
		{"rewritten file (new mtime) starts over", func(t *testing.T) os.FileInfo {
			later := fi.ModTime().Add(time.Second)
			if err := os.Chtimes(file, later, later); err != nil {
				t.Fatal(err)
			}
			nfi, _ := os.Stat(file)
			return nfi
		}, false, false},
		{"grown file starts over", func(t *testing.T) os.FileInfo {
			if err := os.WriteFile(file, []byte("0123456789ab"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			nfi, _ := os.Stat(file)
			return nfi
		}, false, false},
		{"damaged journal starts over", func(*testing.T) os.FileInfo { return fi }, true, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := os.WriteFile(file, []byte("0123456789"), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Chtimes(file, fi.ModTime(), fi.ModTime()); err != nil {
				t.Fatal(err)
			}
			jd, err := journal.Open(filepath.Join(t.TempDir(), "j"))
			if err != nil {
				t.Fatal(err)
			}
			if err := newFileJournal(jd, container, "out.bin", fi).Save(state); err != nil {
				t.Fatal(err)
			}
			if tc.damage {
				recs, _ := filepath.Glob(filepath.Join(jd.Path(), "*.rec"))
				if len(recs) != 1 {
					t.Fatalf("records %v", recs)
				}
				if err := os.WriteFile(recs[0], []byte(`{"version":1,"key":`), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			j := newFileJournal(jd, container, "out.bin", tc.change(t))
			got, err := j.Load()
			if tc.damage != (err != nil) || tc.damage && !errors.Is(err, journal.ErrDamaged) {
				t.Fatalf("load error %v (damaged journal: %v)", err, tc.damage)
			}
			if (got != nil) != tc.want {
				t.Fatalf("resumed state %+v, want resumed=%v", got, tc.want)
			}
			if tc.want && (got.Prefix != "p" || len(got.Staged) != 1) {
				t.Fatalf("state %+v", got)
			}
			left, _ := filepath.Glob(filepath.Join(jd.Path(), "*.rec"))
			if !tc.want && len(left) != 0 {
				t.Fatalf("a journal that cannot be resumed from is left: %v", left)
			}
			if tc.want {
				j.done()
				if again, _ := j.Load(); again != nil {
					t.Fatal("journal left after done")
				}
			}
		})
	}
}
