package local_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/blobtest"
	"github.com/openbatch/openbatch/blob/local"
)

func open(t *testing.T, dir string) blob.Container {
	t.Helper()
	c, err := local.New().Open(context.Background(), "file://"+dir, blob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPutGet(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	data := []byte("content ✓")
	res, err := c.Put(context.Background(), "a b/ünï.txt", bytes.NewReader(data), int64(len(data)),
		blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"K": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	sum := md5.Sum(data)
	if !bytes.Equal(res.ContentMD5, sum[:]) {
		t.Error("md5")
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "a b", "ünï.txt")); !bytes.Equal(got, data) {
		t.Errorf("file %q", got)
	}
	rc, p, err := c.Get(context.Background(), "a b/ünï.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if !bytes.Equal(got, data) || p.ContentType != "text/plain" || p.Metadata["K"] != "v" || !bytes.Equal(p.ContentMD5, sum[:]) {
		t.Errorf("get: %q %+v", got, p)
	}
	// replace
	if _, err := c.Put(context.Background(), "a b/ünï.txt", strings.NewReader("new"), 3, blob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(dir, "a b"))
	if len(entries) != 1 {
		t.Errorf("temp files left: %v", entries)
	}
}

func TestErrors(t *testing.T) {
	dir := t.TempDir()
	c := open(t, dir)
	put := func(c blob.Container, name string) error {
		_, err := c.Put(context.Background(), name, strings.NewReader("x"), 1, blob.PutOptions{})
		return err
	}
	if err := put(open(t, filepath.Join(dir, "missing")), "x"); !errors.Is(err, blob.ErrContainerNotFound) {
		t.Errorf("missing dir: %v", err)
	}
	for _, bad := range []string{"../escape", "a/../../b", "/abs", "a//b", local.PropsDir + "/x"} {
		if err := put(c, bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if err := put(c, "f"); err != nil {
		t.Fatal(err)
	}
	if err := put(c, "f/g"); !errors.Is(err, blob.ErrConflict) {
		t.Errorf("file as dir: %v", err)
	}
	if _, err := c.Put(context.Background(), "short", strings.NewReader("x"), 5, blob.PutOptions{}); err == nil {
		t.Error("short source accepted")
	}
	if _, err := local.New().Open(context.Background(), "file://rel/dir", blob.OpenOptions{}); err == nil {
		t.Error("relative accepted")
	}
}

func TestContract(t *testing.T) {
	blobtest.Run(t, blob.WithRetry(open(t, t.TempDir()), blob.RetryPolicy{}))
}
