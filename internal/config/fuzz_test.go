package config

import (
	"errors"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzParse checks that Parse never panics, that it returns either a
// config or a *Error with problems, and that a config it returns survives
// Format and Parse unchanged.
func FuzzParse(f *testing.F) {
	for _, dir := range []string{"good", "bad"} {
		for _, path := range yamlFiles(f, dir) {
			data, err := os.ReadFile(path)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	dir := f.TempDir() // empty: a secret_file the input names is not there
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse("fuzz.yaml", dir, data)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %T %q, want a *Error with problems", err, err)
			}
			return
		}
		out := Format(c, "")
		again, err := Parse("formatted.yaml", dir, out)
		if err != nil {
			t.Fatalf("Parse(Format(c)): %v\ninput:\n%s\nformatted:\n%s", err, data, out)
		}
		if d := cmp.Diff(c, again, equateAddr); d != "" {
			t.Fatalf("Parse(Format(c)) differs (-c +again):\n%s\nformatted:\n%s", d, out)
		}
	})
}
