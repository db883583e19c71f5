package entra

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// testIssuer is an OIDC issuer over real HTTP whose published keys a test
// can change, counting key set fetches.
type testIssuer struct {
	srv     *httptest.Server
	mu      sync.Mutex
	keys    []jose.JSONWebKey
	fetches int
}

func newTestIssuer(t *testing.T) *testIssuer {
	ti := &testIssuer{}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tenant/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]any{"issuer": ti.url(), "jwks_uri": ti.srv.URL + "/tenant/keys",
			"authorization_endpoint": ti.srv.URL + "/tenant/oauth2/v2.0/authorize", "id_token_signing_alg_values_supported": []string{"RS256"}})
	})
	mux.HandleFunc("GET /tenant/keys", func(w http.ResponseWriter, r *http.Request) {
		ti.mu.Lock()
		defer ti.mu.Unlock()
		ti.fetches++
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: ti.keys})
	})
	ti.srv = httptest.NewServer(mux)
	t.Cleanup(ti.srv.Close)
	return ti
}

func (ti *testIssuer) url() string { return ti.srv.URL + "/tenant/v2.0" }

func (ti *testIssuer) publish(keys ...*signingKey) {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	ti.keys = nil
	for _, k := range keys {
		ti.keys = append(ti.keys, jose.JSONWebKey{Key: &k.priv.PublicKey, KeyID: k.kid, Algorithm: "RS256", Use: "sig"})
	}
}

func (ti *testIssuer) fetchCount() int {
	ti.mu.Lock()
	defer ti.mu.Unlock()
	return ti.fetches
}

type signingKey struct {
	priv *rsa.PrivateKey
	kid  string
}

var (
	keyOnce sync.Once
	keyA    *signingKey
	keyB    *signingKey
)

func keys(testing.TB) (*signingKey, *signingKey) {
	keyOnce.Do(func() {
		a, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		b, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keyA, keyB = &signingKey{a, "key-a"}, &signingKey{b, "key-b"}
	})
	return keyA, keyB
}

var t0 = time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)

type tokenSpec struct {
	iss, aud string
	iat, exp time.Time
	nbf      *time.Time
	key      *signingKey
	kid      string // overrides key.kid when set
	noExpiry bool
}

func sign(t testing.TB, s tokenSpec) string {
	t.Helper()
	kid := s.key.kid
	if s.kid != "" {
		kid = s.kid
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: s.key.priv, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	c := jwt.Claims{Issuer: s.iss, Audience: jwt.Audience{s.aud}, IssuedAt: jwt.NewNumericDate(s.iat), Subject: "client"}
	if !s.noExpiry {
		c.Expiry = jwt.NewNumericDate(s.exp)
	}
	if s.nbf != nil {
		c.NotBefore = jwt.NewNumericDate(*s.nbf)
	}
	tok, err := jwt.Signed(signer).Claims(c).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// unsignedToken builds header.payload.signature by hand, for forgeries.
func unsignedToken(header, payload map[string]any, sig func(signingInput string) []byte) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	in := enc(header) + "." + enc(payload)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig(in))
}

func newVerifier(t *testing.T, ti *testIssuer, now *time.Time) *Verifier {
	t.Helper()
	v, err := New(context.Background(), Config{Issuers: []string{ti.url()}, Now: func() time.Time { return *now },
		MinRefreshInterval: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestVerifyBearer(t *testing.T) {
	a, b := keys(t)
	ti := newTestIssuer(t)
	ti.publish(a)
	now := t0
	v := newVerifier(t, ti, &now)
	good := tokenSpec{iss: ti.url(), aud: BatchResource, iat: t0.Add(-time.Minute), exp: t0.Add(time.Hour), key: a}
	with := func(f func(*tokenSpec)) string { s := good; f(&s); return sign(t, s) }
	future := t0.Add(10 * time.Minute)
	pubDER, _ := x509.MarshalPKIXPublicKey(&a.priv.PublicKey)
	claims := map[string]any{"iss": ti.url(), "aud": BatchResource, "exp": t0.Add(time.Hour).Unix()}

	tests := []struct {
		name    string
		token   string
		wantErr string // substring; "" = accepted
	}{
		{"valid v1 audience", sign(t, good), ""},
		{"valid v2 audience", with(func(s *tokenSpec) { s.aud = "https://batch.core.windows.net" }), ""},
		{"valid app ID audience", with(func(s *tokenSpec) { s.aud = BatchAppID }), ""},
		{"expired within skew", with(func(s *tokenSpec) { s.exp = t0.Add(-time.Minute) }), ""},
		{"expired", with(func(s *tokenSpec) { s.exp = t0.Add(-5 * time.Minute) }), "expired"},
		{"no exp", with(func(s *tokenSpec) { s.noExpiry = true }), "no exp"},
		{"not yet valid", with(func(s *tokenSpec) { s.nbf = &future }), "not valid before"},
		{"wrong audience", with(func(s *tokenSpec) { s.aud = "https://storage.azure.com/" }), "audience"},
		{"wrong issuer", with(func(s *tokenSpec) { s.iss = "https://login.microsoftonline.com/other/v2.0" }), "not trusted"},
		{"unknown kid", with(func(s *tokenSpec) { s.key = b }), "signature does not verify"},
		{"known kid, other key", with(func(s *tokenSpec) { s.key, s.kid = b, a.kid }), "signature does not verify"},
		{"alg none", unsignedToken(map[string]any{"alg": "none", "typ": "JWT"}, claims, func(string) []byte { return nil }), "algorithm"},
		{"HS256 with the public key as secret", unsignedToken(map[string]any{"alg": "HS256", "typ": "JWT", "kid": a.kid}, claims,
			func(in string) []byte { m := hmac.New(sha256.New, pubDER); m.Write([]byte(in)); return m.Sum(nil) }), "algorithm"},
		{"garbage", "not-a-jwt", "not a signed JWT"},
		{"empty", "", "empty"},
		{"too long", strings.Repeat("a", MaxTokenBytes+1), "longer than"},
		{"payload not JSON", "eyJhbGciOiJSUzI1NiJ9.bm90anNvbg.eA", "payload"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.VerifyBearer(context.Background(), tt.token)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("refused a valid token: %v", err)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("err = %v, want *Error containing %q", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("err = %q, want it to contain %q", err, tt.wantErr)
			}
			if len(tt.token) > 20 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("error message contains the token")
			}
		})
	}
	if got, want := v.Challenge(), `Bearer authorization_uri="`+ti.srv.URL+`/tenant/oauth2/v2.0/authorize", resource="https://batch.core.windows.net/"`; got != want {
		t.Errorf("Challenge() = %s, want %s", got, want)
	}
}

// TestKeyRotation pins the refresh path: a key rotated at the issuer is
// picked up on the first token that names it, and tokens with unknown key
// IDs cause at most one fetch per MinRefreshInterval.
func TestKeyRotation(t *testing.T) {
	a, b := keys(t)
	ti := newTestIssuer(t)
	ti.publish(a)
	now := t0
	v := newVerifier(t, ti, &now)
	ctx := context.Background()
	tokA := sign(t, tokenSpec{iss: ti.url(), aud: BatchResource, iat: t0, exp: t0.Add(time.Hour), key: a})
	tokB := sign(t, tokenSpec{iss: ti.url(), aud: BatchResource, iat: t0, exp: t0.Add(time.Hour), key: b})

	if err := v.VerifyBearer(ctx, tokA); err != nil {
		t.Fatalf("key A before rotation: %v", err)
	}
	if n := ti.fetchCount(); n != 1 {
		t.Fatalf("fetches after first token = %d, want 1", n)
	}
	if err := v.VerifyBearer(ctx, tokA); err != nil {
		t.Fatalf("key A again: %v", err)
	}
	if n := ti.fetchCount(); n != 1 {
		t.Fatalf("a cached kid refetched the key set: %d fetches", n)
	}

	// Rotate, but within the refresh interval: B is refused without a fetch.
	ti.publish(b)
	now = t0.Add(30 * time.Second)
	if err := v.VerifyBearer(ctx, tokB); err == nil {
		t.Fatal("key B accepted before the refresh interval passed")
	}
	if n := ti.fetchCount(); n != 1 {
		t.Fatalf("unknown kid inside the refresh interval fetched: %d fetches", n)
	}

	// After the interval the unknown kid triggers one refresh and B verifies.
	now = t0.Add(2 * time.Minute)
	if err := v.VerifyBearer(ctx, tokB); err != nil {
		t.Fatalf("rotated key B not picked up: %v", err)
	}
	if n := ti.fetchCount(); n != 2 {
		t.Fatalf("fetches after rotation = %d, want 2", n)
	}
	// A was removed at the issuer; A's kid is unknown again but the last
	// fetch is recent, so it is refused without a fetch.
	if err := v.VerifyBearer(ctx, tokA); err == nil {
		t.Fatal("retired key A still accepted")
	}
	if n := ti.fetchCount(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

func TestNewRefusesBadIssuer(t *testing.T) {
	ti := newTestIssuer(t)
	for _, tt := range []struct{ name, issuer string }{
		{"no discovery document", ti.srv.URL + "/nope"},
		{"issuer mismatch", ti.srv.URL + "/tenant/v2.0/"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := New(context.Background(), Config{Issuers: []string{tt.issuer}}); err == nil {
				t.Fatalf("New(%s) succeeded", tt.issuer)
			}
		})
	}
	if _, err := New(context.Background(), Config{}); err == nil {
		t.Fatal("New with no issuer succeeded")
	}
}

func TestStaticIssuer(t *testing.T) {
	a, _ := keys(t)
	now := t0
	v, err := New(context.Background(), Config{Now: func() time.Time { return now },
		Static: []StaticIssuer{{URL: "https://dev/iss", AuthorizationURI: "https://dev/authorize", Keys: []crypto.PublicKey{&a.priv.PublicKey}}}})
	if err != nil {
		t.Fatal(err)
	}
	tok := sign(t, tokenSpec{iss: "https://dev/iss", aud: BatchResource, iat: t0, exp: t0.Add(time.Hour), key: a})
	if err := v.VerifyBearer(context.Background(), tok); err != nil {
		t.Fatalf("static issuer token refused: %v", err)
	}
	if !strings.Contains(v.Challenge(), `authorization_uri="https://dev/authorize"`) {
		t.Errorf("challenge = %s", v.Challenge())
	}
}

// TestConcurrentUnknownKid: many requests naming a new key at once cause a
// single key set fetch, and all of them verify.
func TestConcurrentUnknownKid(t *testing.T) {
	a, _ := keys(t)
	ti := newTestIssuer(t)
	ti.publish(a)
	now := t0
	v := newVerifier(t, ti, &now)
	tok := sign(t, tokenSpec{iss: ti.url(), aud: BatchResource, iat: t0, exp: t0.Add(time.Hour), key: a})
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- v.VerifyBearer(context.Background(), tok)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("concurrent verify: %v", err)
		}
	}
	if n := ti.fetchCount(); n != 1 {
		t.Errorf("key set fetched %d times, want 1", n)
	}
}
