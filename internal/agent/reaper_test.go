//go:build linux

package agent

import (
	"fmt"
	"io"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// TestRunReaper: once its input closes, the reaper kills the groups it was
// told about and still lists, and leaves removed ones alone.
func TestRunReaper(t *testing.T) {
	start := func() *exec.Cmd {
		cmd := exec.Command("/bin/sh", "-c", "sleep 30 & sleep 30")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); _ = cmd.Wait() })
		return cmd
	}
	doomed, kept := start(), start()
	r, w := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- RunReaper(r) }()
	fmt.Fprintf(w, "+%d\n+%d\n-%d\n", doomed.Process.Pid, kept.Process.Pid, kept.Process.Pid)
	w.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for len(groupMembers(doomed.Process.Pid)) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("group %d still has %v", doomed.Process.Pid, groupMembers(doomed.Process.Pid))
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(groupMembers(kept.Process.Pid)) == 0 {
		t.Fatalf("removed group %d was touched: %v", kept.Process.Pid, groupMembers(kept.Process.Pid))
	}
}
