package agent

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// NodeIdentity is what a node keeps so that, restarted, it rejoins its pool as
// the same node: its ID and its own credential.
type NodeIdentity struct {
	PoolID     string `json:"poolId"`
	NodeID     string `json:"nodeId"`
	Credential string `json:"credential"`
}

// identityFile is where a node keeps its NodeIdentity: in volatile/, the
// agent's own directory (mode 0700), which no task and no node file API
// request can reach.
const identityFile = "node-identity.json"

func identityPath(root string) string {
	return filepath.Join(Layout{Root: root}.VolatileDir(), identityFile)
}

// LoadIdentity reads the identity kept under root; it is nil, with no
// error, when there is none.
func LoadIdentity(root string) (*NodeIdentity, error) {
	b, err := os.ReadFile(identityPath(root))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read node identity: %w", err)
	}
	var id NodeIdentity
	if err := json.Unmarshal(b, &id); err != nil || id.NodeID == "" {
		return nil, fmt.Errorf("node identity %s is damaged; remove it to join as a new node", identityPath(root))
	}
	return &id, nil
}

// SaveIdentity keeps id under root, readable by the agent's user only,
// replacing any earlier one at once (write, then rename).
func SaveIdentity(root string, id NodeIdentity) error {
	dir := Layout{Root: root}.VolatileDir()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save node identity: %w", err)
	}
	b, err := json.Marshal(id)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, identityFile+".*")
	if err != nil {
		return fmt.Errorf("save node identity: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save node identity: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), identityPath(root))
}
