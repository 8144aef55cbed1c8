package sdktest_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"strings"
	"testing"
)

// TestReachesTheSDKThroughItsAPI keeps sdktest honest: it drives the sdk
// through sdk.Register and the wire protocol only, never through the
// internal hooks the sdk's own tests use (internal/wire.Hooks and
// FilterHooks), so what a plugin author tests is what httpd talks to.
func TestReachesTheSDKThroughItsAPI(t *testing.T) {
	fset := token.NewFileSet()
	pkgs, err := parser.ParseDir(fset, ".", func(fi fs.FileInfo) bool { return !strings.HasSuffix(fi.Name(), "_test.go") }, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkgs {
		for name, f := range p.Files {
			ast.Inspect(f, func(n ast.Node) bool {
				if sel, ok := n.(*ast.SelectorExpr); ok {
					if x, ok := sel.X.(*ast.Ident); ok && x.Name == "wire" && (sel.Sel.Name == "Hooks" || sel.Sel.Name == "FilterHooks") {
						t.Errorf("%s: %s uses wire.%s", name, fset.Position(sel.Pos()), sel.Sel.Name)
					}
				}
				return true
			})
		}
	}
}
