package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/testenv"
)

// openbatchBin is the openbatch binary built once by TestMain.
var openbatchBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "openbatch-e2e-bin-*")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	openbatchBin = filepath.Join(dir, "openbatch")
	if err := testenv.BuildOpenbatch(openbatchBin); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build openbatch:", err)
		return 1
	}
	return m.Run()
}

// devServer is a running `openbatch dev` subprocess.
type devServer struct {
	Endpoint string
	DataDir  string
	Account  string
	Key      string

	cmd     *exec.Cmd
	log     *testenv.SyncBuffer
	exited  chan struct{}
	waitErr error
	stopped bool
}

// startDev starts `openbatch dev` on a free port with dataDir, waits until it
// accepts connections, and stops it (whole process group) when t ends.
func startDev(t testing.TB, dataDir string) *devServer {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ { // FreePort can race with other processes
		s, err := tryStartDev(dataDir)
		if err == nil {
			t.Cleanup(func() {
				if t.Failed() {
					t.Logf("openbatch dev output (last 8 KiB):\n%s", tail(s.log.String(), 8<<10))
				}
				s.Stop(t)
			})
			return s
		}
		lastErr = err
	}
	t.Fatalf("start openbatch dev: %v", lastErr)
	return nil
}

func tryStartDev(dataDir string) (*devServer, error) {
	port, err := testenv.FreePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	s := &devServer{Endpoint: "http://" + addr, DataDir: dataDir, Account: app.DevAccountName, Key: app.DevAccountKey,
		log: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	s.cmd = exec.Command(openbatchBin, "dev", "--listen", addr, "--data-dir", dataDir, "--log-level", "warn")
	s.cmd.Env = cleanEnv(nil)
	s.cmd.Stdout = s.log
	s.cmd.Stderr = s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-s.exited:
			return nil, fmt.Errorf("openbatch dev exited early (%v):\n%s", s.waitErr, s.log.String())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.kill()
			return nil, fmt.Errorf("openbatch dev did not listen on %s within 20s:\n%s", addr, s.log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop sends SIGTERM to the server's process group, waits up to 15 s for it
// to exit, then SIGKILLs the group. Safe to call more than once.
func (s *devServer) Stop(t testing.TB) {
	t.Helper()
	if s.stopped {
		return
	}
	s.stopped = true
	pid := s.cmd.Process.Pid
	_ = syscall.Kill(-pid, syscall.SIGTERM)
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		t.Errorf("openbatch dev (pid %d) did not exit within 15s of SIGTERM; killing it", pid)
		s.kill()
	}
	// Anything left in the group (task processes) goes too.
	_ = syscall.Kill(-pid, syscall.SIGKILL)
}

func (s *devServer) kill() {
	_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
	<-s.exited
}

// PeakRSSKB reads VmHWM (peak resident set size, KiB) of the server process.
func (s *devServer) PeakRSSKB() (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		}
	}
	return 0, errors.New("VmHWM not found in /proc/PID/status")
}

// Client returns the openbatch Go client for the server.
func (s *devServer) Client(t testing.TB) *client.Client {
	t.Helper()
	c, err := client.New(s.Endpoint, s.Account, s.Key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// cleanEnv returns the environment without variables that would point the
// clients somewhere else, plus extra.
func cleanEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "AZURE_") || strings.HasPrefix(name, "OPENBATCH_") || name == "NODE_PATH" || name == "NODE_OPTIONS" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}

// wrongKey is a valid base64 key that is not the account's.
const wrongKey = "AAAAL4t9bJBMx0NlczG9wynFhSJmxZFc2OwsgoL2qILfs4syynxUi5OPRKBkNApdicmDJJiZb4pdWkp2OEupiw=="

// eventually polls f every interval until it returns nil or timeout passes,
// then fails with f's last error.
func eventually(t testing.TB, timeout, interval time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not true after %v: %v", what, timeout, err)
		}
		time.Sleep(interval)
	}
}
