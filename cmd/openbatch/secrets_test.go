package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/testenv"
)

func TestReadSecretFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name, path, want, wantErr string
	}{
		{"0600 with newline", write("ok", "obj1.secret\n", 0o600), "obj1.secret", ""},
		{"0400", write("ro", "  s2  ", 0o400), "s2", ""},
		{"group readable", write("g", "s", 0o640), "", "chmod 600"},
		{"world readable", write("w", "s", 0o644), "", "mode 0644"},
		{"empty", write("e", "\n", 0o600), "", "is empty"},
		{"missing", filepath.Join(dir, "nope"), "", "no such file"},
		{"directory", dir, "", "is a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readSecretFile("--token-file", tt.path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "obj1.") {
					t.Fatalf("the error shows the secret: %v", err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("= %q, %v; want %q", got, err, tt.want)
			}
		})
	}
}

// runCmd runs the openbatch command with args and returns its error and
// everything it printed.
func runCmd(t *testing.T, env map[string]string, args ...string) (string, error) {
	t.Helper()
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OPENBATCH_") {
			t.Setenv(strings.SplitN(kv, "=", 2)[0], "")
			os.Unsetenv(strings.SplitN(kv, "=", 2)[0])
		}
	}
	for k, v := range env {
		t.Setenv(k, v)
	}
	root := newRootCmd()
	out := &testenv.SyncBuffer{}
	root.SetOut(out)
	root.SetErr(out)
	root.SetArgs(args)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()
	// A server that starts runs until cancelled: stop it once its banner
	// is out.
	deadline := time.After(20 * time.Second)
	for {
		select {
		case err := <-done:
			return out.String(), err
		case <-deadline:
			cancel()
			<-done
			t.Fatalf("no banner within 20s:\n%s", out.String())
		case <-time.After(20 * time.Millisecond):
			if strings.Contains(out.String(), "AZURE_BATCH_ENDPOINT") {
				cancel()
				err := <-done
				return out.String(), err
			}
		}
	}
}

func TestAgentRefusesTokenOnCommandLine(t *testing.T) {
	out, err := runCmd(t, nil, "agent", "--server", "http://127.0.0.1:1", "--pool", "p", "--token", "obj1.secret-on-argv")
	if err == nil || !strings.Contains(err.Error(), "--token-file") || !strings.Contains(err.Error(), "OPENBATCH_TOKEN") {
		t.Fatalf("err = %v, want a refusal naming --token-file and OPENBATCH_TOKEN", err)
	}
	if strings.Contains(out+err.Error(), "secret-on-argv") {
		t.Fatal("the refusal repeats the token")
	}
}

func TestAgentRefusesReadableTokenFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(p, []byte("obj1.x"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := runCmd(t, nil, "agent", "--server", "http://127.0.0.1:1", "--pool", "p", "--token-file", p)
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("err = %v, want a refusal of a 0644 token file", err)
	}
}

func TestServerRefusesDevKey(t *testing.T) {
	_, err := runCmd(t, nil, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "--insecure-dev-key") || !strings.Contains(err.Error(), "--account-key-file") {
		t.Fatalf("err = %v, want a refusal of the public dev key naming the way out", err)
	}
}

// TestServerPrintsNeitherKeyNorToken starts `openbatch server` with a key
// from a file, from the environment and (with --print-token) and checks
// its output: the key never, the token only when asked, the token file's
// path always, and the file is 0600.
func TestServerPrintsNeitherKeyNorToken(t *testing.T) {
	const key = "c2VydmVyLXRlc3Qta2V5LXRoYXQtaXMtbm90LXRoZS1kZXYta2V5LTAxMjM0NTY3ODk="
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		env        map[string]string
		args       []string
		printToken bool
	}{
		{"key file", nil, []string{"--account-key-file", keyFile}, false},
		{"key in environment", map[string]string{"OPENBATCH_ACCOUNT_KEY": key}, nil, false},
		{"print token", nil, []string{"--account-key-file", keyFile, "--print-token"}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := t.TempDir()
			args := append([]string{"server", "--listen", "127.0.0.1:0", "--data-dir", data}, tt.args...)
			out, err := runCmd(t, tt.env, args...)
			if err != nil {
				t.Fatalf("server: %v\n%s", err, out)
			}
			tokenPath := filepath.Join(data, app.JoinTokenFileName)
			fi, err := os.Stat(tokenPath)
			if err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("token file: %v, %v; want mode 0600", fi, err)
			}
			b, _ := os.ReadFile(tokenPath)
			token := strings.TrimSpace(string(b))
			if !strings.HasPrefix(token, "obj1.") {
				t.Fatalf("token file holds %q", token)
			}
			if strings.Contains(out, key) {
				t.Errorf("output shows the account key:\n%s", out)
			}
			if strings.Contains(out, token) != tt.printToken {
				t.Errorf("output shows the token: %v, want %v:\n%s", !tt.printToken, tt.printToken, out)
			}
			if !strings.Contains(out, tokenPath) {
				t.Errorf("output does not say where the token is:\n%s", out)
			}
		})
	}
}

func TestServerWarnsOfKeyOnCommandLine(t *testing.T) {
	const key = "c2VydmVyLXRlc3Qta2V5LXRoYXQtaXMtbm90LXRoZS1kZXYta2V5LTAxMjM0NTY3ODk="
	out, err := runCmd(t, nil, "server", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir(), "--account-key", key)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "--account-key-file") || strings.Contains(out, key) {
		t.Fatalf("want a warning naming --account-key-file, without the key:\n%s", out)
	}
}
