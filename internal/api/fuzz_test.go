package api_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-ha/vigil/internal/api"
)

// bodyEndpoints are the endpoints that decode a request body.
var bodyEndpoints = []string{
	"/v1/nodes/n1/standby",
	"/v1/resources/web/move",
	"/v1/resources/web/restart",
	"/v1/simulate",
}

// FuzzOperatorBodies sends arbitrary bodies to every endpoint that decodes
// one. Each answer is a 200 with JSON, or an error in the API's shape with
// a 4xx status; a body that is refused reaches the backend not at all, and
// one that is accepted decodes again, strictly, to what the backend got.
func FuzzOperatorBodies(f *testing.F) {
	for _, seed := range []string{
		"", "{}", "null", " ", `{"node":"n2"}`, `{"node":""}`, `{"timeout":"90s"}`, `{"timeout":"0s"}`,
		`{"node_down":["n1"],"resource_fail":["web"]}`, `{"node_down":[]}`, `{"node_down":null}`,
		`{"node":"n1"}{}`, `{"node":1}`, `{"NODE":"n1"}`, `{"node":"n1","node":"n2"}`, `[]`, `"x"`,
		`{"node_down":["n1","n9"]}`, "{\"node\":\"\u00e9\"}", `{"node":"n1"} `, "\xff",
	} {
		for i := range bodyEndpoints {
			f.Add(i, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which int, body []byte) {
		if which < 0 {
			which = -which
		}
		path := bodyEndpoints[which%len(bodyEndpoints)]
		b := &opBackend{}
		h := api.NewHandler(b, "")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body)))
		ops, sims, _ := b.recorded()
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %q: answer is not JSON: %v\n%s", path, body, err, rec.Body)
		}
		if rec.Code != http.StatusOK {
			if rec.Code < 400 || rec.Code >= 500 {
				t.Fatalf("%s %q: status %d", path, body, rec.Code)
			}
			if _, ok := m["error"].(string); !ok {
				t.Fatalf("%s %q: error without a message: %s", path, body, rec.Body)
			}
			if len(ops) != 0 {
				t.Fatalf("%s %q: refused with %d but applied %v", path, body, rec.Code, ops)
			}
			return
		}
		switch path {
		case "/v1/resources/web/move":
			var req api.TargetRequest
			if err := api.DecodeStrict(body, &req); err != nil || len(ops) != 1 || ops[0].Node != req.Node {
				t.Fatalf("%s %q: accepted as %v, decodes to %+v (%v)", path, body, ops, req, err)
			}
		case "/v1/simulate":
			var sim api.Simulation
			if err := api.DecodeStrict(body, &sim); err != nil {
				t.Fatalf("%s %q: accepted, but does not decode again: %v", path, body, err)
			}
			if len(sim.NodeDown)+len(sim.ResourceFail) > 0 && len(sims) != 1 {
				t.Fatalf("%s %q: accepted but the backend saw %v", path, body, sims)
			}
		}
	})
}
