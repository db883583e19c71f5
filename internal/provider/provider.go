// Package provider turns a pool's target node counts into real nodes: node
// agents that join the pool. A Provider starts and ends the agents of one
// kind of infrastructure (in-process agents for openbatch dev, Slurm jobs);
// the Manager compares each pool's target with what its provider reports
// and acts, level-triggered, from the server's reconcile loop: it launches
// missing nodes, drains surplus ones through the node state leavingpool
// (honouring nodeDeallocationOption) and ends their instances once they run
// nothing, and removes nodes whose instance the provider lost.
//
// A pool with no provider is static: its nodes are agents started by hand,
// its target is informational, and the Manager says so in the pool's
// resizeErrors whenever target and nodes disagree.
package provider

import (
	"cmp"
	"context"
	"errors"
)

// Instance is one node a provider runs, or is starting, for a pool.
type Instance struct {
	// NodeID is the node's ID: the agent joins the pool with it, so the
	// node keeps its identity across agent restarts.
	NodeID string
	// Dedicated is false for a low-priority (spot) node.
	Dedicated bool
	// Ref is the provider's handle on the instance (a Slurm job ID).
	Ref string
}

// Spec is what a provider needs to launch one node.
type Spec struct {
	// PoolID and NodeID are the pool the agent joins and its node ID.
	PoolID, NodeID string
	// VMSize is the pool's vmSize, which the provider maps to resources.
	VMSize string
	// Dedicated is false for a low-priority node.
	Dedicated bool
}

// Provider starts and ends a pool's node agents on some infrastructure.
// Implementations must be safe for concurrent use; the Manager calls one
// pool's methods from one goroutine at a time.
type Provider interface {
	// Instances lists the nodes the provider runs or is starting for
	// poolID. An instance that ended (its process exited, its Slurm job
	// completed or was cancelled) is not listed.
	Instances(ctx context.Context, poolID string) ([]Instance, error)
	// Launch starts one node. It returns once the node is on its way (a
	// Slurm job may still be pending); the agent registers when it runs.
	Launch(ctx context.Context, spec Spec) (Instance, error)
	// Terminate ends an instance. It is called only after the node has
	// been drained (it runs no task), and must succeed for an instance
	// that has already ended.
	Terminate(ctx context.Context, poolID string, inst Instance) error
}

// Bounded is a Provider that can run only so many nodes for a pool
// (openbatch dev's in-process agents).
type Bounded interface {
	// Room is how many nodes poolID may have.
	Room(poolID string) int
	// RoomMessage says what to change when a target exceeds the room;
	// the Manager records it as a CodeQuotaReached resize error.
	RoomMessage(poolID string, target, room int) string
}

// ErrUnsupported is returned (wrapped) by Launch for a node the provider
// cannot make, e.g. a low-priority node where there is no such thing.
var ErrUnsupported = errors.New("not supported by this node provider")

// AgentLaunch says how a provider that starts `openbatch agent` itself
// (slurm, process) reaches the agent to the server: the server's URL as the
// agents see it, the file holding the node join token (mode 0600; only its
// path is ever passed, never the token), the openbatch binary, and the
// directory of the node roots (RootDir/NODE_ID). Paths are as seen where the
// agents run. Each is JSON in the provider's settings; left empty, the
// server's own (withDefaults).
type AgentLaunch struct {
	Server    string `json:"server,omitempty"`
	TokenFile string `json:"tokenFile,omitempty"`
	Agent     string `json:"agent,omitempty"`
	RootDir   string `json:"rootDir,omitempty"`
}

// withDefaults returns a with every empty setting taken from def.
func (a AgentLaunch) withDefaults(def AgentLaunch) AgentLaunch {
	return AgentLaunch{Server: cmp.Or(a.Server, def.Server), TokenFile: cmp.Or(a.TokenFile, def.TokenFile),
		Agent: cmp.Or(a.Agent, def.Agent), RootDir: cmp.Or(a.RootDir, def.RootDir)}
}
