package sdk_test

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"io/fs"
	"sort"
	"strings"
	"testing"
)

// TestEveryExportedNameHasAnExample keeps the public API of sdk, sdktest
// and nethttp documented by code that go test compiles and runs: every
// exported function, type and method has an Example of its own (named as
// go doc attaches it: ExampleF, ExampleT, ExampleT_M, with an optional
// _suffix), and every exported constant and variable is used by some
// Example.
func TestEveryExportedNameHasAnExample(t *testing.T) {
	for _, dir := range []string{".", "sdktest", "nethttp"} {
		names, values := missingExamples(t, dir)
		for _, name := range names {
			t.Errorf("%s: %s has no Example (write Example%s in an _test.go file)", dir, name, strings.ReplaceAll(name, ".", "_"))
		}
		for _, name := range values {
			t.Errorf("%s: no Example uses %s", dir, name)
		}
	}
}

// missingExamples returns the exported functions, types and methods of the
// package in dir that have no Example, and the exported constants and
// variables that no Example uses.
func missingExamples(t *testing.T, dir string) (names, values []string) {
	fset := token.NewFileSet()
	isTest := func(fi fs.FileInfo) bool { return strings.HasSuffix(fi.Name(), "_test.go") }
	src, err := parser.ParseDir(fset, dir, func(fi fs.FileInfo) bool { return !isTest(fi) }, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	tests, err := parser.ParseDir(fset, dir, isTest, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	var testFiles []*ast.File
	for _, p := range tests {
		for _, f := range p.Files {
			testFiles = append(testFiles, f)
		}
	}
	// The examples, by the name go doc attaches them to, and every name
	// their bodies use.
	have := map[string]bool{}
	used := map[string]bool{}
	for _, ex := range doc.Examples(testFiles...) {
		have[ex.Name] = true
		ast.Inspect(ex.Code, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.SelectorExpr:
				used[n.Sel.Name] = true
			case *ast.Ident:
				used[n.Name] = true
			}
			return true
		})
	}
	for _, p := range src {
		d := doc.New(p, dir, 0)
		need := func(name string) {
			if !have[name] {
				names = append(names, strings.Replace(name, "_", ".", 1))
			}
		}
		values := func(vs []*doc.Value) {
			for _, v := range vs {
				for _, name := range v.Names {
					if ast.IsExported(name) && !used[name] {
						values = append(values, name)
					}
				}
			}
		}
		for _, f := range d.Funcs {
			need(f.Name)
		}
		values(d.Consts)
		values(d.Vars)
		for _, ty := range d.Types {
			need(ty.Name)
			for _, f := range ty.Funcs {
				need(f.Name)
			}
			for _, m := range ty.Methods {
				need(ty.Name + "_" + m.Name)
			}
			values(ty.Consts)
			values(ty.Vars)
		}
	}
	sort.Strings(names)
	sort.Strings(values)
	return names, values
}
