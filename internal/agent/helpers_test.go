package agent

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func testLogger(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func testNode(t *testing.T) Node {
	t.Helper()
	l, err := NewLayout(filepath.Join(t.TempDir(), "node"))
	if err != nil {
		t.Fatal(err)
	}
	return Node{AccountName: "acct", AccountURL: "http://127.0.0.1:1/", PoolID: "pool1", NodeID: "node1", IsDedicated: true, Layout: l}
}

func testRunner(t *testing.T, mod func(*Config)) *Runner {
	cfg := Config{Logger: testLogger(t), KillGrace: 300 * time.Millisecond}
	if mod != nil {
		mod(&cfg)
	}
	return NewRunner(cfg)
}

func taskSpec(node Node, cmd string) Spec {
	return Spec{Kind: KindTask, Node: node, JobID: "job1", TaskID: "task1", CommandLine: cmd}
}

func readFile(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// envLines parses `env` output into a map.
func envLines(s string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}
