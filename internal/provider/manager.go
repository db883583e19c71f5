package provider

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
	"github.com/openbatch/openbatch/internal/store"
)

// Resize error codes the Manager records on pools. It owns these codes:
// each pass replaces the pool's errors with these codes by what it found,
// and leaves errors with other codes alone.
const (
	// CodeNoNodeProvider: no provider acts on the pool's target (static).
	CodeNoNodeProvider = "NoNodeProvider"
	// CodeAllocationFailed: the provider failed to start a node, as
	// Azure's resize error when VMs cannot be allocated.
	CodeAllocationFailed = "AllocationFailed"
	// CodeQuotaReached: a Bounded provider has no room for the target,
	// as Azure's resize error when the account's core quota is reached.
	CodeQuotaReached = "AccountCoreQuotaReached"
)

var managedCodes = []string{CodeNoNodeProvider, CodeAllocationFailed, CodeQuotaReached}

// maxErrorMessage bounds the message of a resize error (a provider's
// error may quote a command's output).
const maxErrorMessage = 1024

// NodeRemover deletes a node from its pool, requeueing any task it still
// holds (the scheduler's RemoveNode).
type NodeRemover interface {
	RemoveNode(ctx context.Context, poolID, nodeID string) error
}

// Drainer moves a node to leavingpool: it takes no new task, and its
// running tasks are requeued, terminated or left to finish as opt
// (a nodeDeallocationOption) says (the service's DrainNode).
type Drainer interface {
	DrainNode(ctx context.Context, poolID, nodeID, opt string) error
}

// Manager drives every pool's nodes toward its target through the pool's
// provider. It implements service.Provisioner; the service calls it when a
// request changes a target (attempt at once) and from the reconcile loop
// (every pass, on the server holding the leader lease).
type Manager struct {
	Store   store.Store
	Remover NodeRemover
	Drainer Drainer
	Log     *slog.Logger
	// Config maps pools to providers; nil maps every pool to Default.
	Config *Config
	// Default is the provider of pools no rule matches: Static for
	// openbatch server, Local for openbatch dev.
	Default string
	// Providers are the providers by name. A name that resolves to no
	// entry here (Static) is static.
	Providers map[string]Provider
	// NewNodeID returns a new node ID.
	NewNodeID func() string
	// Now is the clock of resize timeouts; nil is the system clock.
	Now func() time.Time

	// mu serialises passes in this process, so a request's pass and the
	// loop's never launch the same missing node twice.
	mu sync.Mutex
}

// ProviderName returns the name of the provider of pool.
func (m *Manager) ProviderName(pool *api.Pool) string {
	return m.Config.Resolve(pool, m.Default)
}

// provider returns pool's provider, or nil for a static pool.
func (m *Manager) provider(pool *api.Pool) (string, Provider) {
	name := m.ProviderName(pool)
	return name, m.Providers[name]
}

// CheckTarget implements service.Capacity for Bounded providers, for the
// provider the pool's ID maps to (the pool may not exist yet; vmSize rules
// are applied when the pool is reconciled).
func (m *Manager) CheckTarget(poolID string, target int) error {
	_, p := m.provider(&api.Pool{ID: poolID})
	b, ok := p.(Bounded)
	if !ok {
		return nil
	}
	if room := b.Room(poolID); target > room {
		return errors.New(b.RoomMessage(poolID, target, room))
	}
	return nil
}

// ReconcileNodes makes pool's nodes match its target, one step: it
// removes drained nodes that run nothing and nodes whose instance the
// provider lost, launches missing nodes, and drains surplus ones with opt
// (a nodeDeallocationOption; "" is requeue). For a static pool it only
// removes drained nodes and says in resizeErrors that nobody acts on the
// target. It is idempotent: what it leaves undone, the next pass does.
func (m *Manager) ReconcileNodes(ctx context.Context, pool *api.Pool, opt string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if pool.State == api.PoolDeleting {
		return nil
	}
	name, prov := m.provider(pool)
	nodes, err := m.Store.ListNodes(ctx, pool.ID)
	if err != nil {
		return fmt.Errorf("list nodes of pool %s: %w", pool.ID, err)
	}
	var insts []Instance
	if prov != nil {
		if insts, err = prov.Instances(ctx, pool.ID); err != nil {
			return fmt.Errorf("provider %s: instances of pool %s: %w", name, pool.ID, err)
		}
	}
	byNode := map[string]Instance{}
	for _, in := range insts {
		byNode[in.NodeID] = in
	}
	registered := map[string]*store.Node{}
	var errs []error
	for _, n := range nodes {
		id := n.Node.ID
		in, running := byNode[id]
		switch {
		case n.Node.State == api.NodeLeavingPool:
			// Drained with terminate: draining again ends any task the
			// drain's request did not get to (it stopped short).
			if n.DrainOption == "terminate" {
				if err := m.Drainer.DrainNode(ctx, pool.ID, id, n.DrainOption); err != nil {
					errs = append(errs, fmt.Errorf("drain node %s: %w", id, err))
				}
			}
			// Drained: it leaves once it runs nothing.
			done, err := m.leaveIfIdle(ctx, prov, pool.ID, id, in, running)
			if err != nil {
				errs = append(errs, err)
			}
			if done {
				delete(byNode, id)
				continue
			}
		case prov != nil && !running && n.Node.State == api.NodeUnknown:
			// Lost: its instance ended (a Slurm job killed, an agent
			// crashed) and the heartbeat timeout requeued its tasks.
			m.Log.Warn("node lost by its provider; removing it from the pool", "pool", pool.ID, "node", id, "provider", name)
			if err := m.Remover.RemoveNode(ctx, pool.ID, id); err != nil {
				errs = append(errs, fmt.Errorf("remove lost node %s: %w", id, err))
			}
			continue
		}
		registered[id] = n
	}
	if prov == nil {
		return errors.Join(append(errs, m.static(ctx, pool, name, len(registered)))...)
	}
	var resizeErrs []api.ResizeError
	wantDed, wantLow := targets(pool)
	if b, ok := prov.(Bounded); ok {
		if room := b.Room(pool.ID); wantDed+wantLow > room {
			m.Log.Warn("pool target exceeds the provider's room; clamped", "pool", pool.ID, "target", wantDed+wantLow, "room", room)
			resizeErrs = append(resizeErrs, api.ResizeError{Code: CodeQuotaReached, Message: b.RoomMessage(pool.ID, wantDed+wantLow, room)})
			wantDed, wantLow = clamp(wantDed, wantLow, room)
		}
	}
	// The active instances by kind: those not draining.
	var ded, low []Instance
	for _, in := range byNode {
		if n := registered[in.NodeID]; n != nil && n.Node.State == api.NodeLeavingPool {
			continue
		}
		if in.Dedicated {
			ded = append(ded, in)
		} else {
			low = append(low, in)
		}
	}
	for _, k := range []struct {
		have      []Instance
		want      int
		dedicated bool
	}{{ded, wantDed, true}, {low, wantLow, false}} {
		for i := len(k.have); i < k.want; i++ {
			spec := Spec{PoolID: pool.ID, NodeID: m.NewNodeID(), VMSize: pool.VMSize, Dedicated: k.dedicated}
			in, err := prov.Launch(ctx, spec)
			if err != nil {
				m.Log.Warn("launch node", "pool", pool.ID, "provider", name, "err", err)
				resizeErrs = append(resizeErrs, api.ResizeError{Code: CodeAllocationFailed,
					Message: truncate(fmt.Sprintf("The %s node provider could not start a node for the pool: %v", name, err))})
				break
			}
			m.Log.Info("launched node", "pool", pool.ID, "node", in.NodeID, "provider", name, "ref", in.Ref)
		}
		if surplus := len(k.have) - k.want; surplus > 0 {
			errs = append(errs, m.shrink(ctx, prov, pool.ID, k.have, registered, surplus, opt))
		}
	}
	return errors.Join(append(errs, m.setResizeErrors(ctx, pool, resizeErrs))...)
}

// shrink drains n of have: instances whose agent has not registered are
// ended at once; of the registered nodes, the least useful go first (lost
// or starting, then idle, then busy).
func (m *Manager) shrink(ctx context.Context, prov Provider, poolID string, have []Instance, registered map[string]*store.Node, n int, opt string) error {
	rank := func(in Instance) int {
		node := registered[in.NodeID]
		if node == nil {
			return 0
		}
		switch node.Node.State {
		case api.NodeIdle:
			return 2
		case api.NodeRunning, api.NodeDeallocating:
			return 3
		}
		return 1
	}
	slices.SortFunc(have, func(a, b Instance) int {
		if d := rank(a) - rank(b); d != 0 {
			return d
		}
		return strings.Compare(b.NodeID, a.NodeID)
	})
	var errs []error
	for _, in := range have[:n] {
		if registered[in.NodeID] == nil {
			m.Log.Info("ending a node that has not joined yet", "pool", poolID, "node", in.NodeID)
			if err := prov.Terminate(ctx, poolID, in); err != nil {
				errs = append(errs, fmt.Errorf("terminate node %s: %w", in.NodeID, err))
			}
			continue
		}
		m.Log.Info("draining node to shrink its pool", "pool", poolID, "node", in.NodeID, "nodeDeallocationOption", opt)
		if err := m.Drainer.DrainNode(ctx, poolID, in.NodeID, opt); err != nil {
			errs = append(errs, fmt.Errorf("drain node %s: %w", in.NodeID, err))
			continue
		}
		if _, err := m.leaveIfIdle(ctx, prov, poolID, in.NodeID, in, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// leaveIfIdle ends a drained node once it holds no task: its instance is
// terminated (when it has one) and the node removed from the pool, which
// also tells its agent to leave. It reports whether the node left.
func (m *Manager) leaveIfIdle(ctx context.Context, prov Provider, poolID, nodeID string, in Instance, hasInst bool) (bool, error) {
	leases, err := m.Store.LeasesOnNode(ctx, nodeID)
	if err != nil {
		return false, fmt.Errorf("tasks on node %s: %w", nodeID, err)
	}
	if len(leases) > 0 {
		return false, nil
	}
	// A remote agent drained with terminate holds no lease (its tasks
	// completed as terminated) but may still be uploading their failure
	// outputs (upload on eviction): it leaves by itself once done
	// (nodeproto.Work.Remove), or the heartbeat check removes it if it
	// falls silent. Removing it now would cut those uploads short. (An
	// in-process agent is removed through itself by its provider's
	// Terminate.)
	if n, err := m.Store.GetNode(ctx, poolID, nodeID); err == nil && n.Address != "" && n.DrainOption == "terminate" {
		return false, nil
	}
	if prov != nil && hasInst {
		if err := prov.Terminate(ctx, poolID, in); err != nil {
			return false, fmt.Errorf("terminate node %s: %w", nodeID, err)
		}
	}
	if err := m.Remover.RemoveNode(ctx, poolID, nodeID); err != nil {
		return false, fmt.Errorf("remove node %s: %w", nodeID, err)
	}
	m.Log.Info("drained node left its pool", "pool", poolID, "node", nodeID)
	return true, nil
}

// static records, on a pool no provider acts on, that its target is
// informational whenever it differs from the nodes the pool has.
func (m *Manager) static(ctx context.Context, pool *api.Pool, name string, nodes int) error {
	ded, low := targets(pool)
	var errs []api.ResizeError
	if ded+low != nodes {
		errs = append(errs, api.ResizeError{Code: CodeNoNodeProvider,
			Message: fmt.Sprintf("No node provider acts on this pool's target: its provider is %s, so nodes join only when `openbatch agent --pool %s` is started on a machine. The target of %d nodes is informational; the pool has %d. Start agents by hand, or map the pool to a provider with `openbatch server --node-providers` (see docs/providers.md).",
				name, pool.ID, ded+low, nodes),
			Values: []api.NameValuePair{{Name: "Provider", Value: name}}})
	}
	return m.setResizeErrors(ctx, pool, errs)
}

// setResizeErrors replaces the pool's resize errors with managed codes by
// errs and settles its allocation state (lifecycle.SettleAllocation: a
// resize that reached its target, failed or timed out ends), writing only
// when something changes.
func (m *Manager) setResizeErrors(ctx context.Context, pool *api.Pool, errs []api.ResizeError) error {
	apply := func(p *api.Pool) bool {
		keep := slices.DeleteFunc(slices.Clone(p.ResizeErrors), func(e api.ResizeError) bool {
			return slices.Contains(managedCodes, e.Code)
		})
		n := append(keep, errs...)
		if len(n) == 0 {
			n = nil
		}
		changed := !resizeErrorsEqual(p.ResizeErrors, n)
		p.ResizeErrors = n
		return lifecycle.SettleAllocation(p, m.now()) || changed
	}
	// Most passes change nothing: check a copy of the pool as read
	// before opening a transaction, and the pool again inside it.
	probe := *pool
	if !apply(&probe) {
		return nil
	}
	poolID := pool.ID
	_, err := m.Store.UpdatePool(ctx, poolID, func(p *api.Pool) error {
		if !apply(p) {
			return errUnchanged
		}
		p.ETag = lifecycle.NextETag(p.ETag, m.now())
		return nil
	})
	if errors.Is(err, errUnchanged) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("record resize errors of pool %s: %w", poolID, err)
	}
	return nil
}

func (m *Manager) now() time.Time {
	if m.Now != nil {
		return m.Now()
	}
	return time.Now().UTC()
}

var errUnchanged = errors.New("unchanged")

func resizeErrorsEqual(a, b []api.ResizeError) bool {
	return slices.EqualFunc(a, b, func(x, y api.ResizeError) bool {
		return x.Code == y.Code && x.Message == y.Message && slices.Equal(x.Values, y.Values)
	})
}

// RemovePool implements service.Provisioner: every node of the pool is
// ended and removed, and every instance the provider still runs for it
// (e.g. a Slurm job whose agent never joined) is ended.
func (m *Manager) RemovePool(ctx context.Context, poolID string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	nodes, err := m.Store.ListNodes(ctx, poolID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	pool, err := m.Store.GetPool(ctx, poolID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if pool == nil {
		pool = &api.Pool{ID: poolID}
	}
	name, prov := m.provider(pool)
	var insts []Instance
	if prov != nil {
		if insts, err = prov.Instances(ctx, poolID); err != nil {
			return fmt.Errorf("provider %s: instances of pool %s: %w", name, poolID, err)
		}
	}
	var errs []error
	for _, in := range insts {
		if err := prov.Terminate(ctx, poolID, in); err != nil {
			errs = append(errs, fmt.Errorf("terminate node %s: %w", in.NodeID, err))
		}
	}
	for _, n := range nodes {
		if err := m.Remover.RemoveNode(ctx, poolID, n.Node.ID); err != nil {
			errs = append(errs, fmt.Errorf("remove node %s: %w", n.Node.ID, err))
		}
	}
	return errors.Join(errs...)
}

// targets returns a pool's dedicated and low-priority targets.
func targets(p *api.Pool) (ded, low int) {
	if p.TargetDedicatedNodes != nil {
		ded = int(*p.TargetDedicatedNodes)
	}
	if p.TargetLowPriorityNodes != nil {
		low = int(*p.TargetLowPriorityNodes)
	}
	return max(ded, 0), max(low, 0)
}

// clamp cuts the targets to room in all, low-priority nodes first.
func clamp(ded, low, room int) (int, int) {
	if over := ded + low - room; over > 0 {
		cut := min(over, low)
		low -= cut
		ded -= over - cut
	}
	return max(ded, 0), max(low, 0)
}

func truncate(s string) string {
	if len(s) > maxErrorMessage {
		return s[:maxErrorMessage] + "…"
	}
	return s
}
