package conventions

import (
	"errors"
	"fmt"
	"strings"
)

// Kind is the category of an output under the conventions. It names the
// "$Kind" folder that the output is stored under, and so decides where the
// Azure portal shows it (TaskOutput under "Saved output files", TaskLog under
// "Saved logs"). Kinds are compared case-sensitively, as in .NET.
type Kind string

// The well-known kinds. Task kinds are used under "{taskId}/"; job kinds at
// the root of the job's container.
const (
	// TaskOutput is a task's persistent output.
	TaskOutput Kind = "TaskOutput"
	// TaskPreview is a quick-look artefact of a task (e.g. a thumbnail).
	TaskPreview Kind = "TaskPreview"
	// TaskLog is a task's log (stdout, stderr, application logs).
	TaskLog Kind = "TaskLog"
	// TaskIntermediate is task output consumed by other tasks, not people.
	TaskIntermediate Kind = "TaskIntermediate"
	// JobOutput is the persistent output of the job as a whole.
	JobOutput Kind = "JobOutput"
	// JobPreview is a quick-look artefact of the job as a whole.
	JobPreview Kind = "JobPreview"
)

// ErrInvalidKind is returned (wrapped) for a kind that cannot name a folder.
var ErrInvalidKind = errors.New("invalid output kind")

// NewKind returns a custom kind after validating it (see [Kind.Validate]).
// Custom kinds are stored as "$Text", exactly like the well-known ones.
func NewKind(text string) (Kind, error) {
	k := Kind(text)
	if err := k.Validate(); err != nil {
		return "", err
	}
	return k, nil
}

// Validate reports whether k can be used as a kind: it must be non-empty and
// must not contain '/' or '\' (which would nest prefixes and make listings
// ambiguous, something .NET does not check) nor start with '$' (the '$' is
// added by the convention).
func (k Kind) Validate() error {
	switch {
	case k == "":
		return fmt.Errorf("%w: empty", ErrInvalidKind)
	case strings.ContainsAny(string(k), `/\`):
		return fmt.Errorf("%w %q: must not contain '/' or '\\'", ErrInvalidKind, string(k))
	case strings.HasPrefix(string(k), "$"):
		return fmt.Errorf("%w %q: give the kind without its '$'", ErrInvalidKind, string(k))
	}
	return nil
}

// Folder returns the folder name of the kind, "$" + k.
func (k Kind) Folder() string { return "$" + string(k) }

// String returns the kind's text.
func (k Kind) String() string { return string(k) }
