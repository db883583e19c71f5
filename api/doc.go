// Package api defines the wire types of the Azure Batch data-plane REST API
// as openbatch speaks it: request and response bodies, enums, error codes,
// ISO-8601 durations and date-times.
//
// Every JSON spelling in openbatch is defined here and nowhere else. The
// package does no I/O. Enum types accept any letter case on input (clients
// and the Azure portal send PascalCase such as "TaskCompletion") and always
// hold, and emit, the lowercase spelling of the REST specification.
package api
