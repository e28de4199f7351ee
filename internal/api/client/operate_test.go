package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
)

// wire records the requests a client sends and answers each with answer.
type wire struct {
	mu     sync.Mutex
	got    []string // "METHOD PATH BODY"
	answer string
	status int
}

func (w *wire) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	w.mu.Lock()
	w.got = append(w.got, strings.TrimSpace(r.Method+" "+r.URL.EscapedPath()+" "+string(b)))
	w.mu.Unlock()
	rw.Header().Set("Content-Type", "application/json")
	if w.status != 0 {
		rw.WriteHeader(w.status)
	}
	io.WriteString(rw, w.answer)
}

func (w *wire) requests() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.got
}

func TestOperateWire(t *testing.T) {
	w := &wire{answer: `{"message":"ok","changes":["set n1 standby on"],"actions":[]}`}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	c := newClient(t, client.Config{URL: srv.URL})
	ops := []api.Operation{
		{Kind: api.OpStandby, Node: "n1"},
		{Kind: api.OpUnmaintenance, Node: "n2"},
		{Kind: api.OpMove, Resource: "web", Node: "n2"},
		{Kind: api.OpMove, Resource: "web"},
		{Kind: api.OpBan, Resource: "web", Node: "n1"},
		{Kind: api.OpClear, Resource: "web"},
		{Kind: api.OpCleanup, Resource: "db", Node: "n3"},
		{Kind: api.OpRestart, Resource: "web"},
		{Kind: api.OpRestart, Resource: "web", Timeout: 90 * time.Second},
		{Kind: api.OpBan, Resource: "a/b c"}, // escaped, so it stays one path segment
	}
	for _, op := range ops {
		out, err := c.Operate(context.Background(), op)
		if err != nil {
			t.Fatalf("%+v: %v", op, err)
		}
		if out.Message != "ok" || len(out.Changes) != 1 {
			t.Errorf("%+v: outcome %+v", op, out)
		}
	}
	want := []string{
		`POST /v1/nodes/n1/standby {}`,
		`POST /v1/nodes/n2/unmaintenance {}`,
		`POST /v1/resources/web/move {"node":"n2"}`,
		`POST /v1/resources/web/move {}`,
		`POST /v1/resources/web/ban {"node":"n1"}`,
		`POST /v1/resources/web/clear {}`,
		`POST /v1/resources/db/cleanup {"node":"n3"}`,
		`POST /v1/resources/web/restart {}`,
		`POST /v1/resources/web/restart {"timeout":"1m30s"}`,
		`POST /v1/resources/a%2Fb%20c/ban {}`,
	}
	if d := cmp.Diff(want, w.requests()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}

	for _, op := range []api.Operation{{Kind: "promote", Resource: "web"}, {Kind: api.OpBan, Resource: "web", Timeout: time.Second}} {
		if _, err := c.Operate(context.Background(), op); err == nil {
			t.Errorf("%+v: no error", op)
		}
	}
	if n := len(w.requests()); n != len(want) {
		t.Errorf("a refused operation was sent: %d requests", n)
	}
}

func TestReadsWire(t *testing.T) {
	w := &wire{answer: `{"node":"n1","quorum":true,"resources":[{"id":"web","scores":[{"node":"n1","score":-1000000,"terms":[{"score":-1000000,"reason":"node in standby"}]}]}]}`}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	c := newClient(t, client.Config{URL: srv.URL, Token: "tok"})
	ctx := context.Background()
	p, err := c.Plan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Resources[0].Scores[0].Score; got != model.MinusInfinity || got.String() != "-INFINITY" {
		t.Errorf("score %v, want -INFINITY", got)
	}
	if _, err := c.Simulate(ctx, api.Simulation{NodeDown: []string{"n1"}, ResourceFail: []string{"web"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Simulate(ctx, api.Simulation{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Explain(ctx, "web"); err != nil {
		t.Fatal(err)
	}
	w.mu.Lock()
	w.answer = `{"ok": true}`
	w.mu.Unlock()
	if err := c.Command(ctx, json.RawMessage(`{"cleanup": {"resource": "web"}}`)); err != nil {
		t.Fatal(err)
	}
	want := []string{
		`GET /v1/plan`,
		`POST /v1/simulate {"node_down":["n1"],"resource_fail":["web"]}`,
		`POST /v1/simulate {}`,
		`GET /v1/explain/web`,
		`POST /v1/internal/command {"cleanup":{"resource":"web"}}`,
	}
	if d := cmp.Diff(want, w.requests()); d != "" {
		t.Errorf("requests (-want +got):\n%s", d)
	}
}

// An error answer keeps its field, so the CLI can say which argument is
// wrong.
func TestOperateErrorField(t *testing.T) {
	w := &wire{status: 404, answer: `{"status":404,"error":"unknown resource or group \"nope\"","field":"resource"}`}
	srv := httptest.NewServer(w)
	t.Cleanup(srv.Close)
	_, err := newClient(t, client.Config{URL: srv.URL}).Operate(context.Background(), api.Operation{Kind: api.OpBan, Resource: "nope"})
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *api.Error", err, err)
	}
	if d := cmp.Diff(&api.Error{Status: 404, Message: `unknown resource or group "nope"`, Field: "resource"}, e); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

// recorder is a Backend that records operations, to check that what the
// client sends is what the handler decodes.
type recorder struct {
	fakeBackend
	mu  sync.Mutex
	ops []api.Operation
}

func (r *recorder) Operate(_ context.Context, op api.Operation) (api.Outcome, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ops = append(r.ops, op)
	return api.Outcome{Message: string(op.Kind)}, nil
}

func TestOperateRoundTrip(t *testing.T) {
	r := &recorder{fakeBackend: fakeBackend{testStatus()}}
	srv := httptest.NewServer(api.NewHandler(r, "tok"))
	t.Cleanup(srv.Close)
	c := newClient(t, client.Config{URL: srv.URL, Token: "tok"})
	var want []api.Operation
	for _, k := range api.NodeOps() {
		want = append(want, api.Operation{Kind: k, Node: "n2"})
	}
	for _, k := range api.ResourceOps() {
		op := api.Operation{Kind: k, Resource: "web", Node: "n1"}
		if k == api.OpRestart {
			op = api.Operation{Kind: k, Resource: "web", Timeout: 2 * time.Minute}
		}
		want = append(want, op)
	}
	for _, op := range want {
		out, err := c.Operate(context.Background(), op)
		if err != nil || out.Message != string(op.Kind) {
			t.Fatalf("%+v: %+v %v", op, out, err)
		}
		if out.Changes == nil || out.Actions == nil {
			t.Errorf("%+v: outcome lists are null: %+v", op, out)
		}
	}
	if d := cmp.Diff(want, r.ops); d != "" {
		t.Errorf("decoded operations (-sent +decoded):\n%s", d)
	}
}
