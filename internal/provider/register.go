package provider

import (
	"encoding/json"
	"log/slog"
	"sync"
)

// Type is a provider type implemented in a sub-package of its own (the
// kubernetes provider) and registered by the binary that wants it. The
// registry keeps heavy client libraries (client-go) out of this package and
// of everything that imports it: only the sub-package and the binary that
// imports it pull them in.
type Type struct {
	// Check validates a providers entry's settings: the JSON under the
	// entry's key named like the type (nil when the key is absent). It
	// runs when the configuration is parsed, before the server starts.
	Check func(settings json.RawMessage) error
	// New builds the provider from settings Check accepted.
	New func(settings json.RawMessage, env Env) (Provider, error)
}

// Env is what the server gives a registered provider type's New.
type Env struct {
	// Name is the provider's name in the configuration.
	Name string
	// Server is the server's own endpoint.
	Server string
	Log    *slog.Logger
}

var (
	typesMu sync.RWMutex
	types   = map[string]Type{}
)

// Register makes a provider type usable in configurations. It is meant
// for init functions; registering a name twice, or a built-in one, panics
// (as database/sql.Register does), because it is a programming error.
func Register(name string, t Type) {
	typesMu.Lock()
	defer typesMu.Unlock()
	if _, dup := types[name]; dup || name == TypeStatic || name == TypeLocal || name == TypeSlurm {
		panic("provider: type " + name + " registered twice")
	}
	types[name] = t
}

// Registered returns the registered provider type name.
func Registered(name string) (Type, bool) {
	typesMu.RLock()
	defer typesMu.RUnlock()
	t, ok := types[name]
	return t, ok
}
