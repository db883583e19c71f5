package local

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"iter"
	"os"
	"path"
	"sort"
	"strings"

	"github.com/openbatch/openbatch/blob"
)

// readKind classifies an error opening an existing blob for reading.
func readKind(err error) blob.Kind {
	if errors.Is(err, fs.ErrNotExist) {
		return blob.BlobNotFound
	}
	return fileKind(err)
}

// GetRange opens part of a blob.
func (c *dirContainer) GetRange(ctx context.Context, name string, offset, count int64) (io.ReadCloser, blob.Properties, error) {
	rc, p, err := c.Get(ctx, name)
	if err != nil {
		return nil, p, err
	}
	f := rc.(*os.File)
	offset = max(offset, 0)
	if count < 0 || offset+count > p.Size {
		count = max(p.Size-offset, 0)
	}
	return struct {
		io.Reader
		io.Closer
	}{io.NewSectionReader(f, offset, count), f}, p, nil
}

// Stat returns a blob's size, time and sidecar properties.
func (c *dirContainer) Stat(ctx context.Context, name string) (blob.Properties, error) {
	rc, p, err := c.Get(ctx, name)
	if err != nil {
		return p, err
	}
	rc.Close()
	return p, nil
}

// List walks the directory; names are the slash-separated relative paths of
// regular files, sorted. The properties directory and upload temporaries are
// skipped.
func (c *dirContainer) List(ctx context.Context, prefix string) iter.Seq2[blob.Item, error] {
	return func(yield func(blob.Item, error) bool) {
		root, err := os.OpenRoot(c.dir)
		if err != nil {
			yield(blob.Item{}, c.fail("list", "", rootKind(err), err))
			return
		}
		defer root.Close()
		var items []blob.Item
		err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if err := ctx.Err(); err != nil {
				return err
			}
			if d.IsDir() {
				if p == PropsDir {
					return fs.SkipDir
				}
				// Skip directories that cannot hold a name with this prefix.
				if p != "." && !strings.HasPrefix(p+"/", prefix) && !strings.HasPrefix(prefix, p+"/") && !strings.HasPrefix(p, prefix) {
					return fs.SkipDir
				}
				return nil
			}
			if !d.Type().IsRegular() || !strings.HasPrefix(p, prefix) || isTemp(path.Base(p)) {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			it := blob.Item{Name: p, Size: fi.Size(), LastModified: fi.ModTime()}
			var pr props
			if b, err := root.ReadFile(PropsDir + "/" + p + ".json"); err == nil && json.Unmarshal(b, &pr) == nil {
				it.ContentMD5 = pr.ContentMD5
			}
			items = append(items, it)
			return nil
		})
		if err != nil {
			yield(blob.Item{}, c.fail("list", "", blob.KindOf(err), err))
			return
		}
		sort.Slice(items, func(i, j int) bool { return items[i].Name < items[j].Name })
		for _, it := range items {
			if !yield(it, nil) {
				return
			}
		}
	}
}

// isTemp reports whether base is an upload temporary (see tempName).
func isTemp(base string) bool {
	return strings.HasPrefix(base, ".") && strings.Contains(base, ".tmp-")
}

// Delete removes a blob and its properties sidecar.
func (c *dirContainer) Delete(_ context.Context, name string) error {
	if err := checkName(name); err != nil {
		return c.fail("delete", name, blob.Misc, err)
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return c.fail("delete", name, rootKind(err), err)
	}
	defer root.Close()
	if err := root.Remove(name); err != nil {
		return c.fail("delete", name, readKind(err), err)
	}
	_ = root.Remove(PropsDir + "/" + name + ".json")
	return nil
}

// Create makes the container directory (and its parents).
func (c *dirContainer) Create(_ context.Context) error {
	if err := os.MkdirAll(c.dir, 0o755); err != nil {
		return c.fail("create", "", fileKind(err), err)
	}
	return nil
}

// CreateAppend creates an empty blob exclusively.
func (c *dirContainer) CreateAppend(_ context.Context, name string, opts blob.PutOptions) error {
	if err := checkName(name); err != nil {
		return c.fail("append", name, blob.Misc, err)
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return c.fail("append", name, rootKind(err), err)
	}
	defer root.Close()
	if err := root.MkdirAll(path.Dir(name), 0o755); err != nil {
		return c.fail("append", name, fileKind(err), err)
	}
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return c.fail("append", name, fileKind(err), err)
	}
	if err := f.Close(); err != nil {
		return c.fail("append", name, blob.Misc, err)
	}
	if err := writeProps(root, name, props{
		ContentType: opts.ContentType, ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage,
		ContentDisposition: opts.ContentDisposition, CacheControl: opts.CacheControl, Metadata: opts.Metadata,
		Append: true,
	}); err != nil {
		return c.fail("append", name, fileKind(err), err)
	}
	return nil
}

// AppendAt appends data if the blob's size is at. Two writers of one local
// container are not supported (Batch has one writer per blob name).
func (c *dirContainer) AppendAt(_ context.Context, name string, at int64, data []byte) error {
	if err := checkName(name); err != nil {
		return c.fail("append", name, blob.Misc, err)
	}
	root, err := os.OpenRoot(c.dir)
	if err != nil {
		return c.fail("append", name, rootKind(err), err)
	}
	defer root.Close()
	f, err := root.OpenFile(name, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return c.fail("append", name, readKind(err), err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return c.fail("append", name, blob.Misc, err)
	}
	if fi.Size() != at {
		return &blob.Error{Kind: blob.Conflict, Op: "append", Container: c.url, Blob: name,
			Code: "AppendPositionConditionNotMet", Err: errors.New("the blob's length is not the append position")}
	}
	if _, err := f.Write(data); err != nil {
		return c.fail("append", name, fileKind(err), err)
	}
	return f.Close()
}

var (
	_ blob.Creator  = (*dirContainer)(nil)
	_ blob.Appender = (*dirContainer)(nil)
)
