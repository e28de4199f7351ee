package daemon

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzDecodeOperatorCommand checks the leader's decoding of forwarded
// commands: it never panics; what it accepts is exactly one operator
// change, decodes again to the same command from its own encoding, and,
// if it also passes checkCommand, names only configured nodes and
// resources.
func FuzzDecodeOperatorCommand(f *testing.F) {
	for _, seed := range []string{
		`{"node_flags":{"node":"n2","standby":true}}`,
		`{"node_flags":{"node":"n2","standby":true,"maintenance":false}}`,
		`{"cleanup":{"resource":"db","node":"n1"}}`,
		`{"runtime":{"location":{"ID":"cli-ban-g-on-n1","Resource":"g","Node":"n1","Score":-1000000}}}`,
		`{"runtime":{"location":{"ID":"cli-prefer-db"},"remove":true}}`,
		`{"report":{"resource":"db","node":"n1","state":"failed","fail_by":1}}`,
		`{"placement":{"targets":{"db":"n2"},"epoch":3}}`,
		`{"node_state":{"node":"n1","state":"offline"}}`,
		`{"cleanup":{"resource":"db"},"runtime":{"location":{"ID":"cli-x"}}}`,
		`{"cleanup":{"resource":"db","x":1}}`, `{"restart":{"resource":"db","node":"n1","at":"2026-01-01T00:00:00Z"}}`, `{"config":{"base":0}}`, `{"cleanup":{"resource":"db"},"config":{"base":1}}`, `{}`, ``, `null`, `[]`, `{"cleanup":null}`, `{"v":2,"cleanup":{}}`,
	} {
		f.Add([]byte(seed))
	}
	cfg := testConfig()
	f.Fuzz(func(t *testing.T, raw []byte) {
		c, err := decodeOperatorCommand(raw)
		if err != nil {
			return
		}
		set := 0
		for _, ok := range []bool{c.NodeFlags != nil, c.Cleanup != nil, c.Runtime != nil, c.Restart != nil} {
			if ok {
				set++
			}
		}
		if set != 1 || c.NodeState != nil || c.Report != nil || c.Placement != nil || c.Config != nil {
			t.Fatalf("%q: accepted %+v", raw, c)
		}
		again, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		c2, err := decodeOperatorCommand(again)
		if err != nil {
			t.Fatalf("%q: accepted, but its encoding %s is refused: %v", raw, again, err)
		}
		if d := cmp.Diff(c, c2); d != "" {
			t.Fatalf("%q: round trip (-first +again):\n%s", raw, d)
		}
		if checkCommand(cfg, c) != nil {
			return
		}
		switch {
		case c.NodeFlags != nil:
			if _, ok := cfg.Node(c.NodeFlags.Node); !ok {
				t.Fatalf("%q: passed with unknown node", raw)
			}
		case c.Cleanup != nil:
			if _, ok := resourceOf(cfg, c.Cleanup.Resource); !ok {
				t.Fatalf("%q: passed with unknown resource", raw)
			}
		case c.Runtime != nil && !c.Runtime.Remove:
			if _, ok := cfg.Node(c.Runtime.Location.Node); !ok || !isResourceOrGroup(cfg, c.Runtime.Location.Resource) {
				t.Fatalf("%q: passed with an unknown name", raw)
			}
		case c.Restart != nil:
			if _, ok := cfg.Node(c.Restart.Node); !ok || !isResourceOrGroup(cfg, c.Restart.Resource) {
				t.Fatalf("%q: passed with an unknown name", raw)
			}
		}
	})
}
