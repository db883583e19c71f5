package demo

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/testenv"
)

// The README's first command must show tasks completing and their outputs
// landing in storage under the conventions names.
func TestDemoPersistsOutputs(t *testing.T) {
	_, err := testenv.NodeBin("azurite-blob")
	testenv.Require(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	if err := Run(ctx, Options{Tasks: 3, Out: &out, DataDir: t.TempDir()}); err != nil {
		t.Fatalf("demo: %v\n%s", err, out.String())
	}
	for _, want := range []string{
		"task-1/$TaskOutput/result.txt", "task-1/$TaskLog/stdout.txt", "task-2/$TaskOutput/result.txt",
		"task-3/$TaskLog/debug.log", "task-3/$TaskLog/stderr.txt", "FailureExitCode",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), "task-3/$TaskOutput") {
		t.Errorf("the failed task's tasksuccess output was uploaded:\n%s", out.String())
	}
}

func TestDemoWithoutAzuriteUsesLocalDirectory(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, cleanup, err := openLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer cleanup()
	if !strings.HasPrefix(st.url, "file:///") {
		t.Fatalf("local storage URL %q", st.url)
	}
	names, err := st.list(ctx)
	if err != nil || len(names) != 0 {
		t.Fatalf("fresh local storage lists %v, %v", names, err)
	}
}
