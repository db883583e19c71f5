package outputfiles

import (
	"errors"
	"net/url"
	"strings"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
)

// Failure messages, worded like Azure Batch's.
const (
	msgContainerNotFound = "One of the specified Azure container(s) was not found while attempting to upload an output file"
	msgAccessDenied      = "Access to one of the specified Azure container(s) was denied while attempting to upload an output file"
	msgConflict          = "A conflict occurred while attempting to upload an output file"
	msgTimedOut          = "A timeout occurred while attempting to upload an output file"
	msgMisc              = "An unexpected error occurred while attempting to upload an output file"
	msgPattern           = "An output file pattern could not be used to find files to upload"
)

// FailureCode maps an upload error to a Batch failure code and category:
// ContainerNotFound → FileUploadContainerNotFound and AccessDenied →
// FileUploadAccessDenied (usererror: the user must fix the container or the
// SAS); Conflict → FileUploadConflict, TimedOut → FileUploadTimedOut and
// anything else → FileUploadMiscError (servererror). A *PatternError (a
// pattern the node refuses to read) is FileUploadMiscError as usererror.
func FailureCode(err error) (code string, category api.ErrorCategory, message string) {
	var pe *PatternError
	if errors.As(err, &pe) {
		return api.FailureFileUploadMiscError, api.UserError, msgPattern
	}
	switch blob.KindOf(err) {
	case blob.ContainerNotFound:
		return api.FailureFileUploadContainerNotFound, api.UserError, msgContainerNotFound
	case blob.AccessDenied:
		return api.FailureFileUploadAccessDenied, api.UserError, msgAccessDenied
	case blob.Conflict:
		return api.FailureFileUploadConflict, api.ServerError, msgConflict
	case blob.TimedOut:
		return api.FailureFileUploadTimedOut, api.ServerError, msgTimedOut
	}
	return api.FailureFileUploadMiscError, api.ServerError, msgMisc
}

// Redact returns a URL without its secrets (the SAS signature); see
// blob.Redact. Everything outputfiles writes to logs, errors and failure
// information passes through it or blob.RedactText.
func Redact(rawURL string) string { return blob.Redact(rawURL) }

// blobURL is the redacted URL of blob name in container containerURL.
func blobURL(containerURL, name string) string {
	u, err := url.Parse(containerURL)
	if err != nil {
		return blob.Redact(containerURL) + " blob " + name
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + name
	u.RawPath = ""
	return blob.Redact(u.String())
}
