package app

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// logCapture keeps everything a test server logs, so the test can check
// afterwards that no secret was logged.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (c *logCapture) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.Write(p)
}

func (c *logCapture) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buf.String()
}

// Secret-shaped values in logs: group 2 is the value, which must be
// REDACTED (or empty).
var logSecretPatterns = []*regexp.Regexp{
	regexp.MustCompile(`(?i)((?:\b|%26|%3F)sig(?:=|%3D))([^&\s"'<>;,]*)`),
	regexp.MustCompile(`(?i)(AccountKey=)([^;\s"'<>]*)`),
	regexp.MustCompile(`(\bBearer )([A-Za-z0-9\-._~+/]*)`),
	regexp.MustCompile(`(\bSharedKey [^:\s]+:)([A-Za-z0-9+/=]*)`),
}

// logLeaks returns a description of every secret in log: a literal secret
// from secrets, or a secret-shaped value that was not redacted.
func logLeaks(log string, secrets []string) []string {
	var out []string
	for _, s := range secrets {
		if s != "" && strings.Contains(log, s) {
			out = append(out, "a literal secret ("+s[:min(4, len(s))]+"...)")
		}
	}
	for _, re := range logSecretPatterns {
		for _, m := range re.FindAllStringSubmatch(log, -1) {
			if m[2] != "" && m[2] != "REDACTED" {
				out = append(out, m[1]+m[2][:min(4, len(m[2]))]+"...")
			}
		}
	}
	return out
}

// checkLogs fails t if the captured log holds a secret.
func checkLogs(t *testing.T, c *logCapture, secrets func() []string) {
	t.Helper()
	if leaks := logLeaks(c.String(), secrets()); len(leaks) > 0 {
		t.Errorf("the server logged secrets: %v", leaks)
	}
}

func TestLogLeaks(t *testing.T) {
	cases := []struct {
		name string
		log  string
		want int
	}{
		{"clean", `level=INFO msg=request path=/jobs`, 0},
		{"redacted sas", `url="https://a/c?sp=r&sig=REDACTED"`, 0},
		{"sas", `url="https://a/c?sp=r&sig=abc%2B"`, 1},
		{"encoded sas", `u=https%3A%2F%2Fa%3Fsp%3Dr%26sig%3Dabc`, 1},
		{"account key", `conn="AccountName=a;AccountKey=Zm9v"`, 1},
		{"bearer", `auth="Bearer eyJ0eXAi"`, 1},
		{"shared key", `auth="SharedKey acct:Zm9vYmFy"`, 1},
		{"literal", `key=` + DevAccountKey, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := logLeaks(tc.log, []string{DevAccountKey}); len(got) != tc.want {
				t.Fatalf("logLeaks = %v, want %d leaks", got, tc.want)
			}
		})
	}
}
