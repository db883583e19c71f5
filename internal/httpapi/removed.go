package httpapi

import (
	"net/http"

	"github.com/openbatch/openbatch/api"
)

// cloudServiceRemovedIn is the first api-version without
// cloudServiceConfiguration on pools (Azure retired Cloud Services pools;
// the 2024-07-01.20.0 REST API and the SDKs built on it dropped the
// property).
const cloudServiceRemovedIn = "2024-07-01"

// atLeast reports whether the request's api-version is version or later.
// api-versions begin with their date (2024-07-01.20.0, 2025-06-01), so the
// date prefixes compare as strings.
func atLeast(r *http.Request, version string) bool {
	v, _ := queryGet(r, "api-version")
	return len(v) >= len(version) && v[:len(version)] >= version
}

// removedPoolProperty refuses a pool body carrying a property the request's
// api-version no longer defines, with the error openbatch gives for any
// undefined property (400 InvalidRequestBody naming it). Earlier
// api-versions still accept and store it. See docs/compatibility.md,
// "Properties removed by newer api-versions".
func removedPoolProperty(r *http.Request, p *api.Pool) error {
	if p.CloudServiceConfiguration != nil && atLeast(r, cloudServiceRemovedIn) {
		return invalidBody("The request body contains a property the Batch API does not define: cloudServiceConfiguration. " +
			"api-version 2024-07-01.20.0 and later removed it; use virtualMachineConfiguration.")
	}
	return nil
}
