package sqlstore

import (
	"strings"
	"testing"
	"unicode"

	"github.com/openbatch/openbatch/internal/filterprops"
	"github.com/openbatch/openbatch/internal/odata"
)

// What runs in SQL and what is left to Go. (That both give the evaluator's
// answers is the store conformance suite's FiltersMatchEvaluator.)
func TestTranslate(t *testing.T) {
	for _, tc := range []struct {
		kind  filterprops.Kind
		expr  string
		inSQL int // conjuncts translated
		rest  int // conjuncts left to Go
	}{
		{filterprops.Task, "state eq 'completed'", 1, 0},
		{filterprops.Task, "state eq 'completed' and executionInfo/exitCode ne 0", 2, 0},
		{filterprops.Task, "(state eq 'running' or executionInfo/result eq 'failure') and not startswith(id,'x')", 2, 0},
		{filterprops.Task, "commandLine eq 'x'", 0, 1},
		{filterprops.Task, "state eq 'active' and commandLine eq 'x'", 1, 1},
		{filterprops.Task, "state eq 'active' or commandLine eq 'x'", 0, 1},
		{filterprops.Task, "creationTime ge datetime'2026-01-01T00:00:00Z' and executionInfo/exitCode eq null", 2, 0},
		{filterprops.Job, "poolInfo/poolId eq 'p' and state eq 'active' and usesTaskDependencies eq true", 2, 1},
		{filterprops.Pool, "vmSize eq 'standard_d2' and targetDedicatedNodes gt 2", 2, 0},
		{filterprops.JobSchedule, "state eq 'active'", 0, 1}, // no filter columns
	} {
		f, err := odata.ParseFilter(tc.expr, filterprops.Schemas[tc.kind])
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		ft := map[filterprops.Kind]*filterTable{filterprops.Task: taskFilter, filterprops.Job: jobFilter, filterprops.Pool: poolFilter}[tc.kind]
		sf := ft.translate(f)
		inSQL := 0
		if sf.where != "" {
			inSQL = strings.Count(sf.where, ") AND (") + 1
		}
		if inSQL != tc.inSQL || len(sf.rest) != tc.rest {
			t.Errorf("%s: %d conjuncts in SQL (%q), %d in Go; want %d, %d", tc.expr, inSQL, sf.where, len(sf.rest), tc.inSQL, tc.rest)
		}
		// Literals are bound, never written into the statement.
		if strings.ContainsAny(sf.where, "'") {
			t.Errorf("%s: literal in SQL %q", tc.expr, sf.where)
		}
		if strings.Count(sf.where, "?") != len(sf.args) {
			t.Errorf("%s: %d placeholders for %d arguments", tc.expr, strings.Count(sf.where, "?"), len(sf.args))
		}
	}
}

// foldKey equality is strings.EqualFold, including the non-ASCII members
// of ASCII letters' fold orbits (Kelvin sign, long s) and invalid UTF-8.
func TestFoldKey(t *testing.T) {
	samples := []string{"active", "ACTIVE", "Active", "\u212a", "k", "K", "ſ", "s", "S", "ǅ", "ǆ", "Ǆ", "ß", "ẞ", "\xff", "\ufffd", "Σ", "σ", "ς", ""}
	for _, a := range samples {
		for _, b := range samples {
			if got, want := foldKey(a) == foldKey(b), strings.EqualFold(a, b); got != want {
				t.Errorf("foldKey(%q) == foldKey(%q) is %v, EqualFold %v", a, b, got, want)
			}
		}
	}
	if foldKey("Completed") != "completed" {
		t.Errorf("ASCII fold key is not lower case: %q", foldKey("Completed"))
	}
	// Every rune's key is shared by its whole orbit.
	for r := rune(0); r < 0x2000; r++ {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if foldRune(f) != foldRune(r) {
				t.Fatalf("fold key of %U differs from %U's", f, r)
			}
		}
	}
}

func TestNextPrefix(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{{"a", "b", true}, {"a\xff", "b", true}, {"\xff\xff", "", false}, {"ab", "ac", true}} {
		got, ok := nextPrefix([]byte(tc.in))
		if ok != tc.ok || string(got) != tc.want {
			t.Errorf("nextPrefix(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
