package outputfiles_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/openbatch/openbatch/api"
	obblob "github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/s3"
	"github.com/openbatch/openbatch/internal/testenv"
	"github.com/openbatch/openbatch/outputfiles"
	"github.com/openbatch/openbatch/outputfiles/journal"
)

func newEngine(t testing.TB) *outputfiles.Engine {
	t.Helper()
	op, err := outputfiles.NewOpener(azure.Options{Logger: slog.New(slog.DiscardHandler),
		BlockSize: 1 << 20, Retry: policy.RetryOptions{MaxRetries: 2, RetryDelay: 10 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	return outputfiles.New(op, outputfiles.Options{Logger: slog.New(slog.DiscardHandler)})
}

// task makes a task directory with wd/ and the given files (relative to the
// task directory).
func task(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	os.MkdirAll(filepath.Join(dir, "wd"), 0o755)
	return dir
}

func out(pattern, containerURL, path string, headers ...api.HTTPHeader) api.OutputFile {
	return api.OutputFile{FilePattern: pattern,
		Destination: api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{
			ContainerURL: containerURL, Path: path, UploadHeaders: headers}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}
}

func readLogs(t *testing.T, taskDir string) (string, string) {
	t.Helper()
	o, err := os.ReadFile(filepath.Join(taskDir, outputfiles.OutLogName))
	if err != nil {
		t.Fatal(err)
	}
	e, err := os.ReadFile(filepath.Join(taskDir, outputfiles.ErrLogName))
	if err != nil {
		t.Fatal(err)
	}
	return string(o), string(e)
}

func sigOf(t *testing.T, u string) string {
	pu, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return pu.Query().Get("sig")
}

// assertNoSecret checks that sig's value appears nowhere (raw or encoded).
func assertNoSecret(t *testing.T, sig string, texts ...string) {
	t.Helper()
	if sig == "" {
		t.Fatal("test URL has no signature")
	}
	for _, s := range texts {
		if strings.Contains(s, sig) || strings.Contains(s, url.QueryEscape(sig)) {
			t.Errorf("signature leaked in:\n%s", s)
		}
	}
}

func TestUploadToAzurite(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	sas := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	big := strings.Repeat("block data ", 300_000) // ~3.3 MiB: staged as blocks (1 MiB)
	dir := task(t, map[string]string{
		"stdout.txt": "out\n", "stderr.txt": "err\n",
		"wd/res ults/ünïcödé ✓.txt": "unicode", "wd/res ults/deep/b.csv": "a,b",
		"wd/empty.bin": "", "wd/big.log": big, "wd/.secret": "no",
	})
	req := outputfiles.Request{TaskDir: dir, Env: map[string]string{"SUB": "res ults"}, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{
			out("../std*.txt", sas, "task1"),
			out("$SUB/**", sas, "r", api.HTTPHeader{Name: "x-ms-blob-content-type", Value: "text/x-result"},
				api.HTTPHeader{Name: "x-ms-meta-taskid", Value: "task1"}, api.HTTPHeader{Name: "Cache-Control", Value: "no-cache"}),
			out("empty.bin", sas, "task1/empty.bin"),
			out("big.log", sas, ""),
			out("nothing*.txt", sas, ""),
		}}
	res, err := newEngine(t).Upload(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	if res.FailureInfo != nil {
		t.Fatalf("failure: %+v", res.FailureInfo)
	}
	got := a.Blobs(t, cn)
	slices.Sort(got)
	want := []string{"big.log", "r/deep/b.csv", "r/ünïcödé ✓.txt", "task1/empty.bin", "task1/stderr.txt", "task1/stdout.txt"}
	if !slices.Equal(got, want) {
		t.Fatalf("blobs %q, want %q", got, want)
	}
	for name, content := range map[string]string{"big.log": big, "r/ünïcödé ✓.txt": "unicode", "task1/empty.bin": ""} {
		data, props := a.Download(t, cn, name)
		sum := md5.Sum([]byte(content))
		if string(data) != content || !bytes.Equal(props.ContentMD5, sum[:]) {
			t.Errorf("%s: content %d bytes, md5 %x want %x", name, len(data), props.ContentMD5, sum)
		}
	}
	_, props := a.Download(t, cn, "r/deep/b.csv")
	if props.ContentType == nil || *props.ContentType != "text/x-result" || props.CacheControl == nil || *props.CacheControl != "no-cache" {
		t.Errorf("headers not applied: %+v", props)
	}
	gp, err := a.Client(t).ServiceClient().NewContainerClient(cn).NewBlobClient("r/deep/b.csv").GetProperties(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if v := gp.Metadata["Taskid"]; v == nil || *v != "task1" {
		if v2 := gp.Metadata["taskid"]; v2 == nil || *v2 != "task1" {
			t.Errorf("metadata %v", gp.Metadata)
		}
	}
	olog, elog := readLogs(t, dir)
	for _, want := range []string{"Resolved mapping - base_path: " + dir + ", full_pattern: " + dir + "/std*.txt, original_pattern: ../std*.txt",
		"No files matched - original_pattern: nothing*.txt", "Upload done - file: " + dir + "/wd/big.log", "throughput:", "Summary - entries: 5, files: 6, uploaded: 6, failed: 0"} {
		if !strings.Contains(olog, want) {
			t.Errorf("fileuploadout.txt lacks %q:\n%s", want, olog)
		}
	}
	if elog != "" {
		t.Errorf("fileuploaderr.txt: %s", elog)
	}
	assertNoSecret(t, sigOf(t, sas), olog)
}

func TestUploadFailuresAzurite(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	good := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	expired := a.ContainerSAS(t, cn, "w", time.Now().Add(-time.Minute))
	missing := a.ContainerSAS(t, "no-such-container", "w", time.Now().Add(time.Hour))
	dir := task(t, map[string]string{"stdout.txt": "o", "wd/a.txt": "a", "wd/b.txt": "b"})

	for _, tc := range []struct {
		name, url, code string
		cat             api.ErrorCategory
		msg             string
	}{
		{"expired SAS", expired, api.FailureFileUploadAccessDenied, api.UserError, "denied"},
		{"missing container", missing, api.FailureFileUploadContainerNotFound, api.UserError,
			"One of the specified Azure container(s) was not found while attempting to upload an output file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(filepath.Join(dir, outputfiles.OutLogName))
			os.Remove(filepath.Join(dir, outputfiles.ErrLogName))
			res, err := newEngine(t).Upload(context.Background(), outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(2),
				OutputFiles: []api.OutputFile{out("*.txt", tc.url, "bad"), out("../stdout.txt", good, tc.name+"/stdout.txt")}})
			if err != nil {
				t.Fatal(err)
			}
			fi := res.FailureInfo
			if fi == nil || fi.Code != tc.code || fi.Category != tc.cat || !strings.Contains(fi.Message, tc.msg) {
				t.Fatalf("failure info %+v", fi)
			}
			if res.Failed != 2 || res.Uploaded != 1 {
				t.Errorf("failed %d uploaded %d: entries must be independent", res.Failed, res.Uploaded)
			}
			if !slices.Contains(a.Blobs(t, cn), tc.name+"/stdout.txt") {
				t.Error("the good entry was not uploaded")
			}
			olog, elog := readLogs(t, dir)
			lines := strings.Split(strings.TrimSpace(elog), "\n")
			if len(lines) != 2 {
				t.Fatalf("fileuploaderr.txt: %q", elog)
			}
			var rec map[string]any
			if err := json.Unmarshal([]byte(lines[0]), &rec); err != nil {
				t.Fatal(err)
			}
			if rec["code"] != tc.code || rec["user_error"] != true || rec["pattern"] != "*.txt" ||
				rec["file"] != dir+"/wd/a.txt" || !strings.Contains(rec["destination"].(string), "/bad/a.txt") {
				t.Errorf("record %v", rec)
			}
			fij, _ := json.Marshal(fi)
			assertNoSecret(t, sigOf(t, tc.url), olog, elog, string(fij), fmt.Sprint(res.Files[0].Err))
			assertNoSecret(t, sigOf(t, good), olog, elog, string(fij))
		})
	}
}

func TestUploadLocalManyFilesAndConflicts(t *testing.T) {
	files := map[string]string{}
	for i := range 10_000 {
		files[fmt.Sprintf("wd/out/d%02d/f%05d.dat", i%50, i)] = fmt.Sprint(i)
	}
	files["wd/x.txt"] = "first"
	files["stdout.txt"] = "second"
	dir := task(t, files)
	dest := t.TempDir()
	start := time.Now()
	res, err := newEngine(t).Upload(context.Background(), outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{
			out("out/**/*.dat", "file://"+dest, "all"),
			out("x.txt", "file://"+dest, "same.txt"),
			out("../stdout.txt", "file://"+dest, "same.txt"),
		}})
	if err != nil || res.FailureInfo != nil {
		t.Fatalf("%v %+v", err, res.FailureInfo)
	}
	t.Logf("10,000 files to blob/local in %v", time.Since(start))
	if res.Uploaded != 10_001 || len(res.Plan.Superseded) != 1 {
		t.Errorf("uploaded %d superseded %d", res.Uploaded, len(res.Plan.Superseded))
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "same.txt")); string(b) != "second" {
		t.Errorf("conflict: same.txt = %q, want the later entry's", b)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "all/out/d07/f00007.dat")); string(b) != "7" {
		// pattern base is wd/out → blob all/d07/f00007.dat
		if b2, _ := os.ReadFile(filepath.Join(dest, "all/d07/f00007.dat")); string(b2) != "7" {
			t.Errorf("f00007: %q", b2)
		}
	}
	olog, _ := readLogs(t, dir)
	if !strings.Contains(olog, "Superseded - file: "+dir+"/wd/x.txt") {
		t.Error("supersession not logged")
	}
}

func TestUploadThousandFilesAzurite(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	sas := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	files := map[string]string{}
	for i := range 1000 {
		files[fmt.Sprintf("wd/o/%03d/%d.txt", i/100, i)] = fmt.Sprint(i)
	}
	dir := task(t, files)
	start := time.Now()
	res, err := newEngine(t).Upload(context.Background(), outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{out("o/**/*.txt", sas, "k")}})
	if err != nil || res.FailureInfo != nil {
		t.Fatalf("%v %+v", err, res.FailureInfo)
	}
	t.Logf("1,000 files to Azurite in %v", time.Since(start))
	if n := len(a.Blobs(t, cn)); n != 1000 || res.Uploaded != 1000 {
		t.Errorf("blobs %d uploaded %d", n, res.Uploaded)
	}
}

// TestGrowingFile: a file still being appended to when its upload starts is
// uploaded as it was at that moment (its size when opened); the blob's MD5
// matches the stored bytes, which are a prefix of the final file.
func TestGrowingFile(t *testing.T) {
	dir := task(t, map[string]string{"wd/grow.log": strings.Repeat("x", 1<<20)})
	dest := t.TempDir()
	f, err := os.OpenFile(filepath.Join(dir, "wd/grow.log"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
				f.Write([]byte("more lines\n"))
			}
		}
	}()
	res, err := newEngine(t).Upload(context.Background(), outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{out("grow.log", "file://"+dest, "")}})
	close(stop)
	wg.Wait()
	f.Close()
	if err != nil || res.FailureInfo != nil {
		t.Fatalf("%v %+v", err, res.FailureInfo)
	}
	final, _ := os.ReadFile(filepath.Join(dir, "wd/grow.log"))
	got, _ := os.ReadFile(filepath.Join(dest, "grow.log"))
	sum := md5.Sum(got)
	if len(got) < 1<<20 || !bytes.HasPrefix(final, got) || !bytes.Equal(res.Files[0].ContentMD5, sum[:]) || res.Files[0].Size != int64(len(got)) {
		t.Errorf("uploaded %d bytes of %d; md5 ok=%v", len(got), len(final), bytes.Equal(res.Files[0].ContentMD5, sum[:]))
	}
}

func TestSymlinksAndEscapes(t *testing.T) {
	dir := task(t, map[string]string{"wd/real.txt": "r"})
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.txt"), []byte("s"), 0o644)
	os.Symlink("real.txt", filepath.Join(dir, "wd/link.txt"))                           // relative, inside: followed
	os.Symlink(filepath.Join(dir, "wd/real.txt"), filepath.Join(dir, "wd/abslink.txt")) // absolute: os.Root refuses it
	os.Symlink(filepath.Join(outside, "secret.txt"), filepath.Join(dir, "wd/escape.txt"))
	dest := t.TempDir()
	res, err := newEngine(t).Upload(context.Background(), outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{out("*.txt", "file://"+dest, ""), out(outside+"/secret.txt", "file://"+dest, "abs.txt")}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	fs.WalkDir(os.DirFS(dest), ".", func(p string, d fs.DirEntry, _ error) error {
		if !d.IsDir() && !strings.HasPrefix(p, ".openbatch-blob") {
			got = append(got, p)
		}
		return nil
	})
	if !slices.Equal(got, []string{"link.txt", "real.txt"}) {
		t.Errorf("uploaded %v", got)
	}
	fi := res.FailureInfo
	if fi == nil || fi.Code != api.FailureFileUploadMiscError || fi.Category != api.UserError {
		t.Errorf("absolute pattern outside the task dir: %+v", fi)
	}
	olog, _ := readLogs(t, dir)
	if !strings.Contains(olog, "escape.txt") || !strings.Contains(olog, "abslink.txt") {
		t.Error("refused symlinks not logged")
	}
}

// TestUploadToS3 uploads output files through the engine to s3rver, in both
// URL forms, and checks content and the stored whole-file MD5.
func TestUploadToS3(t *testing.T) {
	srv := testenv.StartS3rver(t)
	so := &s3.Options{Endpoint: srv.Endpoint, AccessKeyID: testenv.S3rverKey, SecretAccessKey: testenv.S3rverSecret}
	op, err := outputfiles.NewOpenerWithS3(azure.Options{Logger: slog.New(slog.DiscardHandler)}, so)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	bucket, err := op.Open(ctx, "s3://outputs", obblob.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	cr, _ := obblob.AsCreator(bucket)
	if err := cr.Create(ctx); err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("s3 block data ", 500_000) // ~7 MiB
	dir := task(t, map[string]string{"stdout.txt": "out\n", "wd/res/a.txt": "alpha", "wd/big.log": big})
	req := outputfiles.Request{TaskDir: dir, Outcome: outputfiles.ExitedWith(0),
		OutputFiles: []api.OutputFile{
			out("../stdout.txt", "s3://outputs/job1", "task1/stdout.txt"),
			out("res/**", srv.Endpoint+"/outputs/job1", "r"),
			out("big.log", "s3://outputs", ""),
		}}
	res, err := outputfiles.New(op, outputfiles.Options{Logger: slog.New(slog.DiscardHandler)}).Upload(ctx, req)
	if err != nil || res.FailureInfo != nil {
		t.Fatalf("upload: %v %+v", err, res.FailureInfo)
	}
	var names []string
	for it, err := range bucket.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, it.Name)
	}
	want := []string{"big.log", "job1/r/a.txt", "job1/task1/stdout.txt"}
	if !slices.Equal(names, want) {
		t.Fatalf("objects %q, want %q", names, want)
	}
	for name, content := range map[string]string{"big.log": big, "job1/r/a.txt": "alpha", "job1/task1/stdout.txt": "out\n"} {
		rc, p, err := bucket.Get(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		sum := md5.Sum([]byte(content))
		if string(data) != content || !bytes.Equal(p.ContentMD5, sum[:]) {
			t.Errorf("%s: %d bytes, md5 %x want %x", name, len(data), p.ContentMD5, sum)
		}
	}
}

// An upload given its recorded plan (an agent resuming after a crash)
// uploads the recorded files, not those matched now, says so in
// fileuploadout.txt, and leaves no journal behind.
func TestUploadRecordedPlan(t *testing.T) {
	dir := task(t, map[string]string{"wd/a.txt": "a", "wd/b.txt": "b"})
	dest := t.TempDir()
	files := []api.OutputFile{out("*.txt", "file://"+dest, "")}
	jd, err := journal.Open(filepath.Join(t.TempDir(), "uploads"))
	if err != nil {
		t.Fatal(err)
	}
	var planned []outputfiles.Mapping
	req := outputfiles.Request{TaskDir: dir, OutputFiles: files, Outcome: outputfiles.ExitedWith(0), Journal: jd}
	// The first upload is only planned: its Planned hook fails, as when the
	// record cannot be written, and nothing is uploaded.
	req.Planned = func(m []outputfiles.Mapping) error { planned = slices.Clone(m); return fmt.Errorf("disk full") }
	if _, err := newEngine(t).Upload(context.Background(), req); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("upload with a failing Planned: %v", err)
	}
	if len(planned) != 2 {
		t.Fatalf("planned %+v", planned)
	}
	if _, err := os.Stat(filepath.Join(dest, "a.txt")); err == nil {
		t.Fatal("uploaded before the plan was recorded")
	}
	// A file that appears later is not part of the recorded plan.
	if err := os.WriteFile(filepath.Join(dir, "wd", "c.txt"), []byte("c"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A record naming a root outside the task directory is ignored.
	rec := append(slices.Clone(planned), outputfiles.Mapping{Entry: 0, Root: "/etc", Rel: "passwd", File: "/etc/passwd", Blob: "passwd"})
	req.Planned, req.Recorded = nil, rec
	res, err := newEngine(t).Upload(context.Background(), req)
	if err != nil || res.FailureInfo != nil {
		t.Fatalf("resumed upload: %v %+v", err, res.FailureInfo)
	}
	var got []string
	ents, _ := os.ReadDir(dest)
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), ".") { // blob/local's own metadata
			got = append(got, e.Name())
		}
	}
	if strings.Join(got, ",") != "a.txt,b.txt" || res.Uploaded != 2 {
		t.Fatalf("uploaded %v (%d), want the recorded a.txt,b.txt", got, res.Uploaded)
	}
	o, _ := readLogs(t, dir)
	if !strings.Contains(o, "Resuming output file upload after an agent restart - files recorded at exit: 3") ||
		!strings.Contains(o, "Upload restarts from the beginning - file: "+filepath.Join(dir, "wd", "a.txt")) {
		t.Fatalf("fileuploadout.txt does not say the upload resumed:\n%s", o)
	}
	if left, _ := filepath.Glob(filepath.Join(jd.Path(), "*.rec")); len(left) != 0 {
		t.Fatalf("journal left: %v", left)
	}
}
