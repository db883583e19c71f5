package devissuer

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzTokenRequest posts arbitrary form bodies to the token endpoint: it
// never panics, always answers JSON, issues a token only to the dev client
// with its secret, and never echoes the secret.
func FuzzTokenRequest(f *testing.F) {
	iss, err := Load(f.TempDir(), "https://127.0.0.1:1")
	if err != nil {
		f.Fatal(err)
	}
	h := iss.Handler()
	f.Add("grant_type=client_credentials&client_id=" + ClientID + "&client_secret=" + ClientSecret + "&scope=https%3A%2F%2Fbatch.core.windows.net%2F%2F.default")
	f.Fuzz(func(t *testing.T, body string) {
		req := httptest.NewRequest(http.MethodPost, PathPrefix+"oauth2/v2.0/token", strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		var resp map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &resp); err != nil {
			t.Fatalf("status %d, body is not JSON: %q", rec.Code, rec.Body)
		}
		if rec.Code == http.StatusOK {
			if !strings.Contains(body, ClientSecret) || resp["access_token"] == nil {
				t.Fatalf("issued a token for %q: %v", body, resp)
			}
			return
		}
		if desc, _ := resp["error_description"].(string); strings.Contains(desc, ClientSecret) {
			t.Fatalf("error echoes the secret: %q", desc)
		}
	})
}
