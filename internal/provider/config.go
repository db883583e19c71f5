package provider

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/outputfiles"
)

// Built-in provider names, usable in rules without a providers entry.
const (
	// Static: agents started by hand; the target is informational.
	Static = "static"
	// Local: agents run inside the server process (openbatch dev).
	Local = "local"
)

// Provider types a Config's providers entries may have.
const (
	TypeStatic = "static"
	TypeLocal  = "local"
	TypeSlurm  = "slurm"
	// TypeProcess: agents run as child processes of the server.
	TypeProcess = "process"
	// TypeKubernetes is registered by internal/provider/kubernetes, which
	// only the openbatch binary imports (see Register).
	TypeKubernetes = "kubernetes"
)

// Limits of a configuration file, checked before it is used.
const (
	maxConfigBytes = 1 << 20
	maxRules       = 1000
	maxProviders   = 100
	maxVMSizes     = 1000
	// maxPatternBytes bounds a pool ID or vmSize pattern (pool IDs have
	// at most 64 characters).
	maxPatternBytes = 256
)

// Config is openbatch's node provider configuration (a JSON file given to
// `openbatch server --node-providers`): which provider makes the nodes of
// which pool, and each provider's settings. The pool JSON stays Azure's:
// a pool is matched by its ID or vmSize.
type Config struct {
	// Pools are the rules, tried in order; the first that matches a pool
	// names its provider. A pool no rule matches gets the default
	// provider (static for openbatch server, local for openbatch dev).
	Pools []Rule `json:"pools"`
	// Providers are the configured providers by name.
	Providers map[string]Settings `json:"providers"`
}

// Rule maps pools to a provider. Both patterns use the glob dialect of
// output file patterns (`*`, `?`, `[a-c]`), matched case-insensitively as
// Azure compares IDs; an empty pattern matches every pool.
type Rule struct {
	PoolID   string `json:"poolId,omitempty"`
	VMSize   string `json:"vmSize,omitempty"`
	Provider string `json:"provider"`
}

// Settings configure one provider.
type Settings struct {
	// Type is static, local, slurm, process or a registered type
	// (kubernetes).
	Type    string         `json:"type"`
	Slurm   *SlurmConfig   `json:"slurm,omitempty"`
	Process *ProcessConfig `json:"process,omitempty"`
	// Kubernetes holds a kubernetes provider's settings, which the
	// registered type checks (internal/provider/kubernetes).
	Kubernetes json.RawMessage `json:"kubernetes,omitempty"`
}

// Raw returns the settings of a registered type: the JSON under the key
// named like the type.
func (s Settings) Raw() json.RawMessage {
	if s.Type == TypeKubernetes {
		return s.Kubernetes
	}
	return nil
}

// LoadConfig reads a configuration file.
func LoadConfig(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("node providers: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxConfigBytes+1))
	if err != nil {
		return nil, fmt.Errorf("node providers: read %s: %w", path, err)
	}
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("node providers: %s is larger than %d bytes", path, maxConfigBytes)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("node providers: %s: %w", path, err)
	}
	return c, nil
}

// ParseConfig parses and checks a configuration. Unknown fields are
// refused, so a misspelt setting is not silently ignored.
func ParseConfig(b []byte) (*Config, error) {
	if len(b) > maxConfigBytes {
		return nil, fmt.Errorf("configuration is larger than %d bytes", maxConfigBytes)
	}
	var c Config
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if len(c.Pools) > maxRules {
		return nil, fmt.Errorf("%d pool rules; at most %d are allowed", len(c.Pools), maxRules)
	}
	if len(c.Providers) > maxProviders {
		return nil, fmt.Errorf("%d providers; at most %d are allowed", len(c.Providers), maxProviders)
	}
	for name, s := range c.Providers {
		if name == "" {
			return nil, fmt.Errorf("a provider has an empty name")
		}
		if s.Slurm != nil && s.Type != TypeSlurm {
			return nil, fmt.Errorf("provider %q: slurm settings on a %s provider", name, s.Type)
		}
		if s.Process != nil && s.Type != TypeProcess {
			return nil, fmt.Errorf("provider %q: process settings on a %s provider", name, s.Type)
		}
		if s.Kubernetes != nil && s.Type != TypeKubernetes {
			return nil, fmt.Errorf("provider %q: kubernetes settings on a %s provider", name, s.Type)
		}
		switch s.Type {
		case TypeStatic, TypeLocal:
		case TypeProcess:
			if s.Process == nil {
				s.Process = &ProcessConfig{}
				c.Providers[name] = s
			}
			if err := s.Process.check(); err != nil {
				return nil, fmt.Errorf("provider %q: %w", name, err)
			}
		case TypeSlurm:
			if s.Slurm == nil {
				s.Slurm = &SlurmConfig{}
				c.Providers[name] = s
			}
			if err := s.Slurm.check(); err != nil {
				return nil, fmt.Errorf("provider %q: %w", name, err)
			}
		default:
			t, ok := Registered(s.Type)
			if !ok {
				return nil, fmt.Errorf("provider %q: type %q; want static, local, slurm, process or kubernetes (kubernetes only in the openbatch binary)", name, s.Type)
			}
			if s.Slurm != nil || s.Process != nil {
				return nil, fmt.Errorf("provider %q: slurm or process settings on a %s provider", name, s.Type)
			}
			if err := t.Check(s.Raw()); err != nil {
				return nil, fmt.Errorf("provider %q: %w", name, err)
			}
		}
	}
	for i, r := range c.Pools {
		if _, ok := c.Providers[r.Provider]; !ok && r.Provider != Static && r.Provider != Local {
			return nil, fmt.Errorf("pools[%d]: provider %q is not defined (define it under providers, or use static or local)", i, r.Provider)
		}
		for _, p := range []string{r.PoolID, r.VMSize} {
			if len(p) > maxPatternBytes || strings.Contains(p, "/") {
				return nil, fmt.Errorf("pools[%d]: pattern %.40q: want at most %d bytes and no '/'", i, p, maxPatternBytes)
			}
		}
	}
	return &c, nil
}

// Match reports whether the rule applies to pool.
func (r Rule) Match(pool *api.Pool) bool {
	return globMatch(r.PoolID, pool.ID) && globMatch(r.VMSize, pool.VMSize)
}

// globMatch matches name against pattern case-insensitively; an empty
// pattern matches anything. It uses the output file pattern dialect so
// openbatch has one glob dialect.
func globMatch(pattern, name string) bool {
	return pattern == "" || outputfiles.MatchSegment(strings.ToLower(pattern), strings.ToLower(name))
}

// Resolve returns the name of the provider for pool: the first matching
// rule's, or def.
func (c *Config) Resolve(pool *api.Pool, def string) string {
	if c != nil {
		for _, r := range c.Pools {
			if r.Match(pool) {
				return r.Provider
			}
		}
	}
	return def
}

// MatchPattern matches name against a configuration pattern as rules do
// (case-insensitive glob, empty matches anything), for providers' own
// vmSize tables.
func MatchPattern(pattern, name string) bool { return globMatch(pattern, name) }
