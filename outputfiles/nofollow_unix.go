//go:build unix

package outputfiles

import "syscall"

// oNoFollow makes opening the upload logs fail on a symbolic link: the task
// directory may belong to a less privileged user than the uploader.
const oNoFollow = syscall.O_NOFOLLOW
