package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/testenv"
)

// TestDemoFindsAzuriteFromAnyDirectory runs the built `openbatch demo` (a
// binary outside the repository) from a directory inside the repository,
// where it must find tools/node's Azurite by walking up, and from a
// directory outside it with azurite-blob only on PATH. Both runs must store
// their outputs in Azurite, not fall back to a local directory.
func TestDemoFindsAzuriteFromAnyDirectory(t *testing.T) {
	azBin, err := testenv.NodeBin("azurite-blob")
	testenv.Require(t, err)
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	pathDir := t.TempDir()
	if err := os.Symlink(azBin, filepath.Join(pathDir, "azurite-blob")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, dir, path string
	}{
		{"inside the repository", filepath.Join(root, "docs"), os.Getenv("PATH")},
		{"outside, on PATH", t.TempDir(), pathDir + string(os.PathListSeparator) + os.Getenv("PATH")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, openbatchBin, "demo", "--tasks", "1", "--data-dir", t.TempDir())
			cmd.Dir = tc.dir
			cmd.Env = append(os.Environ(), "PATH="+tc.path)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("openbatch demo in %s: %v\n%s", tc.dir, err, out)
			}
			if !strings.Contains(string(out), "Azurite blob storage running at") || strings.Contains(string(out), "Azurite is not installed") {
				t.Fatalf("openbatch demo in %s did not use Azurite:\n%s", tc.dir, out)
			}
			if !strings.Contains(string(out), "task-1/$TaskLog/stdout.txt") {
				t.Fatalf("openbatch demo in %s did not list the task's output:\n%s", tc.dir, out)
			}
		})
	}
}
