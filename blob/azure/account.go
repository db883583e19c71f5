package azure

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/sas"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/service"

	"github.com/openbatch/openbatch/blob"
)

// Account is a storage account as a connection string describes it.
type Account struct {
	// BlobEndpoint is the blob service URL, without a trailing slash.
	BlobEndpoint string
	// Name and Key are the shared-key credentials ("" when the connection
	// string carries a SAS instead).
	Name, Key string
	// SAS is an account SAS query string (without "?"), "" when Key is set.
	SAS string
}

// String shows the endpoint and never a secret.
func (a Account) String() string { return "azure.Account{" + a.BlobEndpoint + "}" }

// errBadConnectionString never quotes the string: it holds a secret.
var errBadConnectionString = errors.New("storage connection string is malformed (expected e.g. DefaultEndpointsProtocol=https;AccountName=…;AccountKey=…)")

// ParseConnectionString parses an Azure Storage connection string:
// "Key=Value" pairs separated by ";", with AccountName and AccountKey, or a
// SharedAccessSignature, and the blob endpoint given as BlobEndpoint or
// derived from DefaultEndpointsProtocol, AccountName and EndpointSuffix
// (default core.windows.net). "UseDevelopmentStorage=true" is Azurite's
// well-known account. Errors never quote the string.
func ParseConnectionString(s string) (Account, error) {
	kv := map[string]string{}
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		k, v, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return Account{}, errBadConnectionString
		}
		kv[strings.ToLower(k)] = v
	}
	if strings.EqualFold(kv["usedevelopmentstorage"], "true") {
		return Account{
			BlobEndpoint: "http://127.0.0.1:10000/devstoreaccount1",
			Name:         "devstoreaccount1",
			Key:          "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
		}, nil
	}
	a := Account{Name: kv["accountname"], Key: kv["accountkey"], SAS: strings.TrimPrefix(kv["sharedaccesssignature"], "?")}
	if a.Key == "" && a.SAS == "" {
		return Account{}, errBadConnectionString
	}
	if a.Key != "" && a.Name == "" {
		return Account{}, errBadConnectionString
	}
	a.BlobEndpoint = kv["blobendpoint"]
	if a.BlobEndpoint == "" {
		if a.Name == "" {
			return Account{}, errBadConnectionString
		}
		proto := kv["defaultendpointsprotocol"]
		if proto == "" {
			proto = "https"
		}
		suffix := kv["endpointsuffix"]
		if suffix == "" {
			suffix = "core.windows.net"
		}
		a.BlobEndpoint = proto + "://" + a.Name + ".blob." + suffix
	}
	u, err := url.Parse(a.BlobEndpoint)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return Account{}, errBadConnectionString
	}
	a.BlobEndpoint = strings.TrimRight(a.BlobEndpoint, "/")
	return a, nil
}

// ContainerURL returns the URL of container name in the account, with the
// account SAS when the account has one.
func (a Account) ContainerURL(name string) string {
	u := a.BlobEndpoint + "/" + url.PathEscape(name)
	if a.SAS != "" {
		u += "?" + a.SAS
	}
	return u
}

// Identity returns the account-key identity of a (for Options.Identities),
// or false when a has no key.
func (a Account) Identity() (Identity, bool) {
	if a.Key == "" {
		return Identity{}, false
	}
	return Identity{Type: AccountKey, AccountName: a.Name, AccountKey: a.Key}, true
}

// ContainerSASURL returns the URL of container name in the account with a
// service SAS signed by the account key, granting perms (e.g. "racwl")
// until expiry, for http and https, with no start time (usable at once
// whatever the clocks say). The result holds a secret: never log it.
func (a Account) ContainerSASURL(name, perms string, expiry time.Time) (string, error) {
	if a.Key == "" || a.Name == "" {
		return "", errors.New("a container SAS needs an account name and key to sign it")
	}
	cred, err := service.NewSharedKeyCredential(a.Name, a.Key)
	if err != nil {
		return "", errors.New("account key is not valid base64")
	}
	var p sas.ContainerPermissions
	for _, r := range perms {
		switch r {
		case 'r':
			p.Read = true
		case 'a':
			p.Add = true
		case 'c':
			p.Create = true
		case 'w':
			p.Write = true
		case 'd':
			p.Delete = true
		case 'l':
			p.List = true
		default:
			return "", fmt.Errorf("SAS permission %q is not one of r, a, c, w, d, l", r)
		}
	}
	qp, err := sas.BlobSignatureValues{
		Protocol:      sas.ProtocolHTTPSandHTTP,
		ExpiryTime:    expiry.UTC(),
		Permissions:   p.String(),
		ContainerName: name,
	}.SignWithSharedKey(cred)
	if err != nil {
		return "", fmt.Errorf("sign container SAS: %s", blob.RedactText(err.Error()))
	}
	return a.BlobEndpoint + "/" + url.PathEscape(name) + "?" + qp.Encode(), nil
}
