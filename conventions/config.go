package conventions

import (
	"errors"
	"fmt"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

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

// ServiceClient returns a client of the whole blob service, for the
// connection-string and shared-key forms. It fails for the container-URL
// form, which reaches one container only.
func (c StorageConfig) ServiceClient() (*service.Client, error) {
	co, err := clientOptions(azcore.ClientOptions{})
	if err != nil {
		return nil, err
	}
	opts := &service.ClientOptions{ClientOptions: co}
	switch {
	case c.ConnectionString != "":
		svc, err := service.NewClientFromConnectionString(c.ConnectionString, opts)
		if err != nil {
			// The SDK's message may quote the string; never show it.
			return nil, errors.New("storage connection string is malformed (expected e.g. DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…)")
		}
		return svc, nil
	case c.AccountName != "" || c.AccountKey != "":
		cred, err := c.SharedKey()
		if err != nil {
			return nil, err
		}
		svc, err := service.NewClientWithSharedKeyCredential(c.ServiceURL(), cred, opts)
		if err != nil {
			return nil, fmt.Errorf("blob service %s: %w", RedactURL(c.ServiceURL()), sanitize(err))
		}
		return svc, nil
	case c.ContainerURL != "":
		return nil, errors.New("a container URL reaches one container only; this needs a connection string or an account name and key")
	}
	return nil, ErrNoStorage
}

// clientOptions returns o with the storage service version every client
// this package builds sends: azure.ServiceVersionEnv, or
// azure.DefaultServiceVersion (see docs/compatibility.md).
func clientOptions(o azcore.ClientOptions) (azcore.ClientOptions, error) {
	return azure.ClientOptionsFromEnv(o)
}

// ServiceURL returns the blob service URL of the shared-key form.
func (c StorageConfig) ServiceURL() string {
	if c.BlobEndpoint != "" {
		return c.BlobEndpoint
	}
	return "https://" + c.AccountName + ".blob.core.windows.net/"
}

// SharedKey returns the shared-key credential of the AccountName/AccountKey
// form, which can sign SAS URLs ([ContainerSASURL]).
func (c StorageConfig) SharedKey() (*service.SharedKeyCredential, error) {
	if c.AccountName == "" || c.AccountKey == "" {
		return nil, errors.New("both an account name and an account key are needed")
	}
	cred, err := service.NewSharedKeyCredential(c.AccountName, c.AccountKey)
	if err != nil {
		return nil, errors.New("account key is not valid base64")
	}
	return cred, nil
}

// JobContainer returns the container of jobID's outputs: the container URL
// itself when given (jobID is then ignored), otherwise ContainerName(jobID)
// in the configured account.
func (c StorageConfig) JobContainer(jobID string) (*JobContainer, error) {
	if c.ContainerURL != "" {
		return NewJobContainerFromURL(c.ContainerURL, nil)
	}
	svc, err := c.ServiceClient()
	if err != nil {
		return nil, err
	}
	return NewJobContainer(svc, jobID)
}
