//go:build unix

package agent

import (
	"os"
	"syscall"
	"time"

	"github.com/openbatch/openbatch/api"
)

// stopGroup asks process group pgid to stop: SIGTERM, then SIGKILL once
// grace has passed without the leader exiting. It returns after the leader
// has been waited for (done has delivered).
func stopGroup(pgid int, done <-chan error, grace time.Duration) {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	t := time.NewTimer(grace)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-done
	}
}

// killGroup SIGKILLs whatever is left of process group pgid and waits
// (up to 5 s) until no live member remains.
func killGroup(pgid int) {
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil {
		return // ESRCH: the group is empty
	}
	deadline := time.Now().Add(5 * time.Second)
	for groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// statistics converts the process's rusage into task statistics. The I/O
// figures are rusage block operations (inblock/oublock: 512-byte units of
// real storage I/O, page-cache hits excluded); they cover the process and
// the descendants it waited for.
func statistics(st *os.ProcessState, start, end time.Time) *api.TaskStatistics {
	s := &api.TaskStatistics{
		StartTime:      start.UTC(),
		LastUpdateTime: end.UTC(),
		WallClockTime:  api.Duration(end.Sub(start)),
	}
	if st == nil {
		return s
	}
	s.UserCPUTime = api.Duration(st.UserTime())
	s.KernelCPUTime = api.Duration(st.SystemTime())
	if ru, ok := st.SysUsage().(*syscall.Rusage); ok {
		s.ReadIOps = ru.Inblock
		s.WriteIOps = ru.Oublock
		s.ReadIOGiB = float64(ru.Inblock) * 512 / (1 << 30)
		s.WriteIOGiB = float64(ru.Oublock) * 512 / (1 << 30)
	}
	return s
}
