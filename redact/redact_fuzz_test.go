package redact

import (
	"regexp"
	"testing"
)

// sigParam finds a sig= parameter (not a word ending in "sig") and its value.
var sigParam = regexp.MustCompile(`(?i)(?:^|[^A-Za-z0-9_])sig=([^&\s"'<>;,]*)`)

// FuzzText checks the text redactor: it never panics, is idempotent, and
// leaves no SAS signature value other than REDACTED after "sig=".
func FuzzText(f *testing.F) {
	for _, s := range []string{
		"https://a/c?sp=r&sig=abc", "AccountKey=Zm9v;x", "Authorization: Bearer abcdefghij",
		"SharedKey a:b", `{"token":"x"}`, "sig=sig=abc", "u%3Fsig%3Dabc", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		once := Text(s)
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
