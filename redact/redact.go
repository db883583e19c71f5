// Package redact removes secrets from URLs, text and errors before they are
// logged, returned in an error body, written to an upload log or shown to a
// task: SAS signatures, storage account keys, Shared Key signatures, bearer
// and basic credentials in Authorization headers, and credential-carrying
// parameters.
//
// It is the one redactor of openbatch: blob, conventions, outputfiles and
// the internal packages all use it, so a new secret pattern is added once.
// Redaction keeps the non-secret parts (a SAS's permissions and expiry, the
// header's scheme) because they explain failures.
package redact

import (
	"errors"
	"net/url"
	"regexp"
	"strings"
)

// Redacted replaces each secret value.
const Redacted = "REDACTED"

// secretParams are the query parameters whose values are secrets,
// lower case: the SAS signature, and the token parameters some services
// put in URLs.
var secretParams = map[string]bool{"sig": true, "token": true, "access_token": true,
	"x-amz-signature": true, "x-amz-security-token": true}

// URL returns raw with every secret removed: secret query parameters (the
// SAS signature sig, token, access_token) become REDACTED and any
// user:password is dropped. Strings that do not parse as absolute URLs are
// redacted as text.
func URL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		return Text(raw)
	}
	u.User = nil
	if u.RawQuery != "" {
		q := u.Query()
		changed := false
		for k := range q {
			if secretParams[strings.ToLower(k)] {
				q[k] = []string{Redacted}
				changed = true
			}
		}
		if changed {
			u.RawQuery = encodeQuery(u.RawQuery, q)
		}
	}
	return u.String()
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

// textPatterns match secrets in free text; group 1 is kept, the rest
// replaced. keys are lower-case literals of which every match contains at
// least one: Text runs a pattern only when one of them occurs in the
// lower-cased text. That prefilter changes no result (a match implies a key)
// but saves the regexp engine on the many log lines that hold no secret
// (an upload of 10,000 files writes 30,000 lines; without it redaction was
// 40 % of the upload's CPU).
var textPatterns = []struct {
	re   *regexp.Regexp
	keys []string
	// done, if set, reports that the pattern would change nothing in s
	// (lower is fold(s)), to skip the regexp on text already redacted.
	done func(s, lower string) bool
}{
	// SAS signature, also percent-encoded (sig%3D) inside an encoded URL.
	{regexp.MustCompile(`(?i)((?:\b|%26|%3F)sig(?:=|%3D))[^&\s"'<>;,]+`), []string{"sig=", "sig%3d"}, sigsRedacted},
	// S3 presigned URLs: the signature and the session token.
	{regexp.MustCompile(`(?i)(\bX-Amz-(?:Signature|Security-Token)(?:=|%3D))[^&\s"'<>;,]+`), []string{"x-amz-"}, nil},
	// openbatch node credentials, wherever they appear.
	{regexp.MustCompile(`(\bobn1\.)[A-Za-z0-9\-_]{16,}`), []string{"obn1."}, nil},
	// Account keys and whole SAS tokens in connection strings.
	{regexp.MustCompile(`(?i)(\b(?:AccountKey|SharedAccessSignature|SharedAccessKey)=)[^;\s"'<>]+`), []string{"accountkey=", "sharedaccess"}, nil},
	// Shared Key and Shared Key Lite signatures: "SharedKey account:sig".
	{regexp.MustCompile(`(?i)(\bSharedKey(?:Lite)? [^:\s]+:)[A-Za-z0-9+/=]+`), []string{"sharedkey"}, nil},
	// Bearer and Basic credentials, in Authorization headers or anywhere
	// else (the scheme as HTTP clients write it, so prose is left alone).
	{regexp.MustCompile(`(\b(?:Bearer|Basic) )[A-Za-z0-9\-._~+/]{8,}=*`), []string{"bearer ", "basic "}, nil},
	// Token-carrying parameters: token=, access_token=, credential=, and
	// their JSON forms "token":"...".
	{regexp.MustCompile(`(?i)(\b(?:access_token|join_?token|token|credential|password|account_?key)(?:=|%3D|"\s*:\s*"))[^&\s"'<>;,]+`),
		[]string{"token", "credential", "password", "account"}, nil},
}

// Text returns s with the values of every secret pattern replaced by
// REDACTED: SAS signatures (sig=, sig%3D), AccountKey=,
// SharedAccessSignature= and SharedAccessKey= values, Shared Key
// signatures, Bearer and Basic credentials and token-, credential-,
// password- and key-named parameters.
func Text(s string) string {
	if !strings.ContainsAny(s, "=: %") {
		return s
	}
	lower := fold(s)
	for _, p := range textPatterns {
		if !containsAny(lower, p.keys) || p.done != nil && p.done(s, lower) {
			continue
		}
		s = p.re.ReplaceAllString(s, "${1}"+Redacted)
		lower = fold(s)
	}
	return s
}

// fold lower-cases s as (?i) matches it for the ASCII letters of the keys:
// strings.ToLower already maps the Kelvin sign to k; the long s (ſ), which
// (?i) matches as s, is mapped here.
func fold(s string) string {
	l := strings.ToLower(s)
	if strings.ContainsRune(l, 'ſ') {
		l = strings.ReplaceAll(l, "ſ", "s")
	}
	return l
}

// sigsRedacted reports whether every "sig=" and "sig%3D" in s (any case)
// is followed by exactly REDACTED and then the end of s or a character that
// ends a value: the SAS pattern would then replace REDACTED by itself. Log
// lines of blob URLs redacted once already are the common case.
func sigsRedacted(s, lower string) bool {
	if len(lower) != len(s) {
		return false // a case fold changed byte offsets: let the regexp decide
	}
	for _, key := range []string{"sig=", "sig%3d"} {
		for i := 0; ; {
			j := strings.Index(lower[i:], key)
			if j < 0 {
				break
			}
			v := i + j + len(key)
			if !strings.HasPrefix(s[v:], Redacted) {
				return false
			}
			if e := v + len(Redacted); e < len(s) && !strings.ContainsRune("&\t\n\f\r \"'<>;,", rune(s[e])) {
				return false
			}
			i = v
		}
	}
	return true
}

// containsAny reports whether s contains one of keys.
func containsAny(s string, keys []string) bool {
	for _, k := range keys {
		if strings.Contains(s, k) {
			return true
		}
	}
	return false
}

// Error wraps err so that its message is redacted with Text while
// errors.Is and errors.As still see the original chain. nil stays nil, and
// an error already wrapped is returned as is.
func Error(err error) error {
	if err == nil {
		return nil
	}
	var re *redactedError
	if errors.As(err, &re) {
		return err
	}
	return &redactedError{err}
}

type redactedError struct{ err error }

func (e *redactedError) Error() string { return Text(e.err.Error()) }
func (e *redactedError) Unwrap() error { return e.err }

// secretNameParts are the fragments of an environment variable's name
// that mark its value as a secret, upper case: the whole value is then
// hidden, whatever it looks like.
var secretNameParts = []string{"KEY", "SECRET", "PASSWORD", "PASSWD", "TOKEN", "CREDENTIAL", "SAS",
	"SIGNATURE", "CONNECTION_STRING", "CONNECTIONSTRING", "PRIVATE", "AUTH", "COOKIE", "SESSION"}

// Env returns the value of the environment variable name as it may be
// shown to a person (the web console): REDACTED when the name says the
// value is a secret (…KEY, …SECRET, …PASSWORD, …TOKEN, …SAS, …), and
// otherwise the value with secrets inside it removed as URL and Text
// remove them (a SAS URL keeps everything but its signature).
func Env(name, value string) string {
	upper := strings.ToUpper(name)
	for _, p := range secretNameParts {
		if strings.Contains(upper, p) {
			if value == "" {
				return ""
			}
			return Redacted
		}
	}
	if strings.Contains(value, "://") && !strings.ContainsAny(value, " \t\n") {
		return URL(value)
	}
	return Text(value)
}
