package outputfiles

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob"
)

// PreflightRequest is what Preflight checks: the task's output-file
// destinations, when the task started and how long it may run.
type PreflightRequest struct {
	// TaskDir is the task directory, where fileuploadout.txt is appended to.
	TaskDir string
	// OutputFiles are the task's outputFiles.
	OutputFiles []api.OutputFile
	// Start is when the task started; MaxWallClockTime (0 = unbounded) from
	// then is the latest the uploads can start.
	Start            time.Time
	MaxWallClockTime time.Duration
	// Now returns the current time; nil means time.Now. For tests.
	Now func() time.Time
}

// PreflightProblem is one destination found unusable before the task ran.
type PreflightProblem struct {
	// Container is the redacted container URL.
	Container string
	// Err is a *blob.Error whose Kind gives the failure code (FailureCode).
	Err error
}

// PreflightProbe is the blob name Stat asks for to learn whether a
// container exists. It is never written.
const PreflightProbe = ".openbatch-preflight-probe"

// Preflight checks each distinct container destination cheaply, without
// writing anything: the SAS expiry (se) against now and against the end of
// the task's maxWallClockTime; whether the SAS grants write (w or c); and,
// where the credential can read or list, whether the container exists (a
// Stat of PreflightProbe, or a one-page listing). A write-only SAS cannot
// tell a missing container without writing, so that check is skipped and
// said so. Every result is written to fileuploadout.txt; problems are also
// returned, in the order of outputFiles. A nil error with no problems means
// nothing was found wrong.
func Preflight(ctx context.Context, op blob.Opener, req PreflightRequest) ([]PreflightProblem, error) {
	now := time.Now
	if req.Now != nil {
		now = req.Now
	}
	lg, err := openUploadLog(req.TaskDir, now)
	if err != nil {
		return nil, err
	}
	defer lg.Close()
	var deadline time.Time
	if req.MaxWallClockTime > 0 && req.MaxWallClockTime < 100*365*24*time.Hour {
		deadline = req.Start.Add(req.MaxWallClockTime)
	}
	seen := map[string]bool{}
	var problems []PreflightProblem
	for _, f := range req.OutputFiles {
		c := f.Destination.Container
		if c == nil || seen[destKey(f)] {
			continue
		}
		seen[destKey(f)] = true
		red := blob.Redact(c.ContainerURL)
		if err := preflightOne(ctx, op, c, now(), deadline, lg); err != nil {
			code, _, _ := FailureCode(err)
			lg.Printf("ERROR", "Preflight %s: %s: %s", red, code, err.Error())
			problems = append(problems, PreflightProblem{Container: red, Err: err})
		}
	}
	return problems, nil
}

func preflightOne(ctx context.Context, op blob.Opener, c *api.OutputFileBlobContainerDestination, now, deadline time.Time, lg *uploadLog) error {
	red := blob.Redact(c.ContainerURL)
	fail := func(kind blob.Kind, format string, args ...any) error {
		return &blob.Error{Kind: kind, Op: "preflight", Container: red, Err: fmt.Errorf(format, args...)}
	}
	u, err := url.Parse(c.ContainerURL)
	if err != nil {
		return fail(blob.Misc, "invalid container URL")
	}
	q := u.Query()
	canRead, canList := true, true
	identity := c.IdentityReference != nil && c.IdentityReference.ResourceID != ""
	if q.Has("sig") && !identity {
		se, sp := q.Get("se"), q.Get("sp")
		if se != "" {
			exp, err := parseSASTime(se)
			if err != nil {
				return fail(blob.AccessDenied, "the SAS expiry se=%q is not a valid time", se)
			}
			switch {
			case !exp.After(now):
				return fail(blob.AccessDenied, "the SAS expired at %s, before the task started; issue a new SAS", exp.UTC().Format(time.RFC3339))
			case !deadline.IsZero() && exp.Before(deadline):
				return fail(blob.AccessDenied, "the SAS expires at %s, before the task's maxWallClockTime ends at %s; uploads after that time will fail",
					exp.UTC().Format(time.RFC3339), deadline.UTC().Format(time.RFC3339))
			}
			lg.Printf("INFO", "Preflight %s: SAS valid until %s", red, exp.UTC().Format(time.RFC3339))
		}
		if sp != "" && !strings.ContainsAny(sp, "wc") {
			return fail(blob.AccessDenied, "the SAS permissions sp=%q grant neither write (w) nor create (c); uploads need one of them", sp)
		}
		canRead, canList = sp == "" || strings.Contains(sp, "r"), sp == "" || strings.Contains(sp, "l")
	}
	var opts blob.OpenOptions
	if identity {
		opts.IdentityResourceID = c.IdentityReference.ResourceID
	}
	bc, err := op.Open(ctx, c.ContainerURL, opts)
	if err != nil {
		return err
	}
	switch {
	case canRead:
		_, err = bc.Stat(ctx, PreflightProbe)
		if blob.KindOf(err) == blob.BlobNotFound {
			err = nil
		}
	case canList:
		for _, lerr := range bc.List(ctx, PreflightProbe) {
			err = lerr
			break
		}
	default:
		lg.Printf("INFO", "Preflight %s: container existence not checked: the SAS grants no read or list permission", red)
		return nil
	}
	if err != nil {
		return err
	}
	lg.Printf("INFO", "Preflight %s: container exists", red)
	return nil
}

// parseSASTime parses a SAS time: ISO 8601 UTC, with or without seconds,
// or a date only.
func parseSASTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z", "2006-01-02"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("invalid SAS time %q", s)
}
