package web_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestSpanishOneRegister reads every string literal of the packages whose
// texts people read (pages, JSON:API errors, account and application rules,
// the command line) and refuses the formal register (usted) and the words
// the project does not use: the pages say tú, so the API and the command
// line say tú too; the client secret is "secreto de cliente", never "llave
// secreta"; an endpoint is an "endpoint"; URI is feminine ("Una por
// línea"). The protocol endpoints' error_description texts
// (internal/provider, internal/oauth) too.
func TestSpanishOneRegister(t *testing.T) {
	// Imperatives and pronouns of usted that have no English homograph
	// (so "Use" and "Quite" are not here: English strings have them).
	formal := regexp.MustCompile(`\b(Envíe|Quítelo|Quítela|Escriba|escriba|Escríbala|Escríbalo|Revise|revise|Inicie|inicie|Espere|espere|Vuelva|vuelva|Obtenga|Solicite|usted|Vea|Inténtelo|inténtelo|avise|comunique|Cambie|indique|agregue|codifique|Elija|elija|genere|reintente|Pida|pida)\b`)
	words := []string{"llave secreta", "Llave secreta", "punto final", "Punto final", "Uno por línea"}
	fset := token.NewFileSet()
	for _, dir := range []string{".", "console", "../api", "../account", "../mail", "../clients", "../cli", "../config", "../server", "../provider", "../oauth"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		if len(files) == 0 {
			t.Fatalf("no Go files in %s", dir)
		}
		for _, name := range files {
			if strings.HasSuffix(name, "_test.go") {
				continue
			}
			src, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			f, err := parser.ParseFile(fset, name, src, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			ast.Inspect(f, func(n ast.Node) bool {
				lit, ok := n.(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(lit.Value)
				if err != nil {
					return true
				}
				if m := formal.FindString(s); m != "" {
					t.Errorf("%s: %q speaks as usted (%q); say tú as the pages do", fset.Position(lit.Pos()), s, m)
				}
				for _, w := range words {
					if strings.Contains(s, w) {
						t.Errorf("%s: %q says %q", fset.Position(lit.Pos()), s, w)
					}
				}
				return true
			})
		}
	}
}
