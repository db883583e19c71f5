package conventions

import (
	"crypto/sha1" //nolint:gosec // SHA-1 is part of the published naming algorithm, not a security control.
	"encoding/hex"
	"strings"
)

const (
	// containerPrefix starts every conventions container name.
	containerPrefix = "job-"
	// maxUsableJobIDLength is the longest lowercased job ID used verbatim:
	// 63 (the container-name limit) minus len("job-").
	maxUsableJobIDLength = 63 - len(containerPrefix)
	// maxJobIDLengthInMungedName is how much of a cleaned job ID is kept
	// before the hash: 63 - len("job-") - len("-") - 40 hex digits ≥ 15.
	maxJobIDLengthInMungedName = 15
)

// ContainerName returns the name of the blob container that holds the outputs
// of the job jobID under the Batch File Conventions standard.
//
// The algorithm is the one of the .NET library (ContainerNameUtils): the ID
// is lowercased; if "job-"+id is a valid container name it is used as is,
// otherwise the name is "job-" + the first 15 characters of the ID with runs
// of ':', '_' and '-' collapsed to '-' and trimmed (or "job" if nothing is
// left) + "-" + the SHA-1 of the lowercased ID in hex. The result is always
// 3–63 characters of [a-z0-9-], with no "--" and no leading or trailing '-'
// (characters that Batch does not allow in IDs count as separators, see
// mungeJobID).
// Callers that need to find outputs written by other tools must use exactly
// this function.
func ContainerName(jobID string) string {
	return containerPrefix + unprefixedContainerName(jobID)
}

func unprefixedContainerName(jobID string) string {
	id := strings.ToLower(jobID)
	if len(id) > maxUsableJobIDLength || !isPermittedContainerName(id) ||
		strings.HasSuffix(id, "-") || strings.Contains(id, "--") {
		return mungeJobID(id)
	}
	return id
}

// isPermittedContainerName reports whether s matches ^[a-z0-9][-a-z0-9]*$.
func isPermittedContainerName(s string) bool {
	if s == "" || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// mungeJobID builds "{cleaned prefix}-{sha1}" for an already lowercased ID.
func mungeJobID(id string) string {
	sum := sha1.Sum([]byte(id)) //nolint:gosec // see import comment.
	hash := hex.EncodeToString(sum[:])

	// Replace every run of ':', '_' or '-' by a single '-'. Characters that
	// Batch never allows in a job ID (anything else outside [a-z0-9]) are
	// treated the same way, so that the result is a valid container name for
	// any input; the .NET library would emit an invalid name for those IDs,
	// so no compatibility is lost.
	var b strings.Builder
	inRun := false
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			if !inRun {
				b.WriteByte('-')
			}
			inRun = true
			continue
		}
		inRun = false
		b.WriteRune(r)
	}
	s := strings.Trim(b.String(), "-")
	switch {
	case len(s) > maxJobIDLengthInMungedName:
		s = strings.Trim(s[:maxJobIDLengthInMungedName], "-")
	case s == "":
		s = "job"
	}
	return s + "-" + hash
}
