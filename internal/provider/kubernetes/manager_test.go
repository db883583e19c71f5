package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/provider"
	"github.com/openbatch/openbatch/internal/store"
	"github.com/openbatch/openbatch/internal/store/sqlite"
)

// cluster is the scheduler's and service's side of the Manager: it
// removes and drains nodes in the store.
type cluster struct{ st store.Store }

func (c cluster) RemoveNode(ctx context.Context, poolID, nodeID string) error {
	if err := c.st.DeleteNode(ctx, poolID, nodeID); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

func (c cluster) DrainNode(ctx context.Context, poolID, nodeID, _ string) error {
	_, err := c.st.UpdateNode(ctx, poolID, nodeID, func(n *store.Node) error {
		n.Node.State = api.NodeLeavingPool
		return nil
	})
	return err
}

// TestManagerGrowsAndShrinksPods drives a pool 0→3→1 through the Manager
// against the fake clientset: pods are created, marked Running, their
// agents "join" (the node is stored, as the scheduler does on register),
// and on shrink exactly the drained nodes' pods are deleted.
func TestManagerGrowsAndShrinksPods(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg, err := provider.ParseConfig([]byte(`{"pools":[{"poolId":"k8s-*","provider":"k"}],
		"providers":{"k":{"type":"kubernetes","kubernetes":{"namespace":"batch","image":"img","tokenSecret":"join"}}}}`))
	if err != nil {
		t.Fatal(err)
	}
	c, err := parseConfig(cfg.Providers["k"].Raw())
	if err != nil {
		t.Fatal(err)
	}
	cs := fake.NewClientset()
	n := 0
	m := &provider.Manager{Store: st, Remover: cluster{st}, Drainer: cluster{st}, Log: quiet, Config: cfg,
		Default: provider.Static, Providers: map[string]provider.Provider{"k": New(*c, cs.CoreV1(), "http://server:8080", quiet)},
		NewNodeID: func() string { n++; return fmt.Sprintf("tvmps_%02d_d", n) }}

	pool := &api.Pool{ID: "k8s-pool", State: api.PoolActive, VMSize: "standard_d2s_v3"}
	pool.TargetDedicatedNodes, pool.TargetLowPriorityNodes = api.I32(3), api.I32(0)
	if err := st.CreatePool(ctx, pool); err != nil {
		t.Fatal(err)
	}
	reconcile := func(target int32) {
		t.Helper()
		p, err := st.UpdatePool(ctx, pool.ID, func(p *api.Pool) error { p.TargetDedicatedNodes = api.I32(target); return nil })
		if err != nil {
			t.Fatal(err)
		}
		if err := m.ReconcileNodes(ctx, p, ""); err != nil {
			t.Fatal(err)
		}
	}
	podNames := func() []string {
		t.Helper()
		pods, err := cs.CoreV1().Pods("batch").List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, p := range pods.Items {
			out = append(out, p.Name)
		}
		slices.Sort(out)
		return out
	}

	reconcile(3)
	reconcile(3) // level-triggered: nothing more
	if got := podNames(); !slices.Equal(got, []string{"tvmps-01-d", "tvmps-02-d", "tvmps-03-d"}) {
		t.Fatalf("pods %v", got)
	}
	// The pods run and their agents join as the pods' node IDs.
	pods, _ := cs.CoreV1().Pods("batch").List(ctx, metav1.ListOptions{})
	for _, p := range pods.Items {
		p.Status.Phase = corev1.PodRunning
		if _, err := cs.CoreV1().Pods("batch").UpdateStatus(ctx, &p, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
		node := &store.Node{PoolID: pool.ID, Node: &api.ComputeNode{ID: p.Labels[LabelNode], State: api.NodeIdle, IsDedicated: true}}
		if err := st.PutNode(ctx, node); err != nil {
			t.Fatal(err)
		}
	}
	// tvmps_02_d runs a task, so the others are drained first.
	if _, err := st.UpdateNode(ctx, pool.ID, "tvmps_02_d", func(n *store.Node) error { n.Node.State = api.NodeRunning; return nil }); err != nil {
		t.Fatal(err)
	}
	reconcile(1)
	reconcile(1)
	if got := podNames(); !slices.Equal(got, []string{"tvmps-02-d"}) {
		t.Fatalf("pods after shrink %v", got)
	}
	ns, err := st.ListNodes(ctx, pool.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ns) != 1 || ns[0].Node.ID != "tvmps_02_d" {
		t.Fatalf("nodes after shrink %d", len(ns))
	}
	for _, a := range cs.Actions() {
		if a.GetVerb() == "delete" && a.GetNamespace() != "batch" {
			t.Errorf("delete in namespace %s", a.GetNamespace())
		}
	}
}
