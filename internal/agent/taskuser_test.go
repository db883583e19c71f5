package agent

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/openbatch/openbatch/api"
)

func u32(v uint32) *uint32 { return &v }

func TestChooseUser(t *testing.T) {
	accounts := []UserAccount{
		{Name: "alice", UID: u32(5001), GID: u32(5001)},
		{Name: "bob", ElevationLevel: api.ElevationAdmin},
		{Name: "root"},
		{Name: "zero", UID: u32(0)},
	}
	auto := func(scope api.AutoUserScope, level api.ElevationLevel) *api.UserIdentity {
		return &api.UserIdentity{AutoUser: &api.AutoUserSpecification{Scope: scope, ElevationLevel: level}}
	}
	tests := []struct {
		name    string
		ui      *api.UserIdentity
		want    userChoice
		wantErr string
	}{
		{"no identity is the nonadmin auto user", nil, userChoice{name: AutoUserName}, ""},
		{"empty identity", &api.UserIdentity{}, userChoice{name: AutoUserName}, ""},
		{"pool nonadmin", auto(api.ScopePool, api.ElevationNonAdmin), userChoice{name: AutoUserName}, ""},
		{"task nonadmin", auto(api.ScopeTask, api.ElevationNonAdmin), userChoice{name: AutoUserName}, ""},
		{"no elevation given", auto(api.ScopePool, ""), userChoice{name: AutoUserName}, ""},
		{"admin is root", auto(api.ScopePool, api.ElevationAdmin), userChoice{name: AdminUserName, admin: true}, ""},
		{"admin any case", auto(api.ScopeTask, "Admin"), userChoice{name: AdminUserName, admin: true}, ""},
		{"named account with ids", &api.UserIdentity{UserName: "alice"}, userChoice{name: "alice", uid: u32(5001), gid: u32(5001)}, ""},
		{"named admin account keeps its own user", &api.UserIdentity{UserName: "bob"}, userChoice{name: "bob"}, ""},
		{"unknown account", &api.UserIdentity{UserName: "mallory"}, userChoice{}, "not one of the pool's userAccounts"},
		{"account named root", &api.UserIdentity{UserName: "root"}, userChoice{}, "would run as root"},
		{"account with uid 0", &api.UserIdentity{UserName: "zero"}, userChoice{}, "would run as root"},
		{"names are case-sensitive", &api.UserIdentity{UserName: "Alice"}, userChoice{}, "not one of"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := chooseUser(tt.ui, accounts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.name != tt.want.name || got.admin != tt.want.admin || !eqPtr(got.uid, tt.want.uid) || !eqPtr(got.gid, tt.want.gid) {
				t.Fatalf("chooseUser = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func eqPtr(a, b *uint32) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func TestUsersDisabledRunsAsAgent(t *testing.T) {
	for _, u := range []*Users{nil, {enabled: false}} {
		spec := &Spec{UserIdentity: &api.UserIdentity{AutoUser: &api.AutoUserSpecification{ElevationLevel: api.ElevationAdmin}}}
		id, err := u.Resolve(context.Background(), spec)
		if id != nil || err != nil {
			t.Fatalf("Resolve on a disabled Users = %+v, %v; want nil, nil", id, err)
		}
	}
}

func TestUsersUnknownAccountIsUserError(t *testing.T) {
	u := &Users{enabled: true, known: map[string]*Identity{}, run: func(context.Context, string, ...string) error {
		t.Fatal("no account may be created for an unknown userName")
		return nil
	}}
	_, err := u.Resolve(context.Background(), &Spec{UserIdentity: &api.UserIdentity{UserName: "nobody-in-pool"}})
	f, ok := err.(*Failure)
	if !ok || f.Info.Category != api.UserError || f.Info.Code != api.FailureCommandLaunchFailed || !f.PreProcessing {
		t.Fatalf("err = %#v, want a pre-processing UserError CommandLaunchFailed", err)
	}
}

func TestUsersCreateArguments(t *testing.T) {
	tests := []struct {
		name string
		c    userChoice
		want [][]string
	}{
		{"own group", userChoice{name: "_obtest_nosuch"}, [][]string{
			{"useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--user-group", "_obtest_nosuch"}}},
		{"uid and new gid", userChoice{name: "_obtest_nosuch", uid: u32(3999991), gid: u32(3999992)}, [][]string{
			{"groupadd", "--system", "--gid", "3999992", "_obtest_nosuch"},
			{"useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--uid", "3999991", "--gid", "3999992", "_obtest_nosuch"}}},
		{"existing gid", userChoice{name: "_obtest_nosuch", gid: u32(0)}, [][]string{
			{"useradd", "--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--gid", "0", "_obtest_nosuch"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [][]string
			u := &Users{run: func(_ context.Context, name string, args ...string) error {
				got = append(got, append([]string{name}, args...))
				return nil
			}}
			if err := u.create(context.Background(), tt.c); err != nil {
				t.Fatal(err)
			}
			if !slices.EqualFunc(got, tt.want, slices.Equal) {
				t.Fatalf("commands =\n%q\nwant\n%q", got, tt.want)
			}
		})
	}
}

func TestCheckTraversable(t *testing.T) {
	base := t.TempDir()
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	open := filepath.Join(base, "open")
	closed := filepath.Join(base, "closed")
	for d, mode := range map[string]os.FileMode{open: 0o711, closed: 0o700} {
		if err := os.Mkdir(d, mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(d, mode); err != nil {
			t.Fatal(err)
		}
	}
	// t.TempDir's own ancestors may be private too, so the 0711 case only
	// checks that the open directory is not the one blamed.
	if err := CheckTraversable(filepath.Join(closed, "root")); err == nil || !strings.Contains(err.Error(), closed+" is not traversable") {
		t.Errorf("below a 0700 directory: err = %v", err)
	}
	if err := CheckTraversable(filepath.Join(open, "root")); err != nil && strings.Contains(err.Error(), open+" is not") {
		t.Errorf("below a 0711 directory: err = %v", err)
	}
}

// TestOwnerStepStaysInTaskDir gives a task directory to another user while
// it holds symbolic links to files outside it: those files keep their
// owner. Needs root (chown).
func TestOwnerStepStaysInTaskDir(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change file owners")
	}
	dir := t.TempDir()
	outside := filepath.Join(dir, "outside.txt")
	if err := os.WriteFile(outside, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	paths := taskPaths(filepath.Join(dir, "task"))
	for _, d := range []string{paths.WorkingDir, filepath.Join(paths.WorkingDir, "sub")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(paths.WorkingDir, "sub", "res.txt"), []byte("r"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(paths.WorkingDir, "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(paths.WorkingDir, "dirlink")); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 3999993, 3999993
	run := &TaskRun{Paths: paths, User: &Identity{Name: "t", UID: uid, GID: gid}}
	if err := (ownerStep{}).Run(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	owner := func(p string) uint32 {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid
	}
	for _, p := range []string{paths.Dir, paths.WorkingDir, paths.Stdout, paths.Stderr, filepath.Join(paths.WorkingDir, "sub", "res.txt"), filepath.Join(paths.WorkingDir, "link")} {
		if got := owner(p); got != uid {
			t.Errorf("%s: owner %d, want %d", p, got, uid)
		}
	}
	if got := owner(outside); got != 0 {
		t.Errorf("a file outside the task directory changed owner to %d through a symbolic link", got)
	}
	if got := owner(dir); got != 0 {
		t.Errorf("the task directory's parent changed owner to %d through a symbolic link", got)
	}
}

// TestOpenLogRefusesSymlink: a task cannot make the agent append its
// output to another file by replacing stdout.txt with a symbolic link.
func TestOpenLogRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "stdout.txt")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if f, err := openLog(link); err == nil {
		f.Close()
		t.Fatal("openLog followed a symbolic link")
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Fatalf("target changed: %q", b)
	}
}

func TestLayoutModes(t *testing.T) {
	node := testNode(t)
	l := node.Layout
	if err := os.MkdirAll(l.VolatileDir(), 0o777); err != nil { // an older, looser node root
		t.Fatal(err)
	}
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	run := &TaskRun{Spec: &Spec{Kind: KindTask, Node: node, JobID: "job1", TaskID: "task1"}, cfg: &Config{}}
	var err error
	if run.Paths, err = l.TaskPaths("job1", "task1"); err != nil {
		t.Fatal(err)
	}
	if err := (taskDirStep{}).Run(context.Background(), run); err != nil {
		t.Fatal(err)
	}
	jobDir, _ := l.JobDir("job1")
	for path, want := range map[string]os.FileMode{
		l.Root: 0o755, l.SharedDir(): 0o777 | os.ModeSticky, l.VolatileDir(): 0o700, l.WorkItemsDir(): 0o711,
		filepath.Dir(jobDir): 0o711, jobDir: 0o711, run.Paths.Dir: 0o755,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode() & (os.ModePerm | os.ModeSticky); got != want {
			t.Errorf("%s: mode %v, want %v", path, got, want)
		}
	}
}

// A task directory the run creates is given to the task's user as it is
// made (the owner step then only opens the logs, without a walk); one
// that exists (a retry) is walked, so that what an earlier run left is the
// user's too. The job's directories are restricted again after the job
// directory was removed and made anew.
func TestTaskDirFreshAndReused(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to change file owners")
	}
	node := testNode(t)
	l := node.Layout
	if err := l.Init(); err != nil {
		t.Fatal(err)
	}
	const uid, gid = 3999991, 3999991
	owner := func(p string) uint32 {
		var st syscall.Stat_t
		if err := syscall.Lstat(p, &st); err != nil {
			t.Fatal(err)
		}
		return st.Uid
	}
	mode := func(p string) os.FileMode {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Mode().Perm()
	}
	runOnce := func(t *testing.T, wantFresh bool) *TaskRun {
		t.Helper()
		run := &TaskRun{Spec: &Spec{Kind: KindTask, Node: node, JobID: "job1", TaskID: "task1"}, cfg: &Config{}}
		var err error
		if run.Paths, err = l.TaskPaths("job1", "task1"); err != nil {
			t.Fatal(err)
		}
		if err := (taskDirStep{}).Run(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		if run.freshDir != wantFresh {
			t.Fatalf("freshDir = %v, want %v", run.freshDir, wantFresh)
		}
		// As the step does for a task user (Config.Users is not set here).
		run.User = &Identity{Name: "t", UID: uid, GID: gid}
		if run.freshDir {
			for _, d := range []string{run.Paths.Dir, run.Paths.WorkingDir, run.Paths.Certs} {
				if err := os.Lchown(d, uid, gid); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := (ownerStep{}).Run(context.Background(), run); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{run.Paths.Dir, run.Paths.WorkingDir, run.Paths.Certs, run.Paths.Stdout, run.Paths.Stderr} {
			if got := owner(p); got != uid {
				t.Errorf("%s: owner %d, want %d", p, got, uid)
			}
		}
		jobDir, _ := l.JobDir("job1")
		for _, d := range []string{jobDir, filepath.Dir(jobDir)} {
			if got := mode(d); got != traversePerm {
				t.Errorf("%s: mode %v, want %v", d, got, os.FileMode(traversePerm))
			}
		}
		return run
	}
	t.Run("fresh", func(t *testing.T) { runOnce(t, true) })
	t.Run("retry walks what the last run left", func(t *testing.T) {
		paths, _ := l.TaskPaths("job1", "task1")
		left := filepath.Join(paths.WorkingDir, "left.txt")
		if err := os.WriteFile(left, []byte("x"), 0o644); err != nil { // owned by root
			t.Fatal(err)
		}
		if err := os.WriteFile(paths.Stdout, []byte("first run\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		run := runOnce(t, false)
		if got := owner(left); got != uid {
			t.Errorf("%s: owner %d, want %d", left, got, uid)
		}
		if b, _ := os.ReadFile(run.Paths.Stdout); string(b) != "first run\n" {
			t.Errorf("stdout.txt of the earlier run: %q", b)
		}
	})
	t.Run("job directory made anew", func(t *testing.T) {
		if err := l.RemoveJobDir("job1"); err != nil {
			t.Fatal(err)
		}
		runOnce(t, true)
	})
}
