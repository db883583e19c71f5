package azure

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"
)

func TestParseServiceVersion(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2025-11-05", true},
		{"2009-09-19", true},
		{"2026-06-06", true},
		{"", false},
		{"2025-11-5", false},
		{"2025-13-05", false},
		{"2025-02-30", false},
		{"20251105", false},
		{"2025-11-05 ", false},
		{"2025-11-05\r\nx-evil: 1", false},
		{"latest", false},
	} {
		got, err := ParseServiceVersion(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseServiceVersion(%q) error = %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if tc.ok && got != tc.in {
			t.Errorf("ParseServiceVersion(%q) = %q", tc.in, got)
		}
		if !tc.ok && !strings.Contains(err.Error(), "YYYY-MM-DD") {
			t.Errorf("ParseServiceVersion(%q) error %q does not say what form to use", tc.in, err)
		}
	}
}

func FuzzParseServiceVersion(f *testing.F) {
	for _, s := range []string{"2025-11-05", "", "2025-02-30", "9999-99-99", "2025-11-05\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseServiceVersion(s)
		if err != nil {
			return
		}
		if v != s || len(v) != 10 || strings.ContainsAny(v, " \r\n\t") {
			t.Fatalf("accepted %q as %q", s, v)
		}
	})
}

func TestServiceVersionFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env, want string
		ok        bool
	}{
		{"", DefaultServiceVersion, true},
		{"2024-11-04", "2024-11-04", true},
		{"2026-13-01", "", false},
	} {
		t.Setenv(ServiceVersionEnv, tc.env)
		got, err := ServiceVersionFromEnv()
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("env %q: got %q, %v; want %q ok=%v", tc.env, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), ServiceVersionEnv) {
			t.Errorf("env %q: error %q does not name %s", tc.env, err, ServiceVersionEnv)
		}
	}
}

// recorder is a transport that answers 201 and keeps the request headers.
type recorder struct{ headers []http.Header }

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.headers = append(r.headers, req.Header.Clone())
	return &http.Response{StatusCode: http.StatusCreated, Header: http.Header{}, Body: http.NoBody, Request: req}, nil
}

// TestClientOptionsSetsOneVersionHeader pins that every request carries
// exactly one x-ms-version, the configured one, whatever the SDK's own, and
// that the caller's policies still run.
func TestClientOptionsSetsOneVersionHeader(t *testing.T) {
	for _, version := range []string{"", "2021-06-08", "2026-06-06"} {
		want := version
		if want == "" {
			want = DefaultServiceVersion
		}
		rec := &recorder{}
		var ran bool
		callerPolicy := policyFunc(func(req *policy.Request) (*http.Response, error) { ran = true; return req.Next() })
		in := azcore.ClientOptions{Transport: rec, PerCallPolicies: []policy.Policy{callerPolicy}}
		opts := ClientOptions(in, version)
		if len(in.PerCallPolicies) != 1 {
			t.Fatalf("ClientOptions changed the caller's policy slice")
		}
		cred, err := container.NewSharedKeyCredential("acct", "a2V5")
		if err != nil {
			t.Fatal(err)
		}
		cc, err := container.NewClientWithSharedKeyCredential("http://127.0.0.1:1/acct/c", cred, &container.ClientOptions{ClientOptions: opts})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cc.Create(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		if len(rec.headers) != 1 {
			t.Fatalf("version %q: %d requests, want 1", version, len(rec.headers))
		}
		var got []string
		for k, v := range rec.headers[0] {
			if strings.EqualFold(k, "x-ms-version") {
				got = append(got, v...)
			}
		}
		if len(got) != 1 || got[0] != want {
			t.Errorf("version %q: x-ms-version headers %q, want exactly [%s]", version, got, want)
		}
		if !ran {
			t.Errorf("version %q: the caller's per-call policy did not run", version)
		}
	}
}

type policyFunc func(*policy.Request) (*http.Response, error)

func (f policyFunc) Do(req *policy.Request) (*http.Response, error) { return f(req) }
