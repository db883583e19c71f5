// Package agent is the node side of openbatch: it lays out a node's
// directories exactly as an Azure Batch Linux node does, builds each task's
// environment, and runs a task as a short pipeline of steps:
//
//	task directory → resource files → process → [steps appended by the caller]
//
// Each step lives in its own file (step_*.go), receives the run's context
// (cancelling it terminates the task) and can end the run with a Failure
// carrying the Batch failure code. The caller appends further steps, such as
// output-file upload, with Config.AfterProcess; they see the process's
// outcome in TaskRun.Result.
//
// The runner does not decide retries or task state: it reports what
// happened (start and end times, exit code, failure information, whether
// the failure happened before the process ran, statistics) and the
// scheduler decides what that means.
//
// Sub-packages: cmdline splits command lines into argv without a shell;
// nodefiles serves a node's or task's files to the HTTP layer without ever
// leaving the directory it is given.
package agent
