// Package entra verifies Microsoft Entra ID (OAuth 2.0 / OpenID Connect)
// bearer tokens, the credential the current Azure SDKs send to Batch
// ("Authorization: Bearer <JWT>" with scope
// https://batch.core.windows.net//.default).
//
// It is built on github.com/coreos/go-oidc/v3: that library does OIDC
// discovery, restricts the accepted signature algorithms before any key is
// touched (so "alg: none" and HS256-with-the-public-key never verify), checks
// the signature and the issuer. go-oidc refreshes a remote key set on every
// unknown key ID without limit, so this package supplies its own key set
// ([remoteKeys]) that refreshes on an unknown kid at most once per
// [Config.MinRefreshInterval], and checks audience and exp/nbf itself to
// accept several audiences and apply one symmetric clock skew.
package entra

import (
	"context"
	"crypto"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
)

// BatchResource is the Entra ID resource (v1 audience) of Azure Batch.
const BatchResource = "https://batch.core.windows.net/"

// BatchAppID is the application (client) ID of the "Microsoft Azure Batch"
// first-party application, the audience of tokens requested by app ID.
const BatchAppID = "ddbf3205-c6bd-46ae-8127-60eb93363864"

// DefaultAudiences are the audiences accepted when none are configured: the
// Batch resource as Entra ID puts it in v1 tokens (what a client asking for
// scope https://batch.core.windows.net//.default gets), the same URI
// without the trailing slash (the v2 spelling) and the Batch app ID.
var DefaultAudiences = []string{BatchResource, strings.TrimSuffix(BatchResource, "/"), BatchAppID}

// MaxTokenBytes bounds the bearer token a request may carry. Entra ID access
// tokens are a few kilobytes; anything larger is refused before parsing.
const MaxTokenBytes = 16 << 10

// DefaultClockSkew is the tolerance applied to exp and nbf.
const DefaultClockSkew = 2 * time.Minute

// DefaultMinRefreshInterval is the least time between two key set fetches
// caused by tokens with unknown key IDs.
const DefaultMinRefreshInterval = 30 * time.Second

// signingAlgs are the JWS algorithms accepted. HS* and "none" are never
// accepted: an issuer's keys are public.
var signingAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.RS384, jose.RS512, jose.PS256, jose.PS384, jose.PS512, jose.ES256, jose.ES384, jose.ES512}

// Config configures a [Verifier].
type Config struct {
	// Issuers are OIDC issuer URLs; each is discovered at
	// ISSUER/.well-known/openid-configuration when the verifier is created.
	Issuers []string
	// Static are issuers whose keys are known without discovery (the
	// `openbatch dev` token issuer).
	Static []StaticIssuer
	// Audiences are the accepted "aud" values (default [DefaultAudiences]).
	Audiences []string
	// ClockSkew is the tolerance for exp and nbf (default [DefaultClockSkew]).
	ClockSkew time.Duration
	// MinRefreshInterval limits key set refreshes on unknown key IDs
	// (default [DefaultMinRefreshInterval]; negative means no limit).
	MinRefreshInterval time.Duration
	// HTTPClient fetches discovery documents and key sets (default: a client
	// with a 10 s timeout).
	HTTPClient *http.Client
	// Now returns the current time (default time.Now).
	Now func() time.Time
}

// StaticIssuer is an issuer with fixed public keys.
type StaticIssuer struct {
	// URL is the exact "iss" value of its tokens.
	URL string
	// AuthorizationURI is advertised in the 401 challenge.
	AuthorizationURI string
	// Keys are the public keys its tokens are signed with.
	Keys []crypto.PublicKey
}

// Verifier checks bearer tokens against a set of trusted issuers. It is safe
// for concurrent use.
type Verifier struct {
	issuers   map[string]*issuer
	audiences []string
	skew      time.Duration
	now       func() time.Time
	challenge string
}

type issuer struct {
	url      string
	verifier *oidc.IDTokenVerifier
}

// New discovers every configured issuer and returns a verifier. It fails if
// an issuer's discovery document cannot be fetched or does not name itself
// as that issuer, so a typo in a flag stops the server at start.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	if len(cfg.Issuers) == 0 && len(cfg.Static) == 0 {
		return nil, errors.New("entra: no token issuer configured")
	}
	v := &Verifier{issuers: map[string]*issuer{}, audiences: cfg.Audiences, skew: cfg.ClockSkew, now: cfg.Now}
	if len(v.audiences) == 0 {
		v.audiences = DefaultAudiences
	}
	if v.skew == 0 {
		v.skew = DefaultClockSkew
	}
	if v.now == nil {
		v.now = time.Now
	}
	client := cfg.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	minRefresh := cfg.MinRefreshInterval
	if minRefresh == 0 {
		minRefresh = DefaultMinRefreshInterval
	}
	algs := make([]string, len(signingAlgs))
	for i, a := range signingAlgs {
		algs[i] = string(a)
	}
	oidcCfg := &oidc.Config{SkipClientIDCheck: true, SkipExpiryCheck: true, SupportedSigningAlgs: algs}
	var authURI string
	for _, s := range cfg.Static {
		if s.URL == "" || len(s.Keys) == 0 {
			return nil, errors.New("entra: a static issuer needs a URL and at least one key")
		}
		v.issuers[s.URL] = &issuer{url: s.URL, verifier: oidc.NewVerifier(s.URL, &oidc.StaticKeySet{PublicKeys: s.Keys}, oidcCfg)}
		if authURI == "" {
			authURI = s.AuthorizationURI
		}
	}
	for _, u := range cfg.Issuers {
		dctx, cancel := context.WithTimeout(oidc.ClientContext(ctx, client), 15*time.Second)
		p, err := oidc.NewProvider(dctx, u)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("entra: discover issuer %s (fetching %s/.well-known/openid-configuration): %w", u, strings.TrimSuffix(u, "/"), err)
		}
		var meta struct {
			JWKSURI string `json:"jwks_uri"`
			AuthURL string `json:"authorization_endpoint"`
		}
		if err := p.Claims(&meta); err != nil || meta.JWKSURI == "" {
			return nil, fmt.Errorf("entra: issuer %s: discovery document has no jwks_uri", u)
		}
		keys := &remoteKeys{url: meta.JWKSURI, client: client, minInterval: minRefresh, now: v.now}
		v.issuers[u] = &issuer{url: u, verifier: oidc.NewVerifier(u, keys, oidcCfg)}
		if authURI == "" {
			authURI = meta.AuthURL
			if authURI == "" {
				authURI = u
			}
		}
	}
	v.challenge = fmt.Sprintf("Bearer authorization_uri=%q, resource=%q", authURI, BatchResource)
	return v, nil
}

// Challenge returns the WWW-Authenticate value sent with a 401: the first
// issuer's authorization endpoint and the Batch resource, as Azure Batch
// does.
func (v *Verifier) Challenge() string { return v.challenge }

// Error is a refused token. Its message says what to fix and never contains
// the token.
type Error struct{ Reason string }

func (e *Error) Error() string { return "bearer token refused: " + e.Reason }

func refuse(format string, args ...any) error { return &Error{Reason: fmt.Sprintf(format, args...)} }

// VerifyBearer checks a raw JWT (the part after "Bearer "): signature by a
// trusted issuer's key, iss, aud, exp and nbf. Errors are [*Error].
func (v *Verifier) VerifyBearer(ctx context.Context, raw string) error {
	if raw == "" {
		return refuse("the token is empty")
	}
	if len(raw) > MaxTokenBytes {
		return refuse("the token is longer than %d bytes", MaxTokenBytes)
	}
	claims, err := parseUnverified(raw)
	if err != nil {
		return err
	}
	iss, ok := v.issuers[claims.Issuer]
	if !ok {
		return refuse("the token's issuer %q is not trusted by this server; get a token from one of its --oidc-issuer authorities", clip(claims.Issuer))
	}
	tok, err := iss.verifier.Verify(ctx, raw)
	if err != nil {
		if ctx.Err() != nil {
			return refuse("the signing keys of %s could not be fetched in time", iss.url)
		}
		return refuse("the token's signature does not verify with the keys of %s", iss.url)
	}
	if !slices.ContainsFunc(tok.Audience, func(a string) bool { return slices.Contains(v.audiences, a) }) {
		return refuse("the token's audience %q is not accepted; request scope https://batch.core.windows.net//.default (accepted audiences: %s)",
			clip(strings.Join(tok.Audience, ",")), strings.Join(v.audiences, ", "))
	}
	now := v.now()
	if claims.Expiry == nil {
		return refuse("the token has no exp claim")
	}
	if exp := time.Unix(int64(*claims.Expiry), 0); now.After(exp.Add(v.skew)) {
		return refuse("the token expired at %s; get a new one", exp.UTC().Format(time.RFC3339))
	}
	if claims.NotBefore != nil {
		if nbf := time.Unix(int64(*claims.NotBefore), 0); now.Add(v.skew).Before(nbf) {
			return refuse("the token is not valid before %s; check the clocks of the issuer and this server", nbf.UTC().Format(time.RFC3339))
		}
	}
	return nil
}

// claims are the registered claims read before the signature is checked,
// only to pick the issuer; nothing is trusted until go-oidc verified them.
type claims struct {
	Issuer    string       `json:"iss"`
	Expiry    *numericDate `json:"exp"`
	NotBefore *numericDate `json:"nbf"`
}

// numericDate is a JWT NumericDate; fractional seconds are truncated.
type numericDate float64

// parseUnverified parses raw as a compact JWS signed with an accepted
// algorithm and returns its claims without checking the signature.
func parseUnverified(raw string) (*claims, error) {
	jws, err := jose.ParseSigned(raw, signingAlgs)
	if err != nil {
		if strings.Contains(err.Error(), "unexpected signature algorithm") {
			return nil, refuse("the token's signature algorithm is not accepted; use RS256")
		}
		return nil, refuse("the token is not a signed JWT (header.payload.signature)")
	}
	if len(jws.Signatures) != 1 {
		return nil, refuse("the token must carry exactly one signature")
	}
	var c claims
	if err := json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &c); err != nil {
		return nil, refuse("the token's payload is not a JSON object of claims")
	}
	return &c, nil
}

// clip shortens a value echoed into an error message.
func clip(s string) string {
	const max = 100
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
