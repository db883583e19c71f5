// Package azurite finds and starts Azurite, the Azure Storage emulator,
// from the pinned npm package in tools/node. openbatch's tests, benchmarks
// and `openbatch demo` use it as a real Azure-compatible blob endpoint.
package azurite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// Well-known Azurite development account (public, documented by Microsoft).
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// Azurite is a running Azurite blob service.
type Azurite struct {
	// Endpoint is the blob service URL, e.g. http://127.0.0.1:41234/devstoreaccount1.
	Endpoint string
	// Account and Key are the shared-key credentials.
	Account, Key string
	cmd          *exec.Cmd
	dir          string
	log          *bytes.Buffer
}

// RepoRoot returns the directory holding go.mod, found upward from the
// working directory.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("go.mod not found above the working directory")
		}
		dir = parent
	}
}

// NodeBin returns the path of an executable named name, found in this order:
//
//  1. tools/node/node_modules/.bin/NAME (installed from tools/node's
//     package.json, so the pinned version) in the working directory or any
//     directory above it;
//  2. the same, above the directory of the running executable (so an
//     openbatch built into the repository finds it from any working
//     directory);
//  3. NAME on PATH (e.g. `npm install -g azurite`).
//
// The error says where it looked and how to install it.
func NodeBin(name string) (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if exe, err := os.Executable(); err == nil {
		if real, err := filepath.EvalSymlinks(exe); err == nil {
			exe = real
		}
		starts = append(starts, filepath.Dir(exe))
	}
	return findNodeBin(name, starts, exec.LookPath)
}

// findNodeBin is NodeBin with its inputs explicit: the directories to walk up
// from and the PATH lookup.
func findNodeBin(name string, starts []string, lookPath func(string) (string, error)) (string, error) {
	rel := filepath.Join("tools", "node", "node_modules", ".bin", name)
	for _, start := range starts {
		for dir := start; ; {
			p := filepath.Join(dir, rel)
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
				return p, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	if p, err := lookPath(name); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s is not installed: not found in %s above %q nor on PATH "+
		"(run scripts/setup.sh in the openbatch repository, or npm install -g azurite)", name, rel, starts)
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Start starts Azurite's blob service on a free port with on-disk
// storage under dir. Call Close when done.
func Start(ctx context.Context, dir string) (*Azurite, error) {
	bin, err := NodeBin("azurite-blob")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		a := &Azurite{
			Endpoint: fmt.Sprintf("http://127.0.0.1:%d/%s", port, Account),
			Account:  Account, Key: Key, dir: dir, log: &bytes.Buffer{},
		}
		// Started stock, as users start it: no flag that skips the API
		// version check or loosens validation. --silent only turns off the
		// access log (which would grow
		// a.log without bound) and --disableTelemetry only stops Azurite
		// phoning home; neither changes how a request is judged.
		a.cmd = exec.Command(bin, "--blobHost", "127.0.0.1", "--blobPort", fmt.Sprint(port),
			"--location", dir, "--disableTelemetry", "--silent")
		a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
		a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := a.cmd.Start(); err != nil {
			return nil, fmt.Errorf("start azurite: %w", err)
		}
		if lastErr = a.wait(ctx, port); lastErr == nil {
			return a, nil
		}
		a.Close()
	}
	return nil, lastErr
}

func (a *Azurite) wait(ctx context.Context, port int) error {
	deadline := time.Now().Add(30 * time.Second)
	exited := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(exited) }()
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("azurite exited early: %s", a.log.String())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("azurite did not listen on port %d within 30s", port)
}

// Close stops Azurite and its child processes.
func (a *Azurite) Close() {
	if a.cmd != nil && a.cmd.Process != nil {
		_ = syscall.Kill(-a.cmd.Process.Pid, syscall.SIGKILL)
	}
}
