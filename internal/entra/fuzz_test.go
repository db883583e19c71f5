package entra

import (
	"context"
	"crypto"
	"errors"
	"strings"
	"testing"
	"time"
)

// FuzzVerifyBearer feeds arbitrary tokens to a verifier with a static
// issuer: it must never panic, accept only the valid seed, refuse
// everything else with an *Error, and never echo the token back.
func FuzzVerifyBearer(f *testing.F) {
	a, _ := keys(f)
	now := t0
	v, err := New(context.Background(), Config{Now: func() time.Time { return now },
		Static: []StaticIssuer{{URL: "https://issuer.test/t/v2.0", Keys: []crypto.PublicKey{&a.priv.PublicKey}}}})
	if err != nil {
		f.Fatal(err)
	}
	// Seeds beyond testdata/fuzz: a valid token and its near misses.
	valid := sign(f, tokenSpec{iss: "https://issuer.test/t/v2.0", aud: BatchResource, iat: t0, exp: t0.Add(time.Hour), key: a})
	f.Add(valid)
	f.Add(valid[:len(valid)-2])
	f.Add(strings.Replace(valid, ".", "..", 1))
	f.Fuzz(func(t *testing.T, raw string) {
		err := v.VerifyBearer(context.Background(), raw)
		if err == nil {
			if raw != valid {
				t.Fatalf("accepted a token that is not the valid seed: %q", raw)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error is %T, want *Error: %v", err, err)
		}
		if len(raw) >= 32 && strings.Contains(err.Error(), raw) {
			t.Fatalf("error echoes the token: %v", err)
		}
	})
}
