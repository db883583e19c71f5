package sqlite

import (
	"context"
	"path/filepath"
	"testing"
	"time"
)

func TestTryLead(t *testing.T) {
	ctx := context.Background()
	st, err := Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	steps := []struct {
		holder string
		ttl    time.Duration
		want   bool
	}{
		{"a", time.Minute, true},       // free: a takes it
		{"b", time.Minute, false},      // a holds it
		{"a", time.Minute, true},       // a renews
		{"a", -time.Millisecond, true}, // a renews into the past: expired from now on
		{"b", time.Minute, true},       // expired: b takes it
		{"a", time.Minute, false},      // b holds it
		{"c", time.Minute, false},      // still b's
		{"b", time.Minute, true},       // b renews
	}
	for i, s := range steps {
		got, err := st.TryLead(ctx, "scheduler", s.holder, s.ttl)
		if err != nil {
			t.Fatal(err)
		}
		if got != s.want {
			t.Fatalf("step %d: TryLead(%s) = %v, want %v", i, s.holder, got, s.want)
		}
	}
	// Leases are independent by name.
	if got, err := st.TryLead(ctx, "other", "a", time.Minute); err != nil || !got {
		t.Fatalf("another lease name: %v, %v", got, err)
	}
}
