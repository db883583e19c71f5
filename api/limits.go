package api

// Input limits. Every request body is checked against these before any
// work is done, so a hostile or mistaken request is refused with an Azure
// error code and changes no state. Where Azure publishes a number it is
// used; the others are openbatch's own, listed with their reasons in
// docs/compatibility.md ("Limits").
const (
	// MaxIDLength is the longest pool, job or task ID (Azure: 64).
	MaxIDLength = 64
	// MaxDisplayNameLength is the longest display name in characters
	// (Azure: 1024).
	MaxDisplayNameLength = 1024
	// MaxTaskDependencyIDsLength is the longest total length of a task's
	// dependsOn.taskIds (Azure: 64000, TaskDependencyListTooLong).
	MaxTaskDependencyIDsLength = 64000
	// MaxTaskDependencyRangeIDs is how many task IDs a task's
	// dependsOn.taskIdRanges may cover in all (openbatch's limit, refused
	// with Azure's TaskDependencyRangesTooLong). It bounds the work of
	// releasing dependents.
	MaxTaskDependencyRangeIDs = 100000
	// MaxTasksPerJob is the most tasks one job may hold (openbatch's
	// limit; Azure publishes none). It keeps a job's listing, counts and
	// dependency resolution bounded; completed tasks can be deleted.
	MaxTasksPerJob = 1_000_000
	// MaxPoolTargetNodes is the largest target node count (dedicated plus
	// low-priority) of one pool (openbatch's limit; Azure's comes from the
	// account's core quota).
	MaxPoolTargetNodes = 10000
	// MaxCommandLineLength is the longest task or start task command line
	// in bytes (openbatch's limit: the Windows command-line limit, well under
	// Linux's per-argument limit of 128 KiB).
	MaxCommandLineLength = 32767
	// MaxEnvironmentSettings is the most environment settings one task,
	// start task or job may carry.
	MaxEnvironmentSettings = 1000
	// MaxEnvironmentValueLength is the longest environment value in bytes.
	MaxEnvironmentValueLength = 32767
	// MaxMetadataItems is the most metadata items on a pool or job.
	MaxMetadataItems = 100
	// MaxMetadataBytes is the largest total size of a pool's or job's
	// metadata names and values (refused with Azure's MetadataTooLarge).
	MaxMetadataBytes = 8192
	// MaxResourceFiles is the most resource files of one task or start
	// task (Azure documents a size limit answered with
	// RequestEntityTooLarge without a number).
	MaxResourceFiles = 1000
	// MaxOutputFiles is the most output files of one task.
	MaxOutputFiles = 1000
	// MaxUploadHeaders is the most uploadHeaders of one output file.
	MaxUploadHeaders = 64
	// MaxUploadHeaderLength is the longest uploadHeaders name or value.
	MaxUploadHeaderLength = 8192
)

// TaskIDRangesSpan is how many task IDs ranges cover (overlaps counted
// twice; ranges with start > end count zero). It is computed in int64, so
// it cannot overflow for any int32 ranges.
func TaskIDRangesSpan(ranges []TaskIDRange) int64 {
	var n int64
	for _, r := range ranges {
		if r.End >= r.Start {
			n += int64(r.End) - int64(r.Start) + 1
		}
	}
	return n
}
