package app

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
)

// The join token lets a machine join; everything after needs the node's own
// credential, and an existing node cannot be taken over with the token.
func TestNodeCredentials(t *testing.T) {
	srv, c := startDev(t, func(cfg *Config) { cfg.LocalNodes = false })
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: "p1", VMSize: "x", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	join := &nodeproto.Client{BaseURL: srv.Endpoint, Token: srv.JoinToken}
	cfg, err := join.Register(ctx, nodeproto.Registration{PoolID: "p1", NodeID: "n1", Address: "http://127.0.0.1:1"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Credential, nodeproto.CredentialPrefix) || join.Credential() != cfg.Credential {
		t.Fatalf("registration gave credential %q", cfg.Credential)
	}
	// The node works with its credential.
	if _, err := join.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p1", NodeID: "n1", State: api.NodeIdle}); err != nil {
		t.Fatalf("acquire with the node's credential: %v", err)
	}

	// Only the join token: no call but a new registration.
	thief := &nodeproto.Client{BaseURL: srv.Endpoint, Token: srv.JoinToken}
	if _, err := thief.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p1", NodeID: "n1", State: api.NodeIdle}); err == nil {
		t.Fatal("acquire as n1 with the join token was allowed")
	}
	if _, err := thief.Register(ctx, nodeproto.Registration{PoolID: "p1", NodeID: "n1", Address: "http://127.0.0.1:2"}); err == nil || !strings.Contains(err.Error(), "credential") {
		t.Fatalf("re-registering n1 with the join token: %v", err)
	}
	n, err := srv.Service.Store.GetNode(ctx, "p1", "n1")
	if err != nil || n.Address != "http://127.0.0.1:1" {
		t.Fatalf("the refused takeover changed the node: %+v, %v", n, err)
	}
	// Another node's credential is not this node's.
	other, err := (&nodeproto.Client{BaseURL: srv.Endpoint, Token: srv.JoinToken}).Register(ctx, nodeproto.Registration{PoolID: "p1", NodeID: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	impostor := &nodeproto.Client{BaseURL: srv.Endpoint}
	impostor.SetCredential(other.Credential)
	if _, err := impostor.Acquire(ctx, nodeproto.NodeStatus{PoolID: "p1", NodeID: "n1", State: api.NodeIdle}); err == nil {
		t.Fatal("n2's credential acted as n1")
	}
	// The node itself re-registers (a restart) with its credential and
	// keeps it.
	again := &nodeproto.Client{BaseURL: srv.Endpoint, Token: "not-the-token"}
	again.SetCredential(cfg.Credential)
	cfg2, err := again.Register(ctx, nodeproto.Registration{PoolID: "p1", NodeID: "n1", Address: "http://127.0.0.1:3"})
	if err != nil || cfg2.Credential != cfg.Credential {
		t.Fatalf("re-register with the node's credential: %+v, %v", cfg2, err)
	}

	for _, bad := range []nodeproto.Registration{
		{PoolID: "p1", NodeID: "../../evil\x00"},
		{PoolID: "p1", NodeID: strings.Repeat("x", 65)},
		{PoolID: "p1", NodeID: "n9", Address: "http://169.254.169.254"},
		{PoolID: "p1", NodeID: "n9", Address: "http://[fd00:ec2::254]/"},
		{PoolID: "p1", NodeID: "n9", Address: "file:///etc"},
		{PoolID: "p1", NodeID: "n9", Address: "http://user:pw@host:1"},
	} {
		c := &nodeproto.Client{BaseURL: srv.Endpoint, Token: srv.JoinToken}
		if _, err := c.Register(ctx, bad); err == nil {
			t.Fatalf("registration %+v was accepted", bad)
		}
		if _, err := srv.Service.GetNode(context.Background(), "p1", bad.NodeID); err == nil {
			t.Fatalf("a refused registration made node %q", bad.NodeID)
		}
	}
}

func TestValidNodeIDAndAddress(t *testing.T) {
	for _, tc := range []struct {
		id, addr string
		idOK     bool
		addrOK   bool
	}{
		{"tvmps_0123abcd_d", "http://10.0.0.5:9090", true, true},
		{"node-1", "https://node.example:443/base", true, true},
		{"a/b", "http://169.254.1.1:80", false, false},
		{"..", "http://[fe80::1]:80", false, false},
		{"", "ftp://x", false, false},
		{"n.1", "http://h:1/?q=1", false, false},
	} {
		if err := nodeproto.ValidNodeID(tc.id); (err == nil) != tc.idOK {
			t.Errorf("ValidNodeID(%q) = %v", tc.id, err)
		}
		if err := nodeproto.ValidAddress(tc.addr, false); (err == nil) != tc.addrOK {
			t.Errorf("ValidAddress(%q) = %v", tc.addr, err)
		}
		if err := nodeproto.ValidAddress(tc.addr, true); tc.addrOK && err != nil {
			t.Errorf("ValidAddress(%q, allow) = %v", tc.addr, err)
		}
	}
	key := []byte("k")
	a := nodeproto.NodeCredential(key, "p", "n", 1)
	for _, b := range []string{nodeproto.NodeCredential(key, "p", "n", 2), nodeproto.NodeCredential(key, "p", "m", 1),
		nodeproto.NodeCredential(key, "q", "n", 1), nodeproto.NodeCredential([]byte("k2"), "p", "n", 1)} {
		if a == b {
			t.Fatal("credentials of different nodes, pools, generations or keys are equal")
		}
	}
	if !nodeproto.CheckCredential(key, "P", "n", 1, a) || errors.Is(nil, nodeproto.ErrBadNodeID) {
		t.Fatal("a node's credential does not check (pool IDs are case-insensitive)")
	}
}
