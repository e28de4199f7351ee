package config

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

// FuzzParse checks that Parse never panics, that it returns either a
// config or a *Error with problems, and that a config it returns survives
// Format and Parse unchanged. ParseWith, with a check that refuses every
// script resource, must then add only problems with those resources'
// params. The seeds are every testdata file, good and bad, which between
// them hold every section.
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
	f.Add([]byte(header + nodes + "secret: \"0123456789abcdef\"\nresources: [{id: a, kind: script}, {id: b, kind: exec}]\n" +
		"groups: [{id: g, members: [a, b]}]\nconstraints: {orders: [{id: o, first: b, then: a}]}\n"))
	// The detection, alerts and api sections together, with every field.
	f.Add([]byte(header + nodes + "secret: \"0123456789abcdef\"\ntiming: {profile: wan}\n" +
		"detection: {require: 3, window: 1s, probe_interval: 50ms, probe_timeout: 999ms,\n" +
		"  checks: [{name: c, node: n1, http: \"https://[2001:db8::1]/x\", status: 301, interval: 1s, timeout: 2s}, {name: d, node: n2, tcp: \"h:1\"}],\n" +
		"  damping: {off: true, penalty: 1.5, suppress: 1e4, reuse: 0x10, half_life: 1s, max_hold: 1h}}\n" +
		"alerts: [{id: a, script: /a, kinds: [fence., node.offline], timeout: 5m, retries: 0},\n" +
		"  {id: b, webhook: \"http://u:p@h/?q=1\", headers: {X-A: \"v\", X-B: 2}}]\n" +
		"api: {tls: {mode: optional, dir: /t}, tokens: [{name: r, role: read-only, token: \"0123456789abcdefg\"}, {name: f, role: operator, token_file: tok}]}\n"))
	dir := f.TempDir() // empty: a secret_file the input names is not there
	refuseScripts := func(r model.Resource) error {
		if r.Kind != "script" {
			return nil
		}
		return errors.Join(errors.New("params: one"), errors.New("params: two"))
	}
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

		scripts := 0
		for _, r := range c.Resources {
			if r.Kind == "script" {
				scripts++
			}
		}
		checked, err := ParseWith("fuzz.yaml", dir, data, refuseScripts)
		if scripts == 0 {
			if err != nil {
				t.Fatalf("ParseWith: %v", err)
			}
			if d := cmp.Diff(c, checked, equateAddr); d != "" {
				t.Fatalf("ParseWith differs from Parse (-Parse +ParseWith):\n%s", d)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) || len(e.Problems) != 2*scripts {
			t.Fatalf("ParseWith: %v, want 2 problems for each of %d scripts", err, scripts)
		}
		for _, p := range e.Problems {
			if !strings.HasSuffix(p.Path, ".params") || p.Line == 0 {
				t.Fatalf("ParseWith problem %q, want one on a resource's params", p)
			}
		}
	})
}
