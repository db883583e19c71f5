package blob

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted replaces secret values.
const redacted = "REDACTED"

// Redact returns rawURL with every secret removed: the SAS signature (sig)
// is replaced by REDACTED and any user:password is dropped. The rest of the
// SAS (permissions, expiry) is kept because it explains failures. Strings
// that do not parse as URLs are redacted as text (see RedactText).
func Redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme == "" {
		return RedactText(rawURL)
	}
	if u.User != nil {
		u.User = nil
	}
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if isSecretParam(k) {
				q[k] = []string{redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = encodeQuery(u.RawQuery, q)
		}
	}
	return u.String()
}

// isSecretParam reports whether a query parameter's value is a secret. Only
// the SAS signature is: the other SAS fields are the signed (public) inputs.
func isSecretParam(k string) bool {
	return strings.EqualFold(k, "sig") || strings.EqualFold(k, "X-Amz-Signature") ||
		strings.EqualFold(k, "X-Amz-Security-Token")
}

// encodeQuery re-encodes q keeping the parameter order of raw.
func encodeQuery(raw string, q url.Values) string {
	var b strings.Builder
	seen := map[string]bool{}
	for _, part := range strings.Split(raw, "&") {
		k, _, _ := strings.Cut(part, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if seen[k] {
			continue
		}
		seen[k] = true
		for _, v := range q[k] {
			if b.Len() > 0 {
				b.WriteByte('&')
			}
			b.WriteString(url.QueryEscape(k) + "=" + url.QueryEscape(v))
		}
	}
	return b.String()
}

// Secret patterns in free text: SAS signatures (sig=..., also percent-encoded
// as sig%3D...), account keys in connection strings, and Shared Key
// Authorization headers.
var (
	reSig        = regexp.MustCompile(`(?i)(\b(?:sig|X-Amz-Signature|X-Amz-Security-Token)(?:=|%3D))[^&\s"'<>]+`)
	reAccountKey = regexp.MustCompile(`(?i)(AccountKey=)[^;\s"']+`)
	reSharedKey  = regexp.MustCompile(`(?i)(SharedKey(?:Lite)? [^:\s]+:)[A-Za-z0-9+/=]+`)
)

// RedactText removes secrets from free text such as error messages: SAS
// signature values, AccountKey= values and Shared Key signatures.
func RedactText(s string) string {
	if !strings.ContainsAny(s, "=:") {
		return s
	}
	s = reSig.ReplaceAllString(s, "${1}"+redacted)
	s = reAccountKey.ReplaceAllString(s, "${1}"+redacted)
	s = reSharedKey.ReplaceAllString(s, "${1}"+redacted)
	return s
}
