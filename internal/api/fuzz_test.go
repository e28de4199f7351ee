package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
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

// bodyBackend serves every endpoint that decodes a body, and counts what
// reached it.
type bodyBackend struct {
	authBackend
	renews atomic.Int64
}

func (b *bodyBackend) RetireLease(context.Context, api.LeaseGen) error {
	b.renews.Add(1)
	return nil
}

func (b *bodyBackend) ResetLease(context.Context, api.LeaseGen) error {
	b.renews.Add(1)
	return nil
}

// bodyTypes are every request body the API decodes, by the endpoint that
// decodes it ("" for those FuzzOperatorBodies sends).
var bodyTypes = []struct {
	path string
	new  func() any
}{
	{"/v1/internal/report", func() any { return new(api.Report) }},
	{"/v1/internal/lease/retire", func() any { return new(api.LeaseGen) }},
	{"/v1/internal/lease/reset", func() any { return new(api.LeaseGen) }},
	{"/v1/config", func() any { return new(api.ConfigApply) }},
	{"", func() any { return new(api.TargetRequest) }},
	{"", func() any { return new(api.RestartRequest) }},
	{"", func() any { return new(api.Simulation) }},
}

// FuzzDecodeBody decodes arbitrary bytes as every request body type, and
// sends them to the endpoints that need a body. A decode error is a 400
// *Error; a body an endpoint accepts is one that DecodeStrict accepts too
// (one decoding rule for the whole API); a refused one reaches no backend.
func FuzzDecodeBody(f *testing.F) {
	for _, seed := range []string{
		"", " ", "{}", "null", "[]", `"x"`, "\xff", "{", `{"resource":"web"}]`, `{"resource":"web"}}`,
		`{"resource":"web","node":"n2","state":"started","at":"2026-01-01T00:00:00Z"}`,
		`{"at":"yesterday"}`, `{"fail_by":1e99}`, `{"node":"n1","gen":18446744073709551616}`, `{"gen":-1}`,
		`{"path":"/etc/vigil/vigil.yaml","yaml":"version: 1","dry_run":true}`, `{"path":"/x","yaml":"","IfMatch":3}`,
		`{"path":"/x","yaml":"","By":"root"}`, `{"yaml":"` + strings.Repeat("a", 100) + `"}`, `{"node":"n1"} {}`,
	} {
		for i := range bodyTypes {
			f.Add(i, []byte(seed))
		}
	}
	f.Fuzz(func(t *testing.T, which int, body []byte) {
		if which < 0 {
			which = -which
		}
		bt := bodyTypes[which%len(bodyTypes)]
		strictErr := api.DecodeStrict(body, bt.new())
		if strictErr != nil {
			var e *api.Error
			if !errors.As(strictErr, &e) || e.Status != http.StatusBadRequest || e.Message == "" {
				t.Fatalf("DecodeStrict(%q) into %T: %#v, want a 400 *Error", body, bt.new(), strictErr)
			}
		}
		if bt.path == "" {
			return
		}
		b := &bodyBackend{}
		h := api.NewHandler(b, "")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodPost, bt.path, bytes.NewReader(body)))
		var m map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %q: answer is not JSON: %v\n%s", bt.path, body, err, rec.Body)
		}
		b.configBackend.mu.Lock()
		reached := len(b.configBackend.applies) + int(b.renews.Load())
		b.configBackend.mu.Unlock()
		if rec.Code == http.StatusOK {
			if strictErr != nil || len(bytes.TrimSpace(body)) == 0 {
				t.Fatalf("%s accepted %q, which DecodeStrict refuses (%v) or is empty", bt.path, body, strictErr)
			}
			return
		}
		if rec.Code != http.StatusBadRequest && rec.Code != http.StatusRequestEntityTooLarge && rec.Code != http.StatusConflict {
			t.Fatalf("%s %q: status %d: %s", bt.path, body, rec.Code, rec.Body)
		}
		if msg, ok := m["error"].(string); !ok || msg == "" {
			t.Fatalf("%s %q: error without a message: %s", bt.path, body, rec.Body)
		}
		if rec.Code == http.StatusBadRequest && reached != 0 {
			t.Fatalf("%s %q: refused, but reached the backend", bt.path, body)
		}
	})
}
