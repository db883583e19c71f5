// Package testenv starts the real external parts that openbatch's tests run
// against: Azurite (Azure Blob Storage) from the pinned npm package in
// tools/node, and helpers to make containers and SAS URLs on it.
//
// When the tools are not installed, tests that need them are skipped, unless
// OPENBATCH_REQUIRE_E2E=1 (set by scripts/test and CI), in which case they
// fail: CI never passes by skipping.
package testenv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/azurite"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Azurite is a running Azurite with test helpers.
type Azurite struct {
	*azurite.Azurite
}

// Well-known Azurite development account.
const (
	AzuriteAccount = azurite.Account
	AzuriteKey     = azurite.Key
)

// RepoRoot returns the directory holding go.mod.
func RepoRoot() (string, error) { return azurite.RepoRoot() }

// NodeBin returns the path of an executable installed from tools/node.
func NodeBin(name string) (string, error) { return azurite.NodeBin(name) }

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) { return azurite.FreePort() }

// StartAzurite starts Azurite with on-disk storage under dir.
func StartAzurite(ctx context.Context, dir string) (*Azurite, error) {
	a, err := azurite.Start(ctx, dir)
	if err != nil {
		return nil, err
	}
	return &Azurite{a}, nil
}

// Require skips the test when a tool is missing, or fails it when
// OPENBATCH_REQUIRE_E2E=1.
func Require(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if os.Getenv("OPENBATCH_REQUIRE_E2E") == "1" {
		t.Fatalf("required test tool missing: %v", err)
	}
	t.Skipf("skipping: %v", err)
}

var shared struct {
	once sync.Once
	a    *Azurite
	err  error
}

// SharedAzurite returns one Azurite per test binary, started on first use and
// killed when the test process exits. Tests isolate themselves by using
// containers of their own (see NewContainer).
func SharedAzurite(t testing.TB) *Azurite {
	t.Helper()
	shared.once.Do(func() {
		dir, err := os.MkdirTemp("", "openbatch-azurite-*")
		if err != nil {
			shared.err = err
			return
		}
		shared.a, shared.err = StartAzurite(context.Background(), dir)
	})
	Require(t, shared.err)
	return shared.a
}

// Credential returns the shared-key credential of the Azurite account.
func (a *Azurite) Credential() *azblob.SharedKeyCredential {
	c, err := azblob.NewSharedKeyCredential(a.Account, a.Key)
	if err != nil {
		panic(err) // the key is a constant
	}
	return c
}

// Client returns a service client authorised with the account key.
func (a *Azurite) Client(t testing.TB) *azblob.Client {
	t.Helper()
	co, err := azure.ClientOptionsFromEnv(azcore.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := azblob.NewClientWithSharedKeyCredential(a.Endpoint+"/", a.Credential(), &azblob.ClientOptions{ClientOptions: co})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ConnectionString returns a storage connection string for the account.
func (a *Azurite) ConnectionString() string {
	return fmt.Sprintf("DefaultEndpointsProtocol=http;AccountName=%s;AccountKey=%s;BlobEndpoint=%s;", a.Account, a.Key, a.Endpoint)
}

// NewContainer creates a container with a unique name derived from the test
// name and returns that name.
func (a *Azurite) NewContainer(t testing.TB) string {
	t.Helper()
	name := containerName(t.Name())
	if _, err := a.Client(t).CreateContainer(context.Background(), name, nil); err != nil {
		t.Fatalf("create container %s: %v", name, err)
	}
	return name
}

var containerSeq struct {
	sync.Mutex
	n int
}

func containerName(testName string) string {
	containerSeq.Lock()
	containerSeq.n++
	n := containerSeq.n
	containerSeq.Unlock()
	var b strings.Builder
	for _, r := range strings.ToLower(testName) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	s := b.String()
	if len(s) > 40 {
		s = s[:40]
	}
	return fmt.Sprintf("t%s-%d-%d", s, os.Getpid(), n)
}

// ContainerSAS returns the URL of container with a service SAS granting
// perms (e.g. "w", "racwdl") until expiry, signed as openbatch signs them
// (azure.Account.ContainerSASURL).
func (a *Azurite) ContainerSAS(t testing.TB, containerName, perms string, expiry time.Time) string {
	t.Helper()
	u, err := azure.Account{BlobEndpoint: a.Endpoint, Name: a.Account, Key: a.Key}.ContainerSASURL(containerName, perms, expiry)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// Blobs lists the blob names in a container.
func (a *Azurite) Blobs(t testing.TB, containerName string) []string {
	t.Helper()
	var names []string
	pager := a.Client(t).NewListBlobsFlatPager(containerName, nil)
	for pager.More() {
		page, err := pager.NextPage(context.Background())
		if err != nil {
			t.Fatalf("list %s: %v", containerName, err)
		}
		for _, b := range page.Segment.BlobItems {
			names = append(names, *b.Name)
		}
	}
	return names
}

// Download returns a blob's content and properties.
func (a *Azurite) Download(t testing.TB, containerName, blobName string) ([]byte, container.BlobProperties) {
	t.Helper()
	cc := a.Client(t).ServiceClient().NewContainerClient(containerName)
	bc := cc.NewBlobClient(blobName)
	resp, err := bc.DownloadStream(context.Background(), nil)
	if err != nil {
		t.Fatalf("download %s/%s: %v", containerName, blobName, err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		t.Fatal(err)
	}
	props := container.BlobProperties{ContentMD5: resp.ContentMD5, ContentType: resp.ContentType,
		ContentEncoding: resp.ContentEncoding, CacheControl: resp.CacheControl, ContentDisposition: resp.ContentDisposition, ContentLanguage: resp.ContentLanguage,
		ContentLength: resp.ContentLength}
	return buf.Bytes(), props
}

// IsNotFound reports whether err is a storage 404.
func IsNotFound(err error) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == 404
}
