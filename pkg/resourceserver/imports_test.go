package resourceserver_test

import (
	"go/parser"
	"go/token"
	"os"
	"strings"
	"testing"
)

// TestNoInternalImports: the package is for other programs, so it may not
// depend on the server's internal packages (its tests may).
func TestNoInternalImports(t *testing.T) {
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(token.NewFileSet(), name, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range f.Imports {
			if strings.Contains(imp.Path.Value, "multinexo/auth/internal") {
				t.Errorf("%s imports %s", name, imp.Path.Value)
			}
		}
	}
}
