package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// ownerStep gives the task's user what the agent wrote into the task
// directory for it (resource files, stdout.txt, stderr.txt), just before
// the process starts, so that the task can modify and delete its own
// files. It does nothing when tasks run as the agent's user.
//
// The walk goes through an os.Root opened on the task directory: a
// symbolic link a task left behind (or a process still running from an
// earlier run swaps in) can never make the agent change the owner of a file
// outside the task directory.
type ownerStep struct{}

func (ownerStep) Name() string { return "owner" }

func (ownerStep) Run(_ context.Context, run *TaskRun) error {
	id := run.User
	if id == nil {
		return nil
	}
	uid, gid := int(id.UID), int(id.GID)
	for _, p := range []string{run.Paths.Stdout, run.Paths.Stderr} {
		f, err := openLog(p)
		if err != nil {
			return launchFailure("The task's "+p+" could not be created", err)
		}
		if run.freshDir {
			// Through the open file: no path to follow.
			err = f.Chown(uid, gid)
		}
		f.Close()
		if err != nil {
			return dirFailure(fmt.Errorf("give %s to user %s: %w", p, id.Name, err))
		}
	}
	if run.freshDir {
		// The directories were given away when they were made, and
		// nothing else is in them.
		return nil
	}
	root, err := os.OpenRoot(run.Paths.Dir)
	if err != nil {
		return dirFailure(fmt.Errorf("open task directory: %w", err))
	}
	defer root.Close()
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // removed meanwhile by a leftover process
			}
			return err
		}
		info, err := d.Info()
		if err != nil {
			return nil
		}
		if st, ok := statOwner(info); ok && st == id.UID {
			return nil
		}
		if err := root.Lchown(p, uid, gid); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	})
	if err != nil {
		return dirFailure(fmt.Errorf("give the task's files to user %s: %w", id.Name, err))
	}
	return nil
}
