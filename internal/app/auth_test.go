package app

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/devissuer"
	"github.com/openbatch/openbatch/internal/devtls"
	"github.com/openbatch/openbatch/internal/entra"
	"github.com/openbatch/openbatch/sharedkey"
)

// startBearerTLS starts a dev server over TLS with the development token
// issuer, and returns it with an HTTP client that trusts only its CA.
func startBearerTLS(t *testing.T) (*Server, *http.Client) {
	t.Helper()
	var caFile string
	srv, _ := startDev(t, func(c *Config) {
		files, err := devtls.Ensure(c.DataDir, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		c.TLSCertFile, c.TLSKeyFile, caFile = files.Cert, files.Key, files.CACert
		c.DevIssuer = true
	})
	if !strings.HasPrefix(srv.Endpoint, "https://") {
		t.Fatalf("endpoint %s is not https", srv.Endpoint)
	}
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		t.Fatal("CA file holds no certificate")
	}
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	t.Cleanup(hc.CloseIdleConnections)
	return srv, hc
}

// authCall makes one API request; authz is the Authorization header, or
// "sharedkey" to sign with the dev account key.
func authCall(t *testing.T, hc *http.Client, endpoint, method, path, authz string, body any) wire {
	t.Helper()
	var rd io.Reader
	var data []byte
	if body != nil {
		var err error
		if data, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	sep := "?"
	if strings.Contains(path, "?") {
		sep = "&"
	}
	req, err := http.NewRequestWithContext(context.Background(), method, endpoint+path+sep+"api-version="+apiVersion, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("ocp-date", time.Now().UTC().Format(time.RFC1123))
	if body != nil {
		req.Header.Set("Content-Type", "application/json; odata=minimalmetadata")
	}
	switch authz {
	case "":
	case "sharedkey":
		cred, err := sharedkey.NewCredential(DevAccountName, DevAccountKey)
		if err != nil {
			t.Fatal(err)
		}
		if err := cred.Sign(req); err != nil {
			t.Fatal(err)
		}
	default:
		req.Header.Set("Authorization", authz)
	}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return wire{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

func forged(header, claims map[string]any, sig func(string) []byte) string {
	enc := func(v any) string { b, _ := json.Marshal(v); return base64.RawURLEncoding.EncodeToString(b) }
	in := enc(header) + "." + enc(claims)
	return in + "." + base64.RawURLEncoding.EncodeToString(sig(in))
}

// TestBearerRefusals sends every kind of bad bearer token to state-changing
// routes over real TLS: each is 401 AuthenticationFailed with Azure's
// challenge, and neither the pool nor the pool list changes.
func TestBearerRefusals(t *testing.T) {
	srv, hc := startBearerTLS(t)
	ep, iss := srv.Endpoint, srv.Issuer
	now := time.Now()
	sign := func(i *devissuer.Issuer, at time.Time, aud string) string {
		tok, err := i.Sign(at, aud)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := "Bearer " + sign(iss, now, entra.BatchResource)

	// The pool every refused request tries to change.
	if w := authCall(t, hc, ep, "POST", "/pools", good, api.Pool{ID: "p1", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0)}); w.Status != 201 {
		t.Fatalf("add pool with a valid token: %d %s", w.Status, w.Body)
	}
	before := authCall(t, hc, ep, "GET", "/pools/p1", "sharedkey", nil)
	wantStatus(t, "get pool", before, 200)

	// Issuers that share the dev key but not its URL, or its URL but not its key.
	otherURL, err := devissuer.Load(srv.Config.DataDir, "https://127.0.0.2:1")
	if err != nil {
		t.Fatal(err)
	}
	otherKey, err := devissuer.Load(t.TempDir(), strings.TrimSuffix(iss.AuthorityHost(), "/"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(iss.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"iss": iss.URL(), "aud": entra.BatchResource, "exp": now.Add(time.Hour).Unix(), "nbf": now.Unix()}
	cases := []struct{ name, authz string }{
		{"no Authorization", ""},
		{"expired", "Bearer " + sign(iss, now.Add(-2*time.Hour), entra.BatchResource)},
		{"not yet valid", "Bearer " + sign(iss, now.Add(time.Hour), entra.BatchResource)},
		{"wrong audience", "Bearer " + sign(iss, now, "https://storage.azure.com/")},
		{"wrong issuer", "Bearer " + sign(otherURL, now, entra.BatchResource)},
		{"unknown kid", "Bearer " + sign(otherKey, now, entra.BatchResource)},
		{"alg none", "Bearer " + forged(map[string]any{"alg": "none", "typ": "JWT"}, claims, func(string) []byte { return nil })},
		{"HS256 with the public key as secret", "Bearer " + forged(map[string]any{"alg": "HS256", "typ": "JWT"}, claims,
			func(in string) []byte { m := hmac.New(sha256.New, pub); m.Write([]byte(in)); return m.Sum(nil) })},
		{"garbage", "Bearer garbage"},
		{"empty token", "Bearer "},
		{"unknown scheme", "Basic dXNlcjpwYXNz"},
	}
	challenge := `Bearer authorization_uri="` + iss.AuthorizationURI() + `", resource="https://batch.core.windows.net/"`
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, req := range []struct {
				method, path string
				body         any
			}{
				{"PATCH", "/pools/p1", map[string]any{"metadata": []map[string]string{{"name": "touched", "value": tc.name}}}},
				{"POST", "/pools", api.Pool{ID: "intruder", VMSize: "standard_d2s_v3"}},
				{"DELETE", "/pools/p1", nil},
				{"GET", "/pools", nil},
			} {
				w := authCall(t, hc, ep, req.method, req.path, tc.authz, req.body)
				wantError(t, req.method+" "+req.path, w, http.StatusUnauthorized, api.CodeAuthenticationFailed)
				if got := w.Header.Get("WWW-Authenticate"); got != challenge {
					t.Errorf("%s %s: WWW-Authenticate = %q, want %q", req.method, req.path, got, challenge)
				}
				if tok, ok := strings.CutPrefix(tc.authz, "Bearer "); ok && len(tok) > 20 && bytes.Contains(w.Body, []byte(tok)) {
					t.Errorf("the error body echoes the token")
				}
			}
		})
	}

	after := authCall(t, hc, ep, "GET", "/pools/p1", "sharedkey", nil)
	wantStatus(t, "get pool after", after, 200)
	if b, a := before.Header.Get("ETag"), after.Header.Get("ETag"); b == "" || b != a {
		t.Errorf("pool ETag changed from %q to %q by refused requests", b, a)
	}
	list := authCall(t, hc, ep, "GET", "/pools", good, nil)
	wantStatus(t, "list pools", list, 200)
	if n := len(list.JSON(t)["value"].([]any)); n != 1 {
		t.Errorf("pool list has %d pools after refused requests, want 1: %s", n, list.Body)
	}
}

// TestBearerBesideSharedKey pins how the two schemes live together: both
// work on the same server, a wrong Shared Key signature stays 403, and a
// Shared Key-only server answers as before.
func TestBearerBesideSharedKey(t *testing.T) {
	srv, hc := startBearerTLS(t)
	tok, err := srv.Issuer.Sign(time.Now(), "https://batch.core.windows.net")
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, "v2 audience token", authCall(t, hc, srv.Endpoint, "GET", "/pools", "Bearer "+tok, nil), 200)
	wantStatus(t, "shared key", authCall(t, hc, srv.Endpoint, "GET", "/pools", "sharedkey", nil), 200)
	bad := "SharedKey " + DevAccountName + ":" + base64.StdEncoding.EncodeToString(make([]byte, 32))
	w := authCall(t, hc, srv.Endpoint, "GET", "/pools", bad, nil)
	wantError(t, "wrong shared key signature", w, http.StatusForbidden, api.CodeAuthenticationFailed, "signature")

	// The dev issuer's own routes need no credential.
	resp, err := hc.Get(srv.Issuer.Authority() + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("discovery: %s", resp.Status)
	}
	// Its key never lies where a task could read it: only in the data
	// directory, owner-only.
	if fi, err := os.Stat(filepath.Join(srv.Config.DataDir, devissuer.KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("issuer key: %v %v", fi, err)
	}

	plain, _ := startDev(t)
	w = authCall(t, http.DefaultClient, plain.Endpoint, "GET", "/pools", "Bearer "+tok, nil)
	wantError(t, "bearer on a Shared Key-only server", w, http.StatusBadRequest, api.CodeInvalidAuthenticationInfo, "Bearer")
	if w.Header.Get("WWW-Authenticate") != "" {
		t.Errorf("Shared Key-only server sent a bearer challenge")
	}
	w = authCall(t, http.DefaultClient, plain.Endpoint, "GET", "/pools", "", nil)
	wantError(t, "no Authorization on a Shared Key-only server", w, http.StatusBadRequest, api.CodeInvalidAuthenticationInfo)
}
