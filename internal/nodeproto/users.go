package nodeproto

import (
	"encoding/json"
	"fmt"

	"github.com/openbatch/openbatch/api"
)

// UserAccount is a pool's named user account as a node needs it to run
// tasks as that user: name, elevation and, from linuxUserConfiguration, uid
// and gid. The password and SSH private key of the pool's account are never
// sent to nodes (tasks are not logins).
type UserAccount struct {
	Name           string             `json:"name"`
	ElevationLevel api.ElevationLevel `json:"elevationLevel,omitempty"`
	// UID and GID are nil when the pool lets the node choose.
	UID *uint32 `json:"uid,omitempty"`
	GID *uint32 `json:"gid,omitempty"`
}

// PoolUserAccounts extracts the accounts of a pool's userAccounts property
// (stored as the raw JSON the client sent), dropping their secrets.
func PoolUserAccounts(raw json.RawMessage) ([]UserAccount, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var in []struct {
		Name           string             `json:"name"`
		ElevationLevel api.ElevationLevel `json:"elevationLevel"`
		Linux          *struct {
			UID *uint32 `json:"uid"`
			GID *uint32 `json:"gid"`
		} `json:"linuxUserConfiguration"`
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		return nil, fmt.Errorf("pool userAccounts: %w", err)
	}
	out := make([]UserAccount, 0, len(in))
	for _, a := range in {
		u := UserAccount{Name: a.Name, ElevationLevel: a.ElevationLevel}
		if a.Linux != nil {
			u.UID, u.GID = a.Linux.UID, a.Linux.GID
		}
		out = append(out, u)
	}
	return out, nil
}
