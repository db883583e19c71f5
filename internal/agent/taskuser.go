package agent

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// Names of the auto users, as on Azure Batch Linux nodes: the non-admin
// auto user every task runs as by default is "_azbatch"; the admin auto user
// is root.
const (
	// AutoUserName is the account of the non-admin auto user (scope pool or
	// task). The agent creates it, as a system account with its own group,
	// no home directory and no login shell, the first time a task needs it.
	AutoUserName = "_azbatch"
	// AdminUserName is the account admin tasks run as.
	AdminUserName = "root"
)

// UserAccount is a named user account of the node's pool, as the server
// sends it at registration (no password, no SSH key).
type UserAccount = nodeproto.UserAccount

// Identity is the operating-system user a run's process runs as.
type Identity struct {
	Name     string
	UID, GID uint32
	// Groups are the user's supplementary group IDs.
	Groups []uint32
}

// Admin reports whether the identity is root.
func (id *Identity) Admin() bool { return id.UID == 0 }

// userChoice is which account a run asks for, before the system is asked.
type userChoice struct {
	name     string
	admin    bool
	uid, gid *uint32
}

// chooseUser maps a userIdentity to an account. No identity, or an auto
// user with any scope and no elevation, is the non-admin auto user;
// elevationLevel admin is root. A userName must be one of the pool's user
// accounts; an account with elevationLevel admin still runs as its own user
// (its uid), not as root.
func chooseUser(ui *api.UserIdentity, accounts []UserAccount) (userChoice, error) {
	if ui == nil || ui.UserName == "" {
		if ui != nil && ui.AutoUser != nil && strings.EqualFold(string(ui.AutoUser.ElevationLevel), string(api.ElevationAdmin)) {
			return userChoice{name: AdminUserName, admin: true}, nil
		}
		return userChoice{name: AutoUserName}, nil
	}
	for _, a := range accounts {
		if a.Name == ui.UserName {
			if a.Name == AdminUserName || (a.UID != nil && *a.UID == 0) {
				return userChoice{}, fmt.Errorf("user account %q would run as root: use autoUser with elevationLevel admin instead", a.Name)
			}
			return userChoice{name: a.Name, uid: a.UID, gid: a.GID}, nil
		}
	}
	return userChoice{}, fmt.Errorf("user account %q is not one of the pool's userAccounts", ui.UserName)
}

// Users runs each task's process as the user its userIdentity names (see
// chooseUser), creating accounts that do not exist yet with useradd. It only
// has an effect when the agent runs as root: otherwise every task runs as
// the agent's own user and Resolve returns nil. A Users is safe for
// concurrent use; the zero value is not, use NewUsers.
type Users struct {
	mu    sync.Mutex
	known map[string]*Identity
	// run runs a user-management command (useradd, groupadd); tests replace it.
	run func(ctx context.Context, name string, args ...string) error
	// enabled is false when the agent is not root.
	enabled bool
}

// NewUsers returns a Users that switches users only if this process runs
// as root.
func NewUsers() *Users {
	return &Users{known: map[string]*Identity{}, run: runCommand, enabled: os.Geteuid() == 0}
}

// Enabled reports whether tasks run as their own users (the agent is root).
func (u *Users) Enabled() bool { return u != nil && u.enabled }

// Resolve returns the identity spec's process runs as, creating its account
// if needed, or nil when tasks run as the agent's user (u is nil or the
// agent is not root). A userIdentity that names no pool account is a
// UserError failure.
func (u *Users) Resolve(ctx context.Context, spec *Spec) (*Identity, error) {
	if !u.Enabled() {
		return nil, nil
	}
	c, err := chooseUser(spec.UserIdentity, spec.Node.UserAccounts)
	if err != nil {
		return nil, NewFailure(api.UserError, api.FailureCommandLaunchFailed, "The task's user identity cannot be used on this node", true, err,
			api.NameValuePair{Name: "Message", Value: err.Error()})
	}
	if c.admin {
		return &Identity{Name: AdminUserName}, nil
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if id, ok := u.known[c.name]; ok {
		return id, nil
	}
	id, err := lookupIdentity(c.name)
	if errors.As(err, new(user.UnknownUserError)) {
		if cerr := u.create(ctx, c); cerr != nil {
			// Another agent on this machine may have created it meanwhile.
			if id, err = lookupIdentity(c.name); err != nil {
				return nil, NewFailure(api.ServerError, api.FailureUnknown, "The node could not create the task's user account", true, cerr,
					api.NameValuePair{Name: "Message", Value: cerr.Error()})
			}
		} else {
			id, err = lookupIdentity(c.name)
		}
	}
	if err != nil {
		return nil, NewFailure(api.ServerError, api.FailureUnknown, "The node could not look up the task's user account", true, err)
	}
	if id.UID == 0 {
		return nil, NewFailure(api.UserError, api.FailureCommandLaunchFailed, "The task's user identity cannot be used on this node", true,
			fmt.Errorf("account %q has uid 0", c.name))
	}
	u.known[c.name] = id
	return id, nil
}

// create adds the account c names: a system account, no home directory, no
// login shell, in a group of its own unless the pool gives a gid.
func (u *Users) create(ctx context.Context, c userChoice) error {
	args := []string{"--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin"}
	if c.uid != nil {
		args = append(args, "--uid", strconv.FormatUint(uint64(*c.uid), 10))
	}
	switch {
	case c.gid != nil:
		gid := strconv.FormatUint(uint64(*c.gid), 10)
		if _, err := user.LookupGroupId(gid); err != nil {
			if err := u.run(ctx, "groupadd", "--system", "--gid", gid, c.name); err != nil {
				return err
			}
		}
		args = append(args, "--gid", gid)
	default:
		if _, err := user.LookupGroup(c.name); err == nil {
			args = append(args, "--gid", c.name)
		} else {
			args = append(args, "--user-group")
		}
	}
	return u.run(ctx, "useradd", append(args, c.name)...)
}

// lookupIdentity reads an account and its groups from the system database.
func lookupIdentity(name string) (*Identity, error) {
	usr, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	uid, err := strconv.ParseUint(usr.Uid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: uid %q: %w", name, usr.Uid, err)
	}
	gid, err := strconv.ParseUint(usr.Gid, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("user %s: gid %q: %w", name, usr.Gid, err)
	}
	id := &Identity{Name: name, UID: uint32(uid), GID: uint32(gid)}
	gids, _ := usr.GroupIds()
	for _, g := range gids {
		if n, err := strconv.ParseUint(g, 10, 32); err == nil && uint32(n) != id.GID {
			id.Groups = append(id.Groups, uint32(n))
		}
	}
	return id, nil
}

// runCommand runs a system tool, returning its output in the error when it
// fails (useradd says what was wrong there).
func runCommand(ctx context.Context, name string, args ...string) error {
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// CheckTraversable returns an error naming the first directory above the
// node root that other users cannot traverse: tasks running as their own
// users could not reach their task directories below it. (The root itself
// gets its mode from Layout.Init.)
func CheckTraversable(root string) error {
	dir := filepath.Dir(filepath.Clean(root))
	for {
		fi, err := os.Stat(dir)
		if err != nil {
			return err
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("tasks run as unprivileged users and cannot reach %s: %s is not traversable by other users (mode %04o); choose a node root outside it, or run `chmod o+x %s`",
				root, dir, fi.Mode().Perm(), dir)
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return nil
		}
		dir = parent
	}
}
