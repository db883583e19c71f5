package outputfiles_test

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
	"github.com/openbatch/openbatch/blob/local"
	"github.com/openbatch/openbatch/outputfiles"
)

func TestPreflight(t *testing.T) {
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	existing := t.TempDir()
	missing := filepath.Join(t.TempDir(), "nope")
	sas := func(dir, se, sp string) string {
		q := url.Values{"sv": {"2024-11-04"}, "sig": {"c2VjcmV0"}}
		if se != "" {
			q.Set("se", se)
		}
		if sp != "" {
			q.Set("sp", sp)
		}
		return "file://" + dir + "?" + q.Encode()
	}
	tests := []struct {
		name     string
		url      string
		wall     time.Duration
		wantCode string // "" = no problem
		wantLog  string
	}{
		{"valid", sas(existing, "2030-01-02T00:00:00Z", "rw"), time.Hour, "", "container exists"},
		{"already expired", sas(existing, "2030-01-01T11:00:00Z", "rw"), 0, api.FailureFileUploadAccessDenied, "SAS expired at 2030-01-01T11:00:00Z"},
		{"expires before wall clock", sas(existing, "2030-01-01T13:00:00Z", "rw"), 2 * time.Hour, api.FailureFileUploadAccessDenied, "before the task's maxWallClockTime ends"},
		{"no wall clock: not compared", sas(existing, "2030-01-01T13:00:00Z", "rw"), 0, "", "SAS valid until"},
		{"read-only", sas(existing, "2030-01-02T00:00:00Z", "r"), 0, api.FailureFileUploadAccessDenied, "grant neither write"},
		{"bad expiry", sas(existing, "tomorrow", "w"), 0, api.FailureFileUploadAccessDenied, "not a valid time"},
		{"missing container", sas(missing, "2030-01-02T00:00:00Z", "rw"), 0, api.FailureFileUploadContainerNotFound, "FileUploadContainerNotFound"},
		{"write-only: existence unchecked", sas(missing, "2030-01-02T00:00:00Z", "w"), 0, "", "not checked"},
		{"no SAS", "file://" + existing, 0, "", "container exists"},
	}
	op := blob.NewMux(map[string]blob.Opener{"file": local.New()})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			probs, err := outputfiles.Preflight(context.Background(), op, outputfiles.PreflightRequest{
				TaskDir:          dir,
				OutputFiles:      []api.OutputFile{out("a", tt.url, "x"), out("b", tt.url, "y")},
				Start:            start,
				MaxWallClockTime: tt.wall,
				Now:              func() time.Time { return start },
			})
			if err != nil {
				t.Fatal(err)
			}
			log, _ := os.ReadFile(filepath.Join(dir, outputfiles.OutLogName))
			if !strings.Contains(string(log), tt.wantLog) || strings.Contains(string(log), "c2VjcmV0") {
				t.Errorf("fileuploadout.txt = %q, want it to contain %q and no signature", log, tt.wantLog)
			}
			if tt.wantCode == "" {
				if len(probs) != 0 {
					t.Fatalf("problems %v", probs)
				}
				return
			}
			if len(probs) != 1 { // one per distinct container
				t.Fatalf("problems %v, want 1", probs)
			}
			if code, _, _ := outputfiles.FailureCode(probs[0].Err); code != tt.wantCode {
				t.Errorf("code %s, want %s (%v)", code, tt.wantCode, probs[0].Err)
			}
		})
	}
}

// FuzzPreflightSAS feeds arbitrary se and sp values through the preflight's
// SAS parsing: it must never fail as a whole, never report more than one
// problem for one container, and never show the signature.
func FuzzPreflightSAS(f *testing.F) {
	f.Add("2030-01-02T00:00:00Z", "rw")
	f.Add("2030-01-01T11:00Z", "w")
	f.Add("2030-01-01", "")
	f.Add("not a time", "racwdl")
	existing := f.TempDir()
	op := blob.NewMux(map[string]blob.Opener{"file": local.New()})
	start := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, se, sp string) {
		q := url.Values{"sig": {"c2VjcmV0"}, "se": {se}, "sp": {sp}}
		dir := t.TempDir()
		probs, err := outputfiles.Preflight(context.Background(), op, outputfiles.PreflightRequest{
			TaskDir: dir, OutputFiles: []api.OutputFile{out("a", "file://"+existing+"?"+q.Encode(), "x")},
			Start: start, MaxWallClockTime: time.Hour, Now: func() time.Time { return start },
		})
		if err != nil || len(probs) > 1 {
			t.Fatalf("err %v, problems %v", err, probs)
		}
		log, _ := os.ReadFile(filepath.Join(dir, outputfiles.OutLogName))
		if strings.Contains(string(log), "c2VjcmV0") || (len(probs) == 1 && strings.Contains(probs[0].Err.Error(), "c2VjcmV0")) {
			t.Fatal("signature shown")
		}
	})
}
