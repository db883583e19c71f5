package conventions

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
)

// StorageConfig says how to reach the blob storage holding job containers.
// Exactly one way is used, in this order: ContainerURL (a SAS URL of one
// job's container), ConnectionString, or AccountName with AccountKey.
// Callers (the CLI) fill it from flags and the environment.
type StorageConfig struct {
	// ContainerURL is a job container's URL with SAS, as from
	// [ContainerSASURL]. It names the container, so no job ID is needed.
	ContainerURL string
	// ConnectionString is an Azure Storage connection string with an account
	// key (or a SAS for the whole account).
	ConnectionString string
	// AccountName and AccountKey are shared-key credentials.
	AccountName, AccountKey string
	// BlobEndpoint is the blob service URL for AccountName; empty means
	// https://{AccountName}.blob.core.windows.net/.
	BlobEndpoint string
}

// ErrNoStorage is returned when a StorageConfig names no storage at all.
var ErrNoStorage = errors.New("no storage configured: give a container URL with SAS, a connection string, or an account name and key")

// account returns the storage account of the connection-string and
// shared-key forms. It fails for the container-URL form, which reaches one
// container only.
func (c StorageConfig) account() (azure.Account, error) {
	switch {
	case c.ConnectionString != "":
		return azure.ParseConnectionString(c.ConnectionString)
	case c.AccountName != "" || c.AccountKey != "":
		if c.AccountName == "" || c.AccountKey == "" {
			return azure.Account{}, errors.New("both an account name and an account key are needed")
		}
		return azure.Account{BlobEndpoint: strings.TrimRight(c.ServiceURL(), "/"), Name: c.AccountName, Key: c.AccountKey}, nil
	case c.ContainerURL != "":
		return azure.Account{}, errors.New("a container URL reaches one container only; this needs a connection string or an account name and key")
	}
	return azure.Account{}, ErrNoStorage
}

// ServiceURL returns the blob service URL of the shared-key form.
func (c StorageConfig) ServiceURL() string {
	if c.BlobEndpoint != "" {
		return c.BlobEndpoint
	}
	return "https://" + c.AccountName + ".blob.core.windows.net/"
}

// accountIdentity names the account key in the Backend that opens a
// StorageConfig's containers.
const accountIdentity = "openbatch:conventions-account"

// JobContainer returns the container of jobID's outputs: the container URL
// itself when given (jobID is then ignored), otherwise ContainerName(jobID)
// in the configured account. No request is made.
func (c StorageConfig) JobContainer(jobID string) (*JobContainer, error) {
	if c.ContainerURL != "" {
		return OpenJobContainer(context.Background(), c.ContainerURL)
	}
	if jobID == "" {
		return nil, fmt.Errorf("%w: empty job ID", ErrInvalidID)
	}
	acct, err := c.account()
	if err != nil {
		return nil, err
	}
	name := ContainerName(jobID)
	var opts azure.Options
	var open blob.OpenOptions
	if id, ok := acct.Identity(); ok {
		opts.Identities = map[string]azure.Identity{accountIdentity: id}
		open.IdentityResourceID = accountIdentity
	}
	b, err := azure.New(opts)
	if err != nil {
		return nil, errors.New("account key is not valid base64")
	}
	bc, err := b.Open(context.Background(), acct.ContainerURL(name), open)
	if err != nil {
		return nil, fmt.Errorf("container %s: %w", name, sanitize(err))
	}
	return NewJobContainer(withRetry(bc), name), nil
}
