package lease

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestPure reads the package's own source and checks what keeps the
// arithmetic monotonic and pure (STYLE.md habits 1 and 3): it imports only
// the few standard packages it needs, reads no clock, never touches a
// time.Time's wall-clock fields, starts no goroutine and has no
// package-level variable.
func TestPure(t *testing.T) {
	allowed := []string{"errors", "fmt", "math", "math/big", "slices", "time"}
	// Functions of package time that read the clock or wait.
	clockReads := []string{"Now", "Since", "Until", "Sleep", "After", "AfterFunc", "Tick", "NewTimer", "NewTicker", "Unix", "UnixMilli", "UnixMicro"}
	// time.Time methods that read or reset the wall clock, or drop the monotonic reading.
	wall := []string{"Unix", "UnixNano", "UnixMilli", "UnixMicro", "Round", "Truncate", "Date", "Clock", "Year", "Month", "Day",
		"Hour", "Minute", "Second", "Nanosecond", "YearDay", "Weekday", "ISOWeek", "In", "Local", "UTC", "Location", "Zone",
		"Format", "AppendFormat", "MarshalBinary", "MarshalText", "MarshalJSON", "GobEncode"}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	checked := 0
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		checked++
		for _, imp := range f.Imports {
			if p, _ := strconv.Unquote(imp.Path.Value); !slices.Contains(allowed, p) {
				t.Errorf("%s imports %s; lease imports only %v", name, p, allowed)
			}
		}
		for _, decl := range f.Decls {
			if g, ok := decl.(*ast.GenDecl); ok && g.Tok == token.VAR {
				t.Errorf("%s: package-level var at %v: no global state", name, fset.Position(g.Pos()))
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s: go statement at %v: lease starts no goroutines", name, fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				if id, ok := n.X.(*ast.Ident); ok && id.Name == "time" { // the package: time.Hour is fine, time.Now is not
					if slices.Contains(clockReads, n.Sel.Name) {
						t.Errorf("%s: time.%s at %v: lease reads no clock", name, n.Sel.Name, fset.Position(n.Pos()))
					}
				} else if slices.Contains(wall, n.Sel.Name) {
					t.Errorf("%s: .%s at %v: lease uses only Add, Sub, Before, After and IsZero on times", name, n.Sel.Name, fset.Position(n.Pos()))
				}
			}
			return true
		})
	}
	if checked == 0 {
		t.Fatal("no source files found")
	}
}
