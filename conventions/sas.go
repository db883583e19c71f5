package conventions

import (
	"context"
	"fmt"
	"time"

	"github.com/openbatch/openbatch/blob"
)

// DefaultSASExpiry is how long a container SAS from [ContainerSASURL] is
// valid unless told otherwise: 7 days, as in .NET, chosen there to match the
// longest time a task can stay active.
const DefaultSASExpiry = 7 * 24 * time.Hour

// SASOptions tunes [ContainerSASURL]. The zero value (or nil) means the
// defaults.
type SASOptions struct {
	// Expiry is how long the SAS is valid from now; 0 means
	// DefaultSASExpiry. Negative values are an error.
	Expiry time.Duration
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// sasPermissions are the conventions' permissions: add, create, list, read
// and write ("racwl"), and never delete, as in .NET.
const sasPermissions = "racwl"

// ContainerSASURL returns the URL of the conventions container of jobID in
// the account cfg names (connection string or account name and key), with a
// service SAS signed by the account key that grants add, create, list, read
// and write until now+Expiry. Give it to tasks (outputFiles containerUrl, or
// OPENBATCH_OUTPUT_CONTAINER_URL for `openbatch track`) so they can write
// outputs without the account key. As in .NET no start time is set, so
// the SAS is usable at once whatever the clocks say. The URL contains a
// secret: do not log it.
func ContainerSASURL(cfg StorageConfig, jobID string, opts *SASOptions) (string, error) {
	if jobID == "" {
		return "", fmt.Errorf("%w: empty job ID", ErrInvalidID)
	}
	var o SASOptions
	if opts != nil {
		o = *opts
	}
	switch {
	case o.Expiry < 0:
		return "", fmt.Errorf("container SAS for job %q: expiry %v is negative", jobID, o.Expiry)
	case o.Expiry == 0:
		o.Expiry = DefaultSASExpiry
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	acct, err := cfg.account()
	if err != nil {
		return "", fmt.Errorf("container SAS for job %q: %w", jobID, err)
	}
	u, err := acct.ContainerSASURL(ContainerName(jobID), sasPermissions, now().Add(o.Expiry))
	if err != nil {
		return "", fmt.Errorf("container SAS for job %q: %w", jobID, err)
	}
	return u, nil
}

// PrepareOutputStorage creates the conventions container of jobID in the
// storage cfg names if it does not exist yet, and returns it. It is
// idempotent: calling it for a job whose container exists is not an error.
// The container is private (no public access).
func PrepareOutputStorage(ctx context.Context, cfg StorageConfig, jobID string) (*JobContainer, error) {
	c, err := cfg.JobContainer(jobID)
	if err != nil {
		return nil, err
	}
	cr, ok := blob.AsCreator(c.c)
	if !ok {
		return nil, fmt.Errorf("create output container %s for job %q: the storage backend cannot create containers", c.name, jobID)
	}
	if err := cr.Create(ctx); err != nil {
		return nil, fmt.Errorf("create output container %s for job %q: %w", c.name, jobID, sanitize(err))
	}
	return c, nil
}
