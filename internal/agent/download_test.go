package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/testenv"
)

// runWithFiles runs `true` with the given resource files and returns the
// result and the working directory.
func runWithFiles(t *testing.T, r *Runner, files ...api.ResourceFile) (Result, string) {
	t.Helper()
	node := testNode(t)
	spec := taskSpec(node, "true")
	spec.ResourceFiles = files
	res := r.Run(context.Background(), spec)
	p, _ := node.Layout.TaskPaths("job1", "task1")
	return res, p.WorkingDir
}

func assertFile(t *testing.T, path, content string, mode os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("resource file: %v", err)
	}
	if string(b) != content {
		t.Errorf("%s = %q, want %q", path, b, content)
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != mode {
		t.Errorf("%s mode %o, want %o", path, fi.Mode().Perm(), mode)
	}
}

// assertNoSecret fails if the failure information mentions the secret.
func assertNoSecret(t *testing.T, res Result, secret string) {
	t.Helper()
	b, _ := json.Marshal(res.FailureInfo)
	if strings.Contains(string(b), secret) {
		t.Errorf("failure information leaks the SAS signature: %s", b)
	}
}

func TestResourceFilesPlainHTTP(t *testing.T) {
	big := strings.Repeat("0123456789", 200000) // 2 MB, streamed
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/a.txt":
			fmt.Fprint(w, "hello a")
		case "/big":
			fmt.Fprint(w, big)
		case "/denied":
			http.Error(w, "no", http.StatusForbidden)
		case "/broken":
			http.Error(w, "oops", http.StatusInternalServerError)
		case "/slow":
			w.WriteHeader(200)
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	r := testRunner(t, func(c *Config) { c.DownloadTimeout = 500 * time.Millisecond })

	t.Run("ok", func(t *testing.T) {
		res, wd := runWithFiles(t, r,
			api.ResourceFile{HTTPURL: srv.URL + "/a.txt", FilePath: "in/deep/a.txt"},
			api.ResourceFile{HTTPURL: srv.URL + "/a.txt", FilePath: "a644.txt", FileMode: "0644"},
			api.ResourceFile{HTTPURL: srv.URL + "/big", FilePath: "big.bin"},
		)
		if res.FailureInfo != nil {
			t.Fatalf("failure %+v", res.FailureInfo)
		}
		assertFile(t, filepath.Join(wd, "in/deep/a.txt"), "hello a", DefaultResourceFileMode)
		assertFile(t, filepath.Join(wd, "a644.txt"), "hello a", 0o644)
		assertFile(t, filepath.Join(wd, "big.bin"), big, DefaultResourceFileMode)
		ents, _ := os.ReadDir(wd)
		for _, e := range ents {
			if strings.HasSuffix(e.Name(), ".part") {
				t.Errorf("temporary file left: %s", e.Name())
			}
		}
	})
	for _, tc := range []struct {
		path string
		code string
		cat  api.ErrorCategory
	}{
		{"/missing", api.FailureBlobNotFound, api.UserError},
		{"/denied", api.FailureBlobAccessDenied, api.UserError},
		{"/broken", api.FailureBlobDownloadMiscError, api.ServerError},
		{"/slow", api.FailureBlobDownloadTimedOut, api.ServerError},
	} {
		t.Run(tc.path, func(t *testing.T) {
			res, wd := runWithFiles(t, r, api.ResourceFile{HTTPURL: srv.URL + tc.path + "?sig=TOPSECRET", FilePath: "f"})
			wantFailure(t, res, tc.code, tc.cat, true)
			assertNoSecret(t, res, "TOPSECRET")
			if _, err := os.Stat(filepath.Join(wd, "f")); !os.IsNotExist(err) {
				t.Errorf("partial file left behind: %v", err)
			}
			if res.ExitCode != nil {
				t.Error("process ran after a pre-processing failure")
			}
		})
	}
	t.Run("wall clock during download", func(t *testing.T) {
		node := testNode(t)
		spec := taskSpec(node, "true")
		spec.MaxWallClockTime = 200 * time.Millisecond
		spec.ResourceFiles = []api.ResourceFile{{HTTPURL: srv.URL + "/slow", FilePath: "f"}}
		res := testRunner(t, nil).Run(context.Background(), spec)
		wantFailure(t, res, api.FailureTaskEnded, api.ServerError, true)
	})
	t.Run("symlink in wd cannot redirect writes", func(t *testing.T) {
		node := testNode(t)
		p, _ := node.Layout.TaskPaths("job1", "task1")
		outside := t.TempDir()
		os.MkdirAll(p.WorkingDir, 0o755)
		os.Symlink(outside, filepath.Join(p.WorkingDir, "evil"))
		spec := taskSpec(node, "true")
		spec.ResourceFiles = []api.ResourceFile{{HTTPURL: srv.URL + "/a.txt", FilePath: "evil/a.txt"}}
		res := r.Run(context.Background(), spec)
		if res.FailureInfo == nil {
			t.Error("download through a symlink leaving wd succeeded")
		}
		if _, err := os.Stat(filepath.Join(outside, "a.txt")); err == nil {
			t.Error("file written outside the working directory")
		}
	})
}

func uploadBlobs(t *testing.T, a *testenv.Azurite, container string, blobs map[string]string) {
	t.Helper()
	c := a.Client(t)
	for name, content := range blobs {
		if _, err := c.UploadBuffer(context.Background(), container, name, []byte(content), &azblob.UploadBufferOptions{}); err != nil {
			t.Fatalf("upload %s: %v", name, err)
		}
	}
}

// blobURL returns the URL of a blob in a container SAS URL.
func blobURL(containerSAS, blob string) string {
	u, _ := url.Parse(containerSAS)
	u.Path += "/" + blob
	return u.String()
}

func sigOf(sasURL string) string {
	u, _ := url.Parse(sasURL)
	return u.Query().Get("sig")
}

func listFiles(t *testing.T, root string) []string {
	var out []string
	filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(root, p)
			out = append(out, rel)
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestResourceFilesAzurite(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cont := a.NewContainer(t)
	uploadBlobs(t, a, cont, map[string]string{
		"data/a.txt":     "A",
		"data/sub/b.txt": "B",
		"data2.txt":      "D2",
		"other/c.txt":    "C",
	})
	sasURL := a.ContainerSAS(t, cont, "rl", time.Now().Add(time.Hour))
	expired := a.ContainerSAS(t, cont, "rl", time.Now().Add(-time.Minute))
	readOnly := a.ContainerSAS(t, cont, "r", time.Now().Add(time.Hour))
	r := testRunner(t, func(c *Config) {
		c.AutoStorage = &StorageAccount{BlobEndpoint: a.Endpoint, AccountName: a.Account, AccountKey: a.Key}
	})

	t.Run("httpUrl with SAS", func(t *testing.T) {
		res, wd := runWithFiles(t, r, api.ResourceFile{HTTPURL: blobURL(sasURL, "data/sub/b.txt"), FilePath: "x/b.txt", FileMode: "0600"})
		if res.FailureInfo != nil {
			t.Fatalf("failure %+v", res.FailureInfo)
		}
		assertFile(t, filepath.Join(wd, "x/b.txt"), "B", 0o600)
	})
	t.Run("storageContainerUrl with blobPrefix", func(t *testing.T) {
		res, wd := runWithFiles(t, r, api.ResourceFile{StorageContainerURL: sasURL, BlobPrefix: "data", FilePath: "in"})
		if res.FailureInfo != nil {
			t.Fatalf("failure %+v", res.FailureInfo)
		}
		got := listFiles(t, wd)
		want := []string{"in/data/a.txt", "in/data/sub/b.txt", "in/data2.txt"}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("files %v, want %v", got, want)
		}
		assertFile(t, filepath.Join(wd, "in/data/sub/b.txt"), "B", DefaultResourceFileMode)
	})
	t.Run("whole container into wd", func(t *testing.T) {
		res, wd := runWithFiles(t, r, api.ResourceFile{StorageContainerURL: sasURL})
		if res.FailureInfo != nil {
			t.Fatalf("failure %+v", res.FailureInfo)
		}
		if got := listFiles(t, wd); len(got) != 4 {
			t.Errorf("files %v", got)
		}
	})
	t.Run("autoStorageContainerName", func(t *testing.T) {
		res, wd := runWithFiles(t, r, api.ResourceFile{AutoStorageContainerName: cont, BlobPrefix: "other/"})
		if res.FailureInfo != nil {
			t.Fatalf("failure %+v", res.FailureInfo)
		}
		assertFile(t, filepath.Join(wd, "other/c.txt"), "C", DefaultResourceFileMode)
	})
	t.Run("autoStorage not configured", func(t *testing.T) {
		res, _ := runWithFiles(t, testRunner(t, nil), api.ResourceFile{AutoStorageContainerName: cont})
		wantFailure(t, res, api.FailureResourceContainerListMisc, api.ServerError, true)
	})

	for _, tc := range []struct {
		name   string
		rf     api.ResourceFile
		code   string
		cat    api.ErrorCategory
		secret string
	}{
		{"blob 404", api.ResourceFile{HTTPURL: blobURL(sasURL, "nope.txt"), FilePath: "n"}, api.FailureBlobNotFound, api.UserError, sigOf(sasURL)},
		{"blob expired SAS", api.ResourceFile{HTTPURL: blobURL(expired, "data/a.txt"), FilePath: "n"}, api.FailureBlobAccessDenied, api.UserError, sigOf(expired)},
		{"container expired SAS", api.ResourceFile{StorageContainerURL: expired}, api.FailureResourceContainerDenied, api.UserError, sigOf(expired)},
		{"container SAS without list", api.ResourceFile{StorageContainerURL: readOnly}, api.FailureResourceContainerDenied, api.UserError, sigOf(readOnly)},
		{"container 404", api.ResourceFile{StorageContainerURL: a.ContainerSAS(t, "nosuchcontainer", "rl", time.Now().Add(time.Hour))}, api.FailureResourceContainerNotFound, api.UserError, ""},
		{"auto container 404", api.ResourceFile{AutoStorageContainerName: "nosuchcontainer"}, api.FailureResourceContainerNotFound, api.UserError, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, _ := runWithFiles(t, r, tc.rf)
			wantFailure(t, res, tc.code, tc.cat, true)
			if tc.secret != "" {
				assertNoSecret(t, res, tc.secret)
			}
		})
	}
}
