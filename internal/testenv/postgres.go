package testenv

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// Postgres is a PostgreSQL server started for tests from Debian's
// postgresql package: its own cluster in a temporary directory, on a free
// loopback port, stopped by Close.
type Postgres struct {
	// Port is the TCP port on 127.0.0.1.
	Port     int
	settings []string
	dir      string
	bin      string
	cred     *syscall.Credential
	cmd      *exec.Cmd
	log      *SyncBuffer
	n        atomic.Int64
}

// postgresBin finds a directory holding initdb and postgres: Debian puts
// them in /usr/lib/postgresql/VERSION/bin, outside PATH.
func postgresBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "postgres")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("PostgreSQL is not installed (scripts/setup.sh installs Debian's postgresql-15)")
}

// StartPostgres initialises a cluster under a new temporary directory and
// starts it. Run as root, the server runs as the "postgres" system user,
// since PostgreSQL refuses to run as root.
//
// The server runs with fsync, full_page_writes and synchronous_commit off.
// Crash (a process crash: the files the OS holds survive) then loses the
// transactions committed in the last moments before it, as a server with
// synchronous_commit off does; settings ("name=value") override these for
// a test that needs every acknowledged commit to survive Crash
// ("synchronous_commit=on").
func StartPostgres(ctx context.Context, settings ...string) (*Postgres, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "openbatch-postgres-")
	if err != nil {
		return nil, err
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres system user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	p := &Postgres{dir: dir, bin: bin, cred: cred, settings: settings, log: &SyncBuffer{}}
	out, err := p.command("initdb", "-D", p.dataDir(), "-U", "openbatch", "--auth=trust", "-E", "UTF8", "--no-sync").CombinedOutput()
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	var lastErr error
	for range 3 {
		if p.Port, err = FreePort(); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
		if lastErr = p.start(ctx); lastErr == nil {
			return p, nil
		}
	}
	os.RemoveAll(dir)
	return nil, lastErr
}

func (p *Postgres) dataDir() string { return filepath.Join(p.dir, "data") }

func (p *Postgres) command(name string, args ...string) *exec.Cmd {
	c := exec.Command(filepath.Join(p.bin, name), args...)
	c.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred, Setpgid: true, Pdeathsig: syscall.SIGKILL}
	c.Env = []string{"PATH=/usr/bin:/bin", "LANG=C.UTF-8"}
	return c
}

// start runs the postmaster on p.Port and waits until it takes
// connections; on failure it is stopped again.
func (p *Postgres) start(ctx context.Context) error {
	// fsync off: a test cluster that dies loses nothing anyone needs,
	// and it changes no query's meaning.
	args := []string{"-D", p.dataDir(), "-p", strconv.Itoa(p.Port), "-k", p.dir, "-c", "listen_addresses=127.0.0.1",
		"-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off", "-c", "max_connections=200"}
	for _, kv := range p.settings {
		args = append(args, "-c", kv) // the last setting of a name wins
	}
	p.cmd = p.command("postgres", args...)
	p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
	if err := p.cmd.Start(); err != nil {
		return fmt.Errorf("start postgres: %w", err)
	}
	if err := p.wait(ctx); err != nil {
		_ = p.cmd.Process.Kill()
		_ = p.cmd.Wait()
		return err
	}
	return nil
}

// Crash stops the server as a crash would: an immediate shutdown (SIGQUIT),
// which ends every connection at once, writes no checkpoint and leaves the
// next start to recover from the write-ahead log.
func (p *Postgres) Crash() error {
	if err := p.cmd.Process.Signal(syscall.SIGQUIT); err != nil {
		return err
	}
	_ = p.cmd.Wait()
	return nil
}

// Restart starts a server that Crash stopped, on the same port and data.
func (p *Postgres) Restart(ctx context.Context) error { return p.start(ctx) }

func (p *Postgres) wait(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p.Port), 200*time.Millisecond)
		if err == nil {
			c.Close()
			db, err := sql.Open("pgx", p.DSN("postgres"))
			if err == nil {
				err = db.PingContext(ctx)
				db.Close()
			}
			if err == nil {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("postgres did not start on port %d: %s", p.Port, bytes.TrimSpace([]byte(p.log.String())))
}

// DSN is the connection string of database name.
func (p *Postgres) DSN(name string) string {
	return fmt.Sprintf("postgres://openbatch@127.0.0.1:%d/%s?sslmode=disable", p.Port, name)
}

// NewDatabase creates an empty database and returns its DSN.
func (p *Postgres) NewDatabase(ctx context.Context) (string, error) {
	name := fmt.Sprintf("t%d_%d", os.Getpid(), p.n.Add(1))
	db, err := sql.Open("pgx", p.DSN("postgres"))
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return p.DSN(name), nil
}

// Close stops the server and removes its files.
func (p *Postgres) Close() {
	if p.cmd != nil && p.cmd.Process != nil {
		_ = p.cmd.Process.Signal(syscall.SIGINT) // fast shutdown
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = p.cmd.Process.Kill()
			<-done
		}
	}
	os.RemoveAll(p.dir)
}

var (
	sharedPG     *Postgres
	sharedPGErr  error
	sharedPGOnce sync.Once
)

// SharedPostgres starts one server for the whole test binary (call
// StopSharedPostgres from TestMain after m.Run) and returns it; a failure
// to start is returned to every caller.
func SharedPostgres() (*Postgres, error) {
	sharedPGOnce.Do(func() { sharedPG, sharedPGErr = StartPostgres(context.Background()) })
	return sharedPG, sharedPGErr
}

// StopSharedPostgres stops the server SharedPostgres started, if any.
func StopSharedPostgres() {
	if sharedPG != nil {
		sharedPG.Close()
	}
}
