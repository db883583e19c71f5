package azure

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/appendblob"
	azblobblob "github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/openbatch/openbatch/blob"
)

// Get downloads a whole blob (needs read permission; uploads never call it).
func (c *azContainer) Get(ctx context.Context, name string) (io.ReadCloser, blob.Properties, error) {
	return c.GetRange(ctx, name, 0, -1)
}

// GetRange downloads part of a blob. The reader resumes a broken download
// by itself (the SDK's retry reader, 3 retries).
func (c *azContainer) GetRange(ctx context.Context, name string, offset, count int64) (io.ReadCloser, blob.Properties, error) {
	if offset < 0 {
		offset = 0
	}
	if count == 0 {
		p, err := c.Stat(ctx, name)
		if err != nil {
			return nil, blob.Properties{}, err
		}
		return io.NopCloser(bytes.NewReader(nil)), p, nil
	}
	opts := &azblobblob.DownloadStreamOptions{}
	if offset > 0 || count > 0 {
		opts.Range = azblobblob.HTTPRange{Offset: offset, Count: max(count, 0)}
	}
	resp, err := c.cc.NewBlobClient(name).DownloadStream(ctx, opts)
	if err != nil {
		var re *azcore.ResponseError
		if offset > 0 && asResponseError(err, &re) && re.StatusCode == 416 {
			// A range past the end: no bytes, as io.ReaderAt would say.
			p, serr := c.Stat(ctx, name)
			if serr != nil {
				return nil, blob.Properties{}, serr
			}
			return io.NopCloser(bytes.NewReader(nil)), p, nil
		}
		return nil, blob.Properties{}, c.classify("get", name, err, 0)
	}
	p := props(resp.ContentType, resp.ContentEncoding, resp.ContentLanguage, resp.ContentDisposition,
		resp.CacheControl, resp.ContentMD5, resp.LastModified, resp.Metadata)
	if resp.ContentLength != nil {
		p.Size = *resp.ContentLength
	}
	if total, ok := rangeTotal(deref(resp.ContentRange)); ok {
		p.Size = total
		// A ranged read returns the range's MD5 only on request; the blob's
		// own Content-MD5 is in x-ms-blob-content-md5.
		p.ContentMD5 = resp.BlobContentMD5
	}
	return resp.NewRetryReader(ctx, &azblobblob.RetryReaderOptions{MaxRetries: 3}), p, nil
}

// rangeTotal parses the total of a Content-Range "bytes a-b/total".
func rangeTotal(cr string) (int64, bool) {
	_, total, ok := strings.Cut(cr, "/")
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil
}

// Stat gets a blob's properties (Get Blob Properties, a HEAD request).
func (c *azContainer) Stat(ctx context.Context, name string) (blob.Properties, error) {
	resp, err := c.cc.NewBlobClient(name).GetProperties(ctx, nil)
	if err != nil {
		return blob.Properties{}, c.classify("stat", name, err, 0)
	}
	p := props(resp.ContentType, resp.ContentEncoding, resp.ContentLanguage, resp.ContentDisposition,
		resp.CacheControl, resp.ContentMD5, resp.LastModified, resp.Metadata)
	if resp.ContentLength != nil {
		p.Size = *resp.ContentLength
	}
	p.AccessTier = deref(resp.AccessTier)
	if resp.BlobType != nil {
		p.BlobType = string(*resp.BlobType)
	}
	if resp.BlobCommittedBlockCount != nil {
		p.CommittedBlocks = int(*resp.BlobCommittedBlockCount)
	}
	return p, nil
}

func props(ct, ce, cl, cd, cc *string, md5 []byte, lm *time.Time, md map[string]*string) blob.Properties {
	p := blob.Properties{PutOptions: blob.PutOptions{
		ContentType: deref(ct), ContentEncoding: deref(ce), ContentLanguage: deref(cl),
		ContentDisposition: deref(cd), CacheControl: deref(cc), ContentMD5: md5,
	}}
	if lm != nil {
		p.LastModified = *lm
	}
	if len(md) > 0 {
		p.Metadata = make(map[string]string, len(md))
		for k, v := range md {
			p.Metadata[strings.ToLower(k)] = deref(v)
		}
	}
	return p
}

// List lists blobs by prefix (List Blobs, flat, 5,000 per page).
func (c *azContainer) List(ctx context.Context, prefix string) iter.Seq2[blob.Item, error] {
	return func(yield func(blob.Item, error) bool) {
		opts := &container.ListBlobsFlatOptions{}
		if prefix != "" {
			opts.Prefix = to.Ptr(prefix)
		}
		pager := c.cc.NewListBlobsFlatPager(opts)
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				yield(blob.Item{}, c.classify("list", "", err, 0))
				return
			}
			for _, b := range page.Segment.BlobItems {
				if b == nil || b.Name == nil {
					continue
				}
				it := blob.Item{Name: *b.Name}
				if pr := b.Properties; pr != nil {
					if pr.ContentLength != nil {
						it.Size = *pr.ContentLength
					}
					if pr.LastModified != nil {
						it.LastModified = *pr.LastModified
					}
					it.ContentMD5 = pr.ContentMD5
				}
				if !yield(it, nil) {
					return
				}
			}
		}
	}
}

// Delete deletes a blob and its snapshots.
func (c *azContainer) Delete(ctx context.Context, name string) error {
	_, err := c.cc.NewBlobClient(name).Delete(ctx, &azblobblob.DeleteOptions{
		DeleteSnapshots: to.Ptr(azblobblob.DeleteSnapshotsOptionTypeInclude),
	})
	if err != nil {
		return c.classify("delete", name, err, 0)
	}
	return nil
}

// Create creates the container (Create Container); an existing container is
// success. It needs an account key, an identity with the right role, or an
// account SAS that allows creating containers.
func (c *azContainer) Create(ctx context.Context) error {
	_, err := c.cc.Create(ctx, nil)
	var re *azcore.ResponseError
	if err != nil && !(asResponseError(err, &re) && re.ErrorCode == "ContainerAlreadyExists") {
		return c.classify("create", "", err, 0)
	}
	return nil
}

// CreateAppend creates an empty append blob, only if none exists
// (If-None-Match: *).
func (c *azContainer) CreateAppend(ctx context.Context, name string, opts blob.PutOptions) error {
	_, err := c.cc.NewAppendBlobClient(name).Create(ctx, &appendblob.CreateOptions{
		HTTPHeaders: headers(opts, nil),
		Metadata:    metadata(opts),
		AccessConditions: &azblobblob.AccessConditions{ModifiedAccessConditions: &azblobblob.ModifiedAccessConditions{
			IfNoneMatch: to.Ptr(azcore.ETagAny),
		}},
	})
	if err != nil {
		e := c.classify("append", name, err, 0)
		var re *azcore.ResponseError
		if asResponseError(err, &re) && (re.ErrorCode == "BlobAlreadyExists" || re.ErrorCode == "ConditionNotMet") {
			if be, ok := e.(*blob.Error); ok {
				be.Kind = blob.Conflict
			}
		}
		return e
	}
	return nil
}

// AppendAt appends a block at a known position (Append Block with
// x-ms-blob-condition-appendpos), with a transactional MD5.
func (c *azContainer) AppendAt(ctx context.Context, name string, at int64, data []byte) error {
	_, err := c.cc.NewAppendBlobClient(name).AppendBlock(ctx, streaming.NopCloser(bytes.NewReader(data)), &appendblob.AppendBlockOptions{
		AppendPositionAccessConditions: &appendblob.AppendPositionAccessConditions{AppendPosition: to.Ptr(at)},
	})
	if err != nil {
		e := c.classify("append", name, err, 0)
		var re *azcore.ResponseError
		if asResponseError(err, &re) && re.StatusCode == 412 {
			if be, ok := e.(*blob.Error); ok {
				be.Kind = blob.Conflict
			}
		}
		return e
	}
	return nil
}

var (
	_ blob.Creator  = (*azContainer)(nil)
	_ blob.Appender = (*azContainer)(nil)
)

func asResponseError(err error, re **azcore.ResponseError) bool { return errors.As(err, re) }

// SplitBlobURL splits a blob URL (with its SAS, if any) into the URL of its
// container (keeping the SAS) and the blob name, for both host-style
// (https://acct.blob.core.windows.net/c/name) and path-style
// (http://127.0.0.1:10000/acct/c/name, Azurite) URLs.
func SplitBlobURL(blobURL string) (containerURL, name string, err error) {
	parts, err := azblobblob.ParseURL(blobURL)
	if err != nil {
		return "", "", fmt.Errorf("invalid blob URL %s: %w", blob.Redact(blobURL), scrub(err))
	}
	if parts.ContainerName == "" || parts.BlobName == "" {
		return "", "", fmt.Errorf("blob URL %s must name a container and a blob", blob.Redact(blobURL))
	}
	// Rebuild the container URL from the original, so the SAS query is kept
	// byte for byte.
	u, err := url.Parse(blobURL)
	if err != nil || !strings.HasSuffix(u.Path, "/"+parts.BlobName) {
		return "", "", fmt.Errorf("blob URL %s: cannot separate the container from the blob name", blob.Redact(blobURL))
	}
	u.Path = strings.TrimSuffix(u.Path, "/"+parts.BlobName)
	u.RawPath = ""
	return u.String(), parts.BlobName, nil
}
