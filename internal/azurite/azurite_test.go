package azurite

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFindNodeBin(t *testing.T) {
	root := t.TempDir()
	repo := filepath.Join(root, "repo")
	bin := filepath.Join(repo, "tools", "node", "node_modules", ".bin")
	deep := filepath.Join(repo, "cmd", "openbatch", "deep")
	elsewhere := filepath.Join(root, "elsewhere", "sub")
	for _, d := range []string{bin, deep, elsewhere, filepath.Join(root, "notexec", "tools", "node", "node_modules", ".bin")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	inRepo := filepath.Join(bin, "azurite-blob")
	if err := os.WriteFile(inRepo, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	notExec := filepath.Join(root, "notexec", "tools", "node", "node_modules", ".bin", "azurite-blob")
	if err := os.WriteFile(notExec, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	onPath := func(string) (string, error) { return "/usr/local/bin/azurite-blob", nil }
	notOnPath := func(string) (string, error) { return "", errors.New("not found") }

	for _, tc := range []struct {
		name   string
		starts []string
		look   func(string) (string, error)
		want   string // "" means an error
	}{
		{"working directory is the repository", []string{repo}, notOnPath, inRepo},
		{"working directory deep inside the repository", []string{deep}, notOnPath, inRepo},
		{"executable inside the repository, cwd elsewhere", []string{elsewhere, deep}, notOnPath, inRepo},
		{"repository preferred over PATH", []string{deep}, onPath, inRepo},
		{"only on PATH", []string{elsewhere}, onPath, "/usr/local/bin/azurite-blob"},
		{"a non-executable file is skipped", []string{filepath.Join(root, "notexec")}, notOnPath, ""},
		{"nowhere", []string{elsewhere}, notOnPath, ""},
	} {
		got, err := findNodeBin("azurite-blob", tc.starts, tc.look)
		if tc.want == "" {
			if err == nil {
				t.Errorf("%s: found %q, want an error", tc.name, got)
			} else if !strings.Contains(err.Error(), "npm install -g azurite") || !strings.Contains(err.Error(), "scripts/setup.sh") {
				t.Errorf("%s: error %q does not say how to install", tc.name, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("%s: got %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}
