package api_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
)

// opBackend records what the operator endpoints pass it, and answers as
// a daemon would: unknown names are refused with the field set, and then
// nothing is recorded as applied.
type opBackend struct {
	fakeBackend
	mu      sync.Mutex
	ops     []api.Operation
	sims    []api.Simulation
	commits []string
}

var (
	knownNodes     = map[string]bool{"n1": true, "n2": true}
	knownResources = map[string]bool{"web": true, "ip": true, "g": true}
)

func (b *opBackend) Plan(sim api.Simulation) (api.Plan, error) {
	for i, n := range sim.NodeDown {
		if !knownNodes[n] {
			return api.Plan{}, &api.Error{Status: 400, Field: fmt.Sprintf("node_down[%d]", i), Message: "unknown node " + n}
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(sim.NodeDown)+len(sim.ResourceFail) > 0 {
		b.sims = append(b.sims, sim)
	}
	return testPlan(), nil
}

func (b *opBackend) Operate(_ context.Context, op api.Operation) (api.Outcome, error) {
	if op.Resource != "" && !knownResources[op.Resource] {
		return api.Outcome{}, &api.Error{Status: 404, Field: "resource", Message: "unknown resource or group " + op.Resource}
	}
	if op.Node != "" && !knownNodes[op.Node] {
		return api.Outcome{}, &api.Error{Status: 400, Field: "node", Message: "unknown node " + op.Node}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.ops = append(b.ops, op)
	return api.Outcome{Message: "done"}, nil
}

func (b *opBackend) Commit(_ context.Context, cmd []byte) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.commits = append(b.commits, string(cmd))
	return nil
}

func (b *opBackend) recorded() ([]api.Operation, []api.Simulation, []string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ops, b.sims, b.commits
}

// testPlan has a group g (ip, web) moving from n1 to n2 and a resource db
// staying on n1.
func testPlan() api.Plan {
	scores := []api.NodeScore{
		{Node: "n2", Score: 0, Terms: []api.ScoreTerm{}},
		{Node: "n1", Score: model.MinusInfinity, Terms: []api.ScoreTerm{{Score: model.MinusInfinity, Reason: "node in standby"}}},
	}
	return api.Plan{
		Node: "n1", Quorum: true, Epoch: 7, Time: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC), Simulated: []string{},
		Resources: []api.PlannedResource{
			{ID: "g", Kind: "group", Members: []string{"ip", "web"}, Target: "n1", Placement: "n2", Scores: scores},
			{ID: "ip", Kind: "vip", Group: "g", State: "started", Node: "n1", Target: "n1", Placement: "n2", Scores: scores},
			{ID: "web", Kind: "exec", Group: "g", State: "started", Node: "n1", Target: "n1", Placement: "n2", Scores: scores},
			{ID: "db", Kind: "exec", State: "started", Node: "n1", Target: "n1", Placement: "n1", Scores: scores},
		},
		Actions: []api.Action{
			{Index: 0, Kind: "stop", Resource: "web", Node: "n1", Reason: "move to n2"},
			{Index: 1, Kind: "move", Resource: "ip", Node: "n2", From: "n1", After: []int{0}, Reason: "node in standby"},
			{Index: 2, Kind: "start", Resource: "web", Node: "n2", After: []int{0, 1}, Reason: "move from n1"},
			{Index: 3, Kind: "restart", Resource: "db", Node: "n1", Reason: "recover"},
		},
	}
}

// send sends method path with body (none if "") and the token, and
// returns the status and body.
func send(t *testing.T, srv *httptest.Server, method, path, body, token string) (int, []byte, *http.Response) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp
}

func TestOperatorRoutes(t *testing.T) {
	b := &opBackend{}
	srv := httptest.NewServer(api.NewHandler(b, ""))
	t.Cleanup(srv.Close)
	tests := []struct {
		path, body string
		want       api.Operation
	}{
		{"/v1/nodes/n1/standby", "", api.Operation{Kind: api.OpStandby, Node: "n1"}},
		{"/v1/nodes/n2/unstandby", "{}", api.Operation{Kind: api.OpUnstandby, Node: "n2"}},
		{"/v1/nodes/n1/maintenance", " \n", api.Operation{Kind: api.OpMaintenance, Node: "n1"}},
		{"/v1/nodes/n1/unmaintenance", "", api.Operation{Kind: api.OpUnmaintenance, Node: "n1"}},
		{"/v1/resources/web/move", `{"node":"n2"}`, api.Operation{Kind: api.OpMove, Resource: "web", Node: "n2"}},
		{"/v1/resources/web/move", "", api.Operation{Kind: api.OpMove, Resource: "web"}},
		{"/v1/resources/g/ban", `{"node":"n1"}`, api.Operation{Kind: api.OpBan, Resource: "g", Node: "n1"}},
		{"/v1/resources/web/ban", `{}`, api.Operation{Kind: api.OpBan, Resource: "web"}},
		{"/v1/resources/web/clear", "", api.Operation{Kind: api.OpClear, Resource: "web"}},
		{"/v1/resources/web/clear", `{"node":"n1"}`, api.Operation{Kind: api.OpClear, Resource: "web", Node: "n1"}},
		{"/v1/resources/ip/cleanup", `{"node":"n2"}`, api.Operation{Kind: api.OpCleanup, Resource: "ip", Node: "n2"}},
		{"/v1/resources/web/restart", "", api.Operation{Kind: api.OpRestart, Resource: "web"}},
		{"/v1/resources/web/restart", `{"timeout":"90s"}`, api.Operation{Kind: api.OpRestart, Resource: "web", Timeout: 90 * time.Second}},
	}
	var want []api.Operation
	for _, tt := range tests {
		status, body, _ := send(t, srv, http.MethodPost, tt.path, tt.body, "")
		if status != http.StatusOK {
			t.Errorf("POST %s %s: %d %s", tt.path, tt.body, status, body)
			continue
		}
		want = append(want, tt.want)
		var out map[string]any
		if err := json.Unmarshal(body, &out); err != nil {
			t.Fatalf("POST %s: %v\n%s", tt.path, err, body)
		}
		// The shape scripts read: both lists are present even when empty.
		if !strings.Contains(string(body), `"changes": []`) || !strings.Contains(string(body), `"actions": []`) || out["message"] != "done" {
			t.Errorf("POST %s: outcome %s", tt.path, body)
		}
	}
	ops, _, _ := b.recorded()
	if d := cmp.Diff(want, ops); d != "" {
		t.Errorf("operations (-want +got):\n%s", d)
	}
}

// TestOperatorRefusals: a bad body, an unknown name or a wrong method is
// refused in the error shape, with the field when there is one, and the
// backend applies nothing.
func TestOperatorRefusals(t *testing.T) {
	b := &opBackend{}
	srv := httptest.NewServer(api.NewHandler(b, "tok"))
	t.Cleanup(srv.Close)
	big := `{"node":"` + strings.Repeat("x", 1<<20) + `"}`
	tests := []struct {
		name, method, path, body string
		status                   int
		field, says              string
	}{
		{"unknown field", "POST", "/v1/resources/web/move", `{"node":"n2","force":true}`, 400, "", "unknown field"},
		{"node op with a field", "POST", "/v1/nodes/n1/standby", `{"standby":false}`, 400, "", "unknown field"},
		{"trailing data", "POST", "/v1/resources/web/ban", `{"node":"n1"} {}`, 400, "", "trailing"},
		{"trailing garbage", "POST", "/v1/resources/web/ban", `{"node":"n1"}x`, 400, "", "trailing"},
		{"not json", "POST", "/v1/resources/web/ban", `node=n1`, 400, "", "bad request body"},
		{"wrong type", "POST", "/v1/resources/web/ban", `{"node":1}`, 400, "", "bad request body"},
		{"an array", "POST", "/v1/resources/web/clear", `[]`, 400, "", "bad request body"},
		{"oversized", "POST", "/v1/resources/web/cleanup", big, 413, "", "over"},
		{"bad timeout", "POST", "/v1/resources/web/restart", `{"timeout":"soon"}`, 400, "timeout", "positive duration"},
		{"negative timeout", "POST", "/v1/resources/web/restart", `{"timeout":"-5s"}`, 400, "timeout", "positive duration"},
		{"restart with a node", "POST", "/v1/resources/web/restart", `{"node":"n1"}`, 400, "", "unknown field"},
		{"unknown resource", "POST", "/v1/resources/nope/move", `{"node":"n2"}`, 404, "resource", "nope"},
		{"unknown node in body", "POST", "/v1/resources/web/move", `{"node":"n9"}`, 400, "node", "n9"},
		{"unknown node in path", "POST", "/v1/nodes/n9/standby", ``, 400, "node", "n9"},
		{"GET a change", "GET", "/v1/nodes/n1/standby", ``, 404, "", "no such endpoint"},
		{"unknown verb", "POST", "/v1/resources/web/promote", ``, 404, "", "no such endpoint"},
		{"unknown node verb", "POST", "/v1/nodes/n1/reboot", ``, 404, "", "no such endpoint"},
		{"simulate unknown field", "POST", "/v1/simulate", `{"node_down":["n1"],"node_up":["n2"]}`, 400, "", "unknown field"},
		{"simulate unknown node", "POST", "/v1/simulate", `{"node_down":["n1","n9"]}`, 400, "node_down[1]", "n9"},
		{"simulate wrong type", "POST", "/v1/simulate", `{"node_down":"n1"}`, 400, "", "bad request body"},
		{"explain unknown", "GET", "/v1/explain/nope", ``, 404, "resource", "nope"},
		{"command oversized", "POST", "/v1/internal/command", big, 413, "", "over"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body, resp := send(t, srv, tt.method, tt.path, tt.body, "tok")
			checkErrorShape(t, resp, body, tt.status)
			var e api.Error
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatal(err)
			}
			if status != tt.status || e.Field != tt.field || !strings.Contains(e.Message, tt.says) {
				t.Errorf("= %d field %q %q, want %d field %q containing %q", status, e.Field, e.Message, tt.status, tt.field, tt.says)
			}
		})
	}
	ops, sims, commits := b.recorded()
	if len(ops)+len(sims)+len(commits) != 0 {
		t.Errorf("refused requests reached the backend: ops %v, simulations %v, commits %q", ops, sims, commits)
	}

	// Every change needs the token on TCP.
	for _, path := range []string{"/v1/nodes/n1/standby", "/v1/resources/web/ban", "/v1/resources/web/restart", "/v1/internal/command", "/v1/simulate"} {
		status, body, resp := send(t, srv, http.MethodPost, path, `{}`, "")
		checkErrorShape(t, resp, body, http.StatusUnauthorized)
		if status != http.StatusUnauthorized {
			t.Errorf("POST %s without a token: %d", path, status)
		}
	}
	for _, path := range []string{"/v1/plan", "/v1/explain/web"} {
		if status, _, _ := send(t, srv, http.MethodGet, path, "", "wrong"); status != http.StatusUnauthorized {
			t.Errorf("GET %s with a wrong token: %d", path, status)
		}
	}
	if ops, _, commits := b.recorded(); len(ops)+len(commits) != 0 {
		t.Errorf("unauthenticated requests reached the backend: %v %q", ops, commits)
	}
}

func TestPlanExplainSimulate(t *testing.T) {
	b := &opBackend{}
	srv := httptest.NewServer(api.NewHandler(b, ""))
	t.Cleanup(srv.Close)

	status, body, _ := send(t, srv, http.MethodGet, "/v1/plan", "", "")
	var p api.Plan
	if status != 200 || json.Unmarshal(body, &p) != nil {
		t.Fatalf("GET /v1/plan: %d %s", status, body)
	}
	if d := cmp.Diff(testPlan(), p); d != "" {
		t.Errorf("plan (-backend +served):\n%s", d)
	}

	// A group's explanation holds its members' actions; a resource's only
	// its own, with their indexes in the plan.
	for id, want := range map[string][]int{"g": {0, 1, 2}, "web": {0, 2}, "db": {3}, "ip": {1}} {
		status, body, _ := send(t, srv, http.MethodGet, "/v1/explain/"+id, "", "")
		var x api.Explanation
		if status != 200 || json.Unmarshal(body, &x) != nil {
			t.Fatalf("GET /v1/explain/%s: %d %s", id, status, body)
		}
		var got []int
		for _, a := range x.Actions {
			got = append(got, a.Index)
		}
		if x.Resource.ID != id || x.Node != "n1" || !x.Quorum || !cmp.Equal(want, got) {
			t.Errorf("explain %s: resource %s node %s quorum %v actions %v, want actions %v", id, x.Resource.ID, x.Node, x.Quorum, got, want)
		}
	}

	status, body, _ = send(t, srv, http.MethodPost, "/v1/simulate", `{"node_down":["n1"],"resource_fail":["web","ip"]}`, "")
	if status != 200 {
		t.Fatalf("POST /v1/simulate: %d %s", status, body)
	}
	_, sims, _ := b.recorded()
	if d := cmp.Diff([]api.Simulation{{NodeDown: []string{"n1"}, ResourceFail: []string{"web", "ip"}}}, sims); d != "" {
		t.Errorf("simulation (-want +got):\n%s", d)
	}
	// An empty simulation is the plan now.
	if status, _, _ := send(t, srv, http.MethodPost, "/v1/simulate", "", ""); status != 200 {
		t.Errorf("POST /v1/simulate with no body: %d", status)
	}
}

// The internal command endpoint hands the body to the backend unchanged:
// the daemon, which knows store commands, decodes it.
func TestCommandEndpoint(t *testing.T) {
	b := &opBackend{}
	srv := httptest.NewServer(api.NewHandler(b, "tok"))
	t.Cleanup(srv.Close)
	cmd := `{"node_flags":{"node":"n1","standby":true}}`
	status, body, _ := send(t, srv, http.MethodPost, "/v1/internal/command", cmd, "tok")
	if status != 200 || !strings.Contains(string(body), `"ok": true`) {
		t.Fatalf("= %d %s", status, body)
	}
	if _, _, commits := b.recorded(); !cmp.Equal([]string{cmd}, commits) {
		t.Errorf("commits %q, want %q", commits, cmd)
	}
}

func TestDecodeStrict(t *testing.T) {
	type body struct {
		Node  string `json:"node"`
		Inner struct {
			A int `json:"a"`
		} `json:"inner"`
	}
	tests := []struct {
		in   string
		ok   bool
		want body
	}{
		{"", true, body{}},
		{" \t\n", true, body{}},
		{`{"node":"n1"}`, true, body{Node: "n1"}},
		{`{"node":"n1"}` + "\n", true, body{Node: "n1"}},
		{`null`, true, body{}},
		{`{"inner":{"a":2}}`, true, body{Inner: struct {
			A int `json:"a"`
		}{2}}},
		{`{"inner":{"a":2,"b":3}}`, false, body{}}, // unknown fields are refused at any depth
		{`{"node":"n1"}{}`, false, body{}},
		{`{"node":"n1"}]`, false, body{}},
		{`{"node":`, false, body{}},
		{`"n1"`, false, body{}},
	}
	for _, tt := range tests {
		var got body
		err := api.DecodeStrict([]byte(tt.in), &got)
		if (err == nil) != tt.ok {
			t.Errorf("DecodeStrict(%q) = %v, want ok %v", tt.in, err, tt.ok)
			continue
		}
		if err != nil {
			var e *api.Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Errorf("DecodeStrict(%q) = %#v, want a 400 *api.Error", tt.in, err)
			}
			continue
		}
		if got != tt.want {
			t.Errorf("DecodeStrict(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
	}
}
