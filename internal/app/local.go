package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/scheduler"
	"github.com/openbatch/openbatch/internal/service"
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
const CodeLocalNodeLimit = "AccountCoreQuotaReached"

// LocalNodes runs a pool's nodes as in-process agents: a pool's target node
// count becomes that many local nodes, each with its own root directory
// under the data directory.
type LocalNodes struct {
	ctx    context.Context
	sched  *scheduler.Scheduler
	runner *agent.Runner
	dir    string
	log    *slog.Logger
	store  store.Store
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

func newLocalNodes(ctx context.Context, sched *scheduler.Scheduler, st store.Store, cfg Config, _ *fileRouter) *LocalNodes {
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
	return &LocalNodes{ctx: ctx, sched: sched, coord: sched, runner: agent.NewRunner(rc), dir: filepath.Join(cfg.DataDir, "nodes"),
		log: cfg.Log, store: st, max: max, nodes: map[string]map[string]*localNode{}, removeWait: grace + time.Minute}
}

// room is how many nodes poolID may have: the maximum less the nodes of
// other pools. The caller holds l.mu.
func (l *LocalNodes) room(poolID string) int {
	others := 0
	for id, m := range l.nodes {
		if id != poolID {
			others += len(m)
		}
	}
	return max(l.max-others, 0)
}

// CheckTarget implements service.Capacity.
func (l *LocalNodes) CheckTarget(poolID string, target int) error {
	l.mu.Lock()
	room := l.room(poolID)
	l.mu.Unlock()
	if target > room {
		return fmt.Errorf("openbatch dev runs at most %d local nodes (%d are free for this pool); ask for at most %d, or raise --max-local-nodes (OPENBATCH_MAX_LOCAL_NODES)",
			l.max, room, room)
	}
	return nil
}

// restore restarts the local nodes of pools that existed before a restart,
// with their previous IDs and directories.
func (l *LocalNodes) restore(ctx context.Context, st store.Store) error {
	tok := ""
	for {
		pools, next, err := st.ListPools(ctx, store.Page{Token: tok})
		if err != nil {
			return err
		}
		for _, p := range pools {
			nodes, err := st.ListNodes(ctx, p.ID)
			if err != nil {
				return err
			}
			for _, n := range nodes {
				if n.Address == "" {
					l.startNode(p.ID, n.Node.ID, n.Node.IsDedicated)
				}
			}
			if err := l.Resize(ctx, p, service.TargetNodes(p)); err != nil {
				return err
			}
		}
		if next == "" {
			return nil
		}
		tok = next
	}
}

// Resize implements service.Provisioner.
//
// A target above the room left is clamped and the pool gets a resize error
// saying so; requests are refused before they get here (CheckTarget), so
// this happens only for targets stored by an older version.
func (l *LocalNodes) Resize(ctx context.Context, pool *api.Pool, target int) error {
	l.mu.Lock()
	if room := l.room(pool.ID); target > room {
		l.mu.Unlock()
		l.log.Warn("pool target exceeds the local node limit; clamped", "pool", pool.ID, "target", target, "nodes", room)
		msg := fmt.Sprintf("The pool's target of %d nodes exceeds what openbatch dev runs (%d free of %d); it has %d nodes. Resize it, or raise --max-local-nodes (OPENBATCH_MAX_LOCAL_NODES).",
			target, room, l.max, room)
		if _, err := l.store.UpdatePool(ctx, pool.ID, func(p *api.Pool) error {
			p.ResizeErrors = []api.ResizeError{{Code: CodeLocalNodeLimit, Message: msg}}
			return nil
		}); err != nil {
			return fmt.Errorf("record resize error of pool %s: %w", pool.ID, err)
		}
		target = room
		l.mu.Lock()
	}
	// The pool's dedicated and low-priority targets, low-priority nodes
	// given up first when the total is clamped.
	wantDed, wantLow := 0, 0
	if pool.TargetDedicatedNodes != nil {
		wantDed = int(*pool.TargetDedicatedNodes)
	}
	if pool.TargetLowPriorityNodes != nil {
		wantLow = int(*pool.TargetLowPriorityNodes)
	}
	if over := wantDed + wantLow - target; over > 0 {
		cut := min(over, wantLow)
		wantLow -= cut
		wantDed -= over - cut
	}
	var ded, low []string
	for id, n := range l.nodes[pool.ID] {
		if n.dedicated {
			ded = append(ded, id)
		} else {
			low = append(low, id)
		}
	}
	sort.Strings(ded)
	sort.Strings(low)
	var remove []string
	if len(ded) > wantDed {
		remove = append(remove, ded[:len(ded)-wantDed]...)
	}
	if len(low) > wantLow {
		remove = append(remove, low[:len(low)-wantLow]...)
	}
	l.mu.Unlock()
	for i := len(ded); i < wantDed; i++ {
		l.startNode(pool.ID, scheduler.NewNodeID(), true)
	}
	for i := len(low); i < wantLow; i++ {
		l.startNode(pool.ID, scheduler.NewNodeID(), false)
	}
	for _, id := range remove {
		l.removeNode(pool.ID, id)
		if err := l.sched.RemoveNode(ctx, pool.ID, id); err != nil {
			return err
		}
	}
	return nil
}

// RemovePool implements service.Provisioner.
func (l *LocalNodes) RemovePool(ctx context.Context, poolID string) error {
	l.mu.Lock()
	var ids []string
	for id := range l.nodes[poolID] {
		ids = append(ids, id)
	}
	l.mu.Unlock()
	for _, id := range ids {
		l.stopNode(poolID, id)
		if err := l.sched.RemoveNode(ctx, poolID, id); err != nil {
			return err
		}
		_ = os.RemoveAll(filepath.Join(l.dir, id))
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
		if err := w.Run(ctx); err != nil && ctx.Err() == nil {
			l.log.Error(fmt.Sprintf("local node %s stopped", nodeID), "err", err)
		}
	}()
}

func (l *LocalNodes) stopNode(poolID, nodeID string) {
	l.mu.Lock()
	ln := l.nodes[poolID][nodeID]
	delete(l.nodes[poolID], nodeID)
	l.mu.Unlock()
	if ln != nil {
		ln.cancel()
		<-ln.done
	}
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

// has reports whether nodeID is a local node of poolID.
func (l *LocalNodes) has(poolID, nodeID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	_, ok := l.nodes[poolID][nodeID]
	return ok
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

// nodeRemover removes named nodes. A local node's agent stops its tasks,
// uploads their failure outputs and leaves; the node is then deleted (its
// leftover tasks requeued). A remote node becomes leavingpool: its agent
// does the same on its next poll (scheduler.BeginRemoveNode).
type nodeRemover struct {
	local *LocalNodes
	sched *scheduler.Scheduler
	store store.Store
}

// RemoveNodes implements service.NodeRemover.
func (r nodeRemover) RemoveNodes(ctx context.Context, poolID string, ids []string) error {
	for _, id := range ids {
		if r.local != nil && r.local.has(poolID, id) {
			r.local.removeNode(poolID, id)
		} else {
			n, err := r.store.GetNode(ctx, poolID, id)
			if err == nil && n.Address != "" {
				if err := r.sched.BeginRemoveNode(ctx, poolID, id); err != nil {
					return err
				}
				continue
			}
		}
		if err := r.sched.RemoveNode(ctx, poolID, id); err != nil {
			return err
		}
	}
	return nil
}
