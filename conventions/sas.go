package conventions

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"
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
func sasPermissions() string {
	p := sas.ContainerPermissions{Add: true, Create: true, List: true, Read: true, Write: true}
	return p.String()
}

// ContainerSASURL returns the URL of the conventions container of jobID at
// the blob service serviceURL (e.g. "https://acct.blob.core.windows.net"),
// with a service SAS signed by cred that grants add, create, list, read and
// write until now+Expiry. Give it to tasks (outputFiles containerUrl, or
// OPENBATCH_OUTPUT_CONTAINER_URL for `openbatch track`) so they can write
// outputs without the account key. As in .NET no start time is set, so
// the SAS is usable at once whatever the clocks say. The URL contains a
// secret: do not log it.
func ContainerSASURL(serviceURL string, cred *service.SharedKeyCredential, jobID string, opts *SASOptions) (string, error) {
	if cred == nil {
		return "", fmt.Errorf("container SAS for job %q: a shared key credential is required to sign it", jobID)
	}
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
	u, err := url.Parse(serviceURL)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("container SAS for job %q: service URL %q is not an absolute URL", jobID, RedactURL(serviceURL))
	}
	name := ContainerName(jobID)
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    now().Add(o.Expiry).UTC(),
		Permissions:   sasPermissions(),
		ContainerName: name,
	}.SignWithSharedKey(cred)
	if err != nil {
		return "", fmt.Errorf("container SAS for job %q: %w", jobID, sanitize(err))
	}
	u.RawQuery = qp.Encode()
	u.Path = strings.TrimSuffix(u.Path, "/") + "/" + name
	u.RawPath = ""
	return u.String(), nil
}

// PrepareOutputStorage creates the conventions container of jobID in the
// account of svc if it does not exist yet, and returns it. It is idempotent:
// calling it for a job whose container exists is not an error. The container
// is private (no public access).
func PrepareOutputStorage(ctx context.Context, svc *service.Client, jobID string) (*JobContainer, error) {
	c, err := NewJobContainer(svc, jobID)
	if err != nil {
		return nil, err
	}
	if _, err := c.cc.Create(ctx, nil); err != nil && !bloberror.HasCode(err, bloberror.ContainerAlreadyExists) {
		return nil, fmt.Errorf("create output container %s for job %q: %w", c.name, jobID, sanitize(err))
	}
	return c, nil
}
