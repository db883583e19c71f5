//go:build unix

package agent

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Pdeathsig kills a task's direct child when the agent dies (kill -9), but
// not the processes that child started: they would run on, unsupervised,
// while the server requeues the task elsewhere. A reaper closes that gap: a
// small process of its own session (so that a signal to the agent's process
// group does not reach it) that learns the task groups over a pipe from the
// agent and, when the pipe closes — the agent exited, however it died —
// SIGKILLs every group still listed, then exits.

var _ GroupTracker = (*Reaper)(nil)

// Reaper is the agent's end of a reaper process; it implements
// GroupTracker.
type Reaper struct {
	mu  sync.Mutex
	w   io.WriteCloser
	cmd *exec.Cmd
	log *slog.Logger
}

// StartReaper starts the reaper process argv (a command that calls
// RunReaper on its standard input, such as `openbatch agent-reaper`).
func StartReaper(argv []string, log *slog.Logger) (*Reaper, error) {
	if len(argv) == 0 {
		return nil, errors.New("start reaper: no command")
	}
	if log == nil {
		log = slog.Default()
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	w, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start reaper: %w", err)
	}
	return &Reaper{w: w, cmd: cmd, log: log}, nil
}

func (r *Reaper) send(op byte, pgid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.w == nil {
		return
	}
	if _, err := fmt.Fprintf(r.w, "%c%d\n", op, pgid); err != nil {
		r.log.Warn("reaper unreachable: task processes may outlive a crash of the agent", "err", err)
		r.w.Close()
		r.w = nil
	}
}

// Started implements GroupTracker.
func (r *Reaper) Started(pgid int) { r.send('+', pgid) }

// Ended implements GroupTracker.
func (r *Reaper) Ended(pgid int) { r.send('-', pgid) }

// Close closes the pipe (the reaper kills whatever groups are still
// listed) and waits for the reaper to exit.
func (r *Reaper) Close() error {
	r.mu.Lock()
	if r.w != nil {
		r.w.Close()
		r.w = nil
	}
	r.mu.Unlock()
	if err := r.cmd.Wait(); err != nil {
		return fmt.Errorf("reaper: %w", err)
	}
	return nil
}

// RunReaper is the reaper process's body: it reads "+PGID" and "-PGID"
// lines from in until end of file, then SIGKILLs every process group
// added and not removed, and returns. The reaper process should ignore
// SIGINT, SIGTERM and SIGHUP (IgnoreStopSignals) so that only the pipe
// ends it.
func RunReaper(in io.Reader) error {
	groups := map[int]bool{}
	sc := bufio.NewScanner(in)
	for sc.Scan() {
		line := sc.Text()
		if len(line) < 2 {
			continue
		}
		pgid, err := strconv.Atoi(line[1:])
		if err != nil || pgid <= 1 {
			continue
		}
		switch line[0] {
		case '+':
			groups[pgid] = true
		case '-':
			delete(groups, pgid)
		}
	}
	for pgid := range groups {
		killGroupNow(pgid)
	}
	if err := sc.Err(); err != nil && !errors.Is(err, os.ErrClosed) {
		return fmt.Errorf("reaper: read: %w", err)
	}
	return nil
}

// IgnoreStopSignals makes this process ignore SIGINT, SIGTERM and SIGHUP,
// for the reaper process.
func IgnoreStopSignals() { signal.Ignore(syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP) }

// killGroupNow SIGKILLs group pgid until it is empty (up to 2 s), so that
// a member forking at the moment of the first signal is caught too.
func killGroupNow(pgid int) {
	deadline := time.Now().Add(2 * time.Second)
	for syscall.Kill(-pgid, syscall.SIGKILL) == nil && groupAlive(pgid) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
