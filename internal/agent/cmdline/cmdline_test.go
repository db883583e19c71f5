package cmdline

import (
	"errors"
	"os/exec"
	"reflect"
	"strings"
	"testing"
)

var splitCases = []struct {
	in   string
	want []string
}{
	{"", []string{}},
	{"   \t\n ", []string{}},
	{"echo hello", []string{"echo", "hello"}},
	{"  echo   hello  ", []string{"echo", "hello"}},
	{"a\tb\nc\rd", []string{"a", "b", "c", "d"}},
	{`/bin/sh -c 'echo $HOME | tr a b'`, []string{"/bin/sh", "-c", "echo $HOME | tr a b"}},
	{`/bin/bash -c "echo \"hi\" \$X \\ \a"`, []string{"/bin/bash", "-c", `echo "hi" $X \ \a`}},
	{`'a\b'`, []string{`a\b`}},
	{`"a\b"`, []string{`a\b`}},
	{`a\ b`, []string{"a b"}},
	{`a\\b`, []string{`a\b`}},
	{`\'x\"`, []string{`'x"`}},
	{"a\\\nb", []string{"ab"}},
	{"\"a\\\nb\"", []string{"ab"}},
	{"a \\\n b", []string{"a", "b"}},
	{`a'b'"c"d`, []string{"abcd"}},
	{`'' ""`, []string{"", ""}},
	{`x ''`, []string{"x", ""}},
	{`"it's"`, []string{"it's"}},
	{`'say "hi"'`, []string{`say "hi"`}},
	{`echo #not-a-comment`, []string{"echo", "#not-a-comment"}},
	{`a|b;c&d>e<f`, []string{"a|b;c&d>e<f"}},
	{`ls *.txt ~/x`, []string{"ls", "*.txt", "~/x"}},
	{`echo $HOME ${X}`, []string{"echo", "$HOME", "${X}"}},
	{"\"`cmd`\" \"\\`\"", []string{"`cmd`", "`"}},
	{"héllo wörld", []string{"héllo", "wörld"}},
}

func TestSplit(t *testing.T) {
	for _, tc := range splitCases {
		got, err := Split(tc.in)
		if err != nil {
			t.Errorf("Split(%q): unexpected error %v", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Split(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitErrors(t *testing.T) {
	for _, in := range []string{`'abc`, `"abc`, `abc\`, `"a\"`, `a "b' c`, `'`, `"`, `\`} {
		_, err := Split(in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Split(%q): error %v, want *SyntaxError", in, err)
		}
	}
}

// TestSplitMatchesPOSIXShell checks the table against a real /bin/sh for the
// inputs a shell would not expand, so our rules are the shell's word rules.
func TestSplitMatchesPOSIXShell(t *testing.T) {
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skip("no sh")
	}
	for _, tc := range splitCases {
		if strings.ContainsAny(tc.in, "$`*?[~#|&;<>(){}") || strings.Contains(tc.in, "\r") {
			continue
		}
		out, err := exec.Command(sh, "-c", `f() { for a in "$@"; do printf '%s\0' "$a"; done; }; f `+tc.in).Output()
		if err != nil {
			t.Errorf("sh on %q: %v", tc.in, err)
			continue
		}
		got := []string{}
		if len(out) > 0 {
			got = strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("sh splits %q as %q; table says %q", tc.in, got, tc.want)
		}
	}
}

func TestQuoteRoundTrip(t *testing.T) {
	args := []string{"", "plain", "with space", "it's", `back\slash`, "new\nline", `"dq"`, "$HOME", "*"}
	got, err := Split(Join(args))
	if err != nil || !reflect.DeepEqual(got, args) {
		t.Fatalf("Split(Join(%q)) = %q, %v", args, got, err)
	}
}

// FuzzSplit checks that Split never panics, that errors are *SyntaxError,
// and that quoting the result and splitting again is the identity.
func FuzzSplit(f *testing.F) {
	for _, tc := range splitCases {
		f.Add(tc.in)
	}
	f.Add(`'unterminated`)
	f.Add(`"a\`)
	f.Fuzz(func(t *testing.T, s string) {
		args, err := Split(s)
		if err != nil {
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Split(%q): error %T %v, want *SyntaxError", s, err, err)
			}
			if se.Offset < 0 || se.Offset >= len(s) {
				t.Fatalf("Split(%q): offset %d out of range", s, se.Offset)
			}
			return
		}
		again, err := Split(Join(args))
		if err != nil {
			t.Fatalf("Split(Join(%q)): %v", args, err)
		}
		if !reflect.DeepEqual(again, args) {
			t.Fatalf("round trip of %q: %q != %q", s, again, args)
		}
	})
}
