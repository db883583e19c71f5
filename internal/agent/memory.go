package agent

import (
	"runtime/debug"

	"github.com/openbatch/openbatch/outputfiles"
)

// releaseThreshold is the upload size from which the agent hands freed
// memory back to the operating system at once (see releaseUploadMemory).
const releaseThreshold = 64 << 20

// releaseUploadMemory returns the memory of a large upload to the operating
// system once it has finished. A large upload fills blob/azure's block
// buffers (64 MiB by default), which the pool drops when it goes idle; Go's
// background scavenger would hand those pages back only gradually, so the
// agent's RSS would stay near its peak for the next tasks (a 10,000-file
// upload that followed large ones started from 140 MB of RSS with a 20 MB
// heap). One forced collection per large upload is cheap next to moving
// 64 MiB; small uploads never pay it.
func releaseUploadMemory(up *outputfiles.Result) {
	if up != nil && up.Bytes >= releaseThreshold {
		debug.FreeOSMemory()
	}
}
