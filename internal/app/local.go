package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/provider"
	"github.com/openbatch/openbatch/internal/store"
)

// AgentOptions configure the node agents openbatch dev runs in-process.
type AgentOptions struct {
	// Runner is the task runner configuration (output steps, storage).
	Runner agent.Config
	// NoUploadOnEvict turns upload on eviction off by default for the
	// tasks of these agents (`openbatch agent --upload-on-evict=false`, so
	// per pool when a pool's agents are started so); a task's or job's
	// OPENBATCH_UPLOAD_ON_EVICT setting overrides it.
	NoUploadOnEvict bool
}

// DefaultMaxLocalNodes is how many local nodes openbatch dev runs at most
// unless configured: each is a polling agent in this process, so the
// default is sized for one machine.
const DefaultMaxLocalNodes = 64

// CodeLocalNodeLimit is the resize error recorded on a pool whose stored
// target exceeds what openbatch dev runs (e.g. a data directory written by
// an older version without the limit).
const CodeLocalNodeLimit = provider.CodeQuotaReached

// LocalNodes is the local node provider: a pool's nodes are agents run in
// this process, each with its own root directory under the data
// directory. The provider.Manager decides how many; LocalNodes starts and
// stops them.
type LocalNodes struct {
	ctx    context.Context
	runner *agent.Runner
	dir    string
	log    *slog.Logger
	max    int
	// removeWait bounds how long removing a node waits for its agent.
	removeWait time.Duration

	mu    sync.Mutex
	nodes map[string]map[string]*localNode // pool -> node ID -> node
	wg    sync.WaitGroup

	// coord is what the in-process agents report to: the scheduler, seen
	// through the metrics decorator.
	coord nodeproto.Coordinator
}

var (
	_ provider.Provider = (*LocalNodes)(nil)
	_ provider.Bounded  = (*LocalNodes)(nil)
)

type localNode struct {
	cancel context.CancelFunc
	// remove, closed, removes the node through its agent: running tasks
	// are stopped and their outputs uploaded before it leaves (see
	// agent.Worker.Remove).
	remove chan struct{}
	done   chan struct{}
	// dedicated is false for a low-priority (spot) node.
	dedicated bool
}

func newLocalNodes(ctx context.Context, coord nodeproto.Coordinator, cfg Config) *LocalNodes {
	rc := cfg.Agent.Runner
	if rc.Logger == nil {
		rc.Logger = cfg.Log
	}
	max := cfg.MaxLocalNodes
	if max <= 0 {
		max = DefaultMaxLocalNodes
	}
	grace := rc.EvictUploadGrace
	if grace <= 0 {
		grace = agent.DefaultEvictUploadGrace
	}
	return &LocalNodes{ctx: ctx, coord: coord, runner: agent.NewRunner(rc), dir: filepath.Join(cfg.DataDir, "nodes"),
		log: cfg.Log, max: max, nodes: map[string]map[string]*localNode{}, removeWait: grace + time.Minute}
}

// Room implements provider.Bounded: the maximum less the nodes of other
// pools.
func (l *LocalNodes) Room(poolID string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	others := 0
	for id, m := range l.nodes {
		if !strings.EqualFold(id, poolID) {
			others += len(m)
		}
	}
	return max(l.max-others, 0)
}

// RoomMessage implements provider.Bounded.
func (l *LocalNodes) RoomMessage(_ string, target, room int) string {
	return fmt.Sprintf("The pool's target of %d nodes exceeds what openbatch dev runs (%d free of %d). Ask for at most %d, or raise --max-local-nodes (OPENBATCH_MAX_LOCAL_NODES).",
		target, room, l.max, room)
}

// restore restarts the local nodes of pools that existed before a restart,
// with their previous IDs and directories; the provider.Manager then
// brings each pool to its target.
func (l *LocalNodes) restore(ctx context.Context, st store.Store, m *provider.Manager) error {
	tok := ""
	for {
		pools, next, err := st.ListPools(ctx, store.Page{Token: tok})
		if err != nil {
			return err
		}
		for _, p := range pools {
			if m.ProviderName(p) != provider.Local {
				continue
			}
			nodes, err := st.ListNodes(ctx, p.ID)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if n.Address == "" {
					l.startNode(p.ID, n.Node.ID, n.Node.IsDedicated)
				}
			}
			if err := m.ReconcileNodes(ctx, p, ""); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		tok = next
	}
}

// Instances implements provider.Provider.
func (l *LocalNodes) Instances(_ context.Context, poolID string) ([]provider.Instance, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []provider.Instance
	for id, n := range l.nodes[poolID] {
		out = append(out, provider.Instance{NodeID: id, Dedicated: n.dedicated})
	}
	return out, nil
}

// Launch implements provider.Provider.
func (l *LocalNodes) Launch(_ context.Context, spec provider.Spec) (provider.Instance, error) {
	l.startNode(spec.PoolID, spec.NodeID, spec.Dedicated)
	return provider.Instance{NodeID: spec.NodeID, Dedicated: spec.Dedicated}, nil
}

// Terminate implements provider.Provider: the node's agent is removed
// through itself (removeNode: it stops its running tasks, uploads their
// failure outputs and leaves), and its directory is removed.
func (l *LocalNodes) Terminate(_ context.Context, poolID string, inst provider.Instance) error {
	l.removeNode(poolID, inst.NodeID)
	if err := os.RemoveAll(filepath.Join(l.dir, inst.NodeID)); err != nil {
		return fmt.Errorf("remove the directory of node %s: %w", inst.NodeID, err)
	}
	return nil
}

func (l *LocalNodes) startNode(poolID, nodeID string, dedicated bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.nodes[poolID] == nil {
		l.nodes[poolID] = map[string]*localNode{}
	}
	if _, ok := l.nodes[poolID][nodeID]; ok {
		return
	}
	ctx, cancel := context.WithCancel(l.ctx)
	ln := &localNode{cancel: cancel, remove: make(chan struct{}), done: make(chan struct{}), dedicated: dedicated}
	l.nodes[poolID][nodeID] = ln
	w := &agent.Worker{Coord: l.coord, Runner: l.runner, Log: l.log, Remove: ln.remove,
		Registration: nodeproto.Registration{PoolID: poolID, NodeID: nodeID, Root: filepath.Join(l.dir, nodeID),
			IPAddress: "127.0.0.1", Dedicated: dedicated}}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer close(ln.done)
		err := w.Run(ctx)
		if err != nil && ctx.Err() == nil {
			l.log.Error(fmt.Sprintf("local node %s stopped", nodeID), "err", err)
		}
		if err == nil && ctx.Err() == nil {
			// The node left its pool by itself (removed through its agent,
			// nodeproto.Work.Remove): it is no instance any more, and its
			// directory goes as Terminate's would.
			l.forget(poolID, nodeID, ln)
		}
	}()
}

// removeNode removes a node as a resize down or a node removal does: its
// agent stops its running tasks, uploads their outputs (upload on
// eviction) and leaves. It is stopped at once if that takes longer than
// the upload grace and a margin (a start task still running, say).
func (l *LocalNodes) removeNode(poolID, nodeID string) {
	l.mu.Lock()
	ln := l.nodes[poolID][nodeID]
	delete(l.nodes[poolID], nodeID)
	l.mu.Unlock()
	if ln == nil {
		return
	}
	close(ln.remove)
	t := time.NewTimer(l.removeWait)
	defer t.Stop()
	select {
	case <-ln.done:
	case <-t.C:
		l.log.Warn("local node did not leave within the upload grace: stopping it", "node", nodeID)
		ln.cancel()
		<-ln.done
	}
}

// forget drops ln, a node whose agent left its pool, and removes its
// directory (unless a node of that ID was started again).
func (l *LocalNodes) forget(poolID, nodeID string, ln *localNode) {
	l.mu.Lock()
	mine := l.nodes[poolID][nodeID] == ln
	if mine {
		delete(l.nodes[poolID], nodeID)
	}
	l.mu.Unlock()
	if !mine {
		return
	}
	if err := os.RemoveAll(filepath.Join(l.dir, nodeID)); err != nil {
		l.log.Warn("remove the directory of a node that left its pool", "node", nodeID, "err", err)
	}
}

func (l *LocalNodes) stop() {
	l.mu.Lock()
	for _, m := range l.nodes {
		for _, n := range m {
			n.cancel()
		}
	}
	l.mu.Unlock()
	l.wg.Wait()
}
