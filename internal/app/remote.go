package app

import (
	"context"
	"io"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/agent/nodefiles"
)

// remoteDir is a directory on a remote agent. Serving files of remote
// agents is not implemented yet: they answer as unavailable.
type remoteDir struct {
	base, rel, token string
}

func (d *remoteDir) List(context.Context, string, bool, string) ([]api.NodeFile, error) {
	return nil, nodefiles.ErrNotFound
}

func (d *remoteDir) Stat(context.Context, string) (api.NodeFile, error) {
	return api.NodeFile{}, nodefiles.ErrNotFound
}

func (d *remoteDir) Open(context.Context, string, int64, int64) (io.ReadCloser, error) {
	return nil, nodefiles.ErrNotFound
}

func (d *remoteDir) Delete(context.Context, string, bool) error { return nodefiles.ErrNotFound }
