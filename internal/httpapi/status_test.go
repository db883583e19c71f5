package httpapi

import (
	"go/ast"
	"go/parser"
	"go/token"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/openbatch/openbatch/api"
	"github.com/openbatch/openbatch/internal/lifecycle"
)

// parseDir parses the non-test Go files of a directory of this module.
func parseDir(t *testing.T, dir string) []*ast.File {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var files []*ast.File
	for _, p := range paths {
		if strings.HasSuffix(p, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, p, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	if len(files) == 0 {
		t.Fatalf("no Go files in %s", dir)
	}
	return files
}

// apiCodes returns the Batch error codes the api package declares
// (constants named Code…), by name.
func apiCodes(t *testing.T) map[string]string {
	t.Helper()
	codes := map[string]string{}
	for _, f := range parseDir(t, filepath.Join("..", "..", "api")) {
		ast.Inspect(f, func(n ast.Node) bool {
			vs, ok := n.(*ast.ValueSpec)
			if !ok {
				return true
			}
			for i, name := range vs.Names {
				if !strings.HasPrefix(name.Name, "Code") || i >= len(vs.Values) {
					continue
				}
				if lit, ok := vs.Values[i].(*ast.BasicLit); ok && lit.Kind == token.STRING {
					v, _ := strconv.Unquote(lit.Value)
					codes[name.Name] = v
				}
			}
			return true
		})
	}
	return codes
}

// TestEveryCodeHasStatus walks every error code the service, lifecycle
// and this package can return and asserts the status table maps it, so no
// Batch error turns into a 500 by omission.
func TestEveryCodeHasStatus(t *testing.T) {
	codes := apiCodes(t)
	if len(codes) < 50 {
		t.Fatalf("found only %d api.Code constants; is the api package where this test looks?", len(codes))
	}
	for name, code := range codes {
		if _, ok := statusByCode[code]; !ok {
			t.Errorf("api.%s (%q) has no HTTP status in statusByCode", name, code)
		}
	}
	// Every code a package names, and every literal passed where a code
	// goes, must be a mapped api constant.
	for _, dir := range []string{"../service", "../lifecycle", "."} {
		used := 0
		for _, f := range parseDir(t, dir) {
			ast.Inspect(f, func(n ast.Node) bool {
				switch n := n.(type) {
				case *ast.SelectorExpr:
					if x, ok := n.X.(*ast.Ident); ok && x.Name == "api" && strings.HasPrefix(n.Sel.Name, "Code") {
						used++
						code, ok := codes[n.Sel.Name]
						if !ok {
							t.Errorf("%s uses api.%s, which is not a string constant of package api", dir, n.Sel.Name)
						} else if _, ok := statusByCode[code]; !ok {
							t.Errorf("%s uses api.%s (%q), which has no HTTP status", dir, n.Sel.Name, code)
						}
					}
				case *ast.CallExpr:
					if fn, ok := n.Fun.(*ast.Ident); ok && fn.Name == "errorf" && len(n.Args) > 0 {
						if lit, ok := n.Args[0].(*ast.BasicLit); ok {
							t.Errorf("%s: errorf(%s, …) spells a code as a literal; declare it in api/errors.go and map it here", dir, lit.Value)
						}
					}
				case *ast.KeyValueExpr:
					if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Code" {
						if lit, ok := n.Value.(*ast.BasicLit); ok {
							t.Errorf("%s: Code: %s spells a code as a literal; declare it in api/errors.go and map it here", dir, lit.Value)
						}
					}
				}
				return true
			})
		}
		if used == 0 {
			t.Errorf("%s names no api.Code constant; the walk looks in the wrong place", dir)
		}
	}
	// Codes computed at run time.
	for _, st := range []api.NodeState{api.NodeIdle, api.NodeRunning, api.NodeCreating, api.NodeStarting, api.NodeWaitingForStartTask,
		api.NodeRebooting, api.NodeReimaging, api.NodeUnusable, api.NodeOffline, api.NodeUnknown} {
		if code := lifecycle.NodeRestartRefusal(st); code != "" && statusOf(code) != http.StatusConflict {
			t.Errorf("NodeRestartRefusal(%s) = %s: status %d, want 409", st, code, statusOf(code))
		}
	}
}

func TestStatusOf(t *testing.T) {
	for _, c := range []struct {
		code string
		want int
	}{
		{api.CodeJobNotFound, http.StatusNotFound},
		{api.CodeJobBeingTerminated, http.StatusConflict},
		{api.CodeConditionNotMet, http.StatusPreconditionFailed},
		{api.CodeInvalidPropertyValue, http.StatusBadRequest},
		{api.CodeAuthenticationFailed, http.StatusForbidden},
		{api.CodeRequestBodyTooLarge, http.StatusRequestEntityTooLarge},
		{api.CodeServerBusy, http.StatusServiceUnavailable},
		{"NoSuchCode", http.StatusInternalServerError},
	} {
		if got := statusOf(c.code); got != c.want {
			t.Errorf("statusOf(%s) = %d, want %d", c.code, got, c.want)
		}
	}
}
