package autoscale

import (
	"strings"
	"time"
)

// svcVar describes a service-defined variable.
type svcVar struct {
	name     string
	writable bool
	sampled  bool
}

// Sampled service variables: each is an object whose history the formula
// reads with GetSample and the other sample methods.
const (
	CPUPercent         = "$CPUPercent"
	WallClockSeconds   = "$WallClockSeconds"
	MemoryBytes        = "$MemoryBytes"
	DiskBytes          = "$DiskBytes"
	DiskReadBytes      = "$DiskReadBytes"
	DiskWriteBytes     = "$DiskWriteBytes"
	DiskReadOps        = "$DiskReadOps"
	DiskWriteOps       = "$DiskWriteOps"
	NetworkInBytes     = "$NetworkInBytes"
	NetworkOutBytes    = "$NetworkOutBytes"
	SampleNodeCount    = "$SampleNodeCount"
	ActiveTasks        = "$ActiveTasks"
	RunningTasks       = "$RunningTasks"
	PendingTasks       = "$PendingTasks"
	SucceededTasks     = "$SucceededTasks"
	FailedTasks        = "$FailedTasks"
	PreemptedNodeCount = "$PreemptedNodeCount"
	UsableNodeCount    = "$UsableNodeCount"
)

// SampledVariables lists the sampled service variables, in the order the
// service records them.
var SampledVariables = []string{CPUPercent, WallClockSeconds, MemoryBytes, DiskBytes, DiskReadBytes, DiskWriteBytes,
	DiskReadOps, DiskWriteOps, NetworkInBytes, NetworkOutBytes, SampleNodeCount, ActiveTasks, RunningTasks,
	PendingTasks, SucceededTasks, FailedTasks, PreemptedNodeCount, UsableNodeCount}

// Plain service variables.
const (
	TargetDedicatedNodes    = "$TargetDedicatedNodes"
	TargetLowPriorityNodes  = "$TargetLowPriorityNodes"
	NodeDeallocationOption  = "$NodeDeallocationOption"
	CurrentDedicatedNodes   = "$CurrentDedicatedNodes"
	CurrentLowPriorityNodes = "$CurrentLowPriorityNodes"
	TaskSlotsPerNode        = "$TaskSlotsPerNode"
)

var serviceVars = map[string]svcVar{}

func init() {
	for _, n := range SampledVariables {
		serviceVars[n] = svcVar{name: n, sampled: true}
	}
	for _, n := range []string{TargetDedicatedNodes, TargetLowPriorityNodes, NodeDeallocationOption} {
		serviceVars[n] = svcVar{name: n, writable: true}
	}
	for _, n := range []string{CurrentDedicatedNodes, CurrentLowPriorityNodes, TaskSlotsPerNode} {
		serviceVars[n] = svcVar{name: n}
	}
}

// aliases are the older names Azure still accepts for the targets.
var aliases = map[string]string{
	"$TargetDedicated":   TargetDedicatedNodes,
	"$TargetLowPriority": TargetLowPriorityNodes,
}

// canonical names a variable as the evaluator stores it: service variables
// (and their aliases) by their "$" name, user variables without the "$",
// which Azure makes optional for them.
func canonical(name string) string {
	if a, ok := aliases[name]; ok {
		return a
	}
	if _, ok := serviceVars[name]; ok {
		return name
	}
	return strings.TrimPrefix(name, "$")
}

// constants are the TimeInterval_* names.
var constants = map[string]time.Duration{
	"TimeInterval_Zero":        0,
	"TimeInterval_100ns":       100 * time.Nanosecond,
	"TimeInterval_Microsecond": time.Microsecond,
	"TimeInterval_Millisecond": time.Millisecond,
	"TimeInterval_Second":      time.Second,
	"TimeInterval_Minute":      time.Minute,
	"TimeInterval_Hour":        time.Hour,
	"TimeInterval_Day":         24 * time.Hour,
	"TimeInterval_Week":        7 * 24 * time.Hour,
	"TimeInterval_Year":        365 * 24 * time.Hour,
}

// DeallocationOptions are the values $NodeDeallocationOption may take;
// written bare in a formula ("$NodeDeallocationOption = taskcompletion;")
// they are strings.
var DeallocationOptions = []string{"requeue", "terminate", "taskcompletion", "retaineddata"}
