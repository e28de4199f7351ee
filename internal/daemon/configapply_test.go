package daemon

import (
	"errors"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/model"
)

// okAgent accepts every resource but those with a param bad=yes.
type okAgent struct{ agent.Agent }

func (okAgent) Validate(r model.Resource) error {
	if r.Params["bad"] == "yes" {
		return errors.New("params.bad: not allowed here")
	}
	return nil
}

const applyBase = `version: 1
cluster: c
secret: "0123456789abcdef0123"
nodes:
  - {name: n1, addresses: [198.18.0.1]}
  - {name: n2, addresses: [198.18.0.2]}
`

func TestParseApplied(t *testing.T) {
	running, err := config.Parse("vigil.yaml", "/", []byte(applyBase))
	if err != nil {
		t.Fatal(err)
	}
	reg := agent.Registry{"exec": okAgent{}}
	withRes := applyBase + "resources:\n  - {id: a, kind: exec, params: {command: x}}\n"
	rc, err := parseApplied(api.ConfigApply{Path: "/etc/vigil/vigil.yaml", YAML: withRes}, running, reg)
	if err != nil || len(rc.Resources) != 1 || rc.Resources[0].ID != "a" {
		t.Fatalf("a good file: %+v, %v", rc, err)
	}
	for _, tc := range []struct{ name, path, yaml, field, says string }{
		{"relative path", "vigil.yaml", withRes, "path", "absolute path"},
		{"a problem, at its line", "/etc/vigil/vigil.yaml", applyBase + "resources:\n  - {id: a, kind: nope}\n", "",
			`/etc/vigil/vigil.yaml:8: resources[0].kind`},
		{"the agent refuses its parameters", "/etc/vigil/vigil.yaml", applyBase + "resources:\n  - {id: a, kind: exec, params: {bad: \"yes\"}}\n", "",
			"params.bad: not allowed here"},
		{"nodes take a restart", "/etc/vigil/vigil.yaml", strings.Replace(withRes, "198.18.0.2", "198.18.0.3", 1), "nodes",
			"differs from the running configuration in nodes"},
	} {
		_, err := parseApplied(api.ConfigApply{Path: tc.path, YAML: tc.yaml}, running, reg)
		var e *api.Error
		if !errors.As(err, &e) || e.Status != 400 || e.Field != tc.field || !strings.Contains(e.Message, tc.says) {
			t.Errorf("%s: %v; want a 400 on field %q saying %q", tc.name, err, tc.field, tc.says)
		}
	}
}
