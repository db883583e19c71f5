package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/outputfiles"
)

// Failure code mapping of resource-file downloads (categories as the
// reference gives them):
//
//	blob or URL 404                  BlobNotFound                   usererror
//	blob or URL 401/403 (bad SAS…)   BlobAccessDenied               usererror
//	download exceeded its timeout    BlobDownloadTimedOut           servererror
//	other download error             BlobDownloadMiscError          servererror
//	container 404                    ResourceContainerNotFound      usererror
//	container 401/403                ResourceContainerAccessDenied  usererror
//	listing exceeded its timeout     ResourceContainerListTimedOut  servererror
//	other listing error              ResourceContainerListMiscError servererror
//	directory cannot be created      ResourceDirectoryCreateFailed  servererror
//	file cannot be created           ResourceFileCreateFailed       servererror
//	file cannot be written           ResourceFileWriteFailed        servererror
//	disk full                        DiskFull                       servererror
//
// Messages and details carry URLs with the SAS signature replaced by
// REDACTED; nothing here logs a signature.

// errDownloadTimeout is the cause of a per-file or per-listing timeout.
var errDownloadTimeout = errors.New("resource file download timed out")

// downloader performs the downloads of one run into root (the working
// directory).
type downloader struct {
	cfg  *Config
	root *os.Root
	log  *slog.Logger

	once              sync.Once // guards the four fields below
	plain, auto       blob.Opener
	plainErr, autoErr error
}

// blobSource is a container to list and download from.
type blobSource struct {
	c    blob.Container
	desc string // redacted URL or auto-storage name, for messages
}

// autoStorageIdentity is the identity name under which the auto-storage
// account's key is configured in the downloader's storage backend.
const autoStorageIdentity = "openbatch:auto-storage"

// storage returns the opener of resource-file sources: the standard blob
// multiplexer (Azure and file://), so every download goes through package
// blob (its retry wrapper, error classification and redaction). With auto
// set, the auto-storage account key is configured as an identity; a bad key
// fails only auto-storage downloads.
func (d *downloader) storage(auto bool) (blob.Opener, error) {
	d.once.Do(func() {
		opts := azure.Options{
			Retry:          policy.RetryOptions{MaxRetries: 3, RetryDelay: 200 * time.Millisecond, MaxRetryDelay: 5 * time.Second},
			Logger:         d.log,
			ServiceVersion: d.cfg.StorageServiceVersion,
		}
		d.plain, d.plainErr = outputfiles.NewOpenerWithS3(opts, d.cfg.S3)
		if a := d.cfg.AutoStorage; a != nil {
			opts.Identities = map[string]azure.Identity{autoStorageIdentity: {
				Type: azure.AccountKey, AccountName: a.AccountName, AccountKey: a.AccountKey}}
			d.auto, d.autoErr = outputfiles.NewOpener(opts)
		}
	})
	if auto {
		return d.auto, d.autoErr
	}
	return d.plain, d.plainErr
}

// open opens a source container with the downloader's retry policy.
func (d *downloader) open(ctx context.Context, containerURL string, auto bool) (blob.Container, error) {
	o, err := d.storage(auto)
	if err != nil {
		return nil, err
	}
	var opts blob.OpenOptions
	if auto {
		opts.IdentityResourceID = autoStorageIdentity
	}
	c, err := o.Open(ctx, containerURL, opts)
	if err != nil {
		return nil, err
	}
	return blob.WithRetry(c, blob.RetryPolicy{BaseDelay: 200 * time.Millisecond, MaxDelay: 5 * time.Second}), nil
}

// container returns the source of a storageContainerUrl or
// autoStorageContainerName resource file.
func (d *downloader) container(ctx context.Context, rf api.ResourceFile) (*blobSource, error) {
	if rf.StorageContainerURL != "" {
		desc := redactURL(rf.StorageContainerURL)
		c, err := d.open(ctx, rf.StorageContainerURL, false)
		if err != nil {
			return nil, listFailure(ctx, desc, err)
		}
		return &blobSource{c: c, desc: desc}, nil
	}
	acct := d.cfg.AutoStorage
	desc := "autoStorageContainerName " + rf.AutoStorageContainerName
	if acct == nil {
		return nil, NewFailure(api.ServerError, api.FailureResourceContainerListMisc,
			"No auto-storage account is configured on this node, so autoStorageContainerName cannot be resolved", true,
			errors.New("Config.AutoStorage is nil"), api.NameValuePair{Name: "ContainerName", Value: rf.AutoStorageContainerName})
	}
	u := strings.TrimRight(acct.BlobEndpoint, "/") + "/" + url.PathEscape(rf.AutoStorageContainerName)
	if _, err := d.storage(true); err != nil {
		return nil, NewFailure(api.ServerError, api.FailureResourceContainerListMisc,
			"The auto-storage account credentials are invalid", true, err)
	}
	c, err := d.open(ctx, u, true)
	if err != nil {
		return nil, listFailure(ctx, desc, err)
	}
	return &blobSource{c: c, desc: desc}, nil
}

// listContainer returns the names of the blobs whose names start with
// prefix. Names ending in "/" (directory markers) are skipped. The whole
// listing is done first so that its timeout never counts time spent
// waiting for download slots.
func (d *downloader) listContainer(ctx context.Context, src *blobSource, prefix string) ([]string, error) {
	lctx, cancel := context.WithTimeoutCause(ctx, d.cfg.DownloadTimeout, errDownloadTimeout)
	defer cancel()
	var names []string
	for it, err := range src.c.List(lctx, prefix) {
		if err != nil {
			return nil, listFailure(lctx, src.desc, err)
		}
		if it.Name == "" || strings.HasSuffix(it.Name, "/") {
			continue
		}
		names = append(names, it.Name)
	}
	d.log.Info("listed resource container", "container", src.desc, "prefix", prefix, "blobs", len(names))
	return names, nil
}

// downloadBlob downloads one blob of src to target.
func (d *downloader) downloadBlob(ctx context.Context, src *blobSource, name, target string, mode os.FileMode) error {
	desc := src.desc + " blob " + name
	return d.fetch(ctx, desc, target, mode, func(ctx context.Context) (io.ReadCloser, error) {
		rc, _, err := src.c.Get(ctx, name)
		return rc, err
	})
}

// downloadURL downloads an httpUrl resource file: through package blob (blob/azure)
// when the URL is a blob URL (it gets the SDK's retries and resumable
// reads), with a plain HTTP GET otherwise.
func (d *downloader) downloadURL(ctx context.Context, rawURL, target string, mode os.FileMode) error {
	desc := redactURL(rawURL)
	if d.isBlobURL(rawURL) {
		containerURL, name, err := azure.SplitBlobURL(rawURL)
		if err != nil {
			return downloadFailure(ctx, desc, target, err)
		}
		c, err := d.open(ctx, containerURL, false)
		if err != nil {
			return downloadFailure(ctx, desc, target, err)
		}
		return d.fetch(ctx, desc, target, mode, func(ctx context.Context) (io.ReadCloser, error) {
			rc, _, err := c.Get(ctx, name)
			return rc, err
		})
	}
	return d.fetch(ctx, desc, target, mode, func(ctx context.Context) (io.ReadCloser, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
		if err != nil {
			return nil, scrub(err)
		}
		resp, err := d.cfg.HTTPClient.Do(req)
		if err != nil {
			return nil, scrub(err)
		}
		if resp.StatusCode != http.StatusOK {
			resp.Body.Close()
			return nil, &httpStatusError{status: resp.StatusCode, text: resp.Status}
		}
		return resp.Body, nil
	})
}

// isBlobURL reports whether u addresses Azure Blob Storage: an Azure blob
// host, a URL carrying a storage SAS (sv= and sig=), or the configured
// auto-storage endpoint (Azurite has neither of the first two signs when
// anonymous access is used).
func (d *downloader) isBlobURL(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	if strings.Contains(u.Host, ".blob.") {
		return true
	}
	q := u.Query()
	if q.Has("sv") && q.Has("sig") {
		return true
	}
	if a := d.cfg.AutoStorage; a != nil {
		if e, err := url.Parse(a.BlobEndpoint); err == nil && e.Host == u.Host && strings.HasPrefix(u.Path, e.Path) {
			return true
		}
	}
	return false
}

// httpStatusError is a non-200 answer to a plain HTTP download.
type httpStatusError struct {
	status int
	text   string
}

func (e *httpStatusError) Error() string { return "HTTP " + e.text }

// writeError marks errors of writing the downloaded bytes to disk.
type writeError struct{ err error }

func (e *writeError) Error() string { return "write: " + e.err.Error() }
func (e *writeError) Unwrap() error { return e.err }

type failWriter struct {
	w io.Writer
}

func (f failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if err != nil {
		err = &writeError{err}
	}
	return n, err
}

// fetch streams open's body into target (relative to the working
// directory) through a temporary file renamed into place, then applies
// mode. It maps every error to a Failure.
func (d *downloader) fetch(ctx context.Context, desc, target string, mode os.FileMode, open func(context.Context) (io.ReadCloser, error)) error {
	fctx, cancel := context.WithTimeoutCause(ctx, d.cfg.DownloadTimeout, errDownloadTimeout)
	defer cancel()
	t0 := time.Now()

	dir := path.Dir(target)
	if err := d.root.MkdirAll(dir, dirPerm); err != nil {
		return fileFailure(failureResourceDirectoryCreateFailed, "A directory for a resource file could not be created", target, err)
	}
	tmp := path.Join(dir, fmt.Sprintf(".%s.openbatch-%d.part", path.Base(target), time.Now().UnixNano()))
	f, err := d.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fileFailure(api.FailureResourceFileCreateFailed, "A resource file could not be created", target, err)
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			_ = d.root.Remove(tmp)
		}
	}()

	body, err := open(fctx)
	if err != nil {
		return downloadFailure(fctx, desc, target, err)
	}
	n, err := io.Copy(failWriter{f}, body)
	body.Close()
	if err != nil {
		var we *writeError
		if errors.As(err, &we) {
			return fileFailure(api.FailureResourceFileWriteFailed, "A resource file could not be written", target, we.err)
		}
		return downloadFailure(fctx, desc, target, scrub(err))
	}
	if err := f.Chmod(mode); err != nil {
		return fileFailure(api.FailureResourceFileWriteFailed, "The mode of a resource file could not be set", target, err)
	}
	if err := f.Close(); err != nil {
		return fileFailure(api.FailureResourceFileWriteFailed, "A resource file could not be written", target, err)
	}
	if err := d.root.Rename(tmp, target); err != nil {
		return fileFailure(api.FailureResourceFileCreateFailed, "A resource file could not be moved into place", target, err)
	}
	committed = true
	d.log.Info("downloaded resource file", "source", desc, "filePath", target, "bytes", n, "elapsed", time.Since(t0))
	return nil
}

func fileFailure(code, msg, target string, err error) *Failure {
	if errors.Is(err, syscall.ENOSPC) {
		code, msg = api.FailureDiskFull, "There is not enough disk space on the node for a resource file"
	}
	return NewFailure(api.ServerError, code, msg, true, err,
		api.NameValuePair{Name: "FilePath", Value: target},
		api.NameValuePair{Name: "Message", Value: err.Error()})
}

// statusOf returns the HTTP status of a storage or plain HTTP error, or 0.
func statusOf(err error) (int, string) {
	var be *blob.Error
	if errors.As(err, &be) && be.StatusCode != 0 {
		return be.StatusCode, be.Code
	}
	var he *httpStatusError
	if errors.As(err, &he) {
		return he.status, he.text
	}
	return 0, ""
}

func timedOut(ctx context.Context, err error) bool {
	if errors.Is(context.Cause(ctx), errDownloadTimeout) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// downloadFailure maps a failed download of desc into target. A
// cancellation of the run itself is returned as is, for the runner to
// report as TaskEnded.
func downloadFailure(ctx context.Context, desc, target string, err error) error {
	status, code := statusOf(err)
	details := []api.NameValuePair{{Name: "Url", Value: desc}, {Name: "FilePath", Value: target}}
	msgDetail := func(s string) []api.NameValuePair {
		return append(details, api.NameValuePair{Name: "Message", Value: s})
	}
	switch {
	case status == http.StatusNotFound:
		return NewFailure(api.UserError, api.FailureBlobNotFound, "The specified source blob or URL does not exist", true, err, msgDetail(code)...)
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return NewFailure(api.UserError, api.FailureBlobAccessDenied,
			"Access to the source blob or URL was denied; check that its SAS grants read access and has not expired", true, err, msgDetail(code)...)
	case timedOut(ctx, err):
		return NewFailure(api.ServerError, api.FailureBlobDownloadTimedOut, "The download of a resource file timed out", true, err, msgDetail(err.Error())...)
	case ctx.Err() != nil:
		return err // the run is being terminated
	}
	return NewFailure(api.ServerError, api.FailureBlobDownloadMiscError, "A resource file could not be downloaded", true, err, msgDetail(err.Error())...)
}

// listFailure maps a failed container listing.
func listFailure(ctx context.Context, desc string, err error) error {
	status, code := statusOf(err)
	details := []api.NameValuePair{{Name: "ContainerUrl", Value: desc}}
	switch {
	case status == http.StatusNotFound:
		return NewFailure(api.UserError, api.FailureResourceContainerNotFound, "The specified resource container does not exist", true, err,
			append(details, api.NameValuePair{Name: "Message", Value: code})...)
	case status == http.StatusForbidden || status == http.StatusUnauthorized:
		return NewFailure(api.UserError, api.FailureResourceContainerDenied,
			"Access to the resource container was denied; check that its SAS grants read and list access and has not expired", true, err,
			append(details, api.NameValuePair{Name: "Message", Value: code})...)
	case timedOut(ctx, err):
		return NewFailure(api.ServerError, failureResourceContainerListTimedOut, "Listing the resource container timed out", true, err, details...)
	case ctx.Err() != nil:
		return err
	}
	return NewFailure(api.ServerError, api.FailureResourceContainerListMisc, "The resource container could not be listed", true, err,
		append(details, api.NameValuePair{Name: "Message", Value: err.Error()})...)
}
