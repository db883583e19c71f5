package app

import (
	"strings"
	"testing"

	"github.com/openbatch/openbatch/blob/azure"
)

// TestConfigureAgentFromEnvStorageVersion pins OPENBATCH_STORAGE_API_VERSION
// reaching the agent's downloads (and, through azure.Options, its uploads),
// the default when unset, and a malformed value stopping configuration with
// a message naming the variable.
func TestConfigureAgentFromEnvStorageVersion(t *testing.T) {
	for _, tc := range []struct {
		env, want string
		ok        bool
	}{
		{"", azure.DefaultServiceVersion, true},
		{"2024-11-04", "2024-11-04", true},
		{"2024-11", "", false},
	} {
		t.Setenv(azure.ServiceVersionEnv, tc.env)
		var cfg Config
		err := ConfigureAgentFromEnv(&cfg)
		if !tc.ok {
			if err == nil || !strings.Contains(err.Error(), azure.ServiceVersionEnv) {
				t.Errorf("env %q: err %v, want one naming %s", tc.env, err, azure.ServiceVersionEnv)
			}
			if len(cfg.Agent.Runner.AfterProcess) != 0 {
				t.Errorf("env %q: a refused configuration installed the output files step", tc.env)
			}
			continue
		}
		if err != nil {
			t.Fatalf("env %q: %v", tc.env, err)
		}
		if got := cfg.Agent.Runner.StorageServiceVersion; got != tc.want {
			t.Errorf("env %q: agent storage version %q, want %q", tc.env, got, tc.want)
		}
	}
}
