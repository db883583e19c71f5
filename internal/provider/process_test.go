package provider

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// fakeAgent writes a script standing in for `openbatch agent`: it records
// its argv and environment in its working directory (the node root) and
// then waits; with ignoreTerm it ignores SIGTERM, so only SIGKILL ends it.
func fakeAgent(t *testing.T, ignoreTerm bool) string {
	t.Helper()
	trap := ""
	if ignoreTerm {
		trap = "trap '' TERM\n"
	}
	p := filepath.Join(t.TempDir(), "fake-openbatch")
	script := "#!/bin/sh\n" + trap + `printf '%s\n' "$@" > argv.tmp && mv argv.tmp argv
env > env.tmp && mv env.tmp env
while :; do sleep 0.05; done
`
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

const testToken = "the-join-token-SECRET"

func newTestProcess(t *testing.T, c ProcessConfig, ignoreTerm bool) *Process {
	t.Helper()
	dir := t.TempDir()
	tok := filepath.Join(dir, "join-token")
	if err := os.WriteFile(tok, []byte(testToken), 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := NewProcess(c, AgentLaunch{Server: "http://127.0.0.1:1", TokenFile: tok, Agent: fakeAgent(t, ignoreTerm), RootDir: filepath.Join(dir, "nodes")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.Close)
	return p
}

// waitFile polls for a file the fake agent writes.
func waitFile(t *testing.T, path string) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, err := os.ReadFile(path)
		if err == nil {
			return string(b)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written: %v", path, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func ids(insts []Instance) []string {
	var out []string
	for _, in := range insts {
		out = append(out, in.NodeID)
	}
	return out
}

// TestProcessLifecycle launches agents, checks their identity and what
// they were given, terminates one, and relaunches it as the same node.
func TestProcessLifecycle(t *testing.T) {
	t.Setenv("OPENBATCH_ACCOUNT_KEY", "server-secret-key")
	p := newTestProcess(t, ProcessConfig{DrainGrace: "2s", AgentArgs: []string{"--log-level", "warn"}, Env: map[string]string{"FOO": "bar"}}, false)
	ctx := context.Background()
	for _, n := range []string{"n1", "n2"} {
		if _, err := p.Launch(ctx, Spec{PoolID: "Pool", NodeID: n, Dedicated: true}); err != nil {
			t.Fatal(err)
		}
	}
	again, err := p.Launch(ctx, Spec{PoolID: "pool", NodeID: "n1", Dedicated: true})
	if err != nil {
		t.Fatal(err)
	}
	insts, err := p.Instances(ctx, "POOL")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ids(insts), ","); got != "n1,n2" {
		t.Fatalf("instances %q, want n1,n2 (a second launch of a running node starts nothing)", got)
	}
	if again.Ref != insts[0].Ref {
		t.Errorf("relaunch of running n1 gave ref %s, want %s", again.Ref, insts[0].Ref)
	}
	if other, _ := p.Instances(ctx, "other"); len(other) != 0 {
		t.Errorf("pool other has instances %v", other)
	}

	root := filepath.Join(p.Config.RootDir, "n1")
	argv := waitFile(t, filepath.Join(root, "argv"))
	env := waitFile(t, filepath.Join(root, "env"))
	want := []string{"agent", "--server", "http://127.0.0.1:1", "--pool", "Pool", "--node-id", "n1", "--root", root,
		"--token-file", p.Config.TokenFile, "--drain-grace", "2s", "--log-level", "warn"}
	if got := strings.Fields(argv); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("argv %q, want %q", got, want)
	}
	for _, leak := range []string{testToken, "server-secret-key"} {
		if strings.Contains(argv, leak) || strings.Contains(env, leak) {
			t.Errorf("agent argv or environment holds %q", leak)
		}
	}
	if !strings.Contains(env, "FOO=bar\n") || !strings.Contains(env, "PATH=") {
		t.Errorf("agent environment lacks FOO or PATH:\n%s", env)
	}

	if err := p.Terminate(ctx, "pool", insts[0]); err != nil {
		t.Fatal(err)
	}
	waitExited(t, insts[0].Ref)
	if insts, _ = p.Instances(ctx, "pool"); strings.Join(ids(insts), ",") != "n2" {
		t.Fatalf("after terminating n1: instances %v", ids(insts))
	}
	if err := p.Terminate(ctx, "pool", Instance{NodeID: "n1"}); err != nil {
		t.Errorf("terminating an ended node: %v", err)
	}
	// The same node ID comes back with the same root.
	if err := os.Remove(filepath.Join(root, "argv")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Launch(ctx, Spec{PoolID: "pool", NodeID: "n1", Dedicated: true}); err != nil {
		t.Fatal(err)
	}
	if argv := waitFile(t, filepath.Join(root, "argv")); !strings.Contains(argv, "\nn1\n") {
		t.Errorf("relaunched argv %q lacks the node ID", argv)
	}

	p.Close()
	if insts, _ = p.Instances(ctx, "pool"); len(insts) != 0 {
		t.Errorf("after Close: instances %v", ids(insts))
	}
	if _, err := p.Launch(ctx, Spec{PoolID: "pool", NodeID: "n3", Dedicated: true}); err == nil {
		t.Error("Launch after Close started an agent")
	}
}

// TestProcessKillsAgentIgnoringSIGTERM: Terminate ends an agent that does
// not exit on SIGTERM with SIGKILL after killAfter.
func TestProcessKillsAgentIgnoringSIGTERM(t *testing.T) {
	p := newTestProcess(t, ProcessConfig{KillAfter: "100ms"}, true)
	ctx := context.Background()
	in, err := p.Launch(ctx, Spec{PoolID: "p", NodeID: "stubborn", Dedicated: true})
	if err != nil {
		t.Fatal(err)
	}
	waitFile(t, filepath.Join(p.Config.RootDir, "stubborn", "argv")) // the trap is set
	if err := p.Terminate(ctx, "p", in); err != nil {
		t.Fatal(err)
	}
	if insts, _ := p.Instances(ctx, "p"); len(insts) != 0 {
		t.Errorf("instances after terminate: %v", ids(insts))
	}
	waitExited(t, in.Ref)
}

// waitExited polls until the process pid (an Instance's Ref) is gone
// (killed and reaped by the provider).
func waitExited(t *testing.T, ref string) {
	t.Helper()
	pid, err := strconv.Atoi(ref)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for syscall.Kill(pid, 0) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("agent %d still running", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestProcessLaunchRefuses covers what Launch refuses before starting
// anything.
func TestProcessLaunchRefuses(t *testing.T) {
	p := newTestProcess(t, ProcessConfig{}, false)
	for _, tc := range []struct {
		name string
		spec Spec
		is   error
	}{
		{"low priority", Spec{PoolID: "p", NodeID: "a"}, ErrUnsupported},
		{"node ID with a slash", Spec{PoolID: "p", NodeID: "../a", Dedicated: true}, nil},
		{"empty node ID", Spec{PoolID: "p", Dedicated: true}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Launch(context.Background(), tc.spec)
			if err == nil || (tc.is != nil && !errors.Is(err, tc.is)) {
				t.Fatalf("Launch: %v, want an error (%v)", err, tc.is)
			}
			if insts, _ := p.Instances(context.Background(), "p"); len(insts) != 0 {
				t.Errorf("instances %v", ids(insts))
			}
		})
	}
	if room := p.Room("p"); room != defaultProcessMaxNodes {
		t.Errorf("room %d, want %d", room, defaultProcessMaxNodes)
	}
}

// TestParseProcessConfig checks the process provider's settings.
func TestParseProcessConfig(t *testing.T) {
	for _, tc := range []struct {
		name, json, err string
	}{
		{"defaults", `{"providers":{"p":{"type":"process"}}}`, ""},
		{"settings", `{"providers":{"p":{"type":"process","process":{"maxNodes":50,"drainGrace":"1s","killAfter":"5s","env":{"TMPDIR":"/tmp"}}}}}`, ""},
		{"process settings on slurm", `{"providers":{"p":{"type":"slurm","process":{}}}}`, "process settings on a slurm provider"},
		{"slurm settings on process", `{"providers":{"p":{"type":"process","slurm":{}}}}`, "slurm settings on a process provider"},
		{"too many nodes", `{"providers":{"p":{"type":"process","process":{"maxNodes":100000}}}}`, "maxNodes"},
		{"negative nodes", `{"providers":{"p":{"type":"process","process":{"maxNodes":-1}}}}`, "maxNodes"},
		{"bad duration", `{"providers":{"p":{"type":"process","process":{"killAfter":"soon"}}}}`, "killAfter"},
		{"OPENBATCH env", `{"providers":{"p":{"type":"process","process":{"env":{"OPENBATCH_TOKEN":"x"}}}}}`, "OPENBATCH_"},
		{"unknown field", `{"providers":{"p":{"type":"process","process":{"token":"x"}}}}`, "unknown field"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.json))
			if tc.err == "" {
				if err != nil {
					t.Fatal(err)
				}
				if c.Providers["p"].Process == nil {
					t.Error("process settings not defaulted")
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Fatalf("error %v, want one containing %q", err, tc.err)
			}
		})
	}
}
