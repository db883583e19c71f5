// Package blobtest is the contract every blob.Container backend must meet:
// one table of behaviours (put and read back, ranges, stat, listing by
// prefix, delete, append blobs, error kinds) that the tests of blob/local,
// blob/azure and any further backend run against a real store, so that
// destinations behave alike whatever their scheme.
package blobtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"slices"
	"testing"

	"github.com/openbatch/openbatch/blob"
)

// Run runs the contract against c, an empty container the test owns.
func Run(t *testing.T, c blob.Container) {
	t.Helper()
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 1000) // 10,000 bytes
	names := []string{"a/b/one.txt", "a/b/two.txt", "a/c.txt", "z ü.txt"}
	for _, n := range names {
		res, err := c.Put(ctx, n, bytes.NewReader(data), int64(len(data)), blob.PutOptions{ContentType: "text/plain", Metadata: map[string]string{"origin": "blobtest"}})
		if err != nil {
			t.Fatalf("Put %s: %v", n, err)
		}
		sum := md5.Sum(data)
		if !bytes.Equal(res.ContentMD5, sum[:]) || res.Size != int64(len(data)) {
			t.Fatalf("Put %s: result %+v", n, res)
		}
	}

	t.Run("Get", func(t *testing.T) {
		rc, p, err := c.Get(ctx, "a/c.txt")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) {
			t.Fatalf("content (%d bytes, err %v)", len(got), err)
		}
		sum := md5.Sum(data)
		if p.Size != int64(len(data)) || !bytes.Equal(p.ContentMD5, sum[:]) || p.ContentType != "text/plain" {
			t.Errorf("properties %+v", p)
		}
	})

	t.Run("GetRange", func(t *testing.T) {
		for _, tc := range []struct {
			name          string
			offset, count int64
			want          []byte
		}{
			{"middle", 10, 25, data[10:35]},
			{"to end", 9990, -1, data[9990:]},
			{"past end count", 9995, 100, data[9995:]},
			{"from start", 0, 5, data[:5]},
			{"at end", int64(len(data)), -1, nil},
		} {
			t.Run(tc.name, func(t *testing.T) {
				rc, p, err := c.GetRange(ctx, "a/c.txt", tc.offset, tc.count)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err != nil || !bytes.Equal(got, tc.want) {
					t.Fatalf("got %q (err %v), want %q", got, err, tc.want)
				}
				if p.Size != int64(len(data)) {
					t.Errorf("whole-blob size %d, want %d", p.Size, len(data))
				}
			})
		}
	})

	t.Run("Stat", func(t *testing.T) {
		p, err := c.Stat(ctx, "a/b/one.txt")
		if err != nil {
			t.Fatal(err)
		}
		if p.Size != int64(len(data)) || p.Metadata["origin"] != "blobtest" || p.LastModified.IsZero() {
			t.Errorf("properties %+v", p)
		}
		_, err = c.Stat(ctx, "missing")
		if blob.KindOf(err) != blob.BlobNotFound || !errors.Is(err, blob.ErrBlobNotFound) {
			t.Errorf("missing blob: %v (kind %v)", err, blob.KindOf(err))
		}
		if _, _, err := c.Get(ctx, "missing"); blob.KindOf(err) != blob.BlobNotFound {
			t.Errorf("Get missing: %v", err)
		}
	})

	t.Run("List", func(t *testing.T) {
		for _, tc := range []struct {
			prefix string
			want   []string
		}{
			{"", names},
			{"a/", names[:3]},
			{"a/b", names[:2]},
			{"a/b/t", names[1:2]},
			{"nothing", nil},
		} {
			var got []string
			for it, err := range c.List(ctx, tc.prefix) {
				if err != nil {
					t.Fatalf("List %q: %v", tc.prefix, err)
				}
				if it.Size != int64(len(data)) {
					t.Errorf("List %q: %s size %d", tc.prefix, it.Name, it.Size)
				}
				got = append(got, it.Name)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("List %q = %q, want %q", tc.prefix, got, tc.want)
			}
		}
		// Stopping early is allowed.
		for range c.List(ctx, "") {
			break
		}
	})

	t.Run("Delete", func(t *testing.T) {
		if err := c.Delete(ctx, "z ü.txt"); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Stat(ctx, "z ü.txt"); blob.KindOf(err) != blob.BlobNotFound {
			t.Errorf("after Delete: %v", err)
		}
		if err := c.Delete(ctx, "z ü.txt"); blob.KindOf(err) != blob.BlobNotFound {
			t.Errorf("second Delete: %v", err)
		}
	})

	t.Run("Append", func(t *testing.T) {
		a, ok := blob.AsAppender(c)
		if !ok {
			t.Skip("backend has no append blobs")
		}
		const n = "log/appended.txt"
		if err := a.CreateAppend(ctx, n, blob.PutOptions{ContentType: "text/plain"}); err != nil {
			t.Fatal(err)
		}
		if err := a.CreateAppend(ctx, n, blob.PutOptions{}); blob.KindOf(err) != blob.Conflict {
			t.Errorf("second CreateAppend: %v", err)
		}
		if err := a.AppendAt(ctx, n, 0, []byte("hello ")); err != nil {
			t.Fatal(err)
		}
		if err := a.AppendAt(ctx, n, 6, []byte("world")); err != nil {
			t.Fatal(err)
		}
		// A replayed append at a stale position is refused: no duplicate bytes.
		err := a.AppendAt(ctx, n, 6, []byte("world"))
		var be *blob.Error
		if blob.KindOf(err) != blob.Conflict || !errors.As(err, &be) || be.Code != "AppendPositionConditionNotMet" {
			t.Errorf("stale AppendAt: %v", err)
		}
		rc, _, err := c.Get(ctx, n)
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if got, _ := io.ReadAll(rc); string(got) != "hello world" {
			t.Errorf("appended blob %q", got)
		}
	})
}
