package app

import (
	"crypto/md5"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/testenv"
)

func outFile(pattern, containerURL, path string, cond api.OutputFileUploadCondition) api.OutputFile {
	return api.OutputFile{FilePattern: pattern,
		Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: containerURL, Path: path}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: cond}}
}

// The seed document's example, translated to Linux: ../std*.txt goes to
// {taskId}/, output.txt to {taskId}/output.txt, with a write-only SAS.
func TestOutputFilesSeedExample(t *testing.T) {
	az := testenv.SharedAzurite(t)
	container := az.NewContainer(t)
	sas := az.ContainerSAS(t, container, "w", time.Now().Add(24*time.Hour))
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 1, nil)
	ctx := ctxT(t, 60*time.Second)
	task := &api.Task{ID: "seedtask", EnvironmentSettings: []api.EnvironmentSetting{{Name: "OPENBATCH_UPLOAD_MANIFEST", Value: "true"}},
		CommandLine: `/bin/sh -c 'for i in $(seq 1 1000); do echo $i; done > output.txt; echo done; echo warn >&2'`,
		OutputFiles: []api.OutputFile{
			outFile("../std*.txt", sas, "seedtask", api.UploadOnCompletion),
			outFile("output.txt", sas, "seedtask/output.txt", api.UploadOnCompletion),
		}}
	if err := c.AddTask(ctx, "j1", task); err != nil {
		t.Fatal(err)
	}
	got, err := c.WaitTask(ctx, "j1", "seedtask")
	if err != nil {
		t.Fatal(err)
	}
	if got.ExecutionInfo.Result != api.ResultSuccess {
		t.Fatalf("task failed: %+v", got.ExecutionInfo.FailureInfo)
	}
	blobs := az.Blobs(t, container)
	want := []string{"seedtask/output.txt", "seedtask/stderr.txt", "seedtask/stdout.txt"}
	if strings.Join(blobs, ",") != strings.Join(want, ",") {
		t.Fatalf("blobs = %v, want %v", blobs, want)
	}
	for _, b := range want {
		data, props := az.Download(t, container, b)
		sum := md5.Sum(data)
		if string(props.ContentMD5) != string(sum[:]) {
			t.Errorf("%s: Content-MD5 %x, want %x", b, props.ContentMD5, sum)
		}
	}
	data, _ := az.Download(t, container, "seedtask/stdout.txt")
	if string(data) != "done\n" {
		t.Errorf("stdout blob = %q", data)
	}
	// The opt-in manifest lists every blob with its MD5, and no signature.
	mdata, err := c.GetTaskFile(ctx, "j1", "seedtask", "fileuploadmanifest.json")
	if err != nil {
		t.Fatal(err)
	}
	var manifest struct {
		Uploaded int `json:"uploaded"`
		Files    []struct {
			Blob       string `json:"blob"`
			ContentMD5 string `json:"contentMD5"`
		} `json:"files"`
	}
	if err := json.Unmarshal(mdata, &manifest); err != nil {
		t.Fatalf("manifest: %v\n%s", err, mdata)
	}
	if manifest.Uploaded != 3 || len(manifest.Files) != 3 || manifest.Files[0].ContentMD5 == "" || leaks(string(mdata), sas) {
		t.Fatalf("manifest = %s", mdata)
	}
	log, err := c.GetTaskFile(ctx, "j1", "seedtask", "fileuploadout.txt")
	if err != nil {
		t.Fatal(err)
	}
	if leaks(string(log), sas) {
		t.Errorf("fileuploadout.txt leaks a SAS signature:\n%s", log)
	}
}

func TestOutputFilesFailures(t *testing.T) {
	az := testenv.SharedAzurite(t)
	container := az.NewContainer(t)
	expired := az.ContainerSAS(t, container, "w", time.Now().Add(-time.Minute))
	missing := az.ContainerSAS(t, "no-such-container", "w", time.Now().Add(time.Hour))
	good := az.ContainerSAS(t, container, "w", time.Now().Add(time.Hour))
	_, c := startDev(t)
	mustPoolJob(t, c, 1, 2, nil)
	ctx := ctxT(t, 60*time.Second)
	tasks := []*api.Task{
		{ID: "expired", CommandLine: "/bin/true", OutputFiles: []api.OutputFile{outFile("../stdout.txt", expired, "expired/stdout.txt", api.UploadOnCompletion)}},
		{ID: "missing", CommandLine: "/bin/true", OutputFiles: []api.OutputFile{outFile("../stdout.txt", missing, "", api.UploadOnCompletion)}},
		{ID: "ok", CommandLine: "/bin/true", OutputFiles: []api.OutputFile{
			outFile("../stdout.txt", good, "ok/success.txt", api.UploadOnSuccess),
			outFile("../stdout.txt", good, "ok/failure.txt", api.UploadOnFailure)}},
		{ID: "bad", CommandLine: "/bin/sh -c 'exit 2'", OutputFiles: []api.OutputFile{
			outFile("../stdout.txt", good, "bad/success.txt", api.UploadOnSuccess),
			outFile("../stdout.txt", good, "bad/failure.txt", api.UploadOnFailure)}},
	}
	res, err := c.AddTasks(ctx, "j1", tasks)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Value {
		if r.Status != api.TaskAddSuccess {
			t.Fatalf("add %s: %+v", r.TaskID, r.Error)
		}
	}
	wantCode := map[string]string{"expired": api.FailureFileUploadAccessDenied, "missing": api.FailureFileUploadContainerNotFound,
		"ok": "", "bad": api.FailureExitCode}
	for id, code := range wantCode {
		got, err := c.WaitTask(ctx, "j1", id)
		if err != nil {
			t.Fatal(err)
		}
		ei := got.ExecutionInfo
		gotCode := ""
		if ei.FailureInfo != nil {
			gotCode = ei.FailureInfo.Code
		}
		if gotCode != code {
			t.Errorf("%s: failure code %q, want %q (%+v)", id, gotCode, code, ei.FailureInfo)
		}
		if ei.ExitCode == nil {
			t.Errorf("%s: exit code missing; an upload failure keeps it", id)
		}
		if ei.FailureInfo != nil && leaks(ei.FailureInfo.Message+detailsText(ei.FailureInfo), expired, missing, good) {
			t.Errorf("%s: failureInfo leaks a signature: %+v", id, ei.FailureInfo)
		}
	}
	if _, err := c.GetTaskFile(ctx, "j1", "ok", "fileuploadmanifest.json"); client.Code(err) != api.CodeFileNotFound {
		t.Errorf("a task that did not ask for a manifest has one (or: %v)", err)
	}
	errLog, err := c.GetTaskFile(ctx, "j1", "expired", "fileuploaderr.txt")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(errLog), api.FailureFileUploadAccessDenied) || leaks(string(errLog), expired) {
		t.Errorf("fileuploaderr.txt = %s", errLog)
	}
	blobs := strings.Join(az.Blobs(t, container), ",")
	if blobs != "bad/failure.txt,ok/success.txt" {
		t.Errorf("blobs = %s; want only ok/success.txt and bad/failure.txt", blobs)
	}
}

func detailsText(f *api.TaskFailureInformation) string {
	var b strings.Builder
	for _, d := range f.Details {
		b.WriteString(d.Name + "=" + d.Value + ";")
	}
	return b.String()
}

// leaks reports whether text contains the signature of any of the SAS URLs.
func leaks(text string, sasURLs ...string) bool {
	for _, u := range sasURLs {
		parsed, err := url.Parse(u)
		if err != nil {
			panic(err)
		}
		sig := parsed.Query().Get("sig")
		if sig == "" {
			panic("no signature in " + u)
		}
		if strings.Contains(text, sig) || strings.Contains(text, url.QueryEscape(sig)) {
			return true
		}
	}
	return false
}

func TestOutputFilesValidationAtTaskAdd(t *testing.T) {
	_, c := startDev(t)
	mustPoolJob(t, c, 0, 1, nil)
	ctx := ctxT(t, 10*time.Second)
	sas := "https://acct.blob.core.windows.net/c?sv=2021-06-08&sp=w&sig=SECRETSIGNATURE"
	good := outFile("*.txt", sas, "", api.UploadOnSuccess)
	tests := []struct {
		name     string
		mutate   func(*api.OutputFile)
		code     string
		property string
	}{
		{"empty pattern", func(o *api.OutputFile) { o.FilePattern = "" }, api.CodeMissingRequiredProperty, "outputFiles[0].filePattern"},
		{"no container", func(o *api.OutputFile) { o.Destination.Container = nil }, api.CodeMissingRequiredProperty, "outputFiles[0].destination.container"},
		{"relative URL", func(o *api.OutputFile) { o.Destination.Container.ContainerURL = "container?sig=SECRETSIGNATURE" }, api.CodeInvalidPropertyValue, "outputFiles[0].destination.container.containerUrl"},
		{"ftp URL", func(o *api.OutputFile) { o.Destination.Container.ContainerURL = "ftp://host/c?sig=SECRETSIGNATURE" }, api.CodeInvalidPropertyValue, "outputFiles[0].destination.container.containerUrl"},
		{"bad condition", func(o *api.OutputFile) { o.UploadOptions.UploadCondition = "sometimes" }, api.CodeInvalidPropertyValue, "outputFiles[0].uploadOptions.uploadCondition"},
		{"bad header", func(o *api.OutputFile) {
			o.Destination.Container.UploadHeaders = []api.HTTPHeader{{Name: "x-ms-lease-id", Value: "x"}}
		}, api.CodeInvalidPropertyValue, "outputFiles[0].destination.container.uploadHeaders[0].name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := good
			cont := *good.Destination.Container
			o.Destination.Container = &cont
			tt.mutate(&o)
			_, err := c.Do(ctx, "POST", "/jobs/j1/tasks", &api.Task{ID: "v", CommandLine: "/bin/true", OutputFiles: []api.OutputFile{o}}, nil)
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Status != 400 || ce.Body.Code != tt.code {
				t.Fatalf("err = %v, want 400 %s", err, tt.code)
			}
			found := false
			for _, v := range ce.Body.Values {
				if v.Key == "PropertyName" && v.Value == tt.property {
					found = true
				}
				if strings.Contains(v.Value, "SECRETSIGNATURE") {
					t.Errorf("error detail leaks the SAS signature: %s=%s", v.Key, v.Value)
				}
			}
			if !found {
				t.Errorf("error values %+v do not name %s", ce.Body.Values, tt.property)
			}
			if strings.Contains(ce.Body.Message.Value, "SECRETSIGNATURE") {
				t.Errorf("error message leaks the SAS signature: %s", ce.Body.Message.Value)
			}
		})
	}
	if _, err := c.GetTask(ctx, "j1", "v"); client.Code(err) != api.CodeTaskNotFound {
		t.Fatalf("a refused task was stored: %v", err)
	}
}
