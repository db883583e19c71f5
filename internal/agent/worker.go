package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// Worker is one compute node: it joins a pool through a Coordinator, runs
// the pool's start task, then pulls tasks as leases, runs each through the
// Runner and reports its outcome. The same Worker runs in-process under
// `openbatch dev` and in its own process under `openbatch agent`.
type Worker struct {
	Coord  nodeproto.Coordinator
	Runner *Runner
	// Registration says which pool to join and where the node lives; its
	// NodeID may be empty to have the server assign one.
	Registration nodeproto.Registration
	Log          *slog.Logger
	// RetryInterval is the pause after a failed call to the server.
	RetryInterval time.Duration
	// OnRegistered, if set, is called once the node has registered, before
	// it takes work: `openbatch agent` keeps the node's identity then.
	OnRegistered func(*nodeproto.NodeConfig) error
	// Drain, when closed, drains the node: it takes no new leases, lets
	// its running tasks finish for up to DrainGrace (then stops them, and
	// the server requeues them), leaves its pool (Coordinator permitting,
	// see nodeproto.Leaver) and Run returns nil.
	Drain <-chan struct{}
	// DrainGrace bounds how long a drain waits for running tasks
	// (default 5 minutes).
	DrainGrace time.Duration
	// Remove, when closed, removes the node as a pool resize or node
	// removal with nodeDeallocationOption requeue does: a drain with no
	// grace. Running tasks are stopped at once as evictions (their outputs
	// are uploaded as outputFiles say for a failure, within the runner's
	// Config.EvictUploadGrace) and, the node having left, requeued.
	Remove <-chan struct{}

	mu sync.Mutex
	// lastContact is when a call to the server last succeeded: the fence
	// (see fence) stops the runs once it is too long ago.
	lastContact time.Time
	running     map[string]*runningTask // by lease key
	prep        map[string]*prepState   // by job ID
	retain      map[string]retained     // completed task dirs by lease key
	// nextExpiry is the earliest retention end in retain (zero: none), so
	// that a poll only walks retain when something is due.
	nextExpiry time.Time
	release    map[string]bool // job IDs whose release task was started
	nodeID     string
	// journal is the node's run journal (nil if it cannot be opened: runs
	// are then not resumable after a crash).
	journal *runJournal
	// runs counts the goroutines of started task runs; Run waits for them
	// before it returns.
	runs sync.WaitGroup
	// slots is the node's task slots (its registration's answer).
	slots int
	// accepting says the node takes new leases (it is not draining and its
	// start task did not fail): a report then offers the free slots
	// (Report.Next), and startNext runs what the answer leases.
	accepting bool
	// startNext starts a lease a report's answer carried (set by Run).
	startNext func(nodeproto.Assignment)
}

// retained is a completed task's directory and when it may be removed.
type retained struct {
	jobID, taskID string
	until         time.Time
}

type runningTask struct {
	lease nodeproto.Lease
	slots int
	// cancel evicts the run: its process is stopped and its outputs are
	// still uploaded (Runner.Run).
	cancel context.CancelCauseFunc
	// abort is the run's Spec.Abort, closed once by giveUp.
	abort     chan struct{}
	abortOnce sync.Once
	// ended says the run is over and its report is being sent (w.mu).
	ended bool
}

// giveUp stops the run without uploading anything more: the node no longer
// holds its lease, or stops at once.
func (r *runningTask) giveUp(cause error) {
	r.abortOnce.Do(func() { close(r.abort) })
	r.cancel(cause)
}

type prepState struct {
	once sync.Once
	ok   bool
	info *api.TaskFailureInformation
}

func leaseKey(l nodeproto.Lease) string {
	return strings.ToLower(l.JobID) + "/" + strings.ToLower(l.TaskID)
}

// NodeID returns the node's ID once registered.
func (w *Worker) NodeID() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.nodeID
}

// Run registers the node and works until ctx ends or the node is removed
// from its pool. Running tasks are killed when ctx ends.
func (w *Worker) Run(ctx context.Context) error {
	if w.Log == nil {
		w.Log = slog.Default()
	}
	if w.RetryInterval == 0 {
		w.RetryInterval = time.Second
	}
	w.mu.Lock()
	w.running = map[string]*runningTask{}
	w.prep = map[string]*prepState{}
	w.retain = map[string]retained{}
	w.release = map[string]bool{}
	w.mu.Unlock()

	layout, err := NewLayout(w.Registration.Root)
	if err != nil {
		return err
	}
	// Runs an earlier agent on this root left recorded (their process
	// exited, their report not acknowledged) are offered to the server to
	// finish.
	reg := w.Registration
	pending := w.openJournal(layout, &reg)

	var cfg *nodeproto.NodeConfig
	for {
		var err error
		cfg, err = w.Coord.Register(ctx, reg)
		if err == nil {
			break
		}
		w.Log.Warn("register node", "pool", w.Registration.PoolID, "err", err)
		if !sleep(ctx, w.RetryInterval) {
			return ctx.Err()
		}
	}
	if w.OnRegistered != nil {
		if err := w.OnRegistered(cfg); err != nil {
			return err
		}
	}
	w.mu.Lock()
	w.nodeID = cfg.NodeID
	w.mu.Unlock()
	log := w.Log.With("pool", cfg.PoolID, "node", cfg.NodeID)
	if err := layout.Init(); err != nil {
		return fmt.Errorf("create node directories: %w", err)
	}
	node := Node{AccountName: cfg.AccountName, AccountURL: cfg.AccountURL, PoolID: cfg.PoolID, NodeID: cfg.NodeID,
		IsDedicated: w.Registration.Dedicated, Layout: layout, UserAccounts: cfg.UserAccounts}
	log.Info("node joined pool", "root", layout.Root, "slots", cfg.Slots)
	w.mu.Lock()
	w.slots = cfg.Slots
	w.startNext = func(a nodeproto.Assignment) { w.start(ctx, node, a, log) }
	w.mu.Unlock()
	w.resumePending(ctx, node, pending, cfg.Resumed, log)

	state := api.NodeIdle
	var startInfo *api.StartTaskInformation
	if st := cfg.StartTask; st != nil {
		wait := st.WaitForSuccess == nil || *st.WaitForSuccess
		if wait {
			state = api.NodeWaitingForStartTask
		}
		startInfo = &api.StartTaskInformation{State: api.StartTaskRunning, StartTime: time.Now().UTC()}
		// Report that the start task is running, then run it.
		_, _ = w.Coord.Acquire(ctx, nodeproto.NodeStatus{PoolID: cfg.PoolID, NodeID: cfg.NodeID, State: state, StartTaskInfo: startInfo,
			Running: w.leases()})
		// A node removed while its start task runs stops it.
		sctx, stop := withAbort(ctx, w.Remove)
		startInfo = w.runStartTask(sctx, node, st)
		stop()
		switch {
		case startInfo.Result == api.ResultSuccess:
			state = api.NodeIdle
		case wait:
			state = api.NodeStartTaskFailed
		default:
			state = api.NodeIdle
		}
	}

	// However Run ends, every run is given up and waited for: the node no
	// longer reports for them (a removed node's tasks were requeued when it
	// was removed; a stopped one's are requeued after the heartbeat
	// timeout).
	defer func() {
		w.giveUpAll(errStopped)
		w.runs.Wait()
	}()
	w.contact()
	fctx, stopFence := context.WithCancel(ctx)
	fenced := make(chan struct{})
	go func() { defer close(fenced); w.fence(fctx, cfg.HeartbeatTimeout, log) }()
	defer func() { stopFence(); <-fenced }()

	var drainDeadline <-chan time.Time
	draining := false
	removed := false // the server asked for the node's removal (Work.Remove)
	for ctx.Err() == nil {
		if !draining && (isClosed(w.Drain) || isClosed(w.Remove) || removed) {
			draining = true
			grace := w.DrainGrace
			if grace <= 0 {
				grace = 5 * time.Minute
			}
			if isClosed(w.Remove) || removed {
				grace = 0
				log.Info("node removed: stopping running tasks, uploading their outputs, then leaving", "running", len(w.leases()))
			} else {
				log.Info("draining: no new tasks; running tasks may finish", "grace", grace, "running", len(w.leases()))
			}
			drainDeadline = time.After(grace)
		}
		if draining {
			select {
			case <-drainDeadline:
				if n := len(w.leases()); n > 0 {
					log.Warn("stopping running tasks (their outputs are uploaded as for a failure); the server requeues them when the node has left",
						"running", n, "removed", removed || isClosed(w.Remove))
				}
				w.cancelAll(errDrained)
				drainDeadline = nil
			default:
			}
			if len(w.leases()) == 0 {
				w.leave(ctx, cfg, log)
				return nil
			}
		}
		w.sweep(layout, log)
		status := nodeproto.NodeStatus{PoolID: cfg.PoolID, NodeID: cfg.NodeID, State: state, StartTaskInfo: startInfo,
			FreeSlots: cfg.Slots - w.usedSlots(), Running: w.leases(), Ended: w.endedLeases(), Wait: cfg.HeartbeatInterval}
		accepting := state != api.NodeStartTaskFailed && !draining
		if !accepting {
			status.FreeSlots = 0
		}
		// Runs may have been started from reports' answers beyond the
		// slots counted when their reports left.
		status.FreeSlots = max(status.FreeSlots, 0)
		w.mu.Lock()
		w.accepting = accepting
		w.mu.Unlock()
		if draining {
			status.Wait = min(status.Wait, 200*time.Millisecond)
		}
		// Every call has a deadline: the long poll plus a margin.
		actx, cancel := context.WithTimeout(ctx, status.Wait+max(cfg.HeartbeatTimeout/3, time.Second))
		work, err := w.Coord.Acquire(actx, status)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			if errors.Is(err, nodeproto.ErrUnknownNode) {
				return err
			}
			log.Warn("acquire work", "err", err)
			sleep(ctx, w.RetryInterval)
			continue
		}
		w.contact()
		if work.Leave {
			log.Info("node removed from pool")
			return nil
		}
		removed = removed || work.Remove
		requeued := map[nodeproto.Lease]bool{}
		for _, l := range work.Requeued {
			requeued[l] = true
		}
		for _, l := range work.Cancel {
			w.cancel(l, requeued[l])
		}
		for _, ref := range work.RemoveTaskDirs {
			if err := layout.RemoveTaskDir(ref.JobID, ref.TaskID); err != nil {
				log.Warn("remove task directory", "job", ref.JobID, "task", ref.TaskID, "err", err)
			}
		}
		for _, a := range work.Assignments {
			w.start(ctx, node, a, log)
		}
		for _, rel := range work.Releases {
			w.startRelease(ctx, node, rel, log)
		}
	}
	return ctx.Err()
}

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func (w *Worker) usedSlots() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.usedSlotsLocked()
}

// usedSlotsLocked is usedSlots with w.mu held.
func (w *Worker) usedSlotsLocked() int {
	n := 0
	for _, r := range w.running {
		n += r.slots
	}
	return n
}

// leases lists the node's runs, those whose reports are being sent
// included.
func (w *Worker) leases() []nodeproto.Lease {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]nodeproto.Lease, 0, len(w.running))
	for _, r := range w.running {
		out = append(out, r.lease)
	}
	return out
}

// endedLeases lists the runs that are over and whose reports are being
// sent (nodeproto.NodeStatus.Ended).
func (w *Worker) endedLeases() []nodeproto.Lease {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []nodeproto.Lease
	for _, r := range w.running {
		if r.ended {
			out = append(out, r.lease)
		}
	}
	return out
}

// cancel stops a run the server no longer leases to this node. A
// terminated task's run is evicted: its outputs are uploaded (no other run
// of the task can follow). A requeued task's run is given up without
// uploading: its next run may already be under way on another node, and
// the two must not write the same blobs at once.
func (w *Worker) cancel(l nodeproto.Lease, requeued bool) {
	w.mu.Lock()
	r := w.running[leaseKey(l)]
	w.mu.Unlock()
	if r == nil || r.lease.Epoch != l.Epoch {
		return
	}
	if requeued {
		r.giveUp(errRequeued)
		return
	}
	r.cancel(errServerEnded)
}

// cancelAll evicts every run, for cause.
func (w *Worker) cancelAll(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.running {
		r.cancel(cause)
	}
}

// giveUpAll gives every run up, for cause (see runningTask.giveUp).
func (w *Worker) giveUpAll(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.running {
		r.giveUp(cause)
	}
}

// giveUpLive gives up the runs whose process has not ended. A node that
// lost contact stops what still runs, but still reports the runs that
// ended while it held their leases: their outcome stands, and the server
// refuses the report as stale if it requeued the task meanwhile.
func (w *Worker) giveUpLive(cause error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, r := range w.running {
		if !r.ended {
			r.giveUp(cause)
		}
	}
}

// taskSlots is the number of slots a task takes.
func taskSlots(t *api.Task) int {
	if t.RequiredSlots != nil && *t.RequiredSlots > 1 {
		return int(*t.RequiredSlots)
	}
	return 1
}

// start runs one assignment in the background.
func (w *Worker) start(ctx context.Context, node Node, a nodeproto.Assignment, log *slog.Logger) {
	// Only runs with output files are recorded in the run journal
	// (runTask), so only their records need discarding after the report.
	journaled := len(a.Task.OutputFiles) > 0
	w.launch(ctx, a.Lease, taskSlots(&a.Task), retention(&a.Task), journaled, log, func(rctx context.Context, abort <-chan struct{}) nodeproto.Report {
		return w.runTask(rctx, node, a, abort)
	})
}

// launch runs run for lease in the background, listed as running (with
// slots) until its report is in, and keeps the task directory for keep
// (-1: forever) afterwards. run is given the run's context and its abort
// channel (Spec.Abort, closed by runningTask.giveUp). journaled says the
// run may have a run journal record, discarded once it is reported.
func (w *Worker) launch(ctx context.Context, lease nodeproto.Lease, slots int, keep time.Duration, journaled bool, log *slog.Logger,
	run func(rctx context.Context, abort <-chan struct{}) nodeproto.Report) {
	// The run's context is not ctx's child: only the worker's decisions
	// (cancel, drain, fence, giving up when Run ends) stop a run, each in
	// its own way.
	rctx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	rt := &runningTask{lease: lease, slots: slots, cancel: cancel, abort: make(chan struct{})}
	key := leaseKey(lease)
	w.mu.Lock()
	w.running[key] = rt
	delete(w.retain, key) // a retry reuses the directory
	w.mu.Unlock()
	w.runs.Add(1)
	go func() {
		defer w.runs.Done()
		defer cancel(nil)
		rep := run(rctx, rt.abort)
		w.mu.Lock()
		rt.ended = true
		w.mu.Unlock()
		// The run stays listed as running until its report is in: the
		// server requeues leases a node no longer lists, so dropping it
		// earlier could make a finished task run again. A run given up
		// (fenced, drained, requeued, stopped) does not report: giveUp
		// closes abort before it sets the context's cause, so abort is
		// what a run that ended because of it is sure to see.
		if !isClosed(rt.abort) {
			w.report(ctx, rctx, rep, slots, log)
		}
		// Reported, refused as stale, or given up (fenced, drained: the
		// server requeues it): its record is done with. Only an agent
		// that is stopping keeps it, to resume after its restart.
		if journaled && w.journal != nil && ctx.Err() == nil {
			if err := w.journal.discard(lease); err != nil {
				log.Warn("remove run journal record", "job", lease.JobID, "task", lease.TaskID, "err", err)
			}
		}
		w.mu.Lock()
		// A newer lease of the same task may have replaced this run (the
		// server requeued it and handed it back to this node): leave that
		// one tracked.
		if w.running[key] == rt {
			delete(w.running, key)
		}
		if keep >= 0 {
			until := time.Now().Add(keep)
			w.retain[key] = retained{jobID: lease.JobID, taskID: lease.TaskID, until: until}
			if w.nextExpiry.IsZero() || until.Before(w.nextExpiry) {
				w.nextExpiry = until
			}
		}
		w.mu.Unlock()
	}()
}

// openJournal opens the node's run journal and returns the runs recorded
// by an earlier agent on this root that the node may resume, adding their
// leases to reg.Resume; records of another node or pool (the root was
// reused) are discarded.
func (w *Worker) openJournal(layout Layout, reg *nodeproto.Registration) []*runRecord {
	j, err := openRunJournal(layout)
	if err != nil {
		w.Log.Warn("no run journal: a task whose process exited is run again if the agent crashes before reporting it", "err", err)
		return nil
	}
	w.journal = j
	var pending []*runRecord
	for _, r := range j.pending(w.Log) {
		if reg.NodeID == "" || !strings.EqualFold(r.NodeID, reg.NodeID) || !strings.EqualFold(r.PoolID, reg.PoolID) ||
			len(pending) >= nodeproto.MaxResume {
			w.Log.Info("discarding a run recorded for another node", "job", r.Lease.JobID, "task", r.Lease.TaskID, "node", r.NodeID)
			_ = j.discard(r.Lease)
			continue
		}
		pending = append(pending, r)
		reg.Resume = append(reg.Resume, r.Lease)
	}
	j.prune(reg.Resume)
	return pending
}

// resumePending finishes the recorded runs the server let the node keep
// (resumed) and discards the others: the server requeued those tasks while
// the agent was away, and a report of them would be refused.
func (w *Worker) resumePending(ctx context.Context, node Node, pending []*runRecord, resumed []nodeproto.Lease, log *slog.Logger) {
	kept := map[string]int64{}
	for _, l := range resumed {
		kept[leaseKey(l)] = l.Epoch
	}
	for _, r := range pending {
		if e, ok := kept[leaseKey(r.Lease)]; !ok || e != r.Lease.Epoch {
			log.Info("task requeued while the agent was away: its recorded outcome is discarded", "job", r.Lease.JobID, "task", r.Lease.TaskID)
			_ = w.journal.discard(r.Lease)
			continue
		}
		log.Info("resuming a task whose process exited before the agent restarted: its outputs are uploaded, its command is not run again",
			"job", r.Lease.JobID, "task", r.Lease.TaskID, "exitCode", r.ExitCode, "files", len(r.Uploads))
		w.launch(ctx, r.Lease, max(r.Slots, 1), r.Retention, true, log, func(rctx context.Context, abort <-chan struct{}) nodeproto.Report {
			spec := Spec{Kind: KindTask, Node: node, JobID: r.Lease.JobID, TaskID: r.Lease.TaskID,
				OutputFiles: r.OutputFiles, Retryable: r.Retryable, Abort: abort}
			res := w.Runner.resume(rctx, spec, &runRecorder{j: w.journal, rec: *r, resumed: true})
			rep := nodeproto.Report{NodeID: node.NodeID, PoolID: node.PoolID, Lease: r.Lease, StartTime: res.StartTime, EndTime: res.EndTime,
				ExitCode: res.ExitCode, FailureInfo: res.FailureInfo, Stats: res.Stats, Uploads: res.Uploads}
			rep.Kind = nodeproto.FailureKind(failureKind(&res))
			return rep
		})
	}
}

// errFenced cancels runs of a node that lost contact with the server.
var errFenced = errors.New("lost contact with the server")

// errDrained cancels runs still going when a drain's grace ends.
var errDrained = errors.New("the node was drained or removed from its pool")

// errServerEnded evicts runs of tasks the server ended: terminated by a
// user, with their job, or by a node operation's terminate option.
var errServerEnded = errors.New("the task was ended by the service (task or job terminated or deleted, or its node's terminate option)")

// errRequeued gives up runs of tasks the server requeued.
var errRequeued = errors.New("the task was requeued")

// errStopped gives up runs still going when the worker stops.
var errStopped = errors.New("the node stopped")

// FenceMargin is how much earlier than the server a node gives up its
// runs after losing contact: the server requeues a node's tasks once it has
// heard nothing for the heartbeat timeout T, counted from the last call it
// answered; the node stops them once T - FenceMargin(T) has passed since
// the last call it saw answered, which is no earlier than the server's.
// So a run stops at least the margin before its task can be handed to
// another node, whatever the node's calls are doing.
func FenceMargin(timeout time.Duration) time.Duration {
	return min(max(timeout/4, 500*time.Millisecond), timeout/2)
}

func (w *Worker) contact() {
	w.mu.Lock()
	w.lastContact = time.Now()
	w.mu.Unlock()
}

// fence stops the node's running processes, on a timer independent of its
// calls, once contact is lost for the heartbeat timeout less the margin.
// Runs that ended before then keep trying to report (giveUpLive).
func (w *Worker) fence(ctx context.Context, timeout time.Duration, log *slog.Logger) {
	if timeout <= 0 {
		return
	}
	limit := timeout - FenceMargin(timeout)
	t := time.NewTicker(max(min(limit/4, 250*time.Millisecond), 10*time.Millisecond))
	defer t.Stop()
	warned := false // once per loss of contact, not on every tick
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		w.mu.Lock()
		silent := time.Since(w.lastContact)
		live := 0
		for _, r := range w.running {
			if !r.ended {
				live++
			}
		}
		w.mu.Unlock()
		if silent <= limit {
			warned = false
			continue
		}
		if live > 0 {
			if !warned {
				log.Warn("lost contact with the server; stopping running tasks before the server requeues them",
					"silent_for", silent.Round(time.Millisecond), "timeout", timeout)
				warned = true
			}
			w.giveUpLive(errFenced)
		}
	}
}

// leave tells the server the node leaves its pool, when the coordinator
// offers that.
func (w *Worker) leave(ctx context.Context, cfg *nodeproto.NodeConfig, log *slog.Logger) {
	l, ok := w.Coord.(nodeproto.Leaver)
	if !ok {
		return
	}
	lctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := l.Leave(lctx, cfg.PoolID, cfg.NodeID); err != nil {
		log.Warn("leave pool", "err", err)
		return
	}
	log.Info("drained node left its pool")
}

func isClosed(ch <-chan struct{}) bool {
	if ch == nil {
		return false
	}
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// report sends a run's outcome, retrying transient errors, unless the node
// is shutting down or fenced (the server requeues those tasks itself). It
// offers the node's free slots (the run's own, slots, included: it is
// still listed as running) for the server to lease into in its answer,
// and starts what the answer leases.
func (w *Worker) report(ctx, rctx context.Context, rep nodeproto.Report, slots int, log *slog.Logger) {
	if c := context.Cause(rctx); ctx.Err() != nil || errors.Is(c, errFenced) || errors.Is(c, errDrained) ||
		errors.Is(c, errRequeued) || errors.Is(c, errStopped) {
		return
	}
	// Report with the node's context, not the run's: a run cancelled by
	// terminate still reports (and is refused as stale).
	for attempt := 0; ; attempt++ {
		w.mu.Lock()
		start := w.startNext
		rep.Next = 0
		if w.accepting && start != nil {
			rep.Next = max(w.slots-w.usedSlotsLocked()+slots, 0)
		}
		w.mu.Unlock()
		done, err := w.Coord.Complete(ctx, rep)
		if err == nil && done != nil && start != nil {
			for _, a := range done.Assignments {
				start(a)
			}
		}
		if err == nil || errors.Is(err, nodeproto.ErrStaleLease) || ctx.Err() != nil {
			if errors.Is(err, nodeproto.ErrStaleLease) {
				log.Info("report refused: lease no longer held", "job", rep.Lease.JobID, "task", rep.Lease.TaskID)
			}
			return
		}
		log.Warn("report task outcome", "job", rep.Lease.JobID, "task", rep.Lease.TaskID, "err", err)
		if !sleep(ctx, w.RetryInterval*time.Duration(min(attempt+1, 10))) {
			return
		}
	}
}

func (w *Worker) runTask(ctx context.Context, node Node, a nodeproto.Assignment, abort <-chan struct{}) nodeproto.Report {
	t := &a.Task
	rep := nodeproto.Report{NodeID: node.NodeID, PoolID: node.PoolID, Lease: a.Lease}
	spec := Spec{Kind: KindTask, Node: node, JobID: a.Lease.JobID, TaskID: t.ID, CommandLine: t.CommandLine,
		JobEnvironment: a.JobEnvironment, Environment: t.EnvironmentSettings, ResourceFiles: t.ResourceFiles,
		OutputFiles: t.OutputFiles, UserIdentity: t.UserIdentity, Abort: abort}
	if c := t.Constraints; c != nil {
		if c.MaxWallClockTime != nil {
			spec.MaxWallClockTime = c.MaxWallClockTime.Std()
		}
		retries := int32(0)
		if t.ExecutionInfo != nil {
			retries = t.ExecutionInfo.RetryCount
		}
		spec.Retryable = c.MaxTaskRetryCount != nil && (*c.MaxTaskRetryCount < 0 || retries < *c.MaxTaskRetryCount)
	}
	if p := a.JobPreparationTask; p != nil {
		spec.JobPreparationTaskID = p.ID
		if ok, info := w.runPrep(ctx, node, a); !ok {
			now := time.Now().UTC()
			rep.StartTime, rep.EndTime = now, now
			rep.FailureInfo = info
			rep.Kind = nodeproto.FailureKind(kindPreProcessing)
			return rep
		}
	}
	if w.journal != nil && len(t.OutputFiles) > 0 {
		spec.recorder = &runRecorder{j: w.journal, rec: runRecord{Lease: a.Lease, PoolID: node.PoolID, NodeID: node.NodeID,
			Slots: taskSlots(t), Retention: retention(t)}}
	}
	res := w.Runner.Run(ctx, spec)
	rep.StartTime, rep.EndTime = res.StartTime, res.EndTime
	rep.ExitCode, rep.FailureInfo, rep.Stats, rep.Uploads = res.ExitCode, res.FailureInfo, res.Stats, res.Uploads
	rep.Kind = nodeproto.FailureKind(failureKind(&res))
	return rep
}

// Failure kinds, matching lifecycle.FailureKind's values.
const (
	kindNone = iota
	kindPreProcessing
	kindFileUpload
	kindEnded
)

func failureKind(res *Result) int {
	switch {
	case res.FailureInfo == nil:
		return kindNone
	case strings.HasPrefix(res.FailureInfo.Code, "FileUpload"):
		return kindFileUpload
	case res.FailureInfo.Code == api.FailureTaskEnded:
		return kindEnded
	case res.PreProcessingError:
		return kindPreProcessing
	}
	return kindNone
}

// runPrep runs the job's preparation task once per job on this node.
func (w *Worker) runPrep(ctx context.Context, node Node, a nodeproto.Assignment) (bool, *api.TaskFailureInformation) {
	p := a.JobPreparationTask
	w.mu.Lock()
	ps := w.prep[strings.ToLower(a.Lease.JobID)]
	if ps == nil {
		ps = &prepState{}
		w.prep[strings.ToLower(a.Lease.JobID)] = ps
	}
	w.mu.Unlock()
	ps.once.Do(func() {
		spec := Spec{Kind: KindJobPreparation, Node: node, JobID: a.Lease.JobID, TaskID: p.ID, CommandLine: p.CommandLine,
			JobEnvironment: a.JobEnvironment, Environment: p.EnvironmentSettings, ResourceFiles: p.ResourceFiles,
			UserIdentity: p.UserIdentity}
		if p.Constraints != nil && p.Constraints.MaxWallClockTime != nil {
			spec.MaxWallClockTime = p.Constraints.MaxWallClockTime.Std()
		}
		res := w.Runner.Run(ctx, spec)
		info := &api.JobPrepReleaseTaskExecutionInformation{StartTime: res.StartTime, EndTime: api.T(res.EndTime),
			State: api.PrepTaskCompleted, ExitCode: res.ExitCode, FailureInfo: res.FailureInfo, Result: res.Outcome(),
			TaskRootDirectory: TaskRootDirectory(a.Lease.JobID, p.ID)}
		if info.FailureInfo == nil && res.Outcome() == api.ResultFailure {
			info.FailureInfo = FailureExitCodeInfo()
		}
		_ = w.Coord.PrepRelease(ctx, nodeproto.PrepReleaseReport{NodeID: node.NodeID, PoolID: node.PoolID, JobID: a.Lease.JobID, Prep: info})
		wait := p.WaitForSuccess == nil || *p.WaitForSuccess
		ps.ok = res.Outcome() == api.ResultSuccess || !wait
		if !ps.ok {
			ps.info = &api.TaskFailureInformation{Category: api.UserError, Code: api.FailureJobPreparationTaskFailed,
				Message: "Task cannot run because the job preparation task failed on node"}
		}
	})
	return ps.ok, ps.info
}

// runStartTask runs the pool's start task with its retries.
func (w *Worker) runStartTask(ctx context.Context, node Node, st *api.StartTask) *api.StartTaskInformation {
	spec := Spec{Kind: KindStartTask, Node: node, CommandLine: st.CommandLine, Environment: st.EnvironmentSettings, ResourceFiles: st.ResourceFiles,
		UserIdentity: st.UserIdentity}
	maxRetries := int32(0)
	if st.MaxTaskRetryCount != nil {
		maxRetries = *st.MaxTaskRetryCount
	}
	info := &api.StartTaskInformation{}
	for {
		res := w.Runner.Run(ctx, spec)
		info.State = api.StartTaskCompleted
		info.StartTime, info.EndTime = res.StartTime, api.T(res.EndTime)
		info.ExitCode, info.FailureInfo, info.Result = res.ExitCode, res.FailureInfo, res.Outcome()
		if info.Result == api.ResultSuccess || res.PreProcessingError || ctx.Err() != nil {
			break
		}
		if maxRetries >= 0 && info.RetryCount >= maxRetries {
			info.FailureInfo = FailureExitCodeInfo()
			break
		}
		info.RetryCount++
		info.LastRetryTime = api.T(time.Now().UTC())
	}
	return info
}

// retention is how long a task's directory is kept after it ends (-1:
// forever, for the infinite duration).
func retention(t *api.Task) time.Duration {
	if t.Constraints == nil || t.Constraints.RetentionTime == nil {
		return 7 * 24 * time.Hour
	}
	if *t.Constraints.RetentionTime == api.Infinite {
		return -1
	}
	return t.Constraints.RetentionTime.Std()
}

// sweep removes task directories whose retention time has passed.
func (w *Worker) sweep(layout Layout, log *slog.Logger) {
	now := time.Now()
	var due []retained
	w.mu.Lock()
	if w.nextExpiry.IsZero() || now.Before(w.nextExpiry) {
		w.mu.Unlock()
		return
	}
	w.nextExpiry = time.Time{}
	for k, r := range w.retain {
		if now.After(r.until) {
			due = append(due, r)
			delete(w.retain, k)
		} else if w.nextExpiry.IsZero() || r.until.Before(w.nextExpiry) {
			w.nextExpiry = r.until
		}
	}
	w.mu.Unlock()
	for _, r := range due {
		if err := layout.RemoveTaskDir(r.jobID, r.taskID); err != nil {
			log.Warn("remove task directory after retention", "job", r.jobID, "task", r.taskID, "err", err)
		} else {
			log.Debug("removed task directory after retention", "job", r.jobID, "task", r.taskID)
		}
	}
}

// maxReleaseWallClock is Azure's default and maximum for release tasks.
const maxReleaseWallClock = 15 * time.Minute

// startRelease runs a job's release task once on this node, in the
// background and outside the task slots, and reports it.
func (w *Worker) startRelease(ctx context.Context, node Node, rel nodeproto.Release, log *slog.Logger) {
	key := strings.ToLower(rel.JobID)
	w.mu.Lock()
	if w.release[key] {
		w.mu.Unlock()
		return
	}
	w.release[key] = true
	w.mu.Unlock()
	go func() {
		t := rel.Task
		spec := Spec{Kind: KindJobRelease, Node: node, JobID: rel.JobID, TaskID: t.ID, CommandLine: t.CommandLine,
			JobEnvironment: rel.JobEnvironment, Environment: t.EnvironmentSettings, ResourceFiles: t.ResourceFiles,
			JobPreparationTaskID: rel.JobPreparationTaskID, MaxWallClockTime: maxReleaseWallClock, UserIdentity: t.UserIdentity}
		if t.MaxWallClockTime != nil && t.MaxWallClockTime.Std() < maxReleaseWallClock {
			spec.MaxWallClockTime = t.MaxWallClockTime.Std()
		}
		res := w.Runner.Run(ctx, spec)
		info := &api.JobPrepReleaseTaskExecutionInformation{StartTime: res.StartTime, EndTime: api.T(res.EndTime),
			State: api.PrepTaskCompleted, ExitCode: res.ExitCode, FailureInfo: res.FailureInfo, Result: res.Outcome(),
			TaskRootDirectory: TaskRootDirectory(rel.JobID, t.ID)}
		if info.FailureInfo == nil && res.Outcome() == api.ResultFailure {
			info.FailureInfo = FailureExitCodeInfo()
		}
		if err := w.Coord.PrepRelease(ctx, nodeproto.PrepReleaseReport{NodeID: node.NodeID, PoolID: node.PoolID, JobID: rel.JobID, Release: info}); err != nil {
			log.Warn("report job release task", "job", rel.JobID, "err", err)
		}
	}()
}
