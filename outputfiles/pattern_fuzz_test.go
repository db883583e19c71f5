package outputfiles

import (
	"path"
	"strings"
	"testing"
)

// FuzzParsePattern checks the output file pattern parser: it never panics,
// and a parsed pattern is absolute, clean, and under its own base.
func FuzzParsePattern(f *testing.F) {
	for _, s := range []string{"*.txt", "../std*.txt", "/abs/**/x", "$AZ_BATCH_TASK_DIR/a[0-9]?.log", "a/[!b]*", "[", "a/../../..", "${UNSET}/x", "**", "\\*"} {
		f.Add(s)
	}
	env := map[string]string{"AZ_BATCH_TASK_DIR": "/root/task", "HOME": "/home/x"}
	f.Fuzz(func(t *testing.T, pattern string) {
		p, err := ParsePattern(pattern, "/root/task/wd", env)
		if err != nil {
			return
		}
		if !path.IsAbs(p.Full) || path.Clean(p.Full) != p.Full {
			t.Fatalf("ParsePattern(%q).Full = %q, not absolute and clean", pattern, p.Full)
		}
		if p.Base != "" && !strings.HasPrefix(p.Full, p.Base) {
			t.Fatalf("ParsePattern(%q): Full %q is not under Base %q", pattern, p.Full, p.Base)
		}
	})
}

// FuzzMatchSegment checks the segment matcher: it never panics, a pattern
// without wildcards matches only itself, and "*" matches every name not
// starting with a dot.
func FuzzMatchSegment(f *testing.F) {
	for _, s := range [][2]string{{"*.txt", "a.txt"}, {"a?c", "abc"}, {"[a-c]x", "bx"}, {"[!a]", "a"}, {"[^a]", "b"}, {"[", "["}, {"*", ".hidden"}, {".*", ".hidden"}, {"[]a]", "]"}, {"**", "x"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pat, name string) {
		got := MatchSegment(pat, name)
		if !strings.ContainsAny(pat, "*?[") && got != (pat == name) {
			t.Fatalf("MatchSegment(%q, %q) = %v for a literal pattern", pat, name, got)
		}
		if MatchSegment("*", name) == strings.HasPrefix(name, ".") {
			t.Fatalf("MatchSegment(\"*\", %q) wrong", name)
		}
	})
}
