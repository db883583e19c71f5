package azure_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	obblob "github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/blobtest"
	"github.com/openbatch/openbatch/internal/testenv"
)

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func newBackend(t *testing.T, o azure.Options) *azure.Backend {
	t.Helper()
	o.Logger = quiet()
	if o.Retry.RetryDelay == 0 {
		o.Retry.RetryDelay = 50 * time.Millisecond
	}
	b, err := azure.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func put(t *testing.T, b *azure.Backend, containerURL, name string, data []byte, opts obblob.PutOptions) (obblob.PutResult, error) {
	t.Helper()
	c, err := b.Open(context.Background(), containerURL, obblob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return c.Put(context.Background(), name, bytes.NewReader(data), int64(len(data)), opts)
}

func TestWriteOnlySASSmallAndBlocks(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	sas := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	b := newBackend(t, azure.Options{BlockSize: 1 << 20, BlockConcurrency: 3})
	small := []byte("hello, world\n")
	large := bytes.Repeat([]byte("0123456789abcdef"), (5<<20+12345)/16)
	for _, tc := range []struct {
		name   string
		data   []byte
		blocks int
	}{{"dir/small file ✓.txt", small, 0}, {"large.bin", large, 6}, {"empty", nil, 0}} {
		res, err := put(t, b, sas, tc.name, tc.data, obblob.PutOptions{
			ContentType: "text/plain", Metadata: map[string]string{"Kind": "log"}, CacheControl: "no-cache"})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		sum := md5.Sum(tc.data)
		if !bytes.Equal(res.ContentMD5, sum[:]) || res.Blocks != tc.blocks || res.Size != int64(len(tc.data)) {
			t.Errorf("%s: result %+v", tc.name, res)
		}
		got, props := a.Download(t, cn, tc.name)
		if !bytes.Equal(got, tc.data) {
			t.Errorf("%s: content differs", tc.name)
		}
		if !bytes.Equal(props.ContentMD5, sum[:]) {
			t.Errorf("%s: Content-MD5 %x, want %x", tc.name, props.ContentMD5, sum)
		}
		if props.ContentType == nil || *props.ContentType != "text/plain" {
			t.Errorf("%s: content type %v", tc.name, props.ContentType)
		}
		gp, err := a.Client(t).ServiceClient().NewContainerClient(cn).NewBlobClient(tc.name).GetProperties(context.Background(), nil)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for k, v := range gp.Metadata {
			found = found || strings.EqualFold(k, "kind") && *v == "log"
		}
		if !found {
			t.Errorf("%s: metadata %v", tc.name, gp.Metadata)
		}
	}
	// Replacing an existing blob works with write-only permission.
	if _, err := put(t, b, sas, "large.bin", small, obblob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if got, _ := a.Download(t, cn, "large.bin"); !bytes.Equal(got, small) {
		t.Error("blob not replaced")
	}
}

func TestErrorsClassified(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	b := newBackend(t, azure.Options{})
	cases := []struct {
		name string
		url  string
		want error
	}{
		{"expired SAS", a.ContainerSAS(t, cn, "w", time.Now().Add(-time.Minute)), obblob.ErrAccessDenied},
		{"read-only SAS", a.ContainerSAS(t, cn, "r", time.Now().Add(time.Hour)), obblob.ErrAccessDenied},
		{"missing container", a.ContainerSAS(t, "nosuchcontainer", "w", time.Now().Add(time.Hour)), obblob.ErrContainerNotFound},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := put(t, b, tc.url, "x.txt", []byte("x"), obblob.PutOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			sig := url.Values{}
			if u, _ := url.Parse(tc.url); u != nil {
				sig = u.Query()
			}
			if s := sig.Get("sig"); s != "" && (strings.Contains(err.Error(), s) || strings.Contains(err.Error(), url.QueryEscape(s))) {
				t.Errorf("error leaks the signature: %v", err)
			}
		})
	}
}

func TestAccountKeyIdentity(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	rid := "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/lab"
	b := newBackend(t, azure.Options{Identities: map[string]azure.Identity{
		rid: {Type: azure.AccountKey, AccountName: a.Account, AccountKey: a.Key}}})
	c, err := b.Open(context.Background(), a.Endpoint+"/"+cn, obblob.OpenOptions{IdentityResourceID: rid})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(context.Background(), "id.txt", strings.NewReader("id"), 2, obblob.PutOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Open(context.Background(), a.Endpoint+"/"+cn, obblob.OpenOptions{IdentityResourceID: "/other"}); !errors.Is(err, obblob.ErrAccessDenied) {
		t.Fatalf("unknown identity: %v", err)
	}
}

// TestRetriesThrottling puts a proxy in front of Azurite that answers the
// first two requests with 503 and Retry-After (Azurite cannot be made to
// throttle), and checks the upload succeeds after waiting and counts retries.
func TestRetriesThrottling(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	target, _ := url.Parse(a.Endpoint)
	proxy := httputil.NewSingleHostReverseProxy(&url.URL{Scheme: target.Scheme, Host: target.Host})
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) <= 2 {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Retry-After", "1")
			w.Header().Set("x-ms-error-code", "ServerBusy")
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	sas := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	sas = strings.Replace(sas, target.Scheme+"://"+target.Host, srv.URL, 1)
	b := newBackend(t, azure.Options{Retry: policy.RetryOptions{RetryDelay: 10 * time.Millisecond}})
	start := time.Now()
	res, err := put(t, b, sas, "throttled.txt", []byte("patience"), obblob.PutOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Retries != 2 {
		t.Errorf("retries = %d, want 2", res.Retries)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("finished in %v: Retry-After (1s ×2) not honoured", d)
	}
	if got, _ := a.Download(t, cn, "throttled.txt"); string(got) != "patience" {
		t.Errorf("content %q", got)
	}

	// Persistent 503s: the error is classified as transient Misc, retries counted.
	n.Store(-1000)
	b2 := newBackend(t, azure.Options{Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: time.Millisecond}})
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	_, err = put(t, b2, sas, "never.txt", []byte("x"), obblob.PutOptions{})
	var be *obblob.Error
	if !errors.As(err, &be) || be.Kind != obblob.Misc || !be.Transient || be.Retries != 2 || be.StatusCode != 503 {
		t.Fatalf("got %#v", err)
	}
}

// TestLargeFileBoundedHeap uploads a 256 MiB sparse file and checks that the
// Go heap stays far below the file size.
func TestLargeFileBoundedHeap(t *testing.T) {
	if testing.Short() {
		t.Skip("large upload")
	}
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	sas := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	path := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const size = 256 << 20
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte("head"), 0)
	f.WriteAt([]byte("tail"), size-4)
	defer f.Close()

	b := newBackend(t, azure.Options{BlockSize: 4 << 20, BlockConcurrency: 4, MaxBufferMemory: 32 << 20})
	c, err := b.Open(context.Background(), sas, obblob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	var peak atomic.Uint64
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-time.After(20 * time.Millisecond):
				var m runtime.MemStats
				runtime.ReadMemStats(&m)
				if m.HeapInuse > peak.Load() {
					peak.Store(m.HeapInuse)
				}
			}
		}
	}()
	res, err := c.Put(context.Background(), "big.bin", f, size, obblob.PutOptions{})
	close(done)
	if err != nil {
		t.Fatal(err)
	}
	growth := int64(peak.Load()) - int64(base)
	t.Logf("256 MiB upload: %d blocks, heap growth %.1f MiB", res.Blocks, float64(growth)/(1<<20))
	if growth > 80<<20 {
		t.Errorf("heap grew by %d MiB during a 256 MiB upload; want bounded by the buffer pool", growth>>20)
	}
	h := md5.New()
	io.Copy(h, io.NewSectionReader(f, 0, size))
	gp, err := a.Client(t).ServiceClient().NewContainerClient(cn).NewBlobClient("big.bin").GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(gp.ContentMD5, h.Sum(nil)) || *gp.ContentLength != size {
		t.Errorf("stored MD5 %x size %d", gp.ContentMD5, *gp.ContentLength)
	}
}

// TestContract runs the shared backend contract against Azurite, through a
// container SAS with every permission a tracked save and a listing need.
func TestContract(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	b := newBackend(t, azure.Options{})
	c, err := b.Open(context.Background(), a.ContainerSAS(t, cn, "racwdl", time.Now().Add(time.Hour)), obblob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, obblob.WithRetry(c, obblob.RetryPolicy{BaseDelay: 10 * time.Millisecond}))
}

func TestSplitBlobURL(t *testing.T) {
	for _, tc := range []struct{ in, container, name string }{
		{"https://acct.blob.core.windows.net/c/dir/f.txt?sv=1&sig=x", "https://acct.blob.core.windows.net/c?sv=1&sig=x", "dir/f.txt"},
		{"http://127.0.0.1:10000/devstoreaccount1/c/a%20b.txt", "http://127.0.0.1:10000/devstoreaccount1/c", "a b.txt"},
	} {
		c, n, err := azure.SplitBlobURL(tc.in)
		if err != nil || c != tc.container || n != tc.name {
			t.Errorf("SplitBlobURL(%q) = %q, %q, %v", tc.in, c, n, err)
		}
	}
	if _, _, err := azure.SplitBlobURL("https://acct.blob.core.windows.net/c?sig=s3cret"); err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("container URL: %v", err)
	}
}
