package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/service"
	"github.com/openbatch/openbatch/internal/store"
)

// passes is a Provisioner that records its passes and starts no node, so
// that a pool stays resizing.
type passes struct{ n int }

func (p *passes) ReconcileNodes(context.Context, *api.Pool, string) error { p.n++; return nil }
func (p *passes) RemovePool(context.Context, string) error                { return nil }

// A change of a pool's targets makes it resizing, during which Azure
// refuses another resize, removenodes and enableautoscale (409
// PoolBeingResized) and a refused request changes nothing; stopresize keeps the nodes the pool
// has (its targets become its current counts) and moves it to stopping,
// which the node work's next pass settles. Without a Provisioner nothing
// acts on the targets and pools stay steady.
func TestResizeAllocationState(t *testing.T) {
	ctx := context.Background()
	svc, c := newScheduleService(t)
	prov := &passes{}
	svc.Provisioner = prov

	code := func(err error) string {
		var se *service.Error
		if errors.As(service.AsError(err), &se) {
			return se.Code
		}
		return ""
	}
	get := func(id string) *api.Pool {
		t.Helper()
		p, err := svc.GetPool(ctx, id, service.Conditions{})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}

	if err := svc.AddPool(ctx, &api.Pool{ID: "grow", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(2)}); err != nil {
		t.Fatal(err)
	}
	p := get("grow")
	if p.AllocationState != api.AllocationResizing || prov.n != 1 {
		t.Fatalf("new pool of 2 nodes: allocationState %s, passes %d", p.AllocationState, prov.n)
	}
	if err := svc.AddPool(ctx, &api.Pool{ID: "empty", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(0)}); err != nil {
		t.Fatal(err)
	}
	if st := get("empty").AllocationState; st != api.AllocationSteady {
		t.Fatalf("new pool of 0 nodes: allocationState %s", st)
	}

	etag := p.ETag
	err := svc.ResizePool(ctx, "grow", &api.PoolResize{TargetDedicatedNodes: api.I32(5)}, service.Conditions{})
	if code(err) != api.CodePoolBeingResized {
		t.Fatalf("resize while resizing: %v", err)
	}
	// A resize that is wrong in itself is told so (400) before it is told
	// to wait (409): the stored dedicated target plus this low-priority
	// one is over the limit.
	err = svc.ResizePool(ctx, "grow", &api.PoolResize{TargetLowPriorityNodes: api.I32(api.MaxPoolTargetNodes - 1)}, service.Conditions{})
	if code(err) != api.CodeInvalidPropertyValue {
		t.Fatalf("an invalid resize while resizing: %v", err)
	}
	if err := svc.Store.PutNode(ctx, &store.Node{PoolID: "grow", Node: &api.ComputeNode{ID: "n1", State: api.NodeIdle, IsDedicated: true}}); err != nil {
		t.Fatal(err)
	}
	err = svc.RemoveNodes(ctx, "grow", &api.NodeRemove{NodeList: []string{"n1"}})
	if code(err) != api.CodePoolBeingResized {
		t.Fatalf("removenodes while resizing: %v", err)
	}
	if n, err := svc.Store.GetNode(ctx, "grow", "n1"); err != nil || n.Node.State != api.NodeIdle {
		t.Fatalf("a refused removenodes drained the node: %v", err)
	}
	// enableautoscale too: "You cannot enable automatic scaling on a Pool
	// if a resize operation is in progress on the Pool." One without a
	// formula is wrong in itself, and told so first.
	_, err = svc.EnableAutoScale(ctx, "grow", &api.PoolEnableAutoScale{AutoScaleFormula: "$TargetDedicatedNodes = 1;"}, service.Conditions{})
	if code(err) != api.CodePoolBeingResized {
		t.Fatalf("enableautoscale while resizing: %v", err)
	}
	_, err = svc.EnableAutoScale(ctx, "grow", &api.PoolEnableAutoScale{}, service.Conditions{})
	if code(err) != api.CodeMissingRequiredProperty {
		t.Fatalf("enableautoscale without a formula while resizing: %v", err)
	}
	if p := get("grow"); p.ETag != etag || *p.TargetDedicatedNodes != 2 || p.EnableAutoScale != nil && *p.EnableAutoScale {
		t.Fatalf("a refused request changed the pool: etag %s → %s, target %d, autoscale %v", etag, p.ETag, *p.TargetDedicatedNodes, p.EnableAutoScale)
	}

	c.add(time.Minute)
	if err := svc.StopResizePool(ctx, "grow", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	p = get("grow")
	if p.AllocationState != api.AllocationStopping || *p.TargetDedicatedNodes != 0 || !p.AllocationStateTransitionTime.Equal(c.now()) {
		t.Fatalf("after stopresize: allocationState %s, target %d, at %v", p.AllocationState, *p.TargetDedicatedNodes, p.AllocationStateTransitionTime)
	}
	// A stopresize of a pool that is not resizing changes nothing.
	if err := svc.StopResizePool(ctx, "empty", service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if st := get("empty").AllocationState; st != api.AllocationSteady {
		t.Fatalf("stopresize of a steady pool: %s", st)
	}

	// A resize of a steady pool to the nodes it has ends at once.
	if err := svc.ResizePool(ctx, "empty", &api.PoolResize{TargetDedicatedNodes: api.I32(0)}, service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if st := get("empty").AllocationState; st != api.AllocationSteady {
		t.Fatalf("resize to the current count: %s", st)
	}
	if err := svc.ResizePool(ctx, "empty", &api.PoolResize{TargetDedicatedNodes: api.I32(3)}, service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if st := get("empty").AllocationState; st != api.AllocationResizing {
		t.Fatalf("resize to 3: %s", st)
	}

	// No Provisioner: nothing resizes.
	svc.Provisioner = nil
	if err := svc.AddPool(ctx, &api.Pool{ID: "static", VMSize: "standard_d2s_v3", TargetDedicatedNodes: api.I32(2)}); err != nil {
		t.Fatal(err)
	}
	if err := svc.ResizePool(ctx, "static", &api.PoolResize{TargetDedicatedNodes: api.I32(4)}, service.Conditions{}); err != nil {
		t.Fatal(err)
	}
	if st := get("static").AllocationState; st != api.AllocationSteady {
		t.Fatalf("pool without a provisioner: %s", st)
	}
}
