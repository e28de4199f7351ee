package model

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"testing"
)

// TestEventKinds checks that EventKinds lists every EventKind constant of
// the package, once.
func TestEventKinds(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var declared []string
	for _, name := range files {
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if id, ok := vs.Type.(*ast.Ident); ok && id.Name == "EventKind" {
					for _, n := range vs.Names {
						declared = append(declared, n.Name)
					}
				}
			}
		}
	}
	if len(declared) == 0 {
		t.Fatal("found no EventKind constants")
	}
	kinds := EventKinds()
	if len(kinds) != len(declared) {
		t.Errorf("EventKinds has %d kinds, the package declares %d: %v", len(kinds), len(declared), declared)
	}
	seen := map[EventKind]bool{}
	for _, k := range kinds {
		if seen[k] {
			t.Errorf("EventKinds lists %q twice", k)
		}
		seen[k] = true
	}
}

func TestAlertMatches(t *testing.T) {
	tests := []struct {
		kinds []string
		kind  EventKind
		want  bool
	}{
		{nil, EventNodeOffline, true},
		{[]string{"node.offline"}, EventNodeOffline, true},
		{[]string{"node.offline"}, EventNodeOnline, false},
		{[]string{"fence."}, EventFenceOK, true},
		{[]string{"fence."}, EventFenceFailed, true},
		{[]string{"fence."}, EventFailed, false},
		{[]string{"fence"}, EventFenceOK, false}, // a prefix ends in "."
		{[]string{"node.", "resource.failed"}, EventFailed, true},
		{[]string{"node.", "resource.failed"}, EventStarted, false},
		{[]string{"."}, EventFenceOK, false},
	}
	for _, tt := range tests {
		if got := (Alert{Kinds: tt.kinds}).Matches(tt.kind); got != tt.want {
			t.Errorf("Alert{Kinds: %v}.Matches(%q) = %v, want %v", tt.kinds, tt.kind, got, tt.want)
		}
	}
	if !slices.Contains(EventKinds(), EventConfig) {
		t.Error("EventKinds lacks config.changed")
	}
}
