package blob

import "github.com/openbatch/openbatch/redact"

// Redact returns rawURL with every secret removed (the SAS signature
// replaced by REDACTED, user:password dropped). It is redact.URL, kept
// here because blob's users redact the URLs they pass to it.
func Redact(rawURL string) string { return redact.URL(rawURL) }

// RedactText removes secrets from free text such as error messages. It is
// redact.Text.
func RedactText(s string) string { return redact.Text(s) }
