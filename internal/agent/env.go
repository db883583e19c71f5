package agent

import (
	"log/slog"
	"os"
	"os/user"
	"sort"
	"strconv"
	"strings"

	"github.com/openbatch/openbatch/api"
)

// DefaultPath is the PATH a task gets when Config.Path is empty: the usual
// Linux system directories, as a login shell of a fresh user would have.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// Environment is a task's environment, name → value.
type Environment map[string]string

// Environ returns the environment as sorted NAME=value strings, ready for
// exec.Cmd.Env.
func (e Environment) Environ() []string {
	out := make([]string, 0, len(e))
	for k, v := range e {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// baseEnvironment is the environment a task starts from, before AZ_BATCH_*
// and user settings. The agent's own environment is NOT inherited: it may
// hold the agent's credentials (storage keys, tokens) and would make a task
// behave differently under `openbatch dev` and `openbatch agent`. A task
// gets:
//
//	PATH     Config.Path, or DefaultPath
//	HOME     the task's working directory (tasks cannot pollute, or read,
//	         the agent user's home; caches such as ~/.cache stay per task)
//	PWD      the task's working directory
//	LANG     C.UTF-8
//	USER, LOGNAME  the user the agent runs as (tasks run as that user)
//
// plus each variable named in Config.PassEnv that is set in the agent's
// environment (e.g. TZ, http_proxy), then Config.ExtraEnv.
func baseEnvironment(cfg *Config, paths TaskPaths) Environment {
	env := Environment{
		"PATH": cfg.Path,
		"HOME": paths.WorkingDir,
		"PWD":  paths.WorkingDir,
		"LANG": "C.UTF-8",
	}
	if env["PATH"] == "" {
		env["PATH"] = DefaultPath
	}
	if u, err := user.Current(); err == nil {
		env["USER"], env["LOGNAME"] = u.Username, u.Username
	}
	for _, name := range cfg.PassEnv {
		if v, ok := os.LookupEnv(name); ok {
			env[name] = v
		}
	}
	for k, v := range cfg.ExtraEnv {
		env[k] = v
	}
	return env
}

// batchEnvironment returns the AZ_BATCH_* variables of a run (reference
// §6.2). JOB_ID and TASK_ID are absent for a start task; JOB_PREP_DIR and
// JOB_PREP_WORKING_DIR are set for tasks and the release task of a job that
// has a preparation task. Application packages, certificates installation,
// authentication tokens and multi-instance variables are not supported by
// local nodes and are not set.
func batchEnvironment(spec *Spec, paths TaskPaths) Environment {
	n := spec.Node
	l := n.Layout
	env := Environment{
		"AZ_BATCH_ACCOUNT_NAME":             n.AccountName,
		"AZ_BATCH_ACCOUNT_URL":              n.AccountURL,
		"AZ_BATCH_POOL_ID":                  n.PoolID,
		"AZ_BATCH_NODE_ID":                  n.NodeID,
		"AZ_BATCH_NODE_IS_DEDICATED":        strconv.FormatBool(n.IsDedicated),
		"AZ_BATCH_NODE_ROOT_DIR":            l.Root,
		"AZ_BATCH_NODE_SHARED_DIR":          l.SharedDir(),
		"AZ_BATCH_NODE_STARTUP_DIR":         l.StartupDir(),
		"AZ_BATCH_NODE_STARTUP_WORKING_DIR": l.StartupWorkingDir(),
		"AZ_BATCH_NODE_MOUNTS_DIR":          l.MountsDir(),
		"AZ_BATCH_TASK_DIR":                 paths.Dir,
		"AZ_BATCH_TASK_WORKING_DIR":         paths.WorkingDir,
		"AZ_BATCH_CERTIFICATES_DIR":         paths.Certs,
	}
	if n.ReservedDiskSpaceBytes > 0 {
		v := strconv.FormatInt(n.ReservedDiskSpaceBytes, 10)
		env["AZ_BATCH_RESERVED_DISK_SPACE_BYTES"] = v
		env["AZ_BATCH_TASK_RESERVED_EPHEMERAL_DISK_SPACE_BYTES"] = v
	}
	if spec.Kind != KindStartTask {
		env["AZ_BATCH_JOB_ID"] = spec.JobID
		env["AZ_BATCH_TASK_ID"] = spec.TaskID
	}
	if spec.JobPreparationTaskID != "" && (spec.Kind == KindTask || spec.Kind == KindJobRelease) {
		if prep, err := l.TaskPaths(spec.JobID, spec.JobPreparationTaskID); err == nil {
			env["AZ_BATCH_JOB_PREP_DIR"] = prep.Dir
			env["AZ_BATCH_JOB_PREP_WORKING_DIR"] = prep.WorkingDir
		}
	}
	return env
}

// BuildEnvironment computes the environment of a run. Layers, lowest first:
//
//  1. the base (see baseEnvironment; the agent's environment is not leaked),
//  2. the AZ_BATCH_* variables,
//  3. the job's commonEnvironmentSettings (not for start tasks),
//  4. the task's environmentSettings.
//
// A higher layer wins, except that a user setting never replaces an
// AZ_BATCH_* variable the node sets (it is ignored and logged): those
// describe the node and must stay true.
//
// User values (layers 3 and 4) may reference variables as $NAME or ${NAME}
// (NAME = [A-Za-z_][A-Za-z0-9_]*), like a POSIX shell but with no other
// expansion. A reference resolves to the variable's final, expanded value.
// A reference to the variable being defined resolves to the value from the
// layers below it, so PATH=/opt/bin:$PATH and, in a task,
// X=$X:more over a job's X work as expected. A reference that cannot be
// resolved stays literal, text unchanged: an undefined variable, a
// self-reference with nothing below it. A variable whose expansion runs
// into a loop (A=$B with B=$A, or C=$A next to them) is left entirely as
// written, so the result never depends on evaluation order. "$" not
// followed by a name, "$$" and an unclosed "${" are literal too.
func BuildEnvironment(cfg *Config, spec *Spec, paths TaskPaths, log *slog.Logger) Environment {
	base := baseEnvironment(cfg, paths)
	batch := batchEnvironment(spec, paths)
	for k, v := range batch {
		base[k] = v
	}
	layers := []Environment{base, {}, {}}
	if spec.Kind != KindStartTask {
		addSettings(layers[1], spec.JobEnvironment, batch, log)
	}
	addSettings(layers[2], spec.Environment, batch, log)
	return expandLayers(layers)
}

func addSettings(dst Environment, settings []api.EnvironmentSetting, reserved Environment, log *slog.Logger) {
	for _, s := range settings {
		if s.Name == "" || strings.ContainsAny(s.Name, "=\x00") {
			log.Warn("ignoring environment setting with an invalid name", "name", s.Name)
			continue
		}
		if _, ok := reserved[s.Name]; ok {
			log.Warn("ignoring environment setting that would replace a node variable", "name", s.Name)
			continue
		}
		dst[s.Name] = strings.ReplaceAll(s.Value, "\x00", "")
	}
}

// expandLayers flattens layers (lowest first) into one environment,
// expanding the references of every layer but the first.
func expandLayers(layers []Environment) Environment {
	x := &expander{layers: layers, memo: map[layerKey]memoEntry{}, active: map[layerKey]bool{}}
	top := len(layers) - 1
	out := Environment{}
	for _, l := range layers {
		for name := range l {
			out[name] = ""
		}
	}
	for name := range out {
		v, _ := x.resolve(name, top)
		out[name] = v
	}
	return out
}

type layerKey struct {
	name  string
	layer int
}

type memoEntry struct {
	value  string
	looped bool // its expansion ran into a loop
}

type expander struct {
	layers []Environment
	memo   map[layerKey]memoEntry
	active map[layerKey]bool
	loops  int // loops detected so far
}

// resolve returns the expanded value of name as seen from layers 0..max
// (the highest layer defining it wins). ok is false when no such layer
// defines name or when resolving it would close a loop.
func (x *expander) resolve(name string, max int) (string, bool) {
	layer := -1
	for i := max; i >= 0; i-- {
		if _, ok := x.layers[i][name]; ok {
			layer = i
			break
		}
	}
	if layer < 0 {
		return "", false
	}
	key := layerKey{name, layer}
	if m, ok := x.memo[key]; ok {
		if m.looped {
			x.loops++ // depending on it means depending on a loop
		}
		return m.value, true
	}
	if x.active[key] {
		x.loops++
		return "", false
	}
	raw := x.layers[layer][name]
	if layer == 0 {
		return raw, true
	}
	x.active[key] = true
	loops := x.loops
	v := expandRefs(raw, func(ref string) (string, bool) {
		if ref == name {
			return x.resolve(ref, layer-1)
		}
		return x.resolve(ref, len(x.layers)-1)
	})
	delete(x.active, key)
	looped := x.loops != loops
	if looped {
		v = raw // its expansion ran into a loop: leave it as written
	}
	x.memo[key] = memoEntry{value: v, looped: looped}
	return v, true
}

func isNameStart(c byte) bool { return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isNameChar(c byte) bool  { return isNameStart(c) || c >= '0' && c <= '9' }

// expandRefs replaces $NAME and ${NAME} in s with lookup(NAME); references
// lookup cannot resolve are kept as written.
func expandRefs(s string, lookup func(string) (string, bool)) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '$' || i+1 >= len(s) {
			b.WriteByte(s[i])
			continue
		}
		var name, text string
		if s[i+1] == '{' {
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				b.WriteByte(s[i])
				continue
			}
			name, text = s[i+2:i+2+end], s[i:i+3+end]
			if !validName(name) {
				b.WriteByte(s[i])
				continue
			}
		} else {
			j := i + 1
			for j < len(s) && isNameChar(s[j]) {
				j++
			}
			name, text = s[i+1:j], s[i:j]
			if !validName(name) {
				b.WriteByte(s[i])
				continue
			}
		}
		if v, ok := lookup(name); ok {
			b.WriteString(v)
		} else {
			b.WriteString(text)
		}
		i += len(text) - 1
	}
	return b.String()
}

func validName(n string) bool {
	if n == "" || !isNameStart(n[0]) {
		return false
	}
	for i := 1; i < len(n); i++ {
		if !isNameChar(n[i]) {
			return false
		}
	}
	return true
}
