// Package azure is the Azure Blob Storage backend of package blob, built on
// the official SDK (azblob). It writes block blobs to container URLs of the
// forms
//
//	https://{account}.blob.core.windows.net/{container}?{sas}
//	http://127.0.0.1:10000/{account}/{container}?{sas}   (Azurite)
//
// authenticated by the SAS in the URL or, for destinations with an
// identityReference, by a credential configured in Options.Identities.
//
// The upload path makes only write requests (Put Blob, Put Block, Put Block
// List), so a write-only SAS (sp=w) is enough; a missing container is
// recognised from the upload's own 404 rather than from a probe.
package azure

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/openbatch/openbatch/blob"
)

// Backend opens Azure containers. It is immutable after New and safe for
// concurrent use; its buffer pool is shared by all containers it opens, which
// is what bounds upload memory across concurrent uploads.
type Backend struct {
	opts  Options
	creds map[string]credential
	pool  *bufferPool
}

// New returns a Backend. It resolves every configured identity up front (no
// network I/O happens here; tokens are fetched on first use and cached), so
// a configuration error is reported at agent start, not at upload time.
func New(opts Options) (*Backend, error) {
	opts = opts.withDefaults()
	if _, err := ParseServiceVersion(opts.ServiceVersion); err != nil {
		return nil, fmt.Errorf("azure: %w", err)
	}
	b := &Backend{opts: opts, creds: make(map[string]credential, len(opts.Identities))}
	for rid, id := range opts.Identities {
		c, err := id.resolve(rid)
		if err != nil {
			return nil, fmt.Errorf("azure: identity %q: %w", rid, err)
		}
		b.creds[rid] = c
	}
	b.pool = newBufferPool(int(opts.MaxBufferMemory/opts.BlockSize), opts.BlockSize)
	return b, nil
}

// Open returns the container at containerURL. With opts.IdentityResourceID
// set, the configured identity is used and any query string (SAS) in the URL
// is dropped; otherwise the URL is used as is (SAS or anonymous).
func (b *Backend) Open(_ context.Context, containerURL string, opts blob.OpenOptions) (blob.Container, error) {
	red := blob.Redact(containerURL)
	openErr := func(kind blob.Kind, format string, args ...any) error {
		return &blob.Error{Kind: kind, Op: "open", Container: red, Err: fmt.Errorf(format, args...)}
	}
	u, err := url.Parse(containerURL)
	if err != nil {
		return nil, openErr(blob.Misc, "invalid container URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return nil, openErr(blob.Misc, "container URL scheme must be https or http, not %q", u.Scheme)
	}
	if u.Host == "" || strings.Trim(u.Path, "/") == "" {
		return nil, openErr(blob.Misc, "container URL must name a host and a container")
	}
	copts := &container.ClientOptions{ClientOptions: ClientOptions(azcore.ClientOptions{
		Retry:            b.opts.Retry,
		Transport:        b.opts.Transport,
		PerCallPolicies:  []policy.Policy{callPolicy{}},
		PerRetryPolicies: []policy.Policy{tryPolicy{b: b, container: red}},
	}, b.opts.ServiceVersion)}
	c := &azContainer{b: b, url: red}
	if rid := opts.IdentityResourceID; rid != "" {
		cred, ok := b.creds[rid]
		if !ok {
			return nil, openErr(blob.AccessDenied, "identity reference %q is not configured on this node", rid)
		}
		bare := *u
		bare.RawQuery = ""
		switch {
		case cred.key != nil:
			c.cc, err = container.NewClientWithSharedKeyCredential(bare.String(), cred.key, copts)
		case u.Scheme != "https":
			return nil, openErr(blob.AccessDenied, "identity reference %q uses an Entra token, which Azure SDKs send only over https", rid)
		default:
			c.cc, err = container.NewClient(bare.String(), cred.token, copts)
		}
	} else {
		c.cc, err = container.NewClientWithNoCredential(containerURL, copts)
	}
	if err != nil {
		return nil, openErr(blob.Misc, "%s", blob.RedactText(err.Error()))
	}
	return c, nil
}

// azContainer is one opened container: immutable.
type azContainer struct {
	b   *Backend
	cc  *container.Client
	url string // redacted
}

func (c *azContainer) String() string { return c.url }

// retryStats counts the retries of one Put; it travels in the context.
type retryStats struct{ retries atomic.Int64 }

type (
	statsKey struct{}
	callKey  struct{}
)

// callPolicy runs once per logical request and gives it a try counter.
type callPolicy struct{}

func (callPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := context.WithValue(req.Raw().Context(), callKey{}, new(atomic.Int32))
	return req.Clone(ctx).Next()
}

// tryPolicy runs on every try of a request (inside azcore's retry policy);
// every try after the first is a retry, which it counts and logs.
type tryPolicy struct {
	b         *Backend
	container string
}

func (p tryPolicy) Do(req *policy.Request) (*http.Response, error) {
	ctx := req.Raw().Context()
	if n, ok := ctx.Value(callKey{}).(*atomic.Int32); ok && n.Add(1) > 1 {
		if s, ok := ctx.Value(statsKey{}).(*retryStats); ok {
			s.retries.Add(1)
		}
		p.b.opts.Logger.InfoContext(ctx, "retrying storage request",
			"method", req.Raw().Method, "url", blob.Redact(req.Raw().URL.String()), "try", n.Load())
	}
	resp, err := req.Next()
	if err == nil && resp.StatusCode >= 400 {
		if ra := resp.Header.Get("Retry-After"); ra != "" {
			p.b.opts.Logger.DebugContext(ctx, "storage asked to retry later",
				"status", resp.StatusCode, "retryAfter", ra, "url", blob.Redact(req.Raw().URL.String()))
		}
	}
	return resp, err
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
