package testenv

import (
	"fmt"
	"net"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/internal/azurite"
)

// S3rver is a running s3rver (the npm S3-compatible test server pinned in
// tools/node/package.json), started stock on a free port with on-disk
// storage. Its fixed credentials are S3rverKey / S3rverSecret.
type S3rver struct {
	// Endpoint is e.g. http://127.0.0.1:41234.
	Endpoint string
	cmd      *exec.Cmd
	log      *SyncBuffer
	exited   chan struct{} // closed when the process has been waited for
	once     sync.Once
}

// s3rver's built-in account.
const (
	S3rverKey    = "S3RVER"
	S3rverSecret = "S3RVER"
)

// StartS3rver starts s3rver for the test and stops it at cleanup. When
// s3rver is not installed the test is skipped, or fails under
// OPENBATCH_REQUIRE_E2E=1 (see Require).
func StartS3rver(t testing.TB) *S3rver {
	t.Helper()
	bin, err := azurite.NodeBin("s3rver")
	Require(t, err)
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		port, err := azurite.FreePort()
		if err != nil {
			t.Fatal(err)
		}
		s := &S3rver{Endpoint: fmt.Sprintf("http://127.0.0.1:%d", port), log: &SyncBuffer{}, exited: make(chan struct{})}
		s.cmd = exec.Command(bin, "-d", t.TempDir(), "-a", "127.0.0.1", "-p", fmt.Sprint(port), "--silent")
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start s3rver: %v", err)
		}
		go func() { _ = s.cmd.Wait(); close(s.exited) }() // owned by Close, which waits for it
		if lastErr = s.wait(port); lastErr == nil {
			t.Cleanup(s.Close)
			return s
		}
		s.Close()
	}
	t.Fatal(lastErr)
	return nil
}

func (s *S3rver) wait(port int) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("s3rver exited early: %s", s.log.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("s3rver did not listen on port %d within 30s", port)
}

// Close stops s3rver and waits for it to exit.
func (s *S3rver) Close() {
	s.once.Do(func() {
		if s.cmd.Process != nil {
			_ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		}
		<-s.exited
	})
}
