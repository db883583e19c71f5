package nodefiles

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fixture builds:
//
//	outside/secret.txt                      (must never be served)
//	root/stdout.txt, root/stderr.txt (empty)
//	root/wd/out.txt, root/wd/sub/deep.bin, root/wd/.hidden
//	root/wd/in-link -> out.txt                (relative, inside)
//	root/wd/dir-link -> sub                   (relative dir link, inside)
//	root/wd/out-rel -> ../../outside/secret.txt (relative, escapes)
//	root/wd/out-abs -> /…/outside/secret.txt  (absolute)
//	root/wd/out-dir -> /…/outside             (absolute dir)
//	root/wd/dangling -> nothing
func fixture(t *testing.T) (root, outside string) {
	t.Helper()
	base := t.TempDir()
	root, outside = filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{outside, filepath.Join(root, "wd", "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string, mode os.FileMode) {
		if err := os.WriteFile(p, []byte(s), mode); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(outside, "secret.txt"), "SECRET", 0o644)
	write(filepath.Join(root, "stdout.txt"), "hello world\n", 0o644)
	write(filepath.Join(root, "stderr.txt"), "", 0o644)
	write(filepath.Join(root, "wd", "out.txt"), "0123456789", 0o600)
	write(filepath.Join(root, "wd", "sub", "deep.bin"), "deep", 0o755)
	write(filepath.Join(root, "wd", ".hidden"), "h", 0o644)
	links := map[string]string{
		"in-link":  "out.txt",
		"dir-link": "sub",
		"out-rel":  "../../outside/secret.txt",
		"out-abs":  filepath.Join(outside, "secret.txt"),
		"out-dir":  outside,
		"dangling": "nothing-here",
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, "wd", name)); err != nil {
			t.Fatal(err)
		}
	}
	return root, outside
}

func names(t *testing.T, root, rel string, recursive bool, prefix string) string {
	t.Helper()
	fs, err := List(root, rel, recursive, prefix)
	if err != nil {
		t.Fatalf("List(%q, %v, %q): %v", rel, recursive, prefix, err)
	}
	var n []string
	for _, f := range fs {
		s := f.Name
		if f.IsDirectory {
			s += "/"
			if f.Properties != nil {
				t.Errorf("directory %s has properties", f.Name)
			}
		} else if f.Properties == nil {
			t.Errorf("file %s has no properties", f.Name)
		}
		n = append(n, s)
	}
	return strings.Join(n, " ")
}

func TestList(t *testing.T) {
	root, _ := fixture(t)
	if got, want := names(t, root, "", false, ""), "stderr.txt stdout.txt wd/"; got != want {
		t.Errorf("non-recursive = %q, want %q", got, want)
	}
	want := "stderr.txt stdout.txt wd/ wd/.hidden wd/dir-link/ wd/in-link wd/out.txt wd/sub/ wd/sub/deep.bin"
	if got := names(t, root, ".", true, ""); got != want {
		t.Errorf("recursive =\n%q, want\n%q", got, want)
	}
	if got, want := names(t, root, "wd", false, ""), "wd/.hidden wd/dir-link/ wd/in-link wd/out.txt wd/sub/"; got != want {
		t.Errorf("list wd = %q, want %q", got, want)
	}
	if got, want := names(t, root, "", true, "wd/s"), "wd/sub/ wd/sub/deep.bin"; got != want {
		t.Errorf("prefix = %q, want %q", got, want)
	}
	if got, want := names(t, root, "", false, "std"), "stderr.txt stdout.txt"; got != want {
		t.Errorf("prefix non-recursive = %q, want %q", got, want)
	}
	fs, _ := List(root, "", false, "stdout")
	p := fs[0].Properties
	if p.ContentLength != 12 || p.ContentType != "text/plain" || p.FileMode != "0o100644" || p.LastModified.IsZero() {
		t.Errorf("stdout.txt properties %+v", p)
	}
	fs, _ = List(root, "wd/sub", false, "")
	if fs[0].Properties.FileMode != "0o100755" || fs[0].Properties.ContentType != "application/octet-stream" {
		t.Errorf("deep.bin properties %+v", fs[0].Properties)
	}
	if _, err := List(root, "stdout.txt", false, ""); !errors.Is(err, ErrNotDirectory) {
		t.Errorf("List(file) = %v", err)
	}
	if _, err := List(filepath.Join(root, "nope"), "", false, ""); !errors.Is(err, ErrNotFound) {
		t.Errorf("List(missing root) = %v", err)
	}
}

var hostile = []string{
	"../outside/secret.txt",
	"../../etc/passwd",
	"wd/../../outside/secret.txt",
	"/etc/passwd",
	"wd/out-rel",
	"wd/out-abs",
	"wd/out-dir/secret.txt",
	"wd/out-dir",
	"wd/dangling",
	"wd/out.txt\x00.jpg",
	"wd/nope.txt",
}

func TestHostilePathsAreRefused(t *testing.T) {
	root, outside := fixture(t)
	for _, p := range hostile {
		if _, _, err := Stat(root, p); !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Stat(%q) = %v, want not found / invalid", p, err)
		}
		if f, _, err := Open(root, p); err == nil {
			b, _ := io.ReadAll(f)
			f.Close()
			t.Errorf("Open(%q) served %q", p, b)
		} else if !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Open(%q) = %v", p, err)
		}
		if _, err := List(root, p, true, ""); err == nil {
			t.Errorf("List(%q) succeeded", p)
		}
		if err := Delete(root, p, true); err == nil && !strings.HasPrefix(p, "wd/out-") && p != "wd/dangling" {
			t.Errorf("Delete(%q) succeeded", p)
		}
	}
	// Deleting the links removed the links, never their targets.
	if b, err := os.ReadFile(filepath.Join(outside, "secret.txt")); err != nil || string(b) != "SECRET" {
		t.Errorf("outside file damaged: %q %v", b, err)
	}
	for _, p := range []string{"", ".", "wd/.."} {
		if err := Delete(root, p, true); !errors.Is(err, ErrInvalidPath) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidPath", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "stdout.txt")); err != nil {
		t.Error("root content damaged")
	}
}

func TestStatAndOpen(t *testing.T) {
	root, _ := fixture(t)
	nf, _, err := Stat(root, "wd/out.txt")
	if err != nil || nf.Name != "wd/out.txt" || nf.Properties.ContentLength != 10 || nf.Properties.FileMode != "0o100600" {
		t.Fatalf("Stat = %+v, %v", nf, err)
	}
	nf, _, err = Stat(root, "wd")
	if err != nil || !nf.IsDirectory || nf.Properties != nil {
		t.Errorf("Stat(dir) = %+v, %v", nf, err)
	}
	if nf, _, err := Stat(root, "wd/in-link"); err != nil || nf.Properties.ContentLength != 10 {
		t.Errorf("Stat(inside link) = %+v, %v", nf, err)
	}
	f, _, err := Open(root, "wd/./sub/../out.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4)
	if n, err := f.ReadAt(buf, 3); err != nil || string(buf[:n]) != "3456" {
		t.Errorf("ranged read = %q, %v", buf[:n], err)
	}
	if _, _, err := Open(root, "wd"); !errors.Is(err, ErrIsDirectory) {
		t.Errorf("Open(dir) = %v", err)
	}
	if f, _, err := Open(root, "wd/dir-link/deep.bin"); err != nil {
		t.Errorf("Open through inside dir link: %v", err)
	} else {
		f.Close()
	}
}

func TestDelete(t *testing.T) {
	root, _ := fixture(t)
	if err := Delete(root, "wd/sub", false); !errors.Is(err, ErrDirectoryNotEmpty) {
		t.Errorf("non-recursive delete of non-empty dir = %v", err)
	}
	if err := Delete(root, "wd/dir-link", false); err != nil {
		t.Errorf("delete dir link: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "wd/sub/deep.bin")); err != nil {
		t.Error("deleting a link to a directory removed the directory's content")
	}
	if err := Delete(root, "wd/sub", true); err != nil {
		t.Errorf("recursive delete: %v", err)
	}
	if err := Delete(root, "stdout.txt", false); err != nil {
		t.Errorf("delete file: %v", err)
	}
	if err := Delete(root, "stdout.txt", false); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete missing file = %v", err)
	}
	os.Mkdir(filepath.Join(root, "empty"), 0o755)
	if err := Delete(root, "empty", false); err != nil {
		t.Errorf("delete empty dir: %v", err)
	}
}
