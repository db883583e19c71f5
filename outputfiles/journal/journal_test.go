package journal_test

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/outputfiles/journal"
)

type rec struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

func open(t *testing.T) *journal.Dir {
	t.Helper()
	d, err := journal.Open(filepath.Join(t.TempDir(), "j"))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// onlyFile returns the single record file of d.
func onlyFile(t *testing.T, d *journal.Dir) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(d.Path(), "*.rec"))
	if err != nil || len(m) != 1 {
		t.Fatalf("record files: %v %v", m, err)
	}
	return m[0]
}

func TestSaveLoadReplaceDelete(t *testing.T) {
	d := open(t)
	key := "job/task/../../etc/passwd\x00" // keys need not be file names
	var got rec
	if err := d.Load(key, &got); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("load of a missing record: %v", err)
	}
	for i := 1; i <= 3; i++ {
		if err := d.Save(key, rec{Name: "a", Count: i}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Load(key, &got); err != nil || got != (rec{Name: "a", Count: 3}) {
		t.Fatalf("load = %+v, %v; want the last save", got, err)
	}
	fi, err := os.Stat(onlyFile(t, d))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("record mode %v, %v; want 0600", fi.Mode(), err)
	}
	if di, err := os.Stat(d.Path()); err != nil || di.Mode().Perm() != 0o700 {
		t.Fatalf("journal directory mode %v, %v; want 0700", di.Mode(), err)
	}
	if err := d.Delete(key); err != nil {
		t.Fatal(err)
	}
	if err := d.Delete(key); err != nil {
		t.Fatalf("second delete: %v", err)
	}
	if err := d.Load(key, &got); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("load after delete: %v", err)
	}
}

// A record that cannot be trusted is reported as such, never half-read.
func TestDamagedAndUnknownRecords(t *testing.T) {
	const key = "k"
	tests := []struct {
		name    string
		corrupt func(b []byte) []byte
		want    error
	}{
		{"torn write (truncated)", func(b []byte) []byte { return b[:len(b)/2] }, journal.ErrDamaged},
		{"empty file", func([]byte) []byte { return nil }, journal.ErrDamaged},
		{"flipped payload byte", func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"count":7`, `"count":8`, 1))
		}, journal.ErrDamaged},
		{"unknown version", func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"version":1`, `"version":99`, 1))
		}, journal.ErrUnknownVersion},
		{"record of another key", func(b []byte) []byte {
			return []byte(strings.Replace(string(b), `"key":"k"`, `"key":"other"`, 1))
		}, journal.ErrDamaged},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := open(t)
			if err := d.Save(key, rec{Name: "n", Count: 7}); err != nil {
				t.Fatal(err)
			}
			f := onlyFile(t, d)
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(f, tc.corrupt(b), 0o600); err != nil {
				t.Fatal(err)
			}
			var got rec
			if err := d.Load(key, &got); !errors.Is(err, tc.want) {
				t.Fatalf("load: %v, want %v", err, tc.want)
			}
			if got != (rec{}) {
				t.Fatalf("a refused record was partly decoded: %+v", got)
			}
			var seen []journal.Entry
			if err := d.Scan(func() any { return new(rec) }, func(e journal.Entry, _ any) { seen = append(seen, e) }); err != nil {
				t.Fatal(err)
			}
			if len(seen) != 1 || !errors.Is(seen[0].Err, tc.want) || seen[0].File != f {
				t.Fatalf("scan: %+v, want one entry with %v", seen, tc.want)
			}
		})
	}
}

// Scan finds every record with its key, removes the temporary files of
// writes that never reached their rename, and ignores anything else.
func TestScan(t *testing.T) {
	d := open(t)
	for _, k := range []string{"b", "a", "c"} {
		if err := d.Save(k, rec{Name: k}); err != nil {
			t.Fatal(err)
		}
	}
	stray := filepath.Join(d.Path(), ".x.rec.tmp123")
	if err := os.WriteFile(stray, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(d.Path(), "README"), []byte("not a record"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.Sub("task").Save("x", rec{Name: "sub"}); err != nil {
		t.Fatal(err)
	}
	var keys []string
	err := d.Scan(func() any { return new(rec) }, func(e journal.Entry, v any) {
		if e.Err != nil {
			t.Errorf("entry %s: %v", e.File, e.Err)
			return
		}
		if r := v.(*rec); r.Name != e.Key {
			t.Errorf("entry %s decoded as %+v", e.Key, r)
		}
		keys = append(keys, e.Key)
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(keys)
	if strings.Join(keys, ",") != "a,b,c" {
		t.Fatalf("scanned keys %v, want a,b,c (records of a subdirectory are its own)", keys)
	}
	if _, err := os.Stat(stray); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("stray temporary file left: %v", err)
	}
	var sub rec
	if err := d.Sub("task").Load("x", &sub); err != nil || sub.Name != "sub" {
		t.Fatalf("sub record: %+v %v", sub, err)
	}
	if err := d.Sub("task").RemoveAll(); err != nil {
		t.Fatal(err)
	}
	if err := d.Sub("task").Load("x", &sub); !errors.Is(err, journal.ErrNotFound) {
		t.Fatalf("sub record after RemoveAll: %v", err)
	}
}
