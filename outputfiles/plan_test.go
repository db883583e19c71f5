package outputfiles

import (
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/openbatch/openbatch/api"
)

func TestMatchSegment(t *testing.T) {
	for _, tc := range []struct {
		pat, name string
		want      bool
	}{
		{"*.txt", "a.txt", true}, {"*.txt", "a.txt.gz", false}, {"std*.txt", "stdout.txt", true},
		{"?.log", "a.log", true}, {"?.log", "ab.log", false}, {"?.log", "é.log", true},
		{"[abc].x", "b.x", true}, {"[abc].x", "d.x", false}, {"[a-c]1", "c1", true}, {"[a-c]1", "d1", false},
		{"[!abc].x", "d.x", true}, {"[!abc].x", "a.x", false}, {"[^abc].x", "a.x", false},
		{"abc[*]", "abc*", true}, {"abc[*]", "abcd", false},
		{"*.gif", ".a.gif", false}, {".*.gif", ".a.gif", true}, {"*", ".hidden", false},
		{"a*b*c", "aXXbYYc", true}, {"a*b*c", "aXXbYY", false}, {"*", "", true},
		{`a\b`, `a\b`, true}, {"{a,b}", "a", false}, {"{a,b}", "{a,b}", true},
		{"résumé*", "résumé final.pdf", true}, {"* *", "has space", true},
	} {
		if got := MatchSegment(tc.pat, tc.name); got != tc.want {
			t.Errorf("MatchSegment(%q, %q) = %v", tc.pat, tc.name, got)
		}
	}
}

func TestParsePattern(t *testing.T) {
	env := map[string]string{"OUT": "results", "AZ_BATCH_TASK_DIR": "/t", "EMPTY": ""}
	for _, tc := range []struct {
		pat, full, base string
		wild            bool
		unset           []string
	}{
		{"../std*.txt", "/t/std*.txt", "/t", true, nil},
		{"out.txt", "/t/wd/out.txt", "/t/wd", false, nil},
		{"**/*.txt", "/t/wd/**/*.txt", "/t/wd", true, nil},
		{"$OUT/*.csv", "/t/wd/results/*.csv", "/t/wd/results", true, nil},
		{"${OUT}x/a", "/t/wd/resultsx/a", "/t/wd/resultsx", false, nil},
		{"$AZ_BATCH_TASK_DIR/stdout.txt", "/t/stdout.txt", "/t", false, nil},
		{"$NOPE/x", "/t/wd/$NOPE/x", "/t/wd/$NOPE", false, []string{"NOPE"}},
		{"price$.txt", "/t/wd/price$.txt", "/t/wd", false, nil},
		{"/abs/dir/f[0-9].dat", "/abs/dir/f[0-9].dat", "/abs/dir", true, nil},
		{"a/./b/../c/*.x", "/t/wd/a/c/*.x", "/t/wd/a/c", true, nil},
	} {
		p, err := ParsePattern(tc.pat, "/t/wd", env)
		if err != nil {
			t.Errorf("%s: %v", tc.pat, err)
			continue
		}
		if p.Full != tc.full || p.Base != tc.base || p.Wildcard != tc.wild || !slices.Equal(p.Unset, tc.unset) {
			t.Errorf("ParsePattern(%q) = %+v", tc.pat, p)
		}
	}
	if _, err := ParsePattern("a[bc", "/t/wd", nil); err == nil {
		t.Error("unterminated class accepted")
	}
}

// taskFS is a task directory /t with wd /t/wd.
func taskFS() fstest.MapFS {
	f := func(s string) *fstest.MapFile { return &fstest.MapFile{Data: []byte(s)} }
	return fstest.MapFS{
		"t/stdout.txt":                f("out"),
		"t/stderr.txt":                f("err"),
		"t/fileuploadout.txt":         f(""),
		"t/wd/output.txt":             f("o"),
		"t/wd/.hidden.txt":            f("h"),
		"t/wd/a.gif":                  f(""),
		"t/wd/.a.gif":                 f(""),
		"t/wd/sub/x.txt":              f(""),
		"t/wd/sub/deep/y.txt":         f(""),
		"t/wd/sub/deep/z.csv":         f(""),
		"t/wd/.cache/c.txt":           f(""),
		"t/wd/data/f1.dat":            f(""),
		"t/wd/data/f2.dat":            f(""),
		"t/wd/data/fa.dat":            f(""),
		"t/wd/res ults/résumé ✓.txt":  f(""),
		"t/wd/emptydir":               &fstest.MapFile{Mode: fs.ModeDir},
		"t/wd/dir.txt":                &fstest.MapFile{Mode: fs.ModeDir},
		"t/wd/dir.txt/inner.bin":      f(""),
		"t/wd/results/2024/run1.json": f(""),
		"other/secret.txt":            f(""),
	}
}

func planner(m fstest.MapFS) Planner {
	return Planner{TaskDir: "/t", Env: map[string]string{"RUN": "run1", "AZ_BATCH_TASK_WORKING_DIR": "/t/wd"},
		FS: func(dir string) (fs.FS, error) {
			if dir == "/" {
				return m, nil
			}
			return fs.Sub(m, strings.TrimPrefix(dir, "/"))
		}}
}

func entry(pattern, path string) api.OutputFile {
	return api.OutputFile{FilePattern: pattern,
		Destination:   api.OutputFileDestination{Container: &api.OutputFileBlobContainerDestination{ContainerURL: "https://acc.blob.core.windows.net/c?sig=s", Path: path}},
		UploadOptions: api.OutputFileUploadOptions{UploadCondition: api.UploadOnCompletion}}
}

func TestPlanBlobNames(t *testing.T) {
	for _, tc := range []struct {
		pattern, path string
		want          []string // "file→blob", file relative to /t
	}{
		{"../std*.txt", "task1", []string{"stderr.txt→task1/stderr.txt", "stdout.txt→task1/stdout.txt"}},
		{"../std*.txt", "", []string{"stderr.txt→stderr.txt", "stdout.txt→stdout.txt"}},
		{"output.txt", "", []string{"wd/output.txt→output.txt"}},
		{"output.txt", "task1/result.txt", []string{"wd/output.txt→task1/result.txt"}},
		{"output.txt", `task1\out.txt`, []string{"wd/output.txt→task1/out.txt"}},
		{"output.txt", "task1/", []string{"wd/output.txt→task1/output.txt"}},
		{"missing.txt", "x", nil},
		{"**/*.txt", "p", []string{"wd/output.txt→p/output.txt", "wd/res ults/résumé ✓.txt→p/res ults/résumé ✓.txt",
			"wd/sub/deep/y.txt→p/sub/deep/y.txt", "wd/sub/x.txt→p/sub/x.txt"}},
		{"sub/**", "", []string{"wd/sub/deep/y.txt→deep/y.txt", "wd/sub/deep/z.csv→deep/z.csv", "wd/sub/x.txt→x.txt"}},
		{"sub/**/*.txt", "", []string{"wd/sub/deep/y.txt→deep/y.txt", "wd/sub/x.txt→x.txt"}},
		{"*/deep/*", "", []string{"wd/sub/deep/y.txt→sub/deep/y.txt", "wd/sub/deep/z.csv→sub/deep/z.csv"}},
		{"*.gif", "", []string{"wd/a.gif→a.gif"}},
		{".*.gif", "", []string{"wd/.a.gif→.a.gif"}},
		{".hidden.txt", "", []string{"wd/.hidden.txt→.hidden.txt"}},
		{".cache/*.txt", "", []string{"wd/.cache/c.txt→c.txt"}},
		{"data/f[0-9].dat", "d", []string{"wd/data/f1.dat→d/f1.dat", "wd/data/f2.dat→d/f2.dat"}},
		{"data/f[!0-9].dat", "d", []string{"wd/data/fa.dat→d/fa.dat"}},
		{"data/f?.dat", "", []string{"wd/data/f1.dat→f1.dat", "wd/data/f2.dat→f2.dat", "wd/data/fa.dat→fa.dat"}},
		{"results/*/$RUN.json", "", []string{"wd/results/2024/run1.json→2024/run1.json"}},
		{"$AZ_BATCH_TASK_WORKING_DIR/res ults/*", "u", []string{"wd/res ults/résumé ✓.txt→u/résumé ✓.txt"}},
		{"emptydir", "", nil},
		{"emptydir/*", "", nil},
		{"*.txt", "", []string{"wd/output.txt→output.txt"}}, // dir.txt is a directory: never uploaded
	} {
		plan := planner(taskFS()).Plan([]api.OutputFile{entry(tc.pattern, tc.path)}, ExitedWith(0))
		if err := plan.Entries[0].Err; err != nil {
			t.Errorf("%s: %v", tc.pattern, err)
			continue
		}
		var got []string
		for _, m := range plan.Uploads {
			got = append(got, strings.TrimPrefix(m.File, "/t/")+"→"+m.Blob)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("pattern %q path %q:\n got  %q\n want %q", tc.pattern, tc.path, got, tc.want)
		}
	}
}

func TestPlanRootsAndConditions(t *testing.T) {
	p := planner(taskFS())
	plan := p.Plan([]api.OutputFile{entry("../../other/secret.txt", ""), entry("/other/*.txt", "")}, ExitedWith(0))
	for i, ep := range plan.Entries {
		var pe *PatternError
		if ep.Err == nil || !errorsAs(ep.Err, &pe) || len(ep.Mappings) != 0 {
			t.Errorf("entry %d escaped the task dir: %+v", i, ep)
		}
	}
	p.ExtraRoots = []string{"/other"}
	plan = p.Plan([]api.OutputFile{entry("/other/*.txt", "")}, ExitedWith(0))
	if len(plan.Uploads) != 1 || plan.Uploads[0].Blob != "secret.txt" || plan.Uploads[0].Root != "/other" {
		t.Errorf("extra root: %+v", plan.Entries[0])
	}

	conds := []api.OutputFileUploadCondition{"tasksuccess", "TaskFailure", "taskcompletion"}
	for _, tc := range []struct {
		o    Outcome
		want []bool
	}{
		{ExitedWith(0), []bool{true, false, true}},
		{ExitedWith(3), []bool{false, true, true}},
		{Outcome{}, []bool{false, true, true}},
	} {
		for i, c := range conds {
			if got := ShouldUpload(c, tc.o); got != tc.want[i] {
				t.Errorf("ShouldUpload(%s, %v) = %v", c, tc.o, got)
			}
		}
	}
	e := entry("output.txt", "")
	e.UploadOptions.UploadCondition = api.UploadOnSuccess
	if plan := p.Plan([]api.OutputFile{e}, ExitedWith(1)); !plan.Entries[0].Skipped || len(plan.Uploads) != 0 {
		t.Errorf("tasksuccess uploaded after failure")
	}
}

func TestPlanCollisionLaterWins(t *testing.T) {
	a := entry("output.txt", "same.txt")
	b := entry("../stdout.txt", "same.txt")
	b.Destination.Container.ContainerURL = "https://ACC.blob.core.windows.net/c/?sig=other" // same container, other SAS
	c := entry("../stderr.txt", "same.txt")
	c.Destination.Container.ContainerURL = "https://acc.blob.core.windows.net/d?sig=s" // other container
	plan := planner(taskFS()).Plan([]api.OutputFile{a, b, c}, ExitedWith(0))
	var got []string
	for _, m := range plan.Uploads {
		got = append(got, fmt.Sprintf("%d:%s", m.Entry, m.Blob))
	}
	if !slices.Equal(got, []string{"1:same.txt", "2:same.txt"}) {
		t.Errorf("uploads %v", got)
	}
	if len(plan.Superseded) != 1 || plan.Superseded[0].Mapping.Entry != 0 || plan.Superseded[0].By != 1 {
		t.Errorf("superseded %+v", plan.Superseded)
	}
}
