package httpapi

import (
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

func TestForceParam(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  bool
		ok    bool
	}{
		{"", false, true},
		{"force=true", true, true},
		{"Force=TRUE", true, true},
		{"force=false", false, true},
		{"force=False", false, true},
		{"force=", false, false},
		{"force=1", false, false},
		{"force=yes", false, false},
	} {
		r := httptest.NewRequest("DELETE", "/jobs/j?"+tc.query, nil)
		got, err := forceParam(r)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("%q: got %v, %v; want %v ok=%v", tc.query, got, err, tc.want, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), "force") {
			t.Errorf("%q: error %q does not name force", tc.query, err)
		}
	}
}

func FuzzForceParam(f *testing.F) {
	for _, s := range []string{"true", "FALSE", "", "1", "tru\x00e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		r := httptest.NewRequest("DELETE", "/jobs/j", nil)
		r.URL.RawQuery = url.Values{"force": {v}}.Encode()
		got, err := forceParam(r)
		lv := strings.ToLower(v)
		if err == nil && lv != "true" && lv != "false" {
			t.Fatalf("accepted force=%q", v)
		}
		if err == nil && got != (lv == "true") {
			t.Fatalf("force=%q read as %v", v, got)
		}
	})
}

func TestAtLeast(t *testing.T) {
	for _, tc := range []struct {
		version string
		want    bool
	}{
		{"2024-07-01.20.0", true},
		{"2025-06-01", true},
		{"2025-06-01.21.0", true},
		{"2024-02-01.19.0", false},
		{"2018-08-01.7.0", false},
		{"", false},
		{"2024", false},
	} {
		r := httptest.NewRequest("POST", "/pools?api-version="+url.QueryEscape(tc.version), nil)
		if got := atLeast(r, cloudServiceRemovedIn); got != tc.want {
			t.Errorf("atLeast(%q, %s) = %v, want %v", tc.version, cloudServiceRemovedIn, got, tc.want)
		}
	}
}
