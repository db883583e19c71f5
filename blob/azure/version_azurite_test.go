package azure_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	obblob "github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/testenv"
)

// TestStockAzuriteServiceVersion pins why the version policy exists, against
// the stock Azurite the suite runs: the default version is accepted, and
// the SDK's own newer version (what azblob v1.8.3 sends without the policy)
// is refused with InvalidHeaderValue, surfacing as a Misc upload error that
// quotes the server. A configured older version works too.
func TestStockAzuriteServiceVersion(t *testing.T) {
	a := testenv.SharedAzurite(t)
	cn := a.NewContainer(t)
	sas := a.ContainerSAS(t, cn, "w", time.Now().Add(time.Hour))
	for _, tc := range []struct {
		version string
		ok      bool
	}{
		{"", true}, // DefaultServiceVersion
		{"2021-06-08", true},
		{"2026-06-06", true}, // Azurite 3.37.0's newest
		{"2026-12-06", false},
	} {
		b := newBackend(t, azure.Options{ServiceVersion: tc.version})
		_, err := put(t, b, sas, "v-"+tc.version+".txt", []byte("x"), obblob.PutOptions{})
		if tc.ok {
			if err != nil {
				t.Errorf("version %q: %v", tc.version, err)
			}
			continue
		}
		var be *obblob.Error
		if !errors.As(err, &be) || be.Kind != obblob.Misc || !strings.Contains(err.Error(), "InvalidHeaderValue") {
			t.Errorf("version %q: got %v, want a Misc error quoting InvalidHeaderValue", tc.version, err)
		}
	}
}

func TestNewRefusesMalformedServiceVersion(t *testing.T) {
	if _, err := azure.New(azure.Options{ServiceVersion: "latest"}); err == nil || !strings.Contains(err.Error(), "YYYY-MM-DD") {
		t.Fatalf("azure.New with version \"latest\": %v", err)
	}
}
