package app

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/nodeproto"
	"github.com/openbatch/openbatch/internal/provider"
)

// openbatch server makes no nodes for a static pool: the pool says its
// target is informational for as long as it disagrees with the nodes
// started by hand.
func TestStaticPoolSaysNobodyActsOnItsTarget(t *testing.T) {
	srv, c := startDev(t, func(cfg *Config) { cfg.LocalNodes = false })
	ctx := ctxT(t, 30*time.Second)
	if err := c.AddPool(ctx, &api.Pool{ID: "mp2", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(1)}); err != nil {
		t.Fatal(err)
	}
	p, err := c.GetPool(ctx, "mp2")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ResizeErrors) != 1 || p.ResizeErrors[0].Code != provider.CodeNoNodeProvider ||
		!strings.Contains(p.ResizeErrors[0].Message, "openbatch agent --pool mp2") || p.ResizeErrors[0].Values[0].Value != provider.Static {
		t.Fatalf("static pool with target 1 and no node: resizeErrors %+v", p.ResizeErrors)
	}
	// An agent started by hand joins: target and nodes agree.
	join := &nodeproto.Client{BaseURL: srv.Endpoint, Token: srv.JoinToken}
	if _, err := join.Register(ctx, nodeproto.Registration{PoolID: "mp2", NodeID: "n1", Address: "http://127.0.0.1:1", Dedicated: true}); err != nil {
		t.Fatal(err)
	}
	for {
		p, err := c.GetPool(ctx, "mp2")
		if err != nil {
			t.Fatal(err)
		}
		if len(p.ResizeErrors) == 0 {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("resizeErrors kept after the node joined: %+v", p.ResizeErrors)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Scale-in honours nodeDeallocationOption: with taskcompletion the running
// task finishes on its node, which leaves only then; removenodes with
// terminate ends the task at once.
func TestScaleInNodeDeallocationOption(t *testing.T) {
	_, c := startDev(t)
	ep := c.Endpoint
	mustPoolJob(t, c, 2, 1, nil)
	waitNodes(t, c, "p1", 2, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	addTaskOK(t, c, "j1", &api.Task{ID: "finish", CommandLine: "/bin/sh -c 'sleep 3; echo done'"})
	waitState(t, c, "j1", "finish", api.TaskRunning)

	wantError(t, "bad option", send(t, ep, "POST", "/pools/p1/resize", `{"targetDedicatedNodes":0,"nodeDeallocationOption":"later"}`), http.StatusBadRequest, api.CodeInvalidPropertyValue)
	waitSteady(t, c, "p1")
	wantStatus(t, "resize", send(t, ep, "POST", "/pools/p1/resize", `{"targetDedicatedNodes":0,"nodeDeallocationOption":"taskcompletion"}`), http.StatusAccepted)
	// The idle node leaves at once; the busy one drains.
	waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return n.State == api.NodeLeavingPool })
	done := waitState(t, c, "j1", "finish", api.TaskCompleted)
	if done.ExecutionInfo.Result != api.ResultSuccess || done.ExecutionInfo.RequeueCount != 0 {
		t.Fatalf("task on a node drained with taskcompletion: %+v", done.ExecutionInfo)
	}
	waitNodes(t, c, "p1", 0, func(api.ComputeNode) bool { return true })

	// removenodes with terminate: the node's task ends at once, and the
	// node leaves.
	waitSteady(t, c, "p1")
	wantStatus(t, "resize", send(t, ep, "POST", "/pools/p1/resize", `{"targetDedicatedNodes":1}`), http.StatusAccepted)
	waitNodes(t, c, "p1", 1, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	addTaskOK(t, c, "j1", &api.Task{ID: "ended", CommandLine: "/bin/sleep 60"})
	ended := waitState(t, c, "j1", "ended", api.TaskRunning)
	waitSteady(t, c, "p1")
	wantStatus(t, "removenodes", send(t, ep, "POST", "/pools/p1/removenodes",
		`{"nodeList":["`+ended.NodeInfo.NodeID+`"],"nodeDeallocationOption":"terminate"}`), http.StatusAccepted)
	tk := waitState(t, c, "j1", "ended", api.TaskCompleted)
	if tk.ExecutionInfo.RequeueCount != 0 {
		t.Fatalf("terminated task was requeued: %+v", tk.ExecutionInfo)
	}
	waitNodes(t, c, "p1", 0, func(api.ComputeNode) bool { return true })
	if p, _ := c.GetPool(ctxT(t, 5*time.Second), "p1"); *p.TargetDedicatedNodes != 0 {
		t.Fatalf("target after removenodes: %d", *p.TargetDedicatedNodes)
	}
}

// --node-providers maps pools to providers on openbatch server: a pool
// mapped to local gets in-process nodes; others stay static.
func TestNodeProvidersMapPools(t *testing.T) {
	cfg, err := provider.ParseConfig([]byte(`{"pools":[{"poolId":"loc-*","provider":"local"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, c := startDev(t, func(c *Config) { c.LocalNodes = false; c.NodeProviders = cfg })
	ctx := ctxT(t, 30*time.Second)
	for _, id := range []string{"loc-1", "other"} {
		if err := c.AddPool(ctx, &api.Pool{ID: id, VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(1)}); err != nil {
			t.Fatal(err)
		}
	}
	waitNodes(t, c, "loc-1", 1, func(n api.ComputeNode) bool { return n.State == api.NodeIdle })
	p, err := c.GetPool(ctx, "other")
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ResizeErrors) != 1 || p.ResizeErrors[0].Code != provider.CodeNoNodeProvider {
		t.Fatalf("unmapped pool's resizeErrors: %+v", p.ResizeErrors)
	}
	if p, _ := c.GetPool(ctx, "loc-1"); len(p.ResizeErrors) != 0 {
		t.Fatalf("local pool's resizeErrors: %+v", p.ResizeErrors)
	}
}
