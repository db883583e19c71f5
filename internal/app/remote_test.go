package app

import (
	"context"
	"errors"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/agent/nodefiles"
	"github.com/openbatch/openbatch/internal/service"
)

// TestRemoteDir drives remoteDir against an agent's file server: every
// operation, ranged reads, confinement to the directory, error mapping and
// the token.
func TestRemoteDir(t *testing.T) {
	root := t.TempDir()
	task := filepath.Join(root, "workitems", "j", "job-1", "t")
	for _, d := range []string{filepath.Join(task, "wd", "sub"), filepath.Join(root, "shared")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	write := func(p, s string) {
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(task, "stdout.txt"), "0123456789")
	write(filepath.Join(task, "wd", "sub", "f"), "x")
	write(filepath.Join(root, "shared", "secret"), "node only")
	if err := os.Symlink("/etc/passwd", filepath.Join(task, "wd", "leak")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(agent.FileHandler(root, func() string { return "tok" }, nil))
	defer srv.Close()
	ctx := context.Background()
	d := &remoteDir{base: srv.URL, rel: "workitems/j/job-1/t", token: "tok"}

	files, err := d.List(ctx, "", true, "")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, f.Name)
	}
	want := []string{"stdout.txt", "wd", "wd/sub", "wd/sub/f"}
	if len(names) != len(want) {
		t.Fatalf("list = %v, want %v", names, want)
	}
	if files, err := d.List(ctx, "", true, "wd/s"); err != nil || len(files) != 2 {
		t.Fatalf("list with prefix = %+v, %v", files, err)
	}
	nf, err := d.Stat(ctx, "stdout.txt")
	if err != nil || nf.Properties == nil || nf.Properties.ContentLength != 10 || nf.Properties.ContentType != "text/plain" {
		t.Fatalf("stat = %+v, %v", nf, err)
	}
	rc, err := d.Open(ctx, "stdout.txt", 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "3456" {
		t.Fatalf("range 3+4 = %q", b)
	}

	for _, c := range []struct {
		name string
		err  error
		fn   func() error
	}{
		{"dotdot", nodefiles.ErrInvalidPath, func() error { _, err := d.Stat(ctx, "../../../../shared/secret"); return err }},
		{"absolute", nodefiles.ErrInvalidPath, func() error { _, err := d.Open(ctx, "/etc/passwd", 0, 1); return err }},
		{"symlink", nodefiles.ErrNotFound, func() error { _, err := d.Open(ctx, "wd/leak", 0, 1); return err }},
		{"missing", nodefiles.ErrNotFound, func() error { _, err := d.Stat(ctx, "nope"); return err }},
		{"dir", nodefiles.ErrIsDirectory, func() error { _, err := d.Open(ctx, "wd", 0, 1); return err }},
		{"notdir", nodefiles.ErrNotDirectory, func() error { _, err := d.List(ctx, "stdout.txt", false, ""); return err }},
		{"notempty", nodefiles.ErrDirectoryNotEmpty, func() error { return d.Delete(ctx, "wd", false) }},
		{"dir param", nodefiles.ErrInvalidPath, func() error {
			_, err := (&remoteDir{base: srv.URL, rel: "../x", token: "tok"}).Stat(ctx, "f")
			return err
		}},
	} {
		if err := c.fn(); !errors.Is(err, c.err) {
			t.Errorf("%s: got %v, want %v", c.name, err, c.err)
		}
	}

	if err := d.Delete(ctx, "wd/sub/f", false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(task, "wd", "sub", "f")); !os.IsNotExist(err) {
		t.Fatalf("deleted file still there: %v", err)
	}
	if err := d.Delete(ctx, "wd", true); err != nil {
		t.Fatal(err)
	}
	// The task directory gone: listing it is "not found".
	if err := os.RemoveAll(task); err != nil {
		t.Fatal(err)
	}
	if _, err := d.List(ctx, "", false, ""); !errors.Is(err, nodefiles.ErrNotFound) {
		t.Fatalf("list of a removed task directory: %v", err)
	}

	// A wrong token is refused, not mapped to a file error.
	bad := &remoteDir{base: srv.URL, rel: "", token: "wrong"}
	if _, err := bad.Stat(ctx, "shared/secret"); err == nil || errors.Is(err, nodefiles.ErrNotFound) {
		t.Fatalf("wrong token: %v", err)
	}
	// An unreachable agent is a Batch error, not a 500.
	srv.Close()
	_, err = d.Stat(ctx, "stdout.txt")
	var se *service.Error
	if !errors.As(err, &se) || se.Code != api.CodeOperationInvalidForCurrentState {
		t.Fatalf("unreachable agent: %v", err)
	}
}
