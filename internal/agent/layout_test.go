package agent

import (
	"os"
	"path/filepath"
	"testing"
)

func TestLayoutPaths(t *testing.T) {
	l, err := NewLayout("/mnt/batch/tasks")
	if err != nil {
		t.Fatal(err)
	}
	p, err := l.TaskPaths("job-A", "task_1")
	if err != nil {
		t.Fatal(err)
	}
	want := TaskPaths{
		Dir:           "/mnt/batch/tasks/workitems/job-A/job-1/task_1",
		WorkingDir:    "/mnt/batch/tasks/workitems/job-A/job-1/task_1/wd",
		Stdout:        "/mnt/batch/tasks/workitems/job-A/job-1/task_1/stdout.txt",
		Stderr:        "/mnt/batch/tasks/workitems/job-A/job-1/task_1/stderr.txt",
		Certs:         "/mnt/batch/tasks/workitems/job-A/job-1/task_1/certs",
		FileUploadOut: "/mnt/batch/tasks/workitems/job-A/job-1/task_1/fileuploadout.txt",
		FileUploadErr: "/mnt/batch/tasks/workitems/job-A/job-1/task_1/fileuploaderr.txt",
	}
	if p != want {
		t.Errorf("TaskPaths = %+v\nwant %+v", p, want)
	}
	if s := l.StartTaskPaths(); s.Dir != "/mnt/batch/tasks/startup" || s.WorkingDir != "/mnt/batch/tasks/startup/wd" || s.Stdout != "/mnt/batch/tasks/startup/stdout.txt" {
		t.Errorf("StartTaskPaths = %+v", s)
	}
	if got := TaskRootDirectory("j", "t"); got != "workitems/j/job-1/t" {
		t.Errorf("TaskRootDirectory = %q", got)
	}
	for _, bad := range [][2]string{{"..", "t"}, {"j", ".."}, {"j", "a/b"}, {"", "t"}, {"j", ""}, {"j/../../x", "t"}, {"j", "t\x00"}} {
		if _, err := l.TaskPaths(bad[0], bad[1]); err == nil {
			t.Errorf("TaskPaths(%q, %q) accepted", bad[0], bad[1])
		}
	}
}

func TestLayoutInitAndNodesDoNotCollide(t *testing.T) {
	base := t.TempDir()
	a, _ := NewLayout(filepath.Join(base, "a"))
	b, _ := NewLayout(filepath.Join(base, "b"))
	for _, l := range []Layout{a, b} {
		if err := l.Init(); err != nil {
			t.Fatal(err)
		}
		for _, d := range []string{"shared", "startup", "startup/wd", "applications", "fsmounts", "volatile", "workitems"} {
			if fi, err := os.Stat(filepath.Join(l.Root, d)); err != nil || !fi.IsDir() {
				t.Errorf("%s/%s missing: %v", l.Root, d, err)
			}
		}
	}
	pa, _ := a.TaskPaths("j", "t")
	pb, _ := b.TaskPaths("j", "t")
	if pa.Dir == pb.Dir {
		t.Error("two nodes share a task directory")
	}
}

func TestRemoveTaskDirDoesNotFollowSymlinks(t *testing.T) {
	node := testNode(t)
	l := node.Layout
	outside := filepath.Join(t.TempDir(), "precious")
	if err := os.MkdirAll(outside, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(outside, "keep.txt"), []byte("x"), 0o644)
	p, _ := l.TaskPaths("j", "t")
	os.MkdirAll(p.WorkingDir, 0o755)
	if err := os.Symlink(outside, filepath.Join(p.WorkingDir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := l.RemoveTaskDir("j", "t"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p.Dir); !os.IsNotExist(err) {
		t.Errorf("task dir still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(outside, "keep.txt")); err != nil {
		t.Errorf("symlink target was deleted: %v", err)
	}
	if err := l.RemoveTaskDir("j", "t"); err != nil {
		t.Errorf("removing a missing task dir: %v", err)
	}
	p2, _ := l.TaskPaths("j", "t2")
	os.MkdirAll(p2.WorkingDir, 0o755)
	if err := l.RemoveJobDir("j"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(l.WorkItemsDir(), "j")); !os.IsNotExist(err) {
		t.Errorf("job dir still there: %v", err)
	}
	if err := l.RemoveJobDir("../x"); err == nil {
		t.Error("RemoveJobDir accepted ../x")
	}
}
