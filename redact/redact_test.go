package redact

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"testing"
)

func TestText(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"plain", "nothing secret here", "nothing secret here"},
		{"sas", "GET https://a.blob.core.windows.net/c?sv=2021&sp=rw&sig=abc%2Bdef%3D&se=x failed", "GET https://a.blob.core.windows.net/c?sv=2021&sp=rw&sig=REDACTED&se=x failed"},
		{"sas upper", "SIG=abcdef", "SIG=REDACTED"},
		{"sas encoded", "url=https%3A%2F%2Fa%2Fc%3Fsp%3Dr%26sig%3Dabc%252B", "url=https%3A%2F%2Fa%2Fc%3Fsp%3Dr%26sig%3DREDACTED"},
		{"connection string", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=Zm9vYmFy==;EndpointSuffix=x", "DefaultEndpointsProtocol=https;AccountName=a;AccountKey=REDACTED;EndpointSuffix=x"},
		{"sas connection string", "BlobEndpoint=https://a;SharedAccessSignature=sv=1&sig=x", "BlobEndpoint=https://a;SharedAccessSignature=REDACTED"},
		{"s3 presigned", "GET http://h/b/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=0f3a9b&X-Amz-Security-Token=zz failed", "GET http://h/b/k?X-Amz-Credential=REDACTED&X-Amz-Signature=REDACTED&X-Amz-Security-Token=REDACTED failed"},
		{"node credential", "register: obn1.AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_- refused", "register: obn1.REDACTED refused"},
		{"shared key", "Authorization: SharedKey devaccount:Zm9vYmFyYmF6PQ==", "Authorization: SharedKey devaccount:REDACTED"},
		{"shared key lite", "SharedKeyLite acct:abc+/=", "SharedKeyLite acct:REDACTED"},
		{"bearer", "Authorization: Bearer eyJhbGciOi.eyJzdWIi.sig-nature_x", "Authorization: Bearer REDACTED"},
		{"basic", "Authorization: Basic dXNlcjpwYXNzd29yZA==", "Authorization: Basic REDACTED"},
		{"bearer prose", "the Bearer scheme", "the Bearer scheme"},
		{"token param", "https://x/register?token=s3cr3t&pool=p", "https://x/register?token=REDACTED&pool=p"},
		{"json token", `{"token":"s3cr3t","pool":"p"}`, `{"token":"REDACTED","pool":"p"}`},
		{"join token", "join_token=abcdef", "join_token=REDACTED"},
		{"credential", "credential=abc123", "credential=REDACTED"},
		{"skiptoken kept", "$skiptoken=abc", "$skiptoken=abc"},
		{"node log kept", "local node tvmps_1 stopped", "local node tvmps_1 stopped"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Text(tc.in); got != tc.want {
				t.Fatalf("Text(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestURL(t *testing.T) {
	cases := []struct {
		name, in, want string
	}{
		{"sas", "https://a.blob.core.windows.net/c/b?sv=2021&sp=rw&sig=abc%2B&se=x", "https://a.blob.core.windows.net/c/b?sv=2021&sp=rw&sig=REDACTED&se=x"},
		{"no query", "https://a/c", "https://a/c"},
		{"userinfo", "https://user:pw@a/c", "https://a/c"},
		{"token", "http://n:1/files?token=t&x=1", "http://n:1/files?token=REDACTED&x=1"},
		{"not a url", "c?sig=abc", "c?sig=REDACTED"},
		{"unparseable", "http://a/%zz?sig=abc", "http://a/%zz?sig=REDACTED"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := URL(tc.in)
			if got != tc.want {
				t.Fatalf("URL(%q)\n got %q\nwant %q", tc.in, got, tc.want)
			}
			if strings.Contains(got, "abc") || strings.Contains(got, "pw@") {
				t.Fatalf("URL(%q) = %q still holds a secret", tc.in, got)
			}
		})
	}
}

func TestError(t *testing.T) {
	if Error(nil) != nil {
		t.Fatal("Error(nil) != nil")
	}
	base := fmt.Errorf("open https://a/c?sig=abc: %w", fs.ErrNotExist)
	err := Error(base)
	if strings.Contains(err.Error(), "abc") || !strings.Contains(err.Error(), "sig=REDACTED") {
		t.Fatalf("Error() = %q", err)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("redacted error lost its chain")
	}
	if Error(err) != err {
		t.Fatal("wrapping twice should return the same error")
	}
}

func TestEnv(t *testing.T) {
	cases := []struct {
		name, env, value, want string
	}{
		{"plain", "MODE", "fast", "fast"},
		{"empty secret", "API_KEY", "", ""},
		{"key name", "STORAGE_ACCOUNT_KEY", "Zm9vYmFy", Redacted},
		{"secret name lower", "client_secret", "abc", Redacted},
		{"password", "DB_PASSWORD", "hunter2", Redacted},
		{"token", "GITHUB_TOKEN", "ghp_x", Redacted},
		{"sas name", "OUTPUT_SAS", "sv=1&sig=abc", Redacted},
		{"sas url in plain name", "OUTPUT_URL", "https://a.blob.core.windows.net/c?sp=w&sig=abc", "https://a.blob.core.windows.net/c?sp=w&sig=REDACTED"},
		{"connection string in plain name", "STORAGE", "AccountName=a;AccountKey=Zm9v;", "AccountName=a;AccountKey=REDACTED;"},
		{"url without secret", "ENDPOINT", "https://example.com/x", "https://example.com/x"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Env(tc.env, tc.value); got != tc.want {
				t.Fatalf("Env(%q, %q) = %q, want %q", tc.env, tc.value, got, tc.want)
			}
		})
	}
}
