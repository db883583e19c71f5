package outputfiles

import (
	"errors"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
)

func TestValidate(t *testing.T) {
	ok := func() api.OutputFile { return entry("../std*.txt", "p") }
	for _, tc := range []struct {
		name     string
		mod      func(*api.OutputFile)
		code     string
		property string
	}{
		{"valid", func(*api.OutputFile) {}, "", ""},
		{"condition any case", func(f *api.OutputFile) { f.UploadOptions.UploadCondition = "TaskSuccess" }, "", ""},
		{"file url", func(f *api.OutputFile) { f.Destination.Container.ContainerURL = "file:///data/out" }, "", ""},
		{"empty pattern", func(f *api.OutputFile) { f.FilePattern = "" }, api.CodeMissingRequiredProperty, "outputFiles[1].filePattern"},
		{"dir pattern", func(f *api.OutputFile) { f.FilePattern = "out/" }, api.CodeInvalidPropertyValue, "outputFiles[1].filePattern"},
		{"bad class", func(f *api.OutputFile) { f.FilePattern = "a[b" }, api.CodeInvalidPropertyValue, "outputFiles[1].filePattern"},
		{"no container", func(f *api.OutputFile) { f.Destination.Container = nil }, api.CodeMissingRequiredProperty, "outputFiles[1].destination.container"},
		{"no url", func(f *api.OutputFile) { f.Destination.Container.ContainerURL = "" }, api.CodeMissingRequiredProperty, "outputFiles[1].destination.container.containerUrl"},
		{"relative url", func(f *api.OutputFile) { f.Destination.Container.ContainerURL = "c?sig=SECRET" }, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.containerUrl"},
		{"ftp url", func(f *api.OutputFile) { f.Destination.Container.ContainerURL = "ftp://h/c?sig=SECRET" }, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.containerUrl"},
		{"no container in url", func(f *api.OutputFile) { f.Destination.Container.ContainerURL = "https://h/?sig=SECRET" }, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.containerUrl"},
		{"no condition", func(f *api.OutputFile) { f.UploadOptions.UploadCondition = "" }, api.CodeMissingRequiredProperty, "outputFiles[1].uploadOptions.uploadCondition"},
		{"bad condition", func(f *api.OutputFile) { f.UploadOptions.UploadCondition = "taskComplete" }, api.CodeInvalidPropertyValue, "outputFiles[1].uploadOptions.uploadCondition"},
		{"identity without id", func(f *api.OutputFile) {
			f.Destination.Container.IdentityReference = &api.ComputeNodeIdentityReference{}
		}, api.CodeMissingRequiredProperty, "outputFiles[1].destination.container.identityReference.resourceId"},
		{"unsupported header", func(f *api.OutputFile) {
			f.Destination.Container.UploadHeaders = []api.HTTPHeader{{Name: "Content-Type", Value: "a/b"}, {Name: "x-ms-lease-id", Value: "l"}}
		}, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.uploadHeaders[1].name"},
		{"md5 header", func(f *api.OutputFile) {
			f.Destination.Container.UploadHeaders = []api.HTTPHeader{{Name: "Content-MD5", Value: "x"}}
		}, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.uploadHeaders[0].name"},
		{"bad tier", func(f *api.OutputFile) {
			f.Destination.Container.UploadHeaders = []api.HTTPHeader{{Name: "x-ms-access-tier", Value: "Frozen"}}
		}, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.uploadHeaders[0].value"},
		{"bad meta name", func(f *api.OutputFile) {
			f.Destination.Container.UploadHeaders = []api.HTTPHeader{{Name: "x-ms-meta-1bad", Value: "v"}}
		}, api.CodeInvalidPropertyValue, "outputFiles[1].destination.container.uploadHeaders[0].name"},
		{"empty header name", func(f *api.OutputFile) { f.Destination.Container.UploadHeaders = []api.HTTPHeader{{Value: "v"}} }, api.CodeMissingRequiredProperty, "outputFiles[1].destination.container.uploadHeaders[0].name"},
	} {
		f := ok()
		tc.mod(&f)
		err := Validate([]api.OutputFile{ok(), f})
		if tc.code == "" {
			if err != nil {
				t.Errorf("%s: %v", tc.name, err)
			}
			continue
		}
		var pe *api.PropertyError
		if !errors.As(err, &pe) || pe.Code != tc.code || pe.Property != tc.property {
			t.Errorf("%s: got %v, want %s %s", tc.name, err, tc.code, tc.property)
			continue
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("%s: error leaks the signature: %v", tc.name, err)
		}
	}
}

func TestPutOptionsFromHeaders(t *testing.T) {
	o, err := PutOptions([]api.HTTPHeader{
		{Name: "content-type", Value: "text/plain"}, {Name: "X-MS-BLOB-CONTENT-TYPE", Value: "text/csv"},
		{Name: "x-ms-blob-content-encoding", Value: "gzip"}, {Name: "Content-Language", Value: "en"},
		{Name: "x-ms-blob-content-disposition", Value: "attachment"}, {Name: "Cache-Control", Value: "no-cache"},
		{Name: "x-ms-meta-TaskId", Value: "t1"}, {Name: "x-ms-access-tier", Value: "cool"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if o.ContentType != "text/csv" || o.ContentEncoding != "gzip" || o.ContentLanguage != "en" || o.ContentDisposition != "attachment" ||
		o.CacheControl != "no-cache" || o.Metadata["TaskId"] != "t1" || o.AccessTier != "Cool" {
		t.Errorf("%+v", o)
	}
	if _, err := PutOptions([]api.HTTPHeader{{Name: "x-ms-meta-a", Value: "1"}, {Name: "X-Ms-Meta-A", Value: "2"}}); err == nil {
		t.Error("duplicate accepted")
	}
}

func TestFailureCodeAndRedact(t *testing.T) {
	if got := Redact("https://a.blob.core.windows.net/c?sp=w&sig=abc"); got != "https://a.blob.core.windows.net/c?sp=w&sig=REDACTED" {
		t.Error(got)
	}
	if got := blobURL("https://a.blob.core.windows.net/c?sp=w&sig=abc", "dir/f ✓.txt"); strings.Contains(got, "abc") || !strings.Contains(got, "/c/dir/f") {
		t.Error(got)
	}
	code, cat, _ := FailureCode(&PatternError{})
	if code != api.FailureFileUploadMiscError || cat != api.UserError {
		t.Error(code, cat)
	}
}
