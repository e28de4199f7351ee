package daemon

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/scheduler"
	"github.com/vigil-ha/vigil/internal/store"
)

var testNow = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// testConfig is three nodes (on loopback, for the forwarding tests), a
// group g of ip and web, and db.
func testConfig() model.Config {
	ops := model.Ops{StartTimeout: 20 * time.Second, StopTimeout: 20 * time.Second, MonitorInterval: 10 * time.Second, MonitorTimeout: 20 * time.Second}
	meta := model.Meta{TargetRole: "started"}
	var nodes []model.Node
	for i, name := range []model.NodeID{"n1", "n2", "n3"} {
		nodes = append(nodes, model.Node{Name: name, Addresses: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, byte(i + 1)})}})
	}
	return model.Config{
		Version: 1, Cluster: "demo", Secret: []byte("0123456789abcdef"), Nodes: nodes,
		Ports: model.Ports{Heartbeat: 5405, Raft: 5406, API: 5407},
		Resources: []model.Resource{
			{ID: "ip", Kind: "vip", Group: "g", Ops: ops, Meta: meta},
			{ID: "web", Kind: "exec", Group: "g", Ops: ops, Meta: meta},
			{ID: "db", Kind: "exec", Ops: ops, Meta: meta},
		},
		Groups: []model.Group{{ID: "g", Members: []model.ResourceID{"ip", "web"}, Meta: meta}},
		Constraints: model.Constraints{Locations: []model.Location{
			{ID: "db-likes-n1", Resource: "db", Node: "n1", Score: 100},
		}},
		Options: model.Options{NoQuorumPolicy: model.NoQuorumStop, Stickiness: 100},
	}
}

// testState has every node online, g on n2 and db on n1, as converged.
func testState() model.ClusterState {
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}, Resources: map[model.ResourceID]model.ResourceRecord{}}
	for _, n := range []model.NodeID{"n1", "n2", "n3"} {
		st.Nodes[n] = model.NodeRecord{State: model.NodeOnline}
	}
	st.Resources["ip"] = model.ResourceRecord{Node: "n2", State: model.ResourceStarted}
	st.Resources["web"] = model.ResourceRecord{Node: "n2", State: model.ResourceStarted}
	st.Resources["db"] = model.ResourceRecord{Node: "n1", State: model.ResourceStarted}
	st.Targets = map[model.ResourceID]model.NodeID{"ip": "n2", "web": "n2", "db": "n1"}
	return st
}

// fakeStore is a raftStore in memory. Apply applies with the store's own
// pure function, then react (if set) plays the coordinator and executors.
type fakeStore struct {
	mu      sync.Mutex
	st      model.ClusterState
	leader  model.NodeID // "" if none
	self    model.NodeID
	applied []string // describe() of each applied command
	changed chan struct{}
	react   func(*model.ClusterState)
}

func newFakeStore(self, leader model.NodeID, st model.ClusterState) *fakeStore {
	return &fakeStore{st: st, self: self, leader: leader, changed: make(chan struct{})}
}

func (s *fakeStore) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader == s.self
}

func (s *fakeStore) Leader() model.NodeID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

func (s *fakeStore) State() model.ClusterState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st.Clone()
}

func (s *fakeStore) Changed() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

func (s *fakeStore) Apply(c store.Command, _ time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.leader != s.self {
		return store.ErrNotLeader
	}
	if err := c.ApplyTo(&s.st); err != nil {
		return err
	}
	s.applied = append(s.applied, describe(c))
	if s.react != nil {
		s.react(&s.st)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	return nil
}

func (s *fakeStore) log() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.applied...)
}

// converge plays the coordinator and perfect executors: the placement is
// committed and every resource is at once where it is placed.
func converge(cfg model.Config) func(*model.ClusterState) {
	return func(st *model.ClusterState) {
		p := scheduler.Schedule(scheduler.Input{Config: cfg, State: *st, Quorum: true, Now: testNow})
		st.Targets, st.PlacedEpoch = p.Placement, st.Epoch
		for _, r := range cfg.Resources {
			at, rec := p.Placement[r.ID], st.Resources[r.ID]
			switch {
			case at == "" && rec.State != model.ResourceStopped:
				st.Resources[r.ID] = model.ResourceRecord{State: model.ResourceStopped, Since: testNow}
			case at != "" && (rec.Node != at || rec.State != model.ResourceStarted):
				st.Resources[r.ID] = model.ResourceRecord{Node: at, State: model.ResourceStarted, Since: testNow}
			}
		}
	}
}

func allOnline() map[model.NodeID]model.NodeState {
	return map[model.NodeID]model.NodeState{"n1": model.NodeOnline, "n2": model.NodeOnline, "n3": model.NodeOnline}
}

// newOperator is node self's operator over s, with every node online.
// Forwarding fails the test unless a test sets it.
func newOperator(t *testing.T, self model.NodeID, s *fakeStore) operator {
	return operator{
		cfg: testConfig(), self: self, store: s, observe: allOnline, now: func() time.Time { return testNow },
		forward: func(context.Context, model.Node, []byte) error {
			t.Errorf("unexpected forward")
			return errors.New("no forwarding in this test")
		},
	}
}

// wantAPIError checks that err is an *api.Error with status and field
// whose message contains says.
func wantAPIError(t *testing.T, err error, status int, field, says string) {
	t.Helper()
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *api.Error %d", err, err, status)
	}
	if e.Status != status || e.Field != field || !strings.Contains(e.Message, says) {
		t.Errorf("error %d field %q %q, want %d field %q containing %q", e.Status, e.Field, e.Message, status, field, says)
	}
}

func TestChangeFor(t *testing.T) {
	st := testState()
	st.Nodes["n3"] = model.NodeRecord{State: model.NodeOnline, Standby: true}
	st.Runtime = []model.Location{
		{ID: "cli-ban-db-on-n2", Resource: "db", Node: "n2", Score: model.MinusInfinity},
		{ID: "cli-prefer-db", Resource: "db", Node: "n3", Score: model.Infinity},
		{ID: "cli-ban-g-on-n1", Resource: "g", Node: "n1", Score: model.MinusInfinity},
	}
	st.Resources["web"] = model.ResourceRecord{State: model.ResourceStopped}
	st.Resources["ip"] = model.ResourceRecord{State: model.ResourceStopped}
	tests := []struct {
		name string
		op   api.Operation
		cmds []string
		msg  string
	}{
		{"standby", api.Operation{Kind: api.OpStandby, Node: "n1"}, []string{"set n1 standby on"}, "n1 is in standby"},
		{"standby again", api.Operation{Kind: api.OpStandby, Node: "n3"}, nil, "already"},
		{"unstandby", api.Operation{Kind: api.OpUnstandby, Node: "n3"}, []string{"set n3 standby off"}, "out of standby"},
		{"maintenance", api.Operation{Kind: api.OpMaintenance, Node: "n2"}, []string{"set n2 maintenance on"}, "starts, stops and monitors nothing"},
		{"unmaintenance", api.Operation{Kind: api.OpUnmaintenance, Node: "n2"}, nil, "already"},
		{"move to a node", api.Operation{Kind: api.OpMove, Resource: "db", Node: "n3"},
			[]string{"add location cli-prefer-db: db INFINITY on n3"}, "db moves to n3"},
		{"move lifts a ban on the target", api.Operation{Kind: api.OpMove, Resource: "db", Node: "n2"},
			[]string{"remove location cli-ban-db-on-n2", "add location cli-prefer-db: db INFINITY on n2"}, "db moves to n2"},
		{"move away", api.Operation{Kind: api.OpMove, Resource: "db"},
			[]string{"add location cli-ban-db-on-n1: db -INFINITY on n1"}, "banned from n1, where it ran"},
		{"ban", api.Operation{Kind: api.OpBan, Resource: "db", Node: "n3"},
			[]string{"add location cli-ban-db-on-n3: db -INFINITY on n3"}, "even if n3 is the last node left"},
		{"ban a group", api.Operation{Kind: api.OpBan, Resource: "g", Node: "n2"},
			[]string{"add location cli-ban-g-on-n2: g -INFINITY on n2"}, "g is banned from n2"},
		{"clear", api.Operation{Kind: api.OpClear, Resource: "db"},
			[]string{"remove location cli-ban-db-on-n2", "remove location cli-prefer-db"}, "db: removed cli-ban-db-on-n2, cli-prefer-db"},
		{"clear on a node", api.Operation{Kind: api.OpClear, Resource: "db", Node: "n3"},
			[]string{"remove location cli-prefer-db"}, "removed cli-prefer-db"},
		{"clear nothing", api.Operation{Kind: api.OpClear, Resource: "web"}, nil, "no runtime constraints; nothing changed"},
		{"cleanup", api.Operation{Kind: api.OpCleanup, Resource: "db"}, []string{"clean up db on every node"}, "everywhere"},
		{"cleanup a group on a node", api.Operation{Kind: api.OpCleanup, Resource: "g", Node: "n2"},
			[]string{"clean up ip on n2", "clean up web on n2"}, "on n2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ch, err := changeFor(testConfig(), st, tt.op)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, c := range ch.cmds {
				got = append(got, describe(c))
				if err := checkCommand(testConfig(), c); err != nil {
					t.Errorf("%s: the command it makes fails the leader's check: %v", describe(c), err)
				}
			}
			if d := cmp.Diff(tt.cmds, got); d != "" {
				t.Errorf("commands (-want +got):\n%s", d)
			}
			if !strings.Contains(ch.msg, tt.msg) {
				t.Errorf("message %q does not contain %q", ch.msg, tt.msg)
			}
		})
	}

	refusals := []struct {
		name         string
		op           api.Operation
		status       int
		field, where string
	}{
		{"unknown node", api.Operation{Kind: api.OpStandby, Node: "n9"}, 404, "node", `"n9"`},
		{"no node", api.Operation{Kind: api.OpMaintenance}, 404, "node", `""`},
		{"unknown resource", api.Operation{Kind: api.OpMove, Resource: "nope", Node: "n1"}, 404, "resource", `"nope"`},
		{"unknown target", api.Operation{Kind: api.OpMove, Resource: "db", Node: "n9"}, 400, "node", `"n9"`},
		{"unknown cleanup node", api.Operation{Kind: api.OpCleanup, Resource: "db", Node: "n9"}, 400, "node", `"n9"`},
		{"ban what runs nowhere", api.Operation{Kind: api.OpBan, Resource: "g"}, 409, "node", "g runs nowhere"},
		{"move what runs nowhere", api.Operation{Kind: api.OpMove, Resource: "web"}, 409, "node", "vigil resource move web NODE"},
		{"unknown op", api.Operation{Kind: "promote", Resource: "db"}, 400, "op", "promote"},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			_, err := changeFor(testConfig(), st, tt.op)
			wantAPIError(t, err, tt.status, tt.field, tt.where)
		})
	}
}

func TestOperateOnLeader(t *testing.T) {
	s := newFakeStore("n1", "n1", testState())
	o := newOperator(t, "n1", s)
	out, err := o.Operate(context.Background(), api.Operation{Kind: api.OpStandby, Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"set n2 standby on"}, s.log()); d != "" {
		t.Errorf("applied (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"set n2 standby on"}, out.Changes); d != "" {
		t.Errorf("outcome changes (-want +got):\n%s", d)
	}
	// The prediction: g leaves n2.
	var moves []string
	for _, a := range out.Actions {
		moves = append(moves, a.Kind+" "+a.Resource+" "+a.From+"->"+a.Node)
	}
	if len(moves) == 0 || !strings.Contains(strings.Join(moves, ","), "ip n2->") {
		t.Errorf("predicted actions %v, want ip to leave n2", moves)
	}

	// A move to a node that cannot run it is committed, with a warning.
	out, err = o.Operate(context.Background(), api.Operation{Kind: api.OpMove, Resource: "db", Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "but the scheduler does not place it there: it goes to n1; n2 scores -INFINITY: node in standby (-INFINITY)"; !strings.Contains(out.Message, want) {
		t.Errorf("message %q, want it to contain %q", out.Message, want)
	}

	// Refusals commit nothing.
	before := len(s.log())
	for _, op := range []api.Operation{
		{Kind: api.OpBan, Resource: "nope", Node: "n1"},
		{Kind: api.OpUnstandby, Node: "n7"},
		{Kind: api.OpRestart, Resource: "nope"},
		{Kind: api.OpCleanup, Resource: "db", Node: "x"},
	} {
		if _, err := o.Operate(context.Background(), op); err == nil {
			t.Errorf("%+v: accepted", op)
		}
	}
	if got := s.log(); len(got) != before {
		t.Errorf("refused operations applied %v", got[before:])
	}
}

// Without quorum or a leader, nothing is sent and the operator is told
// why in words.
func TestOperateUnavailable(t *testing.T) {
	ctx := context.Background()
	ban := api.Operation{Kind: api.OpBan, Resource: "db", Node: "n2"}

	s := newFakeStore("n1", "n1", testState())
	o := newOperator(t, "n1", s)
	o.observe = func() map[model.NodeID]model.NodeState {
		return map[model.NodeID]model.NodeState{"n1": model.NodeOnline, "n2": model.NodeOffline, "n3": model.NodeSuspect}
	}
	// Suspect counts as present: 2 of 3.
	if _, err := o.Operate(ctx, ban); err != nil {
		t.Errorf("with a suspect peer: %v", err)
	}
	o.observe = func() map[model.NodeID]model.NodeState {
		return map[model.NodeID]model.NodeState{"n1": model.NodeOnline, "n2": model.NodeOffline, "n3": model.NodeOffline}
	}
	_, err := o.Operate(ctx, ban)
	wantAPIError(t, err, 503, "", "no quorum: this node counts 1 of 3 voters present, 2 needed; nothing was changed")

	f := newFakeStore("n2", "", testState())
	_, err = newOperator(t, "n2", f).Operate(ctx, ban)
	wantAPIError(t, err, 503, "", "no leader is elected yet; nothing was changed")

	o = newOperator(t, "n2", nil)
	o.store = nil
	_, err = o.Operate(ctx, ban)
	wantAPIError(t, err, 503, "", "not open yet")
	_, err = o.Plan(api.Simulation{})
	wantAPIError(t, err, 503, "", "not open yet")

	if len(s.log()) != 1 || len(f.log()) != 0 {
		t.Errorf("applied %v and %v, want only the first ban", s.log(), f.log())
	}
}

// leaderBackend serves a leader's operator as the daemon's API would.
type leaderBackend struct {
	api.Backend // unused methods panic
	o           operator
}

func (b leaderBackend) Commit(ctx context.Context, cmd []byte) error { return b.o.Commit(ctx, cmd) }

// serveLeader serves o's API with the cluster token on a loopback port
// and returns the port.
func serveLeader(t *testing.T, o operator, token string) uint16 {
	t.Helper()
	srv := httptest.NewServer(api.NewHandler(leaderBackend{o: o}, token))
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	p, _ := strconv.Atoi(port)
	return uint16(p)
}

// TestForwarding: a follower sends its change to the leader's API over
// HTTP with the token; the leader checks and commits it.
func TestForwarding(t *testing.T) {
	ctx := context.Background()
	token := api.DeriveToken("demo", []byte("0123456789abcdef"))
	leaderStore := newFakeStore("n1", "n1", testState())
	port := serveLeader(t, newOperator(t, "n1", leaderStore), token)

	followerStore := newFakeStore("n2", "n1", testState())
	f := newOperator(t, "n2", followerStore)
	f.forward = forwarder(dialer{port: port, token: token})
	out, err := f.Operate(ctx, api.Operation{Kind: api.OpBan, Resource: "g", Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"add location cli-ban-g-on-n2: g -INFINITY on n2"}
	if d := cmp.Diff(want, leaderStore.log()); d != "" {
		t.Errorf("leader applied (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, out.Changes); d != "" {
		t.Errorf("outcome (-want +got):\n%s", d)
	}
	if len(followerStore.log()) != 0 {
		t.Errorf("the follower applied %v itself", followerStore.log())
	}

	// A wrong token is the leader's answer (401), passed on as it is.
	f.forward = forwarder(dialer{port: port, token: "wrong"})
	_, err = f.Operate(ctx, api.Operation{Kind: api.OpCleanup, Resource: "db"})
	wantAPIError(t, err, 401, "", "token")

	// Leadership moved: the old leader refuses with 409, and the operator
	// hears that nothing changed.
	leaderStore.mu.Lock()
	leaderStore.leader = "n3"
	leaderStore.mu.Unlock()
	f.forward = forwarder(dialer{port: port, token: token})
	_, err = f.Operate(ctx, api.Operation{Kind: api.OpCleanup, Resource: "db"})
	wantAPIError(t, err, 503, "", "leadership moved while forwarding to n1; nothing was changed")

	// The leader cannot be reached on any link.
	dead := httptest.NewServer(http.NotFoundHandler())
	_, deadPort, _ := net.SplitHostPort(dead.Listener.Addr().String())
	dead.Close()
	p, _ := strconv.Atoi(deadPort)
	f.forward = forwarder(dialer{port: uint16(p), token: token})
	_, err = f.Operate(ctx, api.Operation{Kind: api.OpCleanup, Resource: "db"})
	wantAPIError(t, err, 503, "", "cannot reach the leader n1 on any link; nothing was changed")

	if d := cmp.Diff(want, leaderStore.log()); d != "" {
		t.Errorf("after the refusals, the leader applied (-want +got):\n%s", d)
	}
}

func TestCommit(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore("n1", "n1", testState())
	o := newOperator(t, "n1", s)
	accepted := []string{
		`{"node_flags":{"node":"n2","standby":true}}`,
		`{"node_flags":{"node":"n2","maintenance":false}}`,
		`{"cleanup":{"resource":"db"}}`,
		`{"cleanup":{"resource":"web","node":"n3"}}`,
		`{"runtime":{"location":{"ID":"cli-ban-g-on-n1","Resource":"g","Node":"n1","Score":-1000000}}}`,
		`{"runtime":{"location":{"ID":"cli-ban-g-on-n1"},"remove":true}}`,
	}
	for _, c := range accepted {
		if err := o.Commit(ctx, []byte(c)); err != nil {
			t.Errorf("%s: %v", c, err)
		}
	}
	if n := len(s.log()); n != len(accepted) {
		t.Fatalf("applied %d commands, want %d: %v", n, len(accepted), s.log())
	}
	refused := []struct {
		body, field, says string
	}{
		{``, "", "exactly one change, not 0"},
		{`{}`, "", "exactly one change, not 0"},
		{`{"cleanup":{"resource":"db"},"node_flags":{"node":"n1","standby":true}}`, "", "not 2"},
		{`{"report":{"resource":"db","node":"n1","state":"failed"}}`, "", `unknown field "report" (only operator changes`},
		{`{"node_state":{"node":"n1","state":"offline"}}`, "", `unknown field "node_state"`},
		{`{"placement":{"targets":{"db":"n2"},"epoch":1}}`, "", `unknown field "placement"`},
		{`{"config":{"base":0,"resources":{}}}`, "", `unknown field "config"`},
		{`{"cleanup":{"resource":"db"},"config":{"base":0}}`, "", `unknown field "config"`},
		{`{"cleanup":{"resource":"db","evil":1}}`, "", "unknown field"},
		{`{"cleanup":{"resource":"db"}} {}`, "", "trailing"},
		{`{"node_flags":{"node":"n9","standby":true}}`, "node_flags.node", `"n9"`},
		{`{"node_flags":{"node":"n1"}}`, "node_flags", "neither"},
		{`{"cleanup":{"resource":"g"}}`, "cleanup.resource", `"g"`},
		{`{"cleanup":{"resource":"db","node":"n9"}}`, "cleanup.node", `"n9"`},
		{`{"runtime":{"location":{"ID":"prefer-n1","Resource":"db","Node":"n1","Score":5}}}`, "runtime.location.id", `starts with "cli-"`},
		{`{"runtime":{"location":{"ID":"cli-"},"remove":true}}`, "runtime.location.id", `starts with "cli-"`},
		{`{"runtime":{"location":{"ID":"cli-x","Resource":"nope","Node":"n1","Score":5}}}`, "runtime.location.resource", `"nope"`},
		{`{"runtime":{"location":{"ID":"cli-x","Resource":"db","Node":"n9","Score":5}}}`, "runtime.location.node", `"n9"`},
		{`{"runtime":{"location":{"ID":"cli-x","Resource":"db","Attribute":"rack","Value":"a","Score":5}}}`, "runtime.location.attribute", "names a node"},
	}
	for _, tt := range refused {
		err := o.Commit(ctx, []byte(tt.body))
		if err == nil {
			t.Errorf("%s: accepted", tt.body)
			continue
		}
		wantAPIError(t, err, 400, tt.field, tt.says)
	}
	if n := len(s.log()); n != len(accepted) {
		t.Errorf("refused commands were applied: %v", s.log()[len(accepted):])
	}

	// A follower refuses with 409, so the sender knows to find the leader.
	f := newOperator(t, "n2", newFakeStore("n2", "n1", testState()))
	wantAPIError(t, f.Commit(ctx, []byte(accepted[0])), 409, "", `the leader is "n1"`)
}

// Once an operator applied a resource configuration at run time, it is
// the one that names resources: for changes, the leader's check and plans.
func TestAppliedConfig(t *testing.T) {
	ctx := context.Background()
	cfg := testConfig()
	db := cfg.Resources[2]
	api2 := db
	api2.ID = "api"
	st := testState()
	delete(st.Resources, "ip")
	delete(st.Resources, "web")
	st.Config = &model.AppliedConfig{ResourceConfig: model.ResourceConfig{Resources: []model.Resource{db, api2}, Options: cfg.Options}, Version: 1}
	s := newFakeStore("n1", "n1", st)
	o := newOperator(t, "n1", s)

	if _, err := o.Operate(ctx, api.Operation{Kind: api.OpBan, Resource: "api", Node: "n2"}); err != nil {
		t.Errorf("ban a resource of the applied configuration: %v", err)
	}
	_, err := o.Operate(ctx, api.Operation{Kind: api.OpBan, Resource: "web", Node: "n2"})
	wantAPIError(t, err, 404, "resource", `"web"`)
	if err := o.Commit(ctx, []byte(`{"cleanup":{"resource":"api"}}`)); err != nil {
		t.Errorf("forwarded cleanup of api: %v", err)
	}
	wantAPIError(t, o.Commit(ctx, []byte(`{"cleanup":{"resource":"web"}}`)), 400, "cleanup.resource", `"web"`)

	p, err := o.Plan(api.Simulation{})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, r := range p.Resources {
		ids = append(ids, r.ID)
	}
	if d := cmp.Diff([]string{"db", "api"}, ids); d != "" {
		t.Errorf("planned resources (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"add location cli-ban-api-on-n2: api -INFINITY on n2", "clean up api on every node"}, s.log()); d != "" {
		t.Errorf("applied (-want +got):\n%s", d)
	}
}

// confirm-down records an offline node fenced, which the leader's check
// accepts; it refuses a node that is online, and an unknown one. A
// fence by hand without any device covering the node is refused before
// anything runs.
func TestConfirmDownAndFence(t *testing.T) {
	st := testState()
	st.Nodes["n2"] = model.NodeRecord{State: model.NodeOffline}
	ch, err := changeFor(testConfig(), st, api.Operation{Kind: api.OpConfirmDown, Node: "n2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.cmds) != 1 || describe(ch.cmds[0]) != "record n2 fenced (confirmed down by the operator)" {
		t.Fatalf("commands %v", ch.cmds)
	}
	if err := checkCommand(testConfig(), ch.cmds[0]); err != nil {
		t.Errorf("the leader refuses it: %v", err)
	}
	raw := []byte(`{"fence":{"node":"n2","ok":true,"by":"confirmed down by the operator","at":"2026-12-01T00:00:00Z"}}`)
	if c, err := decodeOperatorCommand(raw); err != nil || c.Fence == nil || c.Fence.Node != "n2" {
		t.Errorf("a forwarded fence record: %+v, %v", c, err)
	}
	_, err = changeFor(testConfig(), st, api.Operation{Kind: api.OpConfirmDown, Node: "n1"})
	wantAPIError(t, err, 409, "", "n1 is online, not offline")
	_, err = changeFor(testConfig(), st, api.Operation{Kind: api.OpConfirmDown, Node: "n9"})
	wantAPIError(t, err, 404, "node", `"n9"`)

	o := operator{cfg: testConfig(), self: "n1", store: newFakeStore("n1", "n1", st), now: time.Now,
		fence: func(context.Context, model.NodeID) (string, error) {
			t.Error("fenced without a device")
			return "", nil
		}}
	_, err = o.Operate(t.Context(), api.Operation{Kind: api.OpFence, Node: "n2"})
	wantAPIError(t, err, 409, "", "no fencing device covers n2")
}
