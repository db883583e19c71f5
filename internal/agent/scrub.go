package agent

import "github.com/openbatch/openbatch/redact"

// scrubSecrets removes secrets (SAS signatures, keys, tokens) from s, so
// URLs and messages can be logged and reported without granting access to
// anyone who reads them.
func scrubSecrets(s string) string { return redact.Text(s) }

// redactURL returns u without its secrets.
func redactURL(u string) string { return redact.URL(u) }

// scrub wraps err so that its text is redacted while errors.Is and
// errors.As still see the original.
func scrub(err error) error { return redact.Error(err) }
