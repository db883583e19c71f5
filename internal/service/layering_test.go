package service

import (
	"os/exec"
	"strings"
	"testing"
)

// TestNoHTTPDependency keeps the service free of net/http, directly or
// through its imports: it returns Batch error codes, and the HTTP layer
// alone turns them into statuses.
func TestNoHTTPDependency(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list unavailable: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 10 {
		t.Fatalf("go list -deps gave %d packages; expected the service's dependency list", len(deps))
	}
	for _, d := range deps {
		if d == "net/http" || strings.HasPrefix(d, "net/http/") || strings.HasSuffix(d, "/internal/httpapi") {
			t.Errorf("internal/service depends on %s", d)
		}
	}
}
