package conventions

import (
	"testing"

	"github.com/openbatch/openbatch/api"
)

const testSAS = "https://acct.blob.core.windows.net/job-j?sv=x&sig=y"

func TestTaskOutputFilesPaths(t *testing.T) {
	tests := []struct{ pattern, path string }{
		{"output.txt", "t1/$TaskOutput/output.txt"},
		{"out/result.txt", "t1/$TaskOutput/out/result.txt"},
		{"*.txt", "t1/$TaskOutput"},
		{"out/**/*.csv", "t1/$TaskOutput/out"},
		{`out\*.csv`, "t1/$TaskOutput/out"},
		{"../std*.txt", "t1/$TaskOutput"},
		{"../../x/*.bin", "t1/$TaskOutput/x"},
		{"/mnt/data/*.dat", "t1/$TaskOutput"},
		{"/mnt/data/final.dat", "t1/$TaskOutput/final.dat"},
		{"$AZ_BATCH_TASK_DIR/std*.txt", "t1/$TaskOutput"},
		{"$AZ_BATCH_NODE_SHARED_DIR/r.txt", "t1/$TaskOutput/r.txt"},
		{"a/[bc]?/x", "t1/$TaskOutput/a"},
	}
	for _, tt := range tests {
		files, err := TaskOutputFiles(testSAS, "t1", TaskOutput, tt.pattern)
		if err != nil {
			t.Errorf("%q: %v", tt.pattern, err)
			continue
		}
		f := files[0]
		if f.FilePattern != tt.pattern || f.Destination.Container.Path != tt.path ||
			f.Destination.Container.ContainerURL != testSAS || f.UploadOptions.UploadCondition != api.UploadOnSuccess {
			t.Errorf("%q: got %+v %+v, want path %q", tt.pattern, f, *f.Destination.Container, tt.path)
		}
	}
	for _, bad := range []string{"", "a/../../x/*.txt", "a/../../x"} {
		if _, err := TaskOutputFiles(testSAS, "t1", TaskOutput, bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if _, err := TaskOutputFiles("not a url", "t1", TaskOutput, "x"); err == nil {
		t.Error("bad container URL accepted")
	}
}

func TestTaskLogFiles(t *testing.T) {
	files, err := TaskLogFiles(testSAS, "t1")
	if err != nil || len(files) != 1 {
		t.Fatal(files, err)
	}
	f := files[0]
	if f.FilePattern != "../std*.txt" || f.Destination.Container.Path != "t1/$TaskLog" || f.UploadOptions.UploadCondition != api.UploadOnCompletion {
		t.Errorf("got %+v %+v", f, *f.Destination.Container)
	}
}

func TestJobOutputFiles(t *testing.T) {
	files, err := JobOutputFiles(testSAS, JobOutput, "merged/*.txt", "summary.json")
	if err != nil || len(files) != 2 {
		t.Fatal(files, err)
	}
	if p := files[0].Destination.Container.Path; p != "$JobOutput/merged" {
		t.Errorf("path %q", p)
	}
	if p := files[1].Destination.Container.Path; p != "$JobOutput/summary.json" {
		t.Errorf("path %q", p)
	}
}
