package azure_test

import (
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/blob/azure"
)

func TestParseConnectionString(t *testing.T) {
	tests := []struct {
		name, in     string
		wantEndpoint string
		wantName     string
		wantSAS      string
		wantErr      bool
	}{
		{"key", "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.windows.net", "https://acct.blob.core.windows.net", "acct", "", false},
		{"default suffix", "AccountName=acct;AccountKey=a2V5", "https://acct.blob.core.windows.net", "acct", "", false},
		{"blob endpoint", "AccountName=devstoreaccount1;AccountKey=a2V5;BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1/;", "http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "", false},
		{"sas", "BlobEndpoint=https://acct.blob.core.windows.net;SharedAccessSignature=sv=1&sig=abc", "https://acct.blob.core.windows.net", "", "sv=1&sig=abc", false},
		{"dev storage", "UseDevelopmentStorage=true", "http://127.0.0.1:10000/devstoreaccount1", "devstoreaccount1", "", false},
		{"no credential", "AccountName=acct", "", "", "", true},
		{"key without name", "AccountKey=c2VjcmV0", "", "", "", true},
		{"garbage", "not a connection string", "", "", "", true},
		{"bad endpoint", "AccountKey=c2VjcmV0;AccountName=a;BlobEndpoint=ftp://x", "", "", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := azure.ParseConnectionString(tt.in)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				if strings.Contains(err.Error(), "c2VjcmV0") {
					t.Errorf("error quotes the key: %v", err)
				}
				return
			}
			if a.BlobEndpoint != tt.wantEndpoint || a.Name != tt.wantName || a.SAS != tt.wantSAS {
				t.Errorf("got %+v", a)
			}
		})
	}
}

func FuzzParseConnectionString(f *testing.F) {
	f.Add("AccountName=acct;AccountKey=a2V5")
	f.Add("BlobEndpoint=https://h/;SharedAccessSignature=?sig=x")
	f.Add("UseDevelopmentStorage=true")
	f.Fuzz(func(t *testing.T, s string) {
		a, err := azure.ParseConnectionString(s)
		if err != nil {
			// The message is fixed: it can never quote the (secret) input.
			if _, want := azure.ParseConnectionString(""); err.Error() != want.Error() {
				t.Errorf("error depends on the input: %v", err)
			}
			return
		}
		if a.Key == "" && a.SAS == "" {
			t.Errorf("accepted without a credential: %+v", a)
		}
		if !strings.HasPrefix(a.BlobEndpoint, "http") || strings.HasSuffix(a.BlobEndpoint, "/") {
			t.Errorf("endpoint %q", a.BlobEndpoint)
		}
	})
}

func TestContainerSASURLPermissions(t *testing.T) {
	a := azure.Account{BlobEndpoint: "https://acct.blob.core.windows.net", Name: "acct", Key: "a2V5"}
	if _, err := a.ContainerSASURL("c", "rx", timeNowPlusHour()); err == nil {
		t.Error("unknown permission accepted")
	}
	u, err := a.ContainerSASURL("c", "racwl", timeNowPlusHour())
	if err != nil || !strings.HasPrefix(u, "https://acct.blob.core.windows.net/c?") || !strings.Contains(u, "sp=racwl") {
		t.Errorf("%q %v", u, err)
	}
	if _, err := (azure.Account{BlobEndpoint: "https://x"}).ContainerSASURL("c", "r", timeNowPlusHour()); err == nil {
		t.Error("signed without a key")
	}
}

func timeNowPlusHour() time.Time { return time.Now().Add(time.Hour) }
