package app

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/openbatch/openbatch/internal/agent"
	"github.com/openbatch/openbatch/internal/agent/nodefiles"
	"github.com/openbatch/openbatch/internal/httpapi"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/store"
)

// fileRouter finds the node directory behind task and node files.
type fileRouter struct {
	store store.Store
	// token is the node join token, which remote agents' file servers
	// require as a bearer token.
	// accountKey derives each node's credential, which the server presents
	// to that node's file service (never the join token).
	accountKey []byte
}

// credential is the node's own credential, for calls to its file service.
func (f *fileRouter) credential(n *store.Node) string {
	return nodeproto.NodeCredential(f.accountKey, n.PoolID, n.Node.ID, n.CredentialGen)
}

func (f *fileRouter) dir(ctx context.Context, poolID, nodeID, rel string) (httpapi.Dir, error) {
	n, err := f.store.GetNode(ctx, poolID, nodeID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("%w: node %s is gone", httpapi.ErrFilesUnavailable, nodeID)
		}
		return nil, err
	}
	if n.Address != "" {
		return &remoteDir{base: n.Address, rel: rel, token: f.credential(n)}, nil
	}
	return httpapi.LocalDir(filepath.Join(n.Root, filepath.FromSlash(rel))), nil
}

// TaskDir implements httpapi.FileServer.
func (f *fileRouter) TaskDir(ctx context.Context, jobID, taskID string) (httpapi.Dir, error) {
	row, err := f.store.GetTask(ctx, jobID, taskID)
	if err != nil {
		return nil, err
	}
	ni := row.Task.NodeInfo
	if ni == nil || ni.NodeID == "" {
		return nil, httpapi.ErrFilesUnavailable
	}
	return f.dir(ctx, ni.PoolID, ni.NodeID, agent.TaskRootDirectory(jobID, row.Task.ID))
}

// NodeDir implements httpapi.FileServer.
func (f *fileRouter) NodeDir(ctx context.Context, poolID, nodeID string) (httpapi.Dir, error) {
	return f.dir(ctx, poolID, nodeID, "")
}

// RemoveTaskDir implements service.TaskDirs: the task directory is removed
// from its node at once, through the agent's file service for remote nodes.
// A node that is gone or unreachable keeps the directory until its
// retention time ends.
func (f *fileRouter) RemoveTaskDir(ctx context.Context, poolID, nodeID, jobID, taskID string) error {
	n, err := f.store.GetNode(ctx, poolID, nodeID)
	if err != nil {
		return nil
	}
	if n.Address != "" {
		root := &remoteDir{base: n.Address, token: f.credential(n)}
		err := root.Delete(ctx, agent.TaskRootDirectory(jobID, taskID), true)
		if errors.Is(err, nodefiles.ErrNotFound) {
			return nil
		}
		return err
	}
	l, err := agent.NewLayout(n.Root)
	if err != nil {
		return err
	}
	return l.RemoveTaskDir(jobID, taskID)
}
