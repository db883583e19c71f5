package conventions_test

import (
	"testing"

	"github.com/openbatch/openbatch/conventions"
	"github.com/openbatch/openbatch/outputfiles"
)

// The builders' destination paths, run through openbatch's own outputFiles
// semantics (outputfiles.BlobName), give the blob names the library would
// write for the same files.
func TestTaskOutputFilesMatchOutputFileSemantics(t *testing.T) {
	const wd = "/tasks/workitems/job/job-1/t1/wd"
	tests := []struct {
		pattern, file, rel string
		kind               conventions.Kind
	}{
		{"output.txt", wd + "/output.txt", "output.txt", conventions.TaskOutput},
		{"out/result.txt", wd + "/out/result.txt", "out/result.txt", conventions.TaskOutput},
		{"*.txt", wd + "/a.txt", "a.txt", conventions.TaskOutput},
		{"out/**/*.csv", wd + "/out/x/y/b.csv", "out/x/y/b.csv", conventions.TaskOutput},
		{"../std*.txt", wd + "/../stdout.txt", "stdout.txt", conventions.TaskLog},
		{"/mnt/data/*.dat", "/mnt/data/sub/z.dat", "sub/z.dat", conventions.TaskIntermediate},
		{"/mnt/data/final.dat", "/mnt/data/final.dat", "final.dat", conventions.TaskOutput},
	}
	for _, tt := range tests {
		files, err := conventions.TaskOutputFiles("https://a.blob.core.windows.net/job-j?sig=x", "t1", tt.kind, tt.pattern)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		p, err := outputfiles.ParsePattern(tt.pattern, wd, nil)
		if err != nil {
			t.Fatalf("%q: %v", tt.pattern, err)
		}
		file := tt.file
		if fp, err := outputfiles.ParsePattern(file, "/", nil); err == nil {
			file = fp.Full // cleaned, as the matcher reports files
		}
		got := outputfiles.BlobName(p, files[0].Destination.Container.Path, file)
		want, err := conventions.TaskBlobName("t1", tt.kind, tt.rel)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("pattern %q, file %s: service writes %q, conventions name is %q", tt.pattern, tt.file, got, want)
		}
	}
}
