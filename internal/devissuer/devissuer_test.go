package devissuer

import (
	"context"
	"crypto"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/openbatch/openbatch/internal/entra"
)

// serve starts the issuer over real TLS, the way `openbatch dev --tls`
// mounts it, and returns it with its server.
func serve(t *testing.T, dir string) (*Issuer, *httptest.Server) {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	srv.StartTLS()
	t.Cleanup(srv.Close)
	iss, err := Load(dir, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(PathPrefix, iss.Handler())
	srv.Config.Handler = mux
	return iss, srv
}

func verifier(t *testing.T, iss *Issuer) *entra.Verifier {
	t.Helper()
	v, err := entra.New(context.Background(), entra.Config{Static: []entra.StaticIssuer{{URL: iss.URL(), Keys: []crypto.PublicKey{iss.PublicKey()}}}})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestAzidentityClientSecretCredential pins the promise of the package: an
// unmodified azidentity ClientSecretCredential with the authority host set
// to openbatch gets a token that openbatch's verifier accepts.
func TestAzidentityClientSecretCredential(t *testing.T) {
	iss, srv := serve(t, t.TempDir())
	cred, err := azidentity.NewClientSecretCredential(TenantID, ClientID, ClientSecret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions: azcore.ClientOptions{Cloud: cloud.Configuration{ActiveDirectoryAuthorityHost: iss.AuthorityHost()},
			Transport: srv.Client()},
		DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{"https://batch.core.windows.net//.default"}})
	if err != nil {
		t.Fatalf("GetToken: %v", err)
	}
	if err := verifier(t, iss).VerifyBearer(context.Background(), tok.Token); err != nil {
		t.Fatalf("issued token refused: %v", err)
	}
	if d := time.Until(tok.ExpiresOn); d <= 0 || d > TokenLifetime+time.Minute {
		t.Errorf("ExpiresOn %v is not within the token lifetime", tok.ExpiresOn)
	}
}

func TestTokenEndpointRefusals(t *testing.T) {
	_, srv := serve(t, t.TempDir())
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {ClientID}, "client_secret": {ClientSecret},
		"scope": {"https://batch.core.windows.net//.default"}}
	with := func(k, v string) url.Values {
		f := url.Values{}
		for kk, vv := range good {
			f[kk] = vv
		}
		if v == "" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
		return f
	}
	tests := []struct {
		name       string
		path       string
		form       url.Values
		wantStatus int
		wantError  string
	}{
		{"valid", "", good, 200, ""},
		{"v2 resource form", "", with("scope", "https://batch.core.windows.net/.default openid profile offline_access"), 200, ""},
		{"wrong secret", "", with("client_secret", "guess"), 401, "invalid_client"},
		{"wrong client", "", with("client_id", "someone"), 400, "unauthorized_client"},
		{"password grant", "", with("grant_type", "password"), 400, "unsupported_grant_type"},
		{"no scope", "", with("scope", ""), 400, "invalid_request"},
		{"storage scope", "", with("scope", "https://storage.azure.com/.default"), 400, "invalid_scope"},
		{"scope without .default", "", with("scope", "https://batch.core.windows.net/"), 400, "invalid_scope"},
		{"two resources", "", with("scope", "https://batch.core.windows.net//.default https://batch.core.windows.net/.default"), 400, "invalid_scope"},
		{"client assertion", "", with("client_assertion", "eyJ"), 400, "invalid_client"},
		{"other tenant", "/common/oauth2/v2.0/token", good, 404, ""},
		{"authorize endpoint", PathPrefix + "oauth2/v2.0/authorize", good, 404, "invalid_request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = PathPrefix + "oauth2/v2.0/token"
			}
			resp, err := srv.Client().PostForm(srv.URL+path, tt.form)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (%v)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == 200 {
				for _, k := range []string{"token_type", "expires_in", "ext_expires_in", "access_token"} {
					if body[k] == nil {
						t.Errorf("response lacks %s: %v", k, body)
					}
				}
				if body["token_type"] != "Bearer" {
					t.Errorf("token_type = %v", body["token_type"])
				}
				return
			}
			if tt.wantError != "" && body["error"] != tt.wantError {
				t.Errorf("error = %v, want %s", body["error"], tt.wantError)
			}
			if desc, _ := body["error_description"].(string); strings.Contains(desc, ClientSecret) {
				t.Errorf("error description reveals the secret")
			}
		})
	}
}

func TestDiscoveryAndKeys(t *testing.T) {
	iss, srv := serve(t, t.TempDir())
	var doc map[string]any
	get(t, srv, PathPrefix+"v2.0/.well-known/openid-configuration", &doc)
	if doc["issuer"] != iss.URL() || doc["token_endpoint"] != srv.URL+PathPrefix+"oauth2/v2.0/token" {
		t.Errorf("discovery document = %v", doc)
	}
	var set struct{ Keys []map[string]any }
	get(t, srv, strings.TrimPrefix(doc["jwks_uri"].(string), srv.URL), &set)
	if len(set.Keys) != 1 || set.Keys[0]["kty"] != "RSA" || set.Keys[0]["kid"] != iss.kid || set.Keys[0]["d"] != nil {
		t.Errorf("keys = %v", set.Keys)
	}
}

func get(t *testing.T, srv *httptest.Server, path string, v any) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %s", path, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestKeyKeptAcrossRestarts checks the signing key is stored 0600 and
// reused, so tokens stay valid across restarts.
func TestKeyKeptAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	first, err := Load(dir, "https://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(filepath.Join(dir, KeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %v, want 0600", fi.Mode().Perm())
	}
	tok, err := first.Sign(time.Now(), entra.BatchResource)
	if err != nil {
		t.Fatal(err)
	}
	second, err := Load(dir, "https://127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	if second.kid != first.kid {
		t.Errorf("key ID changed across restarts: %s → %s", first.kid, second.kid)
	}
	if err := verifier(t, second).VerifyBearer(context.Background(), tok); err != nil {
		t.Errorf("token from before the restart refused: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, KeyFile), []byte("junk"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(dir, "https://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "delete it") {
		t.Errorf("corrupt key: err = %v, want advice to delete it", err)
	}
}
