// Package devissuer is the token issuer built into `openbatch dev`: a tiny
// stand-in for the Microsoft identity platform, the way Azurite ships a
// fixed storage account. It serves OIDC discovery, a JWKS and the
// client-credentials grant of POST /{tenant}/oauth2/v2.0/token for one
// fixed, public tenant, client ID and secret, so that an unmodified
// azidentity.ClientSecretCredential pointed at openbatch (with instance
// discovery disabled) gets tokens openbatch accepts.
//
// The credentials are public constants: the issuer is for development only
// and proves nothing about who calls.
package devissuer

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// The development identity: public constants, documented in the README.
const (
	TenantID     = "00000000-0000-4000-8000-0000000ba7c4"
	ClientID     = "11111111-1111-4111-8111-0000000ba7c4"
	ClientSecret = "openbatch-dev-client-secret"
)

// KeyFile is the name of the signing key in the data directory.
const KeyFile = "dev-issuer-key.pem"

// TokenLifetime is how long an issued access token is valid.
const TokenLifetime = time.Hour

// maxFormBytes bounds a token request body.
const maxFormBytes = 64 << 10

// acceptedResources are the resources a token may be requested for (the
// scope minus "/.default"): the Batch resource in its v1 and v2 spellings.
var acceptedResources = map[string]string{
	"https://batch.core.windows.net/": "https://batch.core.windows.net/",
	"https://batch.core.windows.net":  "https://batch.core.windows.net/",
}

// Issuer signs access tokens for the development tenant.
type Issuer struct {
	key    *rsa.PrivateKey
	kid    string
	base   string // https://host:port, no trailing slash
	signer jose.Signer
	now    func() time.Time
}

// Load reads the RSA signing key from dir/KeyFile, creating it (mode 0600)
// on first use, and returns an issuer whose URLs are under base (the
// server's endpoint, e.g. https://127.0.0.1:8080). Keeping the key across
// restarts keeps issued tokens valid across restarts.
func Load(dir, base string) (*Issuer, error) {
	key, err := loadOrCreateKey(filepath.Join(dir, KeyFile))
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, Algorithm: string(jose.RS256), Use: "sig"}
	thumb, err := jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("dev issuer key thumbprint: %w", err)
	}
	iss := &Issuer{key: key, kid: fmt.Sprintf("%x", thumb[:12]), base: strings.TrimSuffix(base, "/"), now: time.Now}
	iss.signer, err = jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: iss.kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return nil, fmt.Errorf("dev issuer signer: %w", err)
	}
	return iss, nil
}

func loadOrCreateKey(path string) (*rsa.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("dev issuer key %s is not PEM; delete it to make a new one", path)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("dev issuer key %s: %w; delete it to make a new one", path, err)
		}
		rk, ok := k.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("dev issuer key %s is not an RSA key; delete it to make a new one", path)
		}
		return rk, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read dev issuer key: %w", err)
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate dev issuer key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode dev issuer key: %w", err)
	}
	if err := writeFileExclusive(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})); err != nil {
		return nil, fmt.Errorf("write dev issuer key: %w", err)
	}
	return key, nil
}

// writeFileExclusive writes a new 0600 file through a temporary name, so a
// crash never leaves a half-written key.
func writeFileExclusive(path string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := f.Chmod(0o600); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// URL is the issuer identifier ("iss") of its tokens:
// {base}/{tenant}/v2.0, as the Microsoft identity platform's v2 endpoint.
func (i *Issuer) URL() string { return i.base + "/" + TenantID + "/v2.0" }

// Authority is what a client configures as its authority: {base}/{tenant}.
func (i *Issuer) Authority() string { return i.base + "/" + TenantID }

// AuthorityHost is the azcore cloud.Configuration ActiveDirectoryAuthorityHost.
func (i *Issuer) AuthorityHost() string { return i.base + "/" }

// AuthorizationURI is advertised in 401 challenges.
func (i *Issuer) AuthorizationURI() string { return i.Authority() + "/oauth2/v2.0/authorize" }

// PublicKey is the key its tokens are signed with.
func (i *Issuer) PublicKey() crypto.PublicKey { return &i.key.PublicKey }

// PathPrefix is where Handler is mounted.
const PathPrefix = "/" + TenantID + "/"

// Handler serves discovery, keys and tokens under PathPrefix.
func (i *Issuer) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathPrefix+"v2.0/.well-known/openid-configuration", i.discovery)
	mux.HandleFunc("GET "+PathPrefix+"discovery/v2.0/keys", i.jwks)
	mux.HandleFunc("POST "+PathPrefix+"oauth2/v2.0/token", i.token)
	mux.HandleFunc(PathPrefix, func(w http.ResponseWriter, r *http.Request) {
		oauthError(w, http.StatusNotFound, "invalid_request",
			"AADSTS90002: the openbatch dev issuer serves only OIDC discovery, its keys and the client_credentials grant of POST "+PathPrefix+"oauth2/v2.0/token.")
	})
	return mux
}

func (i *Issuer) discovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                i.URL(),
		"authorization_endpoint":                i.AuthorizationURI(),
		"token_endpoint":                        i.Authority() + "/oauth2/v2.0/token",
		"jwks_uri":                              i.Authority() + "/discovery/v2.0/keys",
		"response_types_supported":              []string{"token"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"token_endpoint_auth_methods_supported": []string{"client_secret_post"},
		"grant_types_supported":                 []string{"client_credentials"},
		"tenant_region_scope":                   "WW",
	})
}

func (i *Issuer) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &i.key.PublicKey, KeyID: i.kid, Algorithm: string(jose.RS256), Use: "sig"}}})
}

// token implements the client-credentials grant with the shared secret.
// Errors are shaped as the Microsoft identity platform's
// ({"error", "error_description"}) and never echo the secret.
func (i *Issuer) token(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: the request body must be an application/x-www-form-urlencoded form of at most 64 KiB.")
		return
	}
	f := r.PostForm
	if gt := f.Get("grant_type"); gt != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type",
			fmt.Sprintf("AADSTS70003: grant_type %q is not supported; the openbatch dev issuer supports only client_credentials.", echo(gt, f.Get("client_secret"))))
		return
	}
	if f.Get("client_assertion") != "" {
		oauthError(w, http.StatusBadRequest, "invalid_client", "AADSTS700027: client assertions are not supported by the openbatch dev issuer; authenticate with client_secret.")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("client_id")), []byte(ClientID)) != 1 {
		// The given client_id is not echoed: a confused caller may have put
		// a secret there.
		oauthError(w, http.StatusBadRequest, "unauthorized_client",
			"AADSTS700016: the application (client_id) was not found in the openbatch dev tenant; use client ID "+ClientID+".")
		return
	}
	if subtle.ConstantTimeCompare([]byte(f.Get("client_secret")), []byte(ClientSecret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client",
			"AADSTS7000215: invalid client secret provided; use the openbatch dev client secret printed at start.")
		return
	}
	aud := ""
	for _, s := range strings.Fields(f.Get("scope")) {
		switch s {
		case "openid", "profile", "offline_access":
			continue
		}
		res, ok := strings.CutSuffix(s, "/.default")
		a, known := acceptedResources[res]
		if !ok || !known || aud != "" {
			oauthError(w, http.StatusBadRequest, "invalid_scope",
				fmt.Sprintf("AADSTS70011: the scope %q is not valid; request https://batch.core.windows.net//.default.", echo(s, f.Get("client_secret"))))
			return
		}
		aud = a
	}
	if aud == "" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "AADSTS90014: the scope parameter is missing; request https://batch.core.windows.net//.default.")
		return
	}
	now := i.now()
	tok, err := i.Sign(now, aud)
	if err != nil {
		oauthError(w, http.StatusInternalServerError, "server_error", "AADSTS50000: the token could not be signed.")
		return
	}
	secs := int(TokenLifetime / time.Second)
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, map[string]any{"token_type": "Bearer", "expires_in": secs, "ext_expires_in": secs, "access_token": tok})
}

// Sign issues an access token for the dev client and audience aud, valid
// from now for TokenLifetime. Tests use it directly.
func (i *Issuer) Sign(now time.Time, aud string) (string, error) {
	c := jwt.Claims{Issuer: i.URL(), Subject: ClientID, Audience: jwt.Audience{aud},
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(TokenLifetime))}
	extra := map[string]any{"tid": TenantID, "azp": ClientID, "appid": ClientID, "oid": ClientID, "ver": "2.0"}
	return jwt.Signed(i.signer).Claims(c).Claims(extra).Serialize()
}

func oauthError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]any{"error": code, "error_description": desc, "error_codes": []int{}, "timestamp": time.Now().UTC().Format(time.DateTime + "Z")})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// echo returns a request value to quote in an error: clipped, and withheld
// if it contains the submitted or the dev secret (a caller may have put a
// secret in the wrong field).
func echo(v, submittedSecret string) string {
	if strings.Contains(v, ClientSecret) || (len(submittedSecret) >= 4 && strings.Contains(v, submittedSecret)) {
		return "(withheld: it contains the client secret)"
	}
	if len(v) > 64 {
		return v[:64] + "…"
	}
	return v
}
