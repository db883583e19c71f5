package main

import (
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// envDefaults sets every flag not given on the command line from its
// OPENBATCH_* environment variable (--account-key ← OPENBATCH_ACCOUNT_KEY).
func envDefaults(cmd *cobra.Command) error {
	var err error
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if f.Changed || err != nil {
			return
		}
		name := "OPENBATCH_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			err = f.Value.Set(v)
		}
	})
	return err
}
