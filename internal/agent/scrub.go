package agent

import (
	"net/url"
	"regexp"
)

// sasSignature matches the signature parameter of a SAS query string in
// any text (URLs inside error messages included).
var sasSignature = regexp.MustCompile(`(?i)(sig=)[^&\s"']+`)

// scrubSecrets replaces SAS signatures in s with REDACTED, so URLs can be
// logged and reported without granting access to anyone who reads them.
func scrubSecrets(s string) string { return sasSignature.ReplaceAllString(s, "${1}REDACTED") }

// redactURL returns u without its query string's secrets.
func redactURL(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return scrubSecrets(u)
	}
	q := p.Query()
	if q.Has("sig") {
		q.Set("sig", "REDACTED")
		p.RawQuery = q.Encode()
	}
	return p.String()
}

// scrubbedError wraps an error so that its text is scrubbed of secrets
// while errors.Is / errors.As still see the original.
type scrubbedError struct{ err error }

func (e scrubbedError) Error() string { return scrubSecrets(e.err.Error()) }
func (e scrubbedError) Unwrap() error { return e.err }

func scrub(err error) error {
	if err == nil {
		return nil
	}
	return scrubbedError{err}
}
