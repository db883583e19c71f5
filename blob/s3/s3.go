// Package s3 is the S3-compatible backend of package blob, built on
// minio-go. A container is a bucket, optionally narrowed to a key prefix:
//
//	s3://bucket/prefix                 (endpoint from Options.Endpoint)
//	https://s3.example.com/bucket/prefix  (path-style, when the host is the
//	                                    configured Options.Endpoint; see Route)
//
// Credentials come from Options (a static access key) and never from the
// URL, so nothing secret travels in a destination URL.
//
// S3 has no Content-MD5 property: the whole-object MD5 is stored as the
// user metadata "content-md5" (base64, as Azure's property) and read back
// into Properties.ContentMD5; each upload is also sent with a Content-MD5
// header (or per-part checksums) that the server verifies. S3 has no append
// blobs, so tracked saves (conventions.TrackedSave) are not available.
package s3

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"iter"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/openbatch/openbatch/blob"
)

// md5Meta is the user-metadata name (x-amz-meta-content-md5) holding the
// whole object's MD5.
const md5Meta = "Content-Md5"

// Options configure a Backend.
type Options struct {
	// Endpoint is the S3 service URL, e.g. "https://s3.us-east-1.amazonaws.com"
	// or "http://127.0.0.1:4568". Required.
	Endpoint string
	// Region is the bucket region ("" = us-east-1 / auto).
	Region string
	// AccessKeyID and SecretAccessKey are static credentials; both empty
	// means anonymous requests.
	AccessKeyID, SecretAccessKey string
	// Transport replaces the HTTP transport (tests, proxies).
	Transport http.RoundTripper
}

// String never shows the secret key.
func (o Options) String() string { return "s3.Options{" + o.Endpoint + "}" }

// Backend opens S3 buckets through one client. Immutable after New.
type Backend struct {
	endpoint *url.URL
	client   *minio.Client
}

// New returns a Backend for opts.Endpoint. No request is made.
func New(opts Options) (*Backend, error) {
	u, err := url.Parse(opts.Endpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("s3: endpoint %q must be an http or https URL with a host", blob.Redact(opts.Endpoint))
	}
	mo := &minio.Options{
		Secure:       u.Scheme == "https",
		Region:       opts.Region,
		BucketLookup: minio.BucketLookupPath,
		Transport:    opts.Transport,
	}
	if opts.AccessKeyID != "" || opts.SecretAccessKey != "" {
		mo.Creds = credentials.NewStaticV4(opts.AccessKeyID, opts.SecretAccessKey, "")
	} else {
		mo.Creds = credentials.New(&credentials.Static{Value: credentials.Value{SignerType: credentials.SignatureAnonymous}})
	}
	c, err := minio.New(u.Host, mo)
	if err != nil {
		return nil, fmt.Errorf("s3: %s", blob.RedactText(err.Error()))
	}
	return &Backend{endpoint: u, client: c}, nil
}

// Route returns an Opener that sends http and https URLs whose host is this
// backend's endpoint to the backend, and every other URL to next (e.g. the
// blob/azure backend): the "https://host/bucket with an S3 endpoint
// setting" form.
func (b *Backend) Route(next blob.Opener) blob.Opener {
	return blob.OpenerFunc(func(ctx context.Context, containerURL string, opts blob.OpenOptions) (blob.Container, error) {
		if u, err := url.Parse(containerURL); err == nil && strings.EqualFold(u.Host, b.endpoint.Host) {
			return b.Open(ctx, containerURL, opts)
		}
		return next.Open(ctx, containerURL, opts)
	})
}

// Open returns the bucket (and key prefix) a URL names. Identity references
// and query strings are refused: credentials come from Options.
func (b *Backend) Open(_ context.Context, containerURL string, opts blob.OpenOptions) (blob.Container, error) {
	red := blob.Redact(containerURL)
	fail := func(kind blob.Kind, format string, args ...any) error {
		return &blob.Error{Kind: kind, Op: "open", Container: red, Err: fmt.Errorf(format, args...)}
	}
	u, err := url.Parse(containerURL)
	if err != nil {
		return nil, fail(blob.Misc, "invalid container URL")
	}
	if opts.IdentityResourceID != "" {
		return nil, fail(blob.AccessDenied, "identity references are not supported for S3 destinations")
	}
	if u.RawQuery != "" {
		return nil, fail(blob.Misc, "S3 container URLs carry no query string; credentials are node configuration")
	}
	var bucket, prefix string
	switch u.Scheme {
	case "s3":
		bucket, prefix = u.Host, strings.Trim(u.Path, "/")
	case "http", "https":
		if !strings.EqualFold(u.Host, b.endpoint.Host) {
			return nil, fail(blob.Misc, "host %q is not the configured S3 endpoint", u.Host)
		}
		bucket, prefix, _ = strings.Cut(strings.Trim(u.Path, "/"), "/")
	default:
		return nil, fail(blob.Misc, "S3 container URL scheme must be s3, http or https, not %q", u.Scheme)
	}
	if bucket == "" {
		return nil, fail(blob.Misc, "container URL must name a bucket")
	}
	if prefix != "" {
		prefix += "/"
	}
	return &bucketContainer{c: b.client, bucket: bucket, prefix: prefix, url: red}, nil
}

// bucketContainer is one bucket with a key prefix; immutable.
type bucketContainer struct {
	c      *minio.Client
	bucket string
	prefix string // "" or ending in "/"
	url    string
}

func (c *bucketContainer) String() string { return c.url }

func (c *bucketContainer) key(name string) string { return c.prefix + name }

// Put computes the MD5 in a first pass (unless the caller gives it), then
// uploads with that MD5 as metadata; minio-go sends a Content-MD5 per
// request so the server verifies what it stores.
func (c *bucketContainer) Put(ctx context.Context, name string, src io.ReaderAt, size int64, opts blob.PutOptions) (blob.PutResult, error) {
	digest := opts.ContentMD5
	if digest == nil {
		h := md5.New()
		n, err := io.Copy(h, io.NewSectionReader(src, 0, size))
		if err != nil {
			return blob.PutResult{}, c.fail("put", name, err)
		}
		if n != size {
			return blob.PutResult{}, &blob.Error{Kind: blob.Misc, Op: "put", Container: c.url, Blob: name,
				Err: fmt.Errorf("source shrank during upload: read %d bytes, want %d", n, size)}
		}
		digest = h.Sum(nil)
	}
	meta := map[string]string{md5Meta: base64.StdEncoding.EncodeToString(digest)}
	for k, v := range opts.Metadata {
		meta[k] = v
	}
	po := minio.PutObjectOptions{
		ContentType: opts.ContentType, ContentEncoding: opts.ContentEncoding, ContentLanguage: opts.ContentLanguage,
		ContentDisposition: opts.ContentDisposition, CacheControl: opts.CacheControl,
		UserMetadata: meta, SendContentMd5: true,
		// A signed payload over http would use aws-chunked streaming
		// signatures, which not every S3-compatible server implements;
		// Content-MD5 already protects the bytes.
		DisableContentSha256: true,
	}
	info, err := c.c.PutObject(ctx, c.bucket, c.key(name), io.NewSectionReader(src, 0, size), size, po)
	if err != nil {
		return blob.PutResult{}, c.fail("put", name, err)
	}
	if info.Size != size {
		return blob.PutResult{}, &blob.Error{Kind: blob.Misc, Op: "put", Container: c.url, Blob: name,
			Err: fmt.Errorf("stored %d bytes, want %d", info.Size, size)}
	}
	return blob.PutResult{Size: size, ContentMD5: digest}, nil
}

// Get downloads a whole object.
func (c *bucketContainer) Get(ctx context.Context, name string) (io.ReadCloser, blob.Properties, error) {
	return c.GetRange(ctx, name, 0, -1)
}

// GetRange downloads part of an object. The properties come from a Stat
// first, which also turns a missing object into BlobNotFound before any
// body is read.
func (c *bucketContainer) GetRange(ctx context.Context, name string, offset, count int64) (io.ReadCloser, blob.Properties, error) {
	p, err := c.Stat(ctx, name)
	if err != nil {
		return nil, p, err
	}
	offset = max(offset, 0)
	if count < 0 || offset+count > p.Size {
		count = p.Size - offset
	}
	if count <= 0 {
		return io.NopCloser(bytes.NewReader(nil)), p, nil
	}
	var o minio.GetObjectOptions
	if err := o.SetRange(offset, offset+count-1); err != nil {
		return nil, p, c.fail("get", name, err)
	}
	obj, err := c.c.GetObject(ctx, c.bucket, c.key(name), o)
	if err != nil {
		return nil, p, c.fail("get", name, err)
	}
	return obj, p, nil
}

// Stat reads an object's properties (HEAD Object).
func (c *bucketContainer) Stat(ctx context.Context, name string) (blob.Properties, error) {
	info, err := c.c.StatObject(ctx, c.bucket, c.key(name), minio.StatObjectOptions{})
	if err != nil {
		return blob.Properties{}, c.fail("stat", name, err)
	}
	p := blob.Properties{Size: info.Size, LastModified: info.LastModified, BlobType: blob.BlockBlob}
	p.ContentType = info.ContentType
	p.ContentEncoding = info.Metadata.Get("Content-Encoding")
	p.ContentLanguage = info.Metadata.Get("Content-Language")
	p.ContentDisposition = info.Metadata.Get("Content-Disposition")
	p.CacheControl = info.Metadata.Get("Cache-Control")
	for k, v := range info.UserMetadata {
		if strings.EqualFold(k, md5Meta) {
			p.ContentMD5, _ = base64.StdEncoding.DecodeString(v)
			continue
		}
		if p.Metadata == nil {
			p.Metadata = map[string]string{}
		}
		p.Metadata[strings.ToLower(k)] = v
	}
	return p, nil
}

// List lists objects under the container prefix + prefix, recursively, in
// key order (S3 lists in UTF-8 binary order, as Azure does).
func (c *bucketContainer) List(ctx context.Context, prefix string) iter.Seq2[blob.Item, error] {
	return func(yield func(blob.Item, error) bool) {
		lctx, cancel := context.WithCancel(ctx)
		defer cancel() // stops minio-go's listing goroutine on early return
		for obj := range c.c.ListObjects(lctx, c.bucket, minio.ListObjectsOptions{Prefix: c.prefix + prefix, Recursive: true}) {
			if obj.Err != nil {
				yield(blob.Item{}, c.fail("list", "", obj.Err))
				return
			}
			if !yield(blob.Item{Name: strings.TrimPrefix(obj.Key, c.prefix), Size: obj.Size, LastModified: obj.LastModified}, nil) {
				return
			}
		}
	}
}

// Delete removes an object. S3 deletes of missing keys succeed, so a Stat
// first gives the contract's BlobNotFound.
func (c *bucketContainer) Delete(ctx context.Context, name string) error {
	if _, err := c.Stat(ctx, name); err != nil {
		return err
	}
	if err := c.c.RemoveObject(ctx, c.bucket, c.key(name), minio.RemoveObjectOptions{}); err != nil {
		return c.fail("delete", name, err)
	}
	return nil
}

// Create makes the bucket; an existing bucket owned by the caller is
// success.
func (c *bucketContainer) Create(ctx context.Context) error {
	err := c.c.MakeBucket(ctx, c.bucket, minio.MakeBucketOptions{})
	if err != nil {
		code := minio.ToErrorResponse(err).Code
		if code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists" {
			return nil
		}
		return c.fail("create", "", err)
	}
	return nil
}

var _ blob.Creator = (*bucketContainer)(nil)

// fail classifies an S3 error by its code and status.
func (c *bucketContainer) fail(op, name string, err error) error {
	e := &blob.Error{Op: op, Container: c.url, Blob: name, Err: errors.New(blob.RedactText(err.Error()))}
	r := minio.ToErrorResponse(err)
	e.StatusCode, e.Code = r.StatusCode, r.Code
	var ne net.Error
	switch {
	case r.Code == "NoSuchKey" || (r.StatusCode == 404 && (op == "stat" || op == "get") && r.Code != "NoSuchBucket"):
		e.Kind = blob.BlobNotFound
	case r.Code == "NoSuchBucket" || r.StatusCode == 404:
		e.Kind = blob.ContainerNotFound
	case r.StatusCode == 401 || r.StatusCode == 403:
		e.Kind = blob.AccessDenied
	case r.StatusCode == 409:
		e.Kind = blob.Conflict
	case r.StatusCode == 408 || r.StatusCode == 504 || r.Code == "RequestTimeout":
		e.Kind, e.Transient = blob.TimedOut, true
	case r.StatusCode == 429 || r.StatusCode >= 500 || r.Code == "SlowDown":
		e.Kind, e.Transient = blob.Misc, true
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Kind, e.Transient = blob.TimedOut, true
	default:
		e.Kind = blob.Misc
	}
	return e
}
