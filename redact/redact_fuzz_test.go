package redact

import (
	"regexp"
	"strings"
	"testing"
)

// sigParam finds a sig= parameter (not a word ending in "sig") and its value.
var sigParam = regexp.MustCompile(`(?i)(?:^|[^A-Za-z0-9_])sig=([^&\s"'<>;,]*)`)

// textUnfiltered is Text without its keyword prefilter: every pattern run on
// every input.
func textUnfiltered(s string) string {
	if !strings.ContainsAny(s, "=: %") {
		return s
	}
	for _, p := range textPatterns {
		s = p.re.ReplaceAllString(s, "${1}"+Redacted)
	}
	return s
}

// FuzzText checks the text redactor: it never panics, is idempotent, leaves
// no SAS signature value other than REDACTED after "sig=", and its keyword
// prefilter changes nothing (same result as running every pattern).
func FuzzText(f *testing.F) {
	for _, s := range []string{
		"https://a/c?sp=r&sig=abc", "AccountKey=Zm9v;x", "Authorization: Bearer abcdefghij",
		"SharedKey a:b", `{"token":"x"}`, "sig=sig=abc", "u%3Fsig%3Dabc", "",
		"u%3Fſig%3Dabc", "ACCOUNT_KEY=x", "Password=K", "x-AMZ-Signature=1", "obn1.abcdefghijklmnopq",
		"https://a/c?sig=REDACTED&sp=w x sig%3DREDACTED", "?sig=REDACTEDx", "?sig=Redacted", "?SIG=REDACTED;sig=abc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := Text(s)
		if all := textUnfiltered(s); all != once {
			t.Fatalf("prefilter changed Text(%q): %q, unfiltered %q", s, once, all)
		}
		if twice := Text(once); twice != once {
			t.Fatalf("Text not idempotent on %q: %q then %q", s, once, twice)
		}
		for _, m := range sigParam.FindAllStringSubmatch(once, -1) {
			if m[1] != "" && m[1] != Redacted {
				t.Fatalf("Text(%q) = %q leaves a signature", s, once)
			}
		}
	})
}
