package main

import (
	"bytes"
	"testing"
)

// TestVersionFlagAndSubcommand pins that `openbatch --version`, `-v` and
// `openbatch version` all print "openbatch VERSION".
func TestVersionFlagAndSubcommand(t *testing.T) {
	for _, args := range [][]string{{"--version"}, {"-v"}, {"version"}} {
		root := newRootCmd()
		var out bytes.Buffer
		root.SetOut(&out)
		root.SetErr(&out)
		root.SetArgs(args)
		if err := root.Execute(); err != nil {
			t.Fatalf("%v: %v", args, err)
		}
		if want := "openbatch " + version + "\n"; out.String() != want {
			t.Errorf("%v printed %q, want %q", args, out.String(), want)
		}
	}
}
