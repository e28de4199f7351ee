package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/vigil-ha/vigil"

// pkg is the part of `go list -json` these tests read.
type pkg struct {
	ImportPath string
	Dir        string
	Name       string
	GoFiles    []string
	CgoFiles   []string
	Imports    []string // direct, of the non-test files
}

// rel is p's path inside the module, like internal/api/client.
func (p pkg) rel() string { return strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/") }

// packages lists the module's packages, keyed by their path in the module.
func packages(t *testing.T) map[string]pkg {
	t.Helper()
	ps, err := goList()
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

func goList() (map[string]pkg, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return nil, err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == "/dev/null" {
		return nil, errors.New("go env GOMOD: not inside a module")
	}
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = filepath.Dir(gomod)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err = cmd.Output()
	if err != nil {
		return nil, errors.New("go list: " + err.Error() + ": " + stderr.String())
	}
	ps := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		ps[p.rel()] = p
	}
	if _, ok := ps["internal/model"]; !ok {
		return nil, errors.New("go list: internal/model not among the packages; is the module path " + module + "?")
	}
	return ps, nil
}

// local reports whether imp is a package of this module, and returns its
// path inside the module.
func local(imp string) (string, bool) {
	if imp == module {
		return "", true
	}
	rel, ok := strings.CutPrefix(imp, module+"/")
	return rel, ok
}

// standard reports whether imp is in the standard library: its first
// element has no dot, as go/build decides for module-mode imports.
func standard(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// under reports whether rel is dir or a package below it.
func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// allowRule: the package imports nothing but the standard library and the
// listed packages (module-relative for ours, full paths otherwise; a path
// admits its subpackages).
type allowRule struct {
	pkg   string
	allow []string
}

// denyRule: the package imports none of the listed packages or their
// subpackages, directly or through other packages of the module.
type denyRule struct {
	pkg  string
	deny []string
}

// onlyRule: no package but the listed ones imports pkg directly.
type onlyRule struct {
	pkg string
	by  []string
}

var (
	allowRules = []allowRule{
		{"internal/model", nil},
		{"internal/quorum", nil},
		{"internal/lease", nil},
		{"internal/pki", nil},
		{"internal/alert", []string{"internal/model"}},
		{"internal/metrics", []string{"internal/api", "github.com/prometheus/client_golang", "github.com/prometheus/client_model", "github.com/prometheus/common"}},
		{"internal/scheduler", []string{"internal/model"}},
		{"internal/config", []string{"internal/model", "go.yaml.in/yaml/v3"}},
		{"internal/detect", []string{"internal/model", "golang.org/x/sys"}},
	}
	denyRules = []denyRule{
		{"internal/store", []string{"internal/daemon", "internal/cli", "internal/api", "internal/lab", "internal/coordinator"}},
		{"internal/coordinator", []string{"internal/daemon", "internal/cli", "internal/api", "internal/lab"}},
		{"internal/api", []string{"internal/daemon", "internal/cli", "internal/lab", "internal/store"}},
		{"internal/api/client", []string{"internal/daemon", "internal/cli", "internal/lab", "internal/store"}},
		{"internal/lab", []string{"internal/daemon", "internal/store", "internal/detect", "internal/coordinator", "internal/config"}},
	}
	onlyRules = []onlyRule{
		{"internal/daemon", []string{"internal/cli"}},
		{"internal/cli", []string{"cmd/vigil"}},
	}
)

// TestImportDirection enforces the direction of imports between the
// module's packages (test files excepted). See STYLE.md, "Imports flow one
// way".
func TestImportDirection(t *testing.T) {
	ps := packages(t)
	for _, r := range allowRules {
		p := mustPkg(t, ps, r.pkg)
		for _, imp := range p.Imports {
			if standard(imp) || allowed(imp, r.allow) {
				continue
			}
			t.Errorf("%s imports %s; it may import only the standard library%s", r.pkg, imp, also(r.allow))
		}
	}
	for _, r := range denyRules {
		mustPkg(t, ps, r.pkg)
		for _, d := range r.deny {
			for _, chain := range chains(ps, r.pkg, d) {
				t.Errorf("%s imports %s: %s", r.pkg, chain[len(chain)-1], strings.Join(chain, " -> "))
			}
		}
	}
	for _, r := range onlyRules {
		mustPkg(t, ps, r.pkg)
		for _, rel := range sortedKeys(ps) {
			if slices.Contains(r.by, rel) {
				continue
			}
			for _, imp := range ps[rel].Imports {
				if l, ok := local(imp); ok && l == r.pkg {
					t.Errorf("%s imports %s; only %s may", rel, r.pkg, strings.Join(r.by, ", "))
				}
			}
		}
	}
}

func mustPkg(t *testing.T, ps map[string]pkg, rel string) pkg {
	t.Helper()
	p, ok := ps[rel]
	if !ok {
		t.Fatalf("the rules name %s, which go list does not show; update the rules", rel)
	}
	return p
}

func allowed(imp string, allow []string) bool {
	for _, a := range allow {
		if l, ok := local(imp); (ok && under(l, a)) || under(imp, a) {
			return true
		}
	}
	return false
}

func also(allow []string) string {
	if len(allow) == 0 {
		return ""
	}
	return " and " + strings.Join(allow, ", ")
}

// chains returns, for each package under deny that from reaches through
// the module's imports, the shortest import chain from from to it
// (module-relative paths).
func chains(ps map[string]pkg, from, deny string) [][]string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	var found [][]string
	for len(queue) > 0 {
		cur := queue[0]
		queue = queue[1:]
		for _, imp := range ps[cur].Imports {
			l, ok := local(imp)
			if !ok {
				continue
			}
			if _, seen := prev[l]; seen {
				continue
			}
			prev[l] = cur
			if under(l, deny) {
				var chain []string
				for p := l; p != ""; p = prev[p] {
					chain = append(chain, p)
				}
				slices.Reverse(chain)
				found = append(found, chain)
				continue // its own imports are reported under its own name
			}
			queue = append(queue, l)
		}
	}
	return found
}

func sortedKeys(ps map[string]pkg) []string {
	keys := make([]string, 0, len(ps))
	for k := range ps {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// TestPackageDocs checks that every non-test package under internal/ and
// cmd/ has a doc comment that starts with "Package <name> " (or "Command
// <dir> " for a command), in exactly one of its files.
func TestPackageDocs(t *testing.T) {
	ps := packages(t)
	checked := 0
	for _, rel := range sortedKeys(ps) {
		p := ps[rel]
		if !under(rel, "internal") && !under(rel, "cmd") {
			continue
		}
		files := append(slices.Clone(p.GoFiles), p.CgoFiles...)
		if len(files) == 0 {
			continue // only tests
		}
		checked++
		want := "Package " + p.Name + " "
		if p.Name == "main" {
			want = "Command " + path.Base(rel) + " "
		}
		var docs []string // files with a package doc comment
		fset := token.NewFileSet()
		for _, name := range files {
			f, err := parser.ParseFile(fset, filepath.Join(p.Dir, name), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Errorf("%s: %v", rel, err)
				continue
			}
			if f.Doc == nil {
				continue
			}
			docs = append(docs, name)
			if text := f.Doc.Text(); !strings.HasPrefix(text, want) {
				first, _, _ := strings.Cut(text, "\n")
				t.Errorf("%s: the package doc in %s starts %q; want %q", rel, name, first, want+"…")
			}
		}
		switch {
		case len(docs) == 0:
			t.Errorf("%s: no package doc comment; add one starting %q (in doc.go if it is long)", rel, want+"…")
		case len(docs) > 1:
			t.Errorf("%s: package doc comments in %s; keep one, go doc joins them", rel, strings.Join(docs, ", "))
		}
	}
	if checked == 0 {
		t.Fatal("no package checked; is go list reading the right module?")
	}
}
