//go:build unix

package agent

import (
	"io/fs"
	"syscall"
)

// statOwner returns the uid owning a file.
func statOwner(fi fs.FileInfo) (uint32, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return 0, false
	}
	return st.Uid, true
}
