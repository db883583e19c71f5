// Package store persists openbatch's pools, jobs, tasks and nodes behind one
// interface. The store is the single source of truth: every state change,
// including a node's lease on a task, is a transaction here.
//
// Implementations: sqlite (embedded, the default). The interface is written
// so that a PostgreSQL implementation can follow without touching callers:
// entities go in and out as api types, and every read-modify-write runs as an
// update function inside one transaction.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/odata"
)

// Errors returned by every Store implementation. Callers test with errors.Is.
var (
	// ErrNotFound means the entity does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists means an entity with the same ID (compared
	// case-insensitively) already exists.
	ErrExists = errors.New("already exists")
	// ErrBadToken means a listing's continuation token is malformed.
	ErrBadToken = errors.New("invalid continuation token")
	// ErrJobTaskLimit means adding the tasks would give a job more than
	// api.MaxTasksPerJob tasks; nothing was added.
	ErrJobTaskLimit = errors.New("the job would have more tasks than the limit")
	// ErrJobClosed means the job takes no more tasks (terminating,
	// completed or being deleted); nothing was added.
	ErrJobClosed = errors.New("the job takes no more tasks")
)

// Page asks for one page of a listing.
type Page struct {
	// Token is the opaque continuation token of the previous page ("" for the first).
	Token string
	// Max is the largest number of entities to return (1..1000).
	Max int
	// State, when set, keeps only entities in that state (lower case, as
	// the api constants spell it): the server's own narrowing.
	State string
	// Filter, when set, keeps only entities it matches, exactly as
	// odata.Filter.Eval over filterprops.Accessor would. A store runs what
	// it can of it in its query (SQL stores: comparisons on the properties
	// they keep in columns) and evaluates the rest on the rows it reads.
	Filter *odata.Filter
	// Match, when set, also keeps only entities for which it returns true
	// (a predicate of the caller's beside the client's $filter).
	Match func(v any) bool
	// Scan bounds the rows a store reads for a page whose filter it
	// evaluates in Go (in part: see Filter); 0 means DefaultScanBudget.
	// When the bound is reached before the page is full, the page is
	// short, even empty, and carries a continuation token that resumes
	// after the last row read: a page costs a bounded amount of work
	// whatever the size of the listing and however rarely the filter
	// matches, and a client that follows the tokens (as Azure's clients
	// follow odata.nextLink) still gets every match, in order.
	Scan int
}

// DefaultScanBudget is the rows a page reads at most when its filter is
// evaluated in Go: 10 pages' worth of the largest page, about 0.15 s of
// decoding and evaluating on a small machine.
const DefaultScanBudget = 10000

// Lease records that a node holds a task. Epoch increases every time the
// task is handed out, requeued or terminated; a report carrying an older
// epoch is refused (fencing), so a task never completes twice.
type Lease struct {
	JobID, TaskID string
	NodeID        string
	Epoch         int64
}

// TaskRow is a task with the bookkeeping the scheduler needs.
type TaskRow struct {
	Task  *api.Task
	JobID string
	// Epoch is the lease epoch; NodeID the node holding it ("" if none).
	Epoch  int64
	NodeID string
	// Seq is the insertion order within the store.
	Seq int64
	// Waiting is true while the task has dependencies not yet satisfied;
	// waiting tasks are not returned by RunnableTasks.
	Waiting bool
}

// Candidate is a runnable task as RunnableTasks finds it: enough to plan a
// lease (its job, ID and slots), not its body.
type Candidate struct {
	Seq    int64  // the task's insertion order, its key
	JobID  string // lower case
	TaskID string // lower case
	Slots  int32
}

// TaskSlots is how many of a node's slots t takes (requiredSlots, 1 if
// unset).
func TaskSlots(t *api.Task) int32 {
	if t.RequiredSlots != nil && *t.RequiredSlots > 0 {
		return *t.RequiredSlots
	}
	return 1
}

// LeaseBatch is what one LeaseTasks call may lease onto a node.
type LeaseBatch struct {
	NodeID string
	// NodeSlots is the node's task slots: its leased tasks' slots never
	// exceed it.
	NodeSlots int32
	// Free is the most slots the batch leases (the node's free slots as
	// it reported them); Want (<= Free) ends the batch once reached: the
	// node's share of the work in sight.
	Free, Want int32
	// MaxParallel holds the maxParallelTasks of the candidates' jobs that
	// limit their running tasks, by lower-case job ID.
	MaxParallel map[string]int32
	// Candidates are the tasks to lease, in the order to try them.
	Candidates []Candidate
	// NodeTakes, if set, is asked about the node as stored when the
	// batch locks it; false (the node's scheduling was disabled, it is
	// leaving its pool, it is gone) leases nothing. The plan read the node
	// outside the transaction.
	NodeTakes func(*Node) bool
}

// NodeHistory is what ran on a node: its most recent tasks and how many
// of the tasks that last ran there completed and succeeded.
type NodeHistory struct {
	Recent               []*TaskRow
	Completed, Succeeded int32
}

// NodeLoad is what a node runs now.
type NodeLoad struct {
	Tasks, Slots int32
}

// Node is a compute node as stored: its wire form plus agent bookkeeping.
type Node struct {
	PoolID string
	Node   *api.ComputeNode
	// Root is the node's root directory on its machine.
	Root string
	// Address is the base URL of the agent's file server ("" for in-process nodes).
	Address string
	// LastHeartbeat is when the agent last reported.
	LastHeartbeat time.Time
	// CredentialGen is the generation of the node's credential
	// (nodeproto.NodeCredential); 0 for in-process nodes, which have none.
	CredentialGen int64 `json:",omitempty"`
	// DrainOption is the nodeDeallocationOption a leavingpool node was
	// drained with (service.DrainNode): requeue and terminate have its
	// agent stop its tasks and leave (nodeproto.Work.Remove);
	// taskcompletion and retaineddata let them finish.
	DrainOption string `json:",omitempty"`
}

// AutoScaleSample is the value of each of a pool's sampled autoscale
// variables ("$PendingTasks", "$CPUPercent", …) at one time, stored at
// millisecond precision.
type AutoScaleSample struct {
	Time   time.Time
	Values map[string]float64
}

// Store is openbatch's persistence. Update functions run inside a
// transaction: if fn returns an error nothing is written and the error is
// returned unchanged.
type Store interface {
	CreatePool(ctx context.Context, p *api.Pool) error
	GetPool(ctx context.Context, id string) (*api.Pool, error)
	ListPools(ctx context.Context, pg Page) ([]*api.Pool, string, error)
	UpdatePool(ctx context.Context, id string, fn func(*api.Pool) error) (*api.Pool, error)
	DeletePool(ctx context.Context, id string) error

	CreateJobSchedule(ctx context.Context, js *api.JobSchedule) error
	GetJobSchedule(ctx context.Context, id string) (*api.JobSchedule, error)
	// ListJobSchedules lists schedules in creation order; Page.State
	// narrows by state.
	ListJobSchedules(ctx context.Context, pg Page) ([]*api.JobSchedule, string, error)
	UpdateJobSchedule(ctx context.Context, id string, fn func(*api.JobSchedule) error) (*api.JobSchedule, error)
	DeleteJobSchedule(ctx context.Context, id string) error

	CreateJob(ctx context.Context, j *api.Job) error
	GetJob(ctx context.Context, id string) (*api.Job, error)
	ListJobs(ctx context.Context, pg Page) ([]*api.Job, string, error)
	UpdateJob(ctx context.Context, id string, fn func(*api.Job) error) (*api.Job, error)
	DeleteJob(ctx context.Context, id string) error

	// CreateTasks adds tasks to a job in one transaction; the result has one
	// error per task (nil, ErrExists, or another error). A failing task does
	// not stop the others. If the job would then hold more than
	// api.MaxTasksPerJob tasks, nothing is added and the error is
	// ErrJobTaskLimit; if the job is terminating, completed or being
	// deleted, nothing is added and the error is ErrJobClosed. Both are
	// checked in the same transaction, under the job's row lock, so a
	// change of the job's state is ordered before or after the add: a
	// terminate never misses a task added at the same moment.
	CreateTasks(ctx context.Context, jobID string, tasks []*api.Task) ([]error, error)
	GetTask(ctx context.Context, jobID, taskID string) (*TaskRow, error)
	// TasksByID returns those of the job's tasks whose IDs are in ids, keyed
	// by lower-case task ID; IDs that do not exist are absent from the map.
	// It is one set query (batched), so resolving dependencies costs a few
	// round trips per completion rather than one per dependency ID.
	TasksByID(ctx context.Context, jobID string, ids []string) (map[string]*TaskRow, error)
	ListTasks(ctx context.Context, jobID string, pg Page) ([]*TaskRow, string, error)
	// UpdateTask runs fn on the task; fn may change the row's Epoch and NodeID.
	UpdateTask(ctx context.Context, jobID, taskID string, fn func(*TaskRow) error) (*TaskRow, error)
	// LeaseTasks leases tasks of b.Candidates onto b.NodeID in one
	// transaction and returns the rows leased, in candidate order. It
	// takes, in order, each candidate that is still runnable (active, its
	// dependencies met, on no node, its job active: a job disabled or
	// terminated since the candidates were read leases nothing, and a
	// change of a job's state is ordered before or after the batch, never
	// interleaved with it) and that no other transaction holds at
	// that moment (not waited for), as long as it fits: the batch stops
	// once it has leased b.Want slots, and leases a task only if the
	// batch's slots stay within b.Free, the node's leased tasks' slots
	// within b.NodeSlots and the job's leased tasks within
	// b.MaxParallel[job], all counted from the stored leases in the same
	// transaction. Concurrent batches, from any server, are serialized on
	// the node and on each limited job, so the limits hold however many
	// nodes poll at once. fn sets each lease (epoch, node) as with
	// UpdateTask; an error from it rolls the batch back. stale counts the
	// candidates that were not runnable or were held: others took them,
	// and the caller may plan again from a fresh RunnableTasks.
	LeaseTasks(ctx context.Context, b LeaseBatch, fn func(*TaskRow) error) (leased []*TaskRow, stale int, err error)
	DeleteTask(ctx context.Context, jobID, taskID string) error
	// DeleteJobTasks removes every task of a job.
	DeleteJobTasks(ctx context.Context, jobID string) error
	// TaskStateCounts counts a job's tasks by state and result.
	TaskStateCounts(ctx context.Context, jobID string) (api.TaskCountsResult, error)
	// RunnableTasks returns up to max active tasks of jobs on poolID, in
	// scheduling order (job priority, then insertion order). It reads no
	// task bodies: nodes call it on every poll, and a lease reads the ones
	// it takes (LeaseTasks).
	RunnableTasks(ctx context.Context, poolID string, max int) ([]Candidate, error)
	// TaskState returns a task's state without reading its body.
	TaskState(ctx context.Context, jobID, taskID string) (api.TaskState, error)
	// WaitingTasks returns a job's active tasks whose dependencies are not
	// yet satisfied.
	WaitingTasks(ctx context.Context, jobID string) ([]*TaskRow, error)
	// LeasesOnNode returns the leases (job and task IDs in lower case, and
	// epochs) of the running and preparing tasks held by a node. It reads
	// no task bodies, so nodes can call it on every poll.
	LeasesOnNode(ctx context.Context, nodeID string) ([]Lease, error)
	// NodeHistory returns the tasks that last ran on a node, newest first.
	NodeHistory(ctx context.Context, nodeID string, max int) (NodeHistory, error)
	// NodeLoads counts the tasks, and sums their slots, leased to each node.
	NodeLoads(ctx context.Context, nodeIDs []string) (map[string]NodeLoad, error)
	// TasksOnNode returns the tasks a node currently holds a lease on.
	TasksOnNode(ctx context.Context, nodeID string) ([]*TaskRow, error)

	// UpdatePrepRelease runs fn on the record of the job's preparation and
	// release task runs on node nodeID (a new one, with PoolID and NodeID
	// unset, if there is none) and writes it, in one transaction: reports
	// of the two runs that cross do not undo each other.
	UpdatePrepRelease(ctx context.Context, jobID, nodeID string, fn func(*api.JobPreparationAndReleaseTaskExecutionInformation) error) error
	// PendingReleases returns the jobs that are completed, terminating or
	// deleting, have a release task whose preparation task ran on nodeID
	// and whose release task has not run there, and hold no lease on
	// nodeID (their tasks there have ended).
	PendingReleases(ctx context.Context, nodeID string) ([]*api.Job, error)
	// PrepReleaseStatus lists a job's preparation/release runs by node.
	PrepReleaseStatus(ctx context.Context, jobID string) ([]api.JobPreparationAndReleaseTaskExecutionInformation, error)

	PutNode(ctx context.Context, n *Node) error
	// RegisterNode writes the node fn returns as node nodeID of pool
	// poolID, in one transaction that locks the pool's row and then the
	// node's: fn is given the pool and the node as stored (nil if there is
	// none) and may refuse with an error, which writes nothing.
	// Registrations of one pool follow one another, so two at once of the
	// same new node cannot both find it absent. A missing pool is
	// ErrNotFound.
	RegisterNode(ctx context.Context, poolID, nodeID string, fn func(pool *api.Pool, old *Node) (*Node, error)) (*Node, error)
	GetNode(ctx context.Context, poolID, nodeID string) (*Node, error)
	ListNodes(ctx context.Context, poolID string) ([]*Node, error)
	UpdateNode(ctx context.Context, poolID, nodeID string, fn func(*Node) error) (*Node, error)
	// UpdatePoolWithNodes runs fn on the pool and its nodes (by ID) and
	// writes the pool back, in one transaction that locks the pool's row
	// before it lists the nodes: a count of them written by fn reflects
	// every node change committed before the lock, and writes of it
	// follow one another. A missing pool is ErrNotFound; an error from fn
	// writes nothing.
	UpdatePoolWithNodes(ctx context.Context, poolID string, fn func(*api.Pool, []*Node) error) (*api.Pool, error)
	// UpdatePoolNodes runs, in one transaction, nodeFn on each of the
	// pool's nodes nodeIDs (in that order) and then poolFn on the pool,
	// and writes back all of them: a pool's target and the nodes drained
	// to meet it change together or not at all. A missing pool or node is
	// ErrNotFound; an error of either function writes nothing.
	UpdatePoolNodes(ctx context.Context, poolID string, nodeIDs []string, nodeFn func(*Node) error, poolFn func(*api.Pool) error) (*api.Pool, error)
	DeleteNode(ctx context.Context, poolID, nodeID string) error

	// AddAutoScaleSample records a sample of a pool's sampled autoscale
	// variables and, in the same transaction, drops the pool's samples
	// taken before keepAfter, so the history stays bounded.
	AddAutoScaleSample(ctx context.Context, poolID string, s AutoScaleSample, keepAfter time.Time) error
	// AutoScaleSamples returns a pool's samples taken at or after since,
	// oldest first. DeletePool deletes a pool's samples.
	AutoScaleSamples(ctx context.Context, poolID string, since time.Time) ([]AutoScaleSample, error)

	Coordination

	Close() error
}

// Coordination is what several servers sharing one database need from it
// besides the entities: a lease that elects one of them for periodic work,
// and wake-ups that reach all of them.
type Coordination interface {
	// TryLead takes or renews the lease called name for holder, for ttl
	// from now by the database's clock, when the lease is free, expired or
	// already holder's, and reports whether holder holds it. A holder that
	// stops renewing loses the lease after ttl; another takes it then.
	TryLead(ctx context.Context, name, holder string, ttl time.Duration) (bool, error)
	// Notify wakes every server sharing the database, this one included
	// (PostgreSQL: NOTIFY; SQLite, which one server opens, an in-process
	// channel): there may be new work, or an entity the receivers cache
	// changed. The service signals its changes this way, so it never calls
	// the scheduler.
	Notify(ctx context.Context) error
	// Wakeups receives after any server's Notify. Wake-ups carry no data;
	// they may be coalesced or lost, so a receiver treats one as a hint to
	// look again and polls as well.
	Wakeups() <-chan struct{}
}
