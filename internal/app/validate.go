package app

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/outputfiles"
)

func validateOutputFiles(files []api.OutputFile) error { return outputfiles.Validate(files) }

func validateResourceFiles(files []api.ResourceFile) error { return agent.ValidateResourceFiles(files) }

// AgentEnv names the environment variables that configure node agents.
const (
	// EnvIdentities is a JSON file mapping identityReference.resourceId to
	// credentials (see blob/azure.Identity).
	EnvIdentities = "OPENBATCH_IDENTITIES_FILE"
	// EnvAutoStorage* configure the storage account behind
	// autoStorageContainerName resource files.
	EnvAutoStorageEndpoint = "OPENBATCH_AUTO_STORAGE_ENDPOINT"
	EnvAutoStorageAccount  = "OPENBATCH_AUTO_STORAGE_ACCOUNT"
	EnvAutoStorageKey      = "OPENBATCH_AUTO_STORAGE_KEY"
)

// ConfigureAgentFromEnv fills cfg.Agent from the environment: the output
// files step with its identities, and the auto-storage account.
func ConfigureAgentFromEnv(cfg *Config) error {
	var az azure.Options
	if path := os.Getenv(EnvIdentities); path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("%s: %w", EnvIdentities, err)
		}
		var file struct {
			Identities map[string]azure.Identity `json:"identities"`
		}
		if err := json.Unmarshal(data, &file); err != nil {
			return fmt.Errorf("%s: %s is not a valid identities file: %w", EnvIdentities, path, err)
		}
		az.Identities = file.Identities
	}
	return ConfigureAgent(cfg, az, autoStorageFromEnv())
}

func autoStorageFromEnv() *agent.StorageAccount {
	ep := os.Getenv(EnvAutoStorageEndpoint)
	if ep == "" {
		return nil
	}
	return &agent.StorageAccount{BlobEndpoint: ep, AccountName: os.Getenv(EnvAutoStorageAccount), AccountKey: os.Getenv(EnvAutoStorageKey)}
}

// ConfigureAgent installs the output files step (with the given Azure
// options) and the auto-storage account into cfg.Agent.
func ConfigureAgent(cfg *Config, az azure.Options, auto *agent.StorageAccount) error {
	if az.Logger == nil {
		az.Logger = cfg.Log
	}
	op, err := outputfiles.NewOpener(az)
	if err != nil {
		return err
	}
	st := &agent.Streamer{Opener: op}
	cfg.Agent.Runner.BeforeProcess = append(cfg.Agent.Runner.BeforeProcess, agent.PreflightStep{Opener: op}, st.StartStep())
	cfg.Agent.Runner.AfterProcess = append(cfg.Agent.Runner.AfterProcess, st.StopStep(), agent.OutputFilesStep{Opener: op})
	if auto != nil {
		cfg.Agent.Runner.AutoStorage = auto
	}
	return nil
}
