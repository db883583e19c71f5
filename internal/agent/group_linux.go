package agent

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// groupAlive reports whether a process of group pgid that is not a zombie
// exists, by reading /proc/*/stat. Zombies are dead: they only wait for
// their new parent to reap them.
func groupAlive(pgid int) bool {
	return len(groupMembers(pgid)) > 0
}

// groupMembers returns the PIDs of the live (non-zombie) processes of
// process group pgid. Tests use it to prove that a run left no process
// behind.
func groupMembers(pgid int) []int {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var pids []int
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...; comm may contain spaces and ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) < 3 || f[0] == "Z" || f[0] == "X" {
			continue
		}
		if g, err := strconv.Atoi(f[2]); err == nil && g == pgid {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			pids = append(pids, pid)
		}
	}
	return pids
}
