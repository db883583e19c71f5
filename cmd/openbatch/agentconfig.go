package main

import "github.com/openbatch/openbatch/internal/app"

// configureAgent fills the node agent's runner configuration: the output
// files step and storage credentials from the environment.
func configureAgent(cfg *app.Config) error {
	return app.ConfigureAgentFromEnv(cfg)
}
