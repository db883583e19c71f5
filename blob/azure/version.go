package azure

import (
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
)

// DefaultServiceVersion is the storage service version (x-ms-version) that
// every storage request openbatch makes carries unless configured otherwise.
//
// The azblob SDK sends the newest version it was generated for
// (v1.8.3: 2026-12-06), which storage emulators refuse until they catch up:
// Azurite 3.37.0 accepts at most 2026-06-06 and answers anything newer with
// 400 InvalidHeaderValue. Azure accepts every published version, and every
// operation openbatch uses (Put Blob, Put Block, Put Block List, List Blobs,
// Get Blob, Get Blob Properties, Create Container, Append Block, Set Blob
// Metadata) predates this one by years. It is deliberately a few releases
// older than the newest Azurite accepts, so that emulators a release or two
// behind accept it too. See docs/compatibility.md, "Storage service version".
const DefaultServiceVersion = "2025-11-05"

// ServiceVersionEnv names the environment variable that overrides
// DefaultServiceVersion for every storage client openbatch builds (agent
// uploads and downloads, conventions, track, outputs, demo).
const ServiceVersionEnv = "OPENBATCH_STORAGE_API_VERSION"

// ParseServiceVersion checks that s is a storage service version of the form
// YYYY-MM-DD naming a real date and returns it. "" is refused: callers
// choose DefaultServiceVersion themselves.
func ParseServiceVersion(s string) (string, error) {
	if len(s) != len("2006-01-02") {
		return "", fmt.Errorf("storage service version %q must have the form YYYY-MM-DD, e.g. %s", s, DefaultServiceVersion)
	}
	if _, err := time.Parse("2006-01-02", s); err != nil {
		return "", fmt.Errorf("storage service version %q must have the form YYYY-MM-DD, e.g. %s", s, DefaultServiceVersion)
	}
	return s, nil
}

// ServiceVersionFromEnv returns the storage service version configured in
// ServiceVersionEnv, or DefaultServiceVersion when it is unset or empty. A
// malformed value is an error naming the variable.
func ServiceVersionFromEnv() (string, error) {
	v := os.Getenv(ServiceVersionEnv)
	if v == "" {
		return DefaultServiceVersion, nil
	}
	if _, err := ParseServiceVersion(v); err != nil {
		return "", fmt.Errorf("%s: %w", ServiceVersionEnv, err)
	}
	return v, nil
}

// ClientOptions returns o with the policy that sets x-ms-version to version
// on every request ("" means DefaultServiceVersion). It is the one way
// openbatch builds options for azblob clients (container, blob, service,
// azblob.Client): the header is set once per logical request, before the
// retry and Shared Key policies, so signatures cover the version sent.
//
// The version is not validated here; validate configuration with
// ParseServiceVersion or ServiceVersionFromEnv where it is read.
func ClientOptions(o azcore.ClientOptions, version string) azcore.ClientOptions {
	if version == "" {
		version = DefaultServiceVersion
	}
	// Copy the slice so that options shared between clients never alias.
	per := make([]policy.Policy, 0, len(o.PerCallPolicies)+1)
	per = append(per, versionPolicy(version))
	o.PerCallPolicies = append(per, o.PerCallPolicies...)
	return o
}

// ClientOptionsFromEnv is ClientOptions with the version from
// ServiceVersionFromEnv, for command-line tools and libraries that have no
// configuration of their own.
func ClientOptionsFromEnv(o azcore.ClientOptions) (azcore.ClientOptions, error) {
	v, err := ServiceVersionFromEnv()
	if err != nil {
		return o, err
	}
	return ClientOptions(o, v), nil
}

// versionPolicy overrides the x-ms-version header the SDK's generated code
// set when it built the request.
type versionPolicy string

func (v versionPolicy) Do(req *policy.Request) (*http.Response, error) {
	h := req.Raw().Header
	// The generated code writes the lower-case key directly; remove both
	// spellings so exactly one header goes out.
	h.Del("x-ms-version")
	delete(h, "x-ms-version")
	h["x-ms-version"] = []string{string(v)}
	return req.Next()
}
