// Package scheduler matches runnable tasks to node slots and applies the
// Batch rules when runs end: priority, maxParallelTasks, requiredSlots,
// spread/pack fill, dependencies, retries, exit conditions, job actions,
// onAllTasksComplete, and requeue of tasks whose node went silent.
//
// It is the server side of nodeproto: nodes pull work with Acquire (which is
// also their heartbeat) and report with Complete. All state lives in the
// store; the scheduler keeps only a wake-up channel and short-lived caches
// that the store's wake-ups drop.
//
// The scheduler depends on the service, never the other way: it calls the
// service's completion rules (AfterCompletion, ResolveDependencies,
// CheckAllComplete), job actions and reconcile passes, and learns of the
// service's changes from the store's wake-ups (store.Coordination).
package scheduler

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// Config tunes the scheduler.
type Config struct {
	// HeartbeatTimeout is how long a node may stay silent before it is
	// marked unknown and its tasks are requeued. Default 30s.
	HeartbeatTimeout time.Duration
	// HeartbeatInterval is how often idle nodes poll. Default 5s.
	HeartbeatInterval time.Duration
	// AccountName and AccountURL are given to nodes for AZ_BATCH_* variables.
	AccountName, AccountURL string
	// AccountKey derives and checks the nodes' own credentials
	// (nodeproto.NodeCredential). Without it nodes get none: in-process
	// nodes only.
	AccountKey []byte
	// AllowLinkLocalNodes lets nodes advertise link-local or cloud metadata
	// addresses, which are refused by default (nodeproto.ValidAddress).
	AllowLinkLocalNodes bool
}

// Scheduler hands out tasks and processes their outcomes.
type Scheduler struct {
	store store.Store
	svc   *service.Service
	log   *slog.Logger
	cfg   Config

	// id names this scheduler when it takes the store's leader lease.
	id string
	// notify holds a pending cross-server wake-up (see Kick and Run).
	notify chan struct{}

	mu   sync.Mutex
	wake chan struct{}
	// seen is when each node last called, kept in memory: the store has it
	// only to within a few heartbeat intervals.
	seen map[string]time.Time
	// nodes caches node records for polls (see cachedNode); pools caches
	// pools and their node lists for scheduling (see cachedPool).
	nodes map[string]cachedNode
	pools map[string]cachedPool
	// releaseCheck is when each node's pending release tasks were last
	// looked up.
	releaseCheck map[string]time.Time
	// leasing holds the tasks this process is leasing at this moment (see
	// assign): a hint that keeps its concurrent polls from all trying the
	// queue head, never the truth, which is the lease's transaction.
	leasing map[store.Candidate]struct{}
}

var _ nodeproto.Coordinator = (*Scheduler)(nil)

// New returns a scheduler over svc's store. The scheduler calls the
// service (completion rules, job actions, reconcile); the service never
// calls the scheduler: it signals changes through the store's Notify,
// which Run receives (see receiveWakeups).
func New(svc *service.Service, cfg Config) *Scheduler {
	if cfg.HeartbeatTimeout == 0 {
		cfg.HeartbeatTimeout = 30 * time.Second
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = 5 * time.Second
	}
	// A node heartbeats only when it calls Acquire, and Acquire may hold
	// the call for up to HeartbeatInterval: keep several calls within the
	// timeout so that a busy but healthy node is never declared lost.
	if limit := cfg.HeartbeatTimeout / 3; cfg.HeartbeatInterval > limit {
		cfg.HeartbeatInterval = limit
	}
	s := &Scheduler{store: svc.Store, svc: svc, log: svc.Log, cfg: cfg, id: newHolderID(), wake: make(chan struct{}), notify: make(chan struct{}, 1), seen: map[string]time.Time{}, nodes: map[string]cachedNode{}, pools: map[string]cachedPool{}, releaseCheck: map[string]time.Time{}, leasing: map[store.Candidate]struct{}{}}
	return s
}

// Kick wakes nodes waiting in Acquire, on this server and (through the
// store's Notify, sent by Run) on every other server sharing the database:
// there may be new work or new cancels.
func (s *Scheduler) Kick() {
	s.wakeLocal()
	select {
	case s.notify <- struct{}{}:
	default: // a notification is already due; it covers this one
	}
}

// wakeLocal wakes the nodes waiting in Acquire on this server.
func (s *Scheduler) wakeLocal() {
	s.mu.Lock()
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
}

func (s *Scheduler) wakeChan() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wake
}

func (s *Scheduler) now() time.Time { return s.svc.Now() }

// newHolderID names one scheduler process among the servers sharing a
// database: the host it runs on and a random suffix.
func newHolderID() string {
	host, _ := os.Hostname()
	var b [6]byte
	_, _ = rand.Read(b[:])
	return host + "/" + hex.EncodeToString(b[:])
}

// NewNodeID returns an ID in the shape of Azure's node IDs.
func NewNodeID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return "tvmps_" + hex.EncodeToString(b[:]) + "_d"
}

// Register adds a node to a pool.
func (s *Scheduler) Register(ctx context.Context, reg nodeproto.Registration) (*nodeproto.NodeConfig, error) {
	if reg.NodeID == "" {
		reg.NodeID = NewNodeID()
	}
	if err := nodeproto.ValidNodeID(reg.NodeID); err != nil {
		return nil, err
	}
	if err := nodeproto.ValidAddress(reg.Address, s.cfg.AllowLinkLocalNodes); err != nil {
		return nil, err
	}
	if len(reg.Resume) > nodeproto.MaxResume {
		return nil, fmt.Errorf("register node %s: %d leases to resume, at most %d", reg.NodeID, len(reg.Resume), nodeproto.MaxResume)
	}
	now := s.now()
	var (
		pool      *api.Pool
		cred      string
		restarted bool
	)
	// One transaction decides: two registrations at once of the same
	// node ID cannot both find it new.
	n, err := s.store.RegisterNode(ctx, reg.PoolID, reg.NodeID, func(p *api.Pool, old *store.Node) (*store.Node, error) {
		pool, restarted = p, old != nil
		gen := int64(1)
		if old != nil {
			if reg.ByJoinToken {
				// The join token lets a machine join, not take over a
				// node: that would requeue the node's tasks and redirect
				// its file service.
				return nil, nodeproto.ErrNodeExists
			}
			gen = max(old.CredentialGen, 1)
		}
		state := api.NodeStarting
		if p.StartTask == nil {
			state = api.NodeIdle
		}
		n := &store.Node{PoolID: p.ID, Root: reg.Root, Address: reg.Address, LastHeartbeat: now,
			Node: &api.ComputeNode{ID: reg.NodeID, State: state, SchedulingState: api.SchedulingEnabled,
				StateTransitionTime: api.T(now), LastBootTime: api.T(now), AllocationTime: api.T(now),
				IPAddress: reg.IPAddress, VMSize: p.VMSize, IsDedicated: reg.Dedicated, StartTask: p.StartTask,
				NodeAgentInfo: &api.NodeAgentInformation{Version: "openbatch", LastUpdateTime: now}}}
		cred = ""
		if s.cfg.AccountKey != nil {
			n.CredentialGen = gen
			cred = nodeproto.NodeCredential(s.cfg.AccountKey, p.ID, reg.NodeID, gen)
		}
		return n, nil
	})
	if err != nil {
		return nil, err
	}
	var resumed []nodeproto.Lease
	if restarted {
		// A node that restarts has lost its runs: its old leases are
		// requeued, but for those it says it is finishing (their process
		// exited before the restart) and still holds.
		resumed = s.requeueNode(ctx, reg.NodeID, "node agent restarted", reg.Resume...)
	}
	s.markSeen(n.Node.ID, now)
	s.dropNodeCache(n.Node.ID)
	if err := s.syncPoolCounts(ctx, pool.ID); err != nil {
		return nil, err
	}
	slots := 1
	if pool.TaskSlotsPerNode != nil {
		slots = int(*pool.TaskSlotsPerNode)
	}
	// Malformed userAccounts give no accounts (tasks naming one then fail
	// with a clear message) rather than a node that cannot register.
	users, _ := nodeproto.PoolUserAccounts(pool.UserAccounts)
	return &nodeproto.NodeConfig{NodeID: reg.NodeID, Resumed: resumed, Credential: cred, PoolID: pool.ID, VMSize: pool.VMSize, Slots: slots,
		StartTask: pool.StartTask, AccountName: s.cfg.AccountName, AccountURL: s.cfg.AccountURL,
		HeartbeatInterval: s.cfg.HeartbeatInterval, HeartbeatTimeout: s.cfg.HeartbeatTimeout, UserAccounts: users}, nil
}

// AuthorizeNode implements nodeproto.Authorizer from the node's record: the
// credential must be the one of the node's current generation, derived
// from the account key, so any server sharing the database can check it.
func (s *Scheduler) AuthorizeNode(ctx context.Context, poolID, nodeID, cred string) error {
	if s.cfg.AccountKey == nil || cred == "" {
		return errNodeCredential
	}
	n, err := s.cachedNode(ctx, poolID, nodeID)
	if errors.Is(err, store.ErrNotFound) {
		return nodeproto.ErrUnknownNode
	}
	if err != nil {
		return err
	}
	if n.CredentialGen == 0 || !nodeproto.CheckCredential(s.cfg.AccountKey, n.PoolID, n.Node.ID, n.CredentialGen, cred) {
		return errNodeCredential
	}
	return nil
}

var errNodeCredential = errors.New("wrong node credential")

var _ nodeproto.Authorizer = (*Scheduler)(nil)

// Leave implements nodeproto.Leaver: a drained node leaves its pool.
func (s *Scheduler) Leave(ctx context.Context, poolID, nodeID string) error {
	s.log.Info("node left its pool", "pool", poolID, "node", nodeID)
	return s.RemoveNode(ctx, poolID, nodeID)
}

var _ nodeproto.Leaver = (*Scheduler)(nil)

// RemoveNode deletes a node; its running tasks are requeued.
func (s *Scheduler) RemoveNode(ctx context.Context, poolID, nodeID string) error {
	s.forget(nodeID)
	s.requeueNode(ctx, nodeID, "node removed from pool")
	if err := s.store.DeleteNode(ctx, poolID, nodeID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.Kick()
	return s.syncPoolCounts(ctx, poolID)
}

// syncPoolCounts sets the pool's currentDedicatedNodes and
// currentLowPriorityNodes from its node list, ending its resize when they
// reach its targets. The list is read after the pool's row is locked
// (store.UpdatePoolWithNodes), so every node change, each followed by its
// own sync, is counted by the sync that writes last. (Counted outside the
// pool's update, 50 agents starting together once left a pool of 50 nodes
// at 45.)
func (s *Scheduler) syncPoolCounts(ctx context.Context, poolID string) error {
	_, err := s.store.UpdatePoolWithNodes(ctx, poolID, func(p *api.Pool, nodes []*store.Node) error {
		var ded, low int32
		for _, n := range nodes {
			if n.Node.IsDedicated {
				ded++
			} else {
				low++
			}
		}
		same := p.CurrentDedicatedNodes != nil && *p.CurrentDedicatedNodes == ded && p.CurrentLowPriorityNodes != nil && *p.CurrentLowPriorityNodes == low
		p.CurrentDedicatedNodes, p.CurrentLowPriorityNodes = api.I32(ded), api.I32(low)
		// A resize ends when the counts reach the targets.
		if settled := lifecycle.SettleAllocation(p, s.now()); same && !settled {
			return errNoChange
		}
		p.ETag = lifecycle.NextETag(p.ETag, s.now())
		p.LastModified = api.T(s.now())
		return nil
	})
	if errors.Is(err, errNoChange) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

var errNoChange = errors.New("no change")

// requeueNode returns every task leased to a node to the queue, except the
// running ones whose current lease is in keep; it returns those kept.
func (s *Scheduler) requeueNode(ctx context.Context, nodeID, why string, keep ...nodeproto.Lease) []nodeproto.Lease {
	rows, err := s.store.TasksOnNode(ctx, nodeID)
	if err != nil {
		s.log.Error("list tasks on lost node", "node", nodeID, "err", err)
		return nil
	}
	keepEpoch := make(map[string]int64, len(keep))
	for _, l := range keep {
		keepEpoch[strings.ToLower(l.JobID)+"/"+strings.ToLower(l.TaskID)] = l.Epoch
	}
	var kept []nodeproto.Lease
	for _, r := range rows {
		var held *nodeproto.Lease
		_, err := s.store.UpdateTask(ctx, r.JobID, r.Task.ID, func(row *store.TaskRow) error {
			held = nil
			if row.NodeID != nodeID || (row.Task.State != api.TaskRunning && row.Task.State != api.TaskPreparing) {
				return errNoChange
			}
			if e, ok := keepEpoch[strings.ToLower(row.JobID)+"/"+strings.ToLower(row.Task.ID)]; ok && e == row.Epoch && row.Task.State == api.TaskRunning {
				held = &nodeproto.Lease{JobID: row.JobID, TaskID: row.Task.ID, Epoch: row.Epoch}
				return errNoChange
			}
			return lifecycle.ApplyTask(row, lifecycle.Requeue, lifecycle.Change{Now: s.now()})
		})
		if err != nil && !errors.Is(err, errNoChange) {
			s.log.Error("requeue task", "job", r.JobID, "task", r.Task.ID, "err", err)
			continue
		}
		if held != nil {
			kept = append(kept, *held)
			s.log.Info("restarted node keeps a task whose process exited before the restart", "job", r.JobID, "task", r.Task.ID,
				"node", nodeID, "epoch", held.Epoch)
			continue
		}
		if err == nil {
			s.log.Info("requeued task", "job", r.JobID, "task", r.Task.ID, "node", nodeID, "reason", why)
		}
	}
	if len(rows) > 0 {
		s.Kick()
	}
	return kept
}

func (s *Scheduler) markSeen(nodeID string, t time.Time) {
	s.mu.Lock()
	s.seen[nodeID] = t
	s.mu.Unlock()
}

// lastSeen is when a node last called: from memory, or from the store for
// nodes not heard from since this server started.
func (s *Scheduler) lastSeen(n *store.Node) time.Time {
	s.mu.Lock()
	t, ok := s.seen[n.Node.ID]
	s.mu.Unlock()
	if ok && t.After(n.LastHeartbeat) {
		return t
	}
	return n.LastHeartbeat
}

func (s *Scheduler) forget(nodeID string) {
	s.mu.Lock()
	delete(s.seen, nodeID)
	delete(s.nodes, nodeID)
	clear(s.pools)
	s.mu.Unlock()
}

// dropNodeCache drops a node's cached record, and the cached node lists.
func (s *Scheduler) dropNodeCache(nodeID string) {
	s.mu.Lock()
	delete(s.nodes, nodeID)
	clear(s.pools)
	s.mu.Unlock()
}

// dropCaches drops every cached node and pool.
func (s *Scheduler) dropCaches() {
	s.mu.Lock()
	clear(s.nodes)
	clear(s.pools)
	s.mu.Unlock()
}
