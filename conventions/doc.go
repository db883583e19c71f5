// Package conventions implements the Azure Batch File Conventions standard
// (the layout that Microsoft.Azure.Batch.Conventions.Files writes and the
// Azure portal reads) so that Go programs, the openbatch CLI and tasks on any
// Batch service persist and find outputs in the same places.
//
// The standard in one paragraph: every job owns one blob container whose name
// is derived from the job ID by [ContainerName]. Task outputs live under
// "{taskId}/${Kind}/{path}" and job outputs under "${Kind}/{path}", where Kind
// is one of the well-known [Kind] values (TaskOutput, TaskLog, JobOutput, …)
// or a custom one.
//
// What the package offers:
//   - pure naming: [ContainerName], [TaskPrefix], [JobPrefix], [TaskBlobName],
//     [JobBlobName], [NormalizePath], [ParseBlobName];
//   - storage: [PrepareOutputStorage], [ContainerSASURL], [JobContainer],
//     [TaskOutputStorage] and [JobOutputStorage] to save, list and download;
//   - streaming of growing files (logs) to append blobs with
//     [TaskOutputStorage.SaveTracked], resumable across restarts;
//   - builders of Batch outputFiles entries ([TaskOutputFiles],
//     [TaskLogFiles], [JobOutputFiles]) so the service itself uploads
//     conventions-named blobs with no code inside the task.
//
// Where this package deliberately differs from the .NET library (listing with
// a trailing "/", rejecting paths that escape their kind, resuming tracked
// saves instead of re-appending, rolling over append blobs) is documented on
// the identifiers concerned.
package conventions
