package conventions

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		in, want string // want "" means the path is refused
	}{
		{"a.txt", "a.txt"},
		{"out/a.txt", "out/a.txt"},
		{`out\sub\a.txt`, "out/sub/a.txt"},
		{`a\\b`, "a/b"},
		{"../stdout.txt", "stdout.txt"},
		{`..\stdout.txt`, "stdout.txt"},
		{"../../x", "x"}, // the .NET loop never ends on this one
		{"../../../../a/b", "a/b"},
		{"./a/./b", "a/b"},
		{"a//b/", "a/b"},
		{"a/../b", "b"},
		{"a/b/../../c", "c"},
		{"a/../../b", ""}, // climbs out after the leading ".." are gone
		{`Under\..\..\..\..\x`, ""},
		{"../a/../../b", ""},
		{"/etc/passwd", ""},
		{`\\server\share\x`, ""},
		{`\x`, ""},
		{`C:\x`, ""},
		{"c:x", ""},
		{"", ""},
		{"..", ""},
		{"../", ""},
		{".", ""},
		{"a/..", ""},
	}
	for _, tt := range tests {
		got, err := NormalizePath(tt.in)
		if tt.want == "" {
			if err == nil || !errors.Is(err, ErrInvalidPath) {
				t.Errorf("NormalizePath(%q) = %q, %v; want ErrInvalidPath", tt.in, got, err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizePath(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{"../../x", "a/../../b", `\\`, "a/b", `..\..\c`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		got, err := NormalizePath(p)
		if err != nil {
			return
		}
		if got == "" || strings.HasPrefix(got, "/") || strings.Contains(got, `\`) {
			t.Fatalf("NormalizePath(%q) = %q", p, got)
		}
		for _, seg := range strings.Split(got, "/") {
			if seg == "" || seg == "." || seg == ".." {
				t.Fatalf("NormalizePath(%q) = %q has segment %q", p, got, seg)
			}
		}
	})
}

func TestBlobNames(t *testing.T) {
	name, err := TaskBlobName("analysis-309", TaskLog, `..\analytics.log`)
	if err != nil || name != "analysis-309/$TaskLog/analytics.log" {
		t.Errorf("TaskBlobName = %q, %v", name, err)
	}
	name, err = JobBlobName(JobOutput, "out/mergeresults.txt")
	if err != nil || name != "$JobOutput/out/mergeresults.txt" {
		t.Errorf("JobBlobName = %q, %v", name, err)
	}
	if p, _ := TaskPrefix("test-task", TaskLog); p != "test-task/$TaskLog" {
		t.Errorf("TaskPrefix = %q", p)
	}
	if p, _ := TaskListPrefix("t", TaskOutput); p != "t/$TaskOutput/" {
		t.Errorf("TaskListPrefix = %q", p)
	}
	if p, _ := JobListPrefix(JobPreview); p != "$JobPreview/" {
		t.Errorf("JobListPrefix = %q", p)
	}
	for _, bad := range []struct {
		task string
		kind Kind
	}{{"", TaskLog}, {"a/b", TaskLog}, {"..", TaskLog}, {"$x", TaskLog}, {"t", ""}, {"t", "a/b"}, {"t", "$TaskLog"}} {
		if _, err := TaskBlobName(bad.task, bad.kind, "x"); err == nil {
			t.Errorf("TaskBlobName(%q, %q) accepted", bad.task, bad.kind)
		}
	}
	if _, err := TaskBlobName("t", TaskLog, strings.Repeat("a/", 600)); err == nil {
		t.Error("blob name over 1024 characters accepted")
	}
}

func TestNewKind(t *testing.T) {
	if k, err := NewKind("TaskOutputX"); err != nil || k.Folder() != "$TaskOutputX" {
		t.Errorf("NewKind = %q, %v", k, err)
	}
	for _, bad := range []string{"", "a/b", `a\b`, "$x"} {
		if _, err := NewKind(bad); !errors.Is(err, ErrInvalidKind) {
			t.Errorf("NewKind(%q) err = %v, want ErrInvalidKind", bad, err)
		}
	}
}

func TestParseBlobName(t *testing.T) {
	tests := []struct {
		name string
		want BlobLocation
		ok   bool
	}{
		{"t1/$TaskOutput/a/b.txt", BlobLocation{"t1", TaskOutput, "a/b.txt"}, true},
		{"$JobOutput/x", BlobLocation{"", JobOutput, "x"}, true},
		{"t1/$TaskLog/", BlobLocation{}, false},
		{"t1/notakind/x", BlobLocation{}, false},
		{"random.txt", BlobLocation{}, false},
		{"$/x", BlobLocation{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseBlobName(tt.name)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseBlobName(%q) = %+v, %v", tt.name, got, ok)
		}
	}
}

func TestRedact(t *testing.T) {
	in := `Put "http://h/c/b?se=2020&sig=abc%2Bdef&sp=r": dial tcp; AccountKey=Zm9v==;x SharedAccessSignature=sv=1&sig=q`
	out := redact(in)
	for _, secret := range []string{"abc%2Bdef", "Zm9v", "sig=q"} {
		if strings.Contains(out, secret) {
			t.Errorf("redact left %q in %q", secret, out)
		}
	}
	if !strings.Contains(out, "se=2020") {
		t.Errorf("redact removed too much: %q", out)
	}
	if RedactURL("https://a/b/c?sig=x") != "https://a/b/c" {
		t.Error("RedactURL kept the query")
	}
}
