package azure

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

// Options configure a Backend. Zero fields take the defaults documented on
// each field.
type Options struct {
	// BlockSize is the size of one staged block of a large upload (default
	// 8 MiB). It grows automatically for files that would need more than
	// 50,000 blocks (the service's limit), i.e. files over ~390 GiB.
	BlockSize int64
	// SinglePutMax is the largest file uploaded with one Put Blob request;
	// larger files are staged as blocks and committed (default BlockSize,
	// at most BlockSize).
	SinglePutMax int64
	// BlockConcurrency is the number of blocks of one file uploaded in
	// parallel (default 4).
	BlockConcurrency int
	// MaxBufferMemory bounds the memory held in upload buffers by all uploads
	// through this Backend together (default 64 MiB, at least one block).
	// Files are read from disk once, sequentially, into these buffers (which
	// is what makes Content-MD5 exactly the MD5 of the bytes sent); so memory
	// does not grow with file size or the number of files.
	MaxBufferMemory int64
	// Retry is the azcore request-level retry policy. Defaults: MaxRetries 5,
	// RetryDelay 1s, MaxRetryDelay 60s, TryTimeout 5m, and azcore's status
	// codes 408, 429, 500, 502, 503, 504. azcore retries those statuses and
	// every transport error (connection reset/refused, per-try timeout),
	// waits with exponential backoff and jitter (delay·(2^try−1)·[0.8,1.3),
	// capped at MaxRetryDelay), and honours Retry-After / retry-after-ms /
	// x-ms-retry-after-ms — but gives up at once when Retry-After exceeds
	// MaxRetryDelay. Every retry is counted in blob.PutResult.Retries and
	// logged at Info through Logger.
	Retry policy.RetryOptions
	// Identities resolves identityReference.resourceId values (the map key)
	// to credentials. A destination with an identity reference that is not in
	// this map fails with blob.AccessDenied.
	Identities map[string]Identity
	// Transport replaces the HTTP client (tests, proxies). Nil: a client
	// with the SDK's default settings and an idle pool of 64 connections
	// per host (see newTransport), one per Backend.
	Transport policy.Transporter
	// Logger receives retry notices (with redacted URLs). Nil: slog.Default().
	Logger *slog.Logger
	// ServiceVersion is the storage service version (x-ms-version) sent on
	// every request; "" means DefaultServiceVersion. New refuses a value
	// that is not of the form YYYY-MM-DD.
	ServiceVersion string
}

// Default sizes.
const (
	DefaultBlockSize        = 8 << 20
	DefaultBlockConcurrency = 4
	DefaultMaxBufferMemory  = 64 << 20
	// MaxBlocks is the service's limit on the blocks of one block blob.
	MaxBlocks = 50_000
)

func (o Options) withDefaults() Options {
	if o.BlockSize <= 0 {
		o.BlockSize = DefaultBlockSize
	}
	if o.SinglePutMax <= 0 || o.SinglePutMax > o.BlockSize {
		o.SinglePutMax = o.BlockSize
	}
	if o.BlockConcurrency <= 0 {
		o.BlockConcurrency = DefaultBlockConcurrency
	}
	if o.MaxBufferMemory <= 0 {
		o.MaxBufferMemory = DefaultMaxBufferMemory
	}
	if o.MaxBufferMemory < o.BlockSize {
		o.MaxBufferMemory = o.BlockSize
	}
	if o.Retry.MaxRetries == 0 {
		o.Retry.MaxRetries = 5
	}
	if o.Retry.RetryDelay == 0 {
		o.Retry.RetryDelay = time.Second
	}
	if o.Retry.MaxRetryDelay == 0 {
		o.Retry.MaxRetryDelay = 60 * time.Second
	}
	if o.Retry.TryTimeout == 0 {
		o.Retry.TryTimeout = 5 * time.Minute
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.Transport == nil {
		o.Transport = newTransport()
	}
	if o.ServiceVersion == "" {
		o.ServiceVersion = DefaultServiceVersion
	}
	return o
}

// IdentityType says how an Identity becomes a storage credential.
type IdentityType string

// Identity types.
const (
	// ManagedIdentity uses the node's Azure managed identity (IMDS) through
	// azidentity, selecting the user-assigned identity by ResourceID (default:
	// the identityReference.resourceId itself) or by ClientID.
	ManagedIdentity IdentityType = "managedIdentity"
	// ClientSecret uses a Microsoft Entra application: TenantID, ClientID,
	// ClientSecret. For self-hosted nodes outside Azure.
	ClientSecret IdentityType = "clientSecret"
	// AccountKey signs requests with a storage account's Shared Key:
	// AccountName, AccountKey. For self-hosted nodes and Azurite; it is the
	// only identity type that works over plain http.
	AccountKey IdentityType = "accountKey"
)

// Identity is the node-side configuration behind one identityReference. An
// agent's configuration file carries a map of them, e.g. (JSON):
//
//	"identities": {
//	  "/subscriptions/S/resourceGroups/RG/providers/Microsoft.ManagedIdentity/userAssignedIdentities/uploader":
//	    {"type": "managedIdentity"},
//	  "/subscriptions/S/.../userAssignedIdentities/ci":
//	    {"type": "clientSecret", "tenantId": "T", "clientId": "C", "clientSecret": "…"},
//	  "/subscriptions/S/.../userAssignedIdentities/lab":
//	    {"type": "accountKey", "accountName": "labstore", "accountKey": "…"}
//	}
//
// Secrets are never logged: Identity implements slog.LogValuer and
// fmt.Stringer showing only the type.
type Identity struct {
	Type         IdentityType `json:"type"`
	ResourceID   string       `json:"resourceId,omitempty"`
	ClientID     string       `json:"clientId,omitempty"`
	TenantID     string       `json:"tenantId,omitempty"`
	ClientSecret string       `json:"clientSecret,omitempty"`
	AccountName  string       `json:"accountName,omitempty"`
	AccountKey   string       `json:"accountKey,omitempty"`
}

// String shows the identity's type and never its secrets.
func (id Identity) String() string { return "azure.Identity{" + string(id.Type) + "}" }

// LogValue shows the identity's type and never its secrets.
func (id Identity) LogValue() slog.Value { return slog.StringValue(id.String()) }

// credential is a resolved Identity: exactly one field is set.
type credential struct {
	token azcore.TokenCredential
	key   *container.SharedKeyCredential
}

func (id Identity) resolve(resourceID string) (credential, error) {
	switch id.Type {
	case ManagedIdentity:
		o := &azidentity.ManagedIdentityCredentialOptions{}
		switch {
		case id.ClientID != "":
			o.ID = azidentity.ClientID(id.ClientID)
		case id.ResourceID != "":
			o.ID = azidentity.ResourceID(id.ResourceID)
		default:
			o.ID = azidentity.ResourceID(resourceID)
		}
		c, err := azidentity.NewManagedIdentityCredential(o)
		if err != nil {
			return credential{}, fmt.Errorf("managed identity: %w", err)
		}
		return credential{token: c}, nil
	case ClientSecret:
		if id.TenantID == "" || id.ClientID == "" || id.ClientSecret == "" {
			return credential{}, fmt.Errorf("clientSecret identity needs tenantId, clientId and clientSecret")
		}
		c, err := azidentity.NewClientSecretCredential(id.TenantID, id.ClientID, id.ClientSecret, nil)
		if err != nil {
			return credential{}, fmt.Errorf("client secret identity: %w", err)
		}
		return credential{token: c}, nil
	case AccountKey:
		if id.AccountName == "" || id.AccountKey == "" {
			return credential{}, fmt.Errorf("accountKey identity needs accountName and accountKey")
		}
		c, err := container.NewSharedKeyCredential(id.AccountName, id.AccountKey)
		if err != nil {
			return credential{}, fmt.Errorf("account key identity (the key must be base64): %w", err)
		}
		return credential{key: c}, nil
	}
	return credential{}, fmt.Errorf("unknown identity type %q (want %s, %s or %s)", id.Type, ManagedIdentity, ClientSecret, AccountKey)
}
