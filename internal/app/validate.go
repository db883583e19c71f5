package app

import (
	"encoding/json"
	"fmt"
	"os"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/blob/azure"
	"github.com/openbatch/openbatch/blob/s3"
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
	// EnvS3* configure an S3-compatible endpoint (blob/s3) for output files
	// (s3://bucket/prefix, or URLs on the endpoint's host) and resource
	// files (storageContainerUrl on the endpoint's host). Unset endpoint: no
	// S3 backend.
	EnvS3Endpoint        = "OPENBATCH_S3_ENDPOINT"
	EnvS3Region          = "OPENBATCH_S3_REGION"
	EnvS3AccessKeyID     = "OPENBATCH_S3_ACCESS_KEY_ID"
	EnvS3SecretAccessKey = "OPENBATCH_S3_SECRET_ACCESS_KEY"
)

// ConfigureAgentFromEnv fills cfg.Agent from the environment: the output
// files step with its identities, the storage service version
// (azure.ServiceVersionEnv) and the auto-storage account.
func ConfigureAgentFromEnv(cfg *Config) error {
	var az azure.Options
	v, err := azure.ServiceVersionFromEnv()
	if err != nil {
		return err
	}
	az.ServiceVersion = v
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
	return ConfigureAgentWithS3(cfg, az, s3FromEnv(), autoStorageFromEnv())
}

func s3FromEnv() *s3.Options {
	ep := os.Getenv(EnvS3Endpoint)
	if ep == "" {
		return nil
	}
	return &s3.Options{Endpoint: ep, Region: os.Getenv(EnvS3Region),
		AccessKeyID: os.Getenv(EnvS3AccessKeyID), SecretAccessKey: os.Getenv(EnvS3SecretAccessKey)}
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
	return ConfigureAgentWithS3(cfg, az, nil, auto)
}

// ConfigureAgentWithS3 is ConfigureAgent with an optional S3-compatible
// endpoint for output and resource files (nil: none).
func ConfigureAgentWithS3(cfg *Config, az azure.Options, s3o *s3.Options, auto *agent.StorageAccount) error {
	if az.Logger == nil {
		az.Logger = cfg.Log
	}
	op, err := outputfiles.NewOpenerWithS3(az, s3o)
	if err != nil {
		return err
	}
	cfg.Agent.Runner.StorageServiceVersion = az.ServiceVersion
	cfg.Agent.Runner.S3 = s3o
	st := &agent.Streamer{Opener: op}
	cfg.Agent.Runner.BeforeProcess = append(cfg.Agent.Runner.BeforeProcess, agent.PreflightStep{Opener: op}, st.StartStep())
	cfg.Agent.Runner.AfterProcess = append(cfg.Agent.Runner.AfterProcess, st.StopStep(), agent.OutputFilesStep{Opener: op, NoUploadOnEvict: cfg.Agent.NoUploadOnEvict})
	if auto != nil {
		cfg.Agent.Runner.AutoStorage = auto
	}
	return nil
}
