package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/client"
	"github.com/openbatch/openbatch/internal/app"
	"github.com/openbatch/openbatch/internal/testenv"
)

// needRoot skips a test that needs an agent running as root (CI and the
// development machines run tests as root).
func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: an agent only runs tasks as other users when it runs as root; run the tests as root (as CI does) to check task isolation")
	}
}

// secureServer is an openbatch server with a private account key (not the
// public dev key), its join token in a 0600 file, and a data directory
// other users may traverse, so that only the files' own modes protect
// them.
type secureServer struct {
	srv       *app.Server
	c         *client.Client
	key       string
	tokenFile string
}

func startSecureServer(t *testing.T) *secureServer {
	t.Helper()
	raw := make([]byte, 64)
	if _, err := rand.Read(raw); err != nil {
		t.Fatal(err)
	}
	key := base64.StdEncoding.EncodeToString(raw)
	dataDir := t.TempDir()
	allowTraverse(t, filepath.Join(dataDir, "x"))
	if err := os.Chmod(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	logs := &testenv.SyncBuffer{}
	dumpOnFailure(t, "server log", logs)
	srv, err := app.Start(context.Background(), app.Config{
		Listen: "127.0.0.1:0", AccountName: "secure1", AccountKey: key, DataDir: dataDir,
		HeartbeatTimeout: heartbeatTimeout, HeartbeatInterval: 500 * time.Millisecond,
		Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	tokenFile, err := srv.WriteJoinTokenFile()
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(srv.Endpoint, "secure1", key)
	if err != nil {
		t.Fatal(err)
	}
	return &secureServer{srv: srv, c: c, key: key, tokenFile: tokenFile}
}

// startRootAgent starts `openbatch agent` as root with the join token both
// in a 0600 file in its node root (--token-file) and in its environment
// (OPENBATCH_TOKEN): the two places a task must not reach.
func startRootAgent(t *testing.T, s *secureServer, poolID, nodeID, root string) *agentProc {
	t.Helper()
	allowTraverse(t, root)
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	tokenFile := filepath.Join(root, "join-token")
	if err := os.WriteFile(tokenFile, []byte(s.srv.JoinToken+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	a := &agentProc{nodeID: nodeID, root: root, logs: &testenv.SyncBuffer{}, exited: make(chan struct{})}
	dumpOnFailure(t, "agent "+nodeID+" log", a.logs)
	a.cmd = exec.Command(openbatchBin, "agent", "--server", s.srv.Endpoint, "--pool", poolID, "--token-file", tokenFile,
		"--root", root, "--node-id", nodeID, "--log-level", "debug")
	a.cmd.Env = append(agentEnv(), "OPENBATCH_TOKEN="+s.srv.JoinToken)
	a.cmd.Stdout, a.cmd.Stderr = a.logs, a.logs
	a.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		_ = a.cmd.Wait()
		close(a.exited)
	}()
	t.Cleanup(func() { a.kill(t) })
	return a
}

// hostileScript tries every way a task could reach the node's secrets and
// prints what it got. Each attempt prints "READ <what>" or "DENIED <what>"
// followed by whatever it could read.
const hostileScript = `
try() { # what, command...
	what=$1; shift
	if out=$("$@" 2>/dev/null); then echo "READ $what"; printf '%s\n' "$out" | tr '\0' ' '; echo; else echo "DENIED $what"; fi
}
echo "uid=$(id -u)"
try parent-cmdline cat /proc/$PPID/cmdline
try parent-environ cat /proc/$PPID/environ
# every ancestor, up to init: the agent, its reaper's parent, the test
p=$PPID
while [ "$p" -gt 1 ]; do
	try "environ-of-$p" cat /proc/$p/environ
	try "mem-of-$p" head -c 64 /proc/$p/mem
	p=$(sed 's/.*) //' /proc/$p/stat | cut -d' ' -f2)
done
# every process on the machine
for e in /proc/[0-9]*/environ; do
	if cat "$e" >/dev/null 2>&1 && grep -q 'OPENBATCH_TOKEN' "$e" 2>/dev/null; then echo "READ token-environ $e"; cat "$e" | tr '\0' ' '; echo; fi
done
for f in "$AZ_BATCH_NODE_ROOT_DIR"/*; do [ -f "$f" ] && try "node-root-file-$(basename "$f")" cat "$f"; done
try node-volatile ls -la "$AZ_BATCH_NODE_ROOT_DIR/volatile"
try list-workitems ls "$AZ_BATCH_NODE_ROOT_DIR/workitems"
try list-data-dir ls "$DATA_DIR"
try database cat "$DATA_DIR/openbatch.db"
try database-wal cat "$DATA_DIR/openbatch.db-wal"
try server-token cat "$DATA_DIR/join-token"
try other-job-dir ls "$OTHER_JOB_DIR"
echo end-of-probe
`

// TestHostileTaskGetsNoCredential runs a task with default settings on an
// `openbatch agent` running as root; the task tries to read the join token
// and the account key from the agent's command line and environment (and
// every other process's), the agent's files, the server's data directory
// and database, and other jobs' directories. It must run as an
// unprivileged user, every read of a secret must fail, and its stdout must
// contain no credential.
func TestHostileTaskGetsNoCredential(t *testing.T) {
	needRoot(t)
	s := startSecureServer(t)
	setupPool(t, s.c, "pool", "victim")
	if err := s.c.AddJob(ctxT(t, 10*time.Second), &api.Job{ID: "hostile", PoolInfo: &api.PoolInformation{PoolID: "pool"}}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "node")
	startRootAgent(t, s, "pool", "node-h", root)
	waitNodesIdle(t, s.c, "pool", "node-h")
	ctx := ctxT(t, 60*time.Second)

	// Another job's task leaves a file behind.
	if err := s.c.AddTask(ctx, "victim", &api.Task{ID: "v1", CommandLine: `/bin/sh -c 'echo victim-data > mine.txt'`}); err != nil {
		t.Fatal(err)
	}
	waitTask(t, s.c, "victim", "v1", 30*time.Second, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })

	env := []api.EnvironmentSetting{
		{Name: "DATA_DIR", Value: s.srv.Config.DataDir},
		{Name: "OTHER_JOB_DIR", Value: filepath.Join(root, "workitems", "victim")},
	}
	if err := s.c.AddTask(ctx, "hostile", &api.Task{ID: "h1", CommandLine: "/bin/sh -c '" + strings.ReplaceAll(hostileScript, "'", `'"'"'`) + "'",
		EnvironmentSettings: env}); err != nil {
		t.Fatal(err)
	}
	tk := waitTask(t, s.c, "hostile", "h1", 30*time.Second, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })
	out, err := s.c.GetTaskFile(ctx, "hostile", "h1", "stdout.txt")
	if err != nil {
		t.Fatal(err)
	}
	got := string(out)
	t.Logf("hostile task (result %s) printed:\n%s", tk.ExecutionInfo.Result, got)
	if !strings.Contains(got, "end-of-probe") {
		t.Fatalf("the probe did not run to its end: %+v", tk.ExecutionInfo)
	}

	for name, secret := range map[string]string{"join token": s.srv.JoinToken, "account key": s.key} {
		if strings.Contains(got, secret) {
			t.Errorf("the task obtained the %s", name)
		}
	}
	if strings.Contains(got, "obj1.") {
		t.Error("the task's output holds something shaped like a join token (obj1.…)")
	}
	uid := autoUserUID(t)
	if !strings.Contains(got, fmt.Sprintf("uid=%d\n", uid)) {
		t.Errorf("the task did not run as %s (uid %d)", "_azbatch", uid)
	}
	// The data directory itself is left traversable and listable by this
	// test (startSecureServer): the database's and token's own modes must
	// protect them.
	for _, what := range []string{"parent-environ", "node-root-file-join-token", "node-volatile", "list-workitems",
		"database", "database-wal", "server-token", "other-job-dir"} {
		if !strings.Contains(got, "DENIED "+what+"\n") {
			t.Errorf("%s: not denied", what)
		}
	}
	for _, line := range strings.Split(got, "\n") {
		if strings.HasPrefix(line, "READ environ-of-") || strings.HasPrefix(line, "READ mem-of-") || strings.HasPrefix(line, "READ token-environ") {
			t.Errorf("the task read another process's memory or environment: %s", line)
		}
	}
	// Every file the agent keeps for itself in its root (a token file, a
	// node identity or credential file, its state in volatile/) was
	// denied, and no such file's content shows in the output.
	for _, f := range agentPrivateFiles(t, root) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if secret := strings.TrimSpace(string(b)); len(secret) >= 8 && strings.Contains(got, secret) {
			t.Errorf("the task obtained the content of the agent's %s", f)
		}
		if filepath.Dir(f) == root && !strings.Contains(got, "DENIED node-root-file-"+filepath.Base(f)+"\n") {
			t.Errorf("the agent's %s: not denied", f)
		}
	}
	// The agent's command line is readable (it is on every Linux system),
	// which is why it holds no secret.
	if !strings.Contains(got, "READ parent-cmdline\n") || !strings.Contains(got, "--token-file") {
		t.Errorf("expected the agent's command line (with --token-file, not the token) to be readable")
	}
}

// TestTaskElevation runs tasks on a root agent: elevationLevel admin runs
// as uid 0, the default and nonadmin auto users do not, and a pool user
// account runs as its own uid and gid. The start task (admin here) and the
// job preparation task (default) follow the same rule.
func TestTaskElevation(t *testing.T) {
	needRoot(t)
	s := startSecureServer(t)
	ctx := ctxT(t, 60*time.Second)
	const accountUID = 47911
	accounts := json.RawMessage(fmt.Sprintf(`[{"name":"obtestuser","password":"unused-Pa55","linuxUserConfiguration":{"uid":%d,"gid":%d}}]`, accountUID, accountUID))
	admin := &api.UserIdentity{AutoUser: &api.AutoUserSpecification{Scope: api.ScopePool, ElevationLevel: api.ElevationAdmin}}
	startTask := &api.StartTask{CommandLine: `/bin/sh -c 'id -u > "$AZ_BATCH_NODE_SHARED_DIR/start-uid"'`, UserIdentity: admin}
	if err := s.c.AddPool(ctx, &api.Pool{ID: "pool", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0), UserAccounts: accounts, StartTask: startTask}); err != nil {
		t.Fatal(err)
	}
	prep := &api.JobPreparationTask{CommandLine: `/bin/sh -c 'id -u > "$AZ_BATCH_NODE_SHARED_DIR/prep-uid"'`}
	if err := s.c.AddJob(ctx, &api.Job{ID: "job", PoolInfo: &api.PoolInformation{PoolID: "pool"}, JobPreparationTask: prep}); err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(t.TempDir(), "node")
	startRootAgent(t, s, "pool", "node-e", root)
	waitNodesIdle(t, s.c, "pool", "node-e")

	auto := func(scope api.AutoUserScope, level api.ElevationLevel) *api.UserIdentity {
		return &api.UserIdentity{AutoUser: &api.AutoUserSpecification{Scope: scope, ElevationLevel: level}}
	}
	// "auto" stands for the auto user's uid, known once the agent made it.
	cases := []struct {
		id   string
		user *api.UserIdentity
		want string
	}{
		{"default", nil, "auto"},
		{"nonadmin", auto(api.ScopePool, api.ElevationNonAdmin), "auto"},
		{"tasknonadmin", auto(api.ScopeTask, api.ElevationNonAdmin), "auto"},
		{"admin", auto(api.ScopePool, api.ElevationAdmin), "0"},
		{"named", &api.UserIdentity{UserName: "obtestuser"}, fmt.Sprintf("%d:%d", accountUID, accountUID)},
	}
	for _, tc := range cases {
		cmd := `/bin/sh -c 'id -u; touch own.txt && rm own.txt && echo wd-writable'`
		if tc.id == "named" {
			cmd = `/bin/sh -c 'echo $(id -u):$(id -g); touch own.txt && rm own.txt && echo wd-writable'`
		}
		if err := s.c.AddTask(ctx, "job", &api.Task{ID: tc.id, CommandLine: cmd, UserIdentity: tc.user}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		tk := waitTask(t, s.c, "job", tc.id, 30*time.Second, "completed", func(tk *api.Task) bool { return tk.State == api.TaskCompleted })
		out, err := s.c.GetTaskFile(ctx, "job", tc.id, "stdout.txt")
		if err != nil {
			t.Fatal(err)
		}
		want := tc.want
		if want == "auto" {
			want = fmt.Sprint(autoUserUID(t))
		}
		if want += "\nwd-writable\n"; string(out) != want || tk.ExecutionInfo.Result != api.ResultSuccess {
			t.Errorf("task %s: stdout %q, result %s; want %q, success", tc.id, out, tk.ExecutionInfo.Result, want)
		}
	}
	for file, want := range map[string]string{"start-uid": "0", "prep-uid": fmt.Sprint(autoUserUID(t))} {
		b, err := os.ReadFile(filepath.Join(root, "shared", file))
		if err != nil || strings.TrimSpace(string(b)) != want {
			t.Errorf("%s = %q, %v; want %s", file, b, err, want)
		}
	}
}

// agentPrivateFiles lists the regular files of a node root outside the
// directories tasks use: the agent's own files.
func agentPrivateFiles(t *testing.T, root string) []string {
	t.Helper()
	visible := map[string]bool{"shared": true, "startup": true, "workitems": true, "applications": true, "fsmounts": true}
	var files []string
	ents, err := os.ReadDir(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if visible[e.Name()] {
			continue
		}
		err := filepath.WalkDir(filepath.Join(root, e.Name()), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.Type().IsRegular() {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(files) == 0 {
		t.Fatal("the node root holds no file of the agent's: the test's token file is missing")
	}
	return files
}

// autoUserUID is the uid of the non-admin auto user, which the agent has
// created by the time a task ran.
func autoUserUID(t *testing.T) int {
	t.Helper()
	u, err := user.Lookup("_azbatch")
	if err != nil {
		t.Fatalf("the agent did not create the auto user: %v", err)
	}
	var uid int
	if _, err := fmt.Sscan(u.Uid, &uid); err != nil {
		t.Fatal(err)
	}
	return uid
}
