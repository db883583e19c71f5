//go:build unix && !linux

package agent

import "syscall"

// groupAlive reports whether process group pgid has a member (zombies
// included: without /proc they cannot be told apart).
func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

// groupMembers is not available without /proc; it returns nil.
func groupMembers(pgid int) []int { return nil }
