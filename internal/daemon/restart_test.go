package daemon

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/executor"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// restarter plays the executor of the node a restart names, at once: each
// new request stops and starts again what it restarts there, which the
// records show as started on that node since a later time. fail, if set,
// says how a resource ends instead.
type restarter struct {
	cfg  model.Config
	seen map[model.ResourceID]uint64
	tick time.Duration
	fail map[model.ResourceID]model.ResourceRecord
}

func (r *restarter) react(st *model.ClusterState) {
	for id, req := range st.Restarts {
		if r.seen[id] == req.Count {
			continue
		}
		r.seen[id] = req.Count
		for _, m := range executor.RestartSet(r.cfg, id) {
			if rec := st.Resources[m]; rec.Node != req.Node || rec.State != model.ResourceStarted {
				continue
			}
			r.tick += time.Second
			rec := model.ResourceRecord{Node: req.Node, State: model.ResourceStarted, Since: testNow.Add(r.tick)}
			if f, ok := r.fail[m]; ok {
				rec = f
				rec.Since = testNow.Add(r.tick)
			}
			st.Resources[m] = rec
		}
	}
}

func newRestarter(cfg model.Config) *restarter {
	return &restarter{cfg: cfg, seen: map[model.ResourceID]uint64{}}
}

func TestRestart(t *testing.T) {
	for _, self := range []model.NodeID{"n1", "n3"} { // the leader, and a follower of a leader in memory
		t.Run("from "+string(self), func(t *testing.T) {
			cfg := testConfig()
			st := testState()
			converge(cfg)(&st)
			initial := st.Clone()
			leader := newFakeStore("n1", "n1", st)
			leader.react = newRestarter(cfg).react
			o := newOperator(t, self, leader)
			if self != "n1" {
				// The follower's own store is the leader's: a follower that
				// applies at once, so the wait sees the commit.
				o.store = &followerView{leader}
				o.forward = func(ctx context.Context, _ model.Node, raw []byte) error {
					return newOperator(t, "n1", leader).Commit(ctx, raw)
				}
			}
			out, err := o.Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "g"})
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff([]string{"restart g on n2"}, out.Changes); d != "" {
				t.Errorf("outcome changes (-want +got):\n%s", d)
			}
			if out.Message != "g restarted on n2 (ip, web)" || len(out.Actions) != 0 {
				t.Errorf("outcome %q, actions %v", out.Message, out.Actions)
			}
			final := leader.State()
			if n := len(leader.log()); n != 1 {
				t.Errorf("committed %d commands, want the one restart: %v", n, leader.log())
			}
			if d := cmp.Diff(map[model.ResourceID]model.RestartRequest{"g": {Count: 1, Node: "n2", At: testNow}}, final.Restarts); d != "" {
				t.Errorf("restart requests (-want +got):\n%s", d)
			}
			for _, id := range []model.ResourceID{"ip", "web"} {
				if rec := final.Resources[id]; rec.Node != "n2" || rec.State != model.ResourceStarted || !rec.Since.After(initial.Resources[id].Since) {
					t.Errorf("%s: %+v, want started on n2 again", id, rec)
				}
			}
			// Nothing else changed: no constraints, the same placement,
			// still fresh.
			if len(final.Runtime) != 0 || final.Epoch != initial.Epoch || !final.Fresh() {
				t.Errorf("runtime %v, epoch %d (was %d), fresh %v", final.Runtime, final.Epoch, initial.Epoch, final.Fresh())
			}
			if d := cmp.Diff(initial.Targets, final.Targets); d != "" {
				t.Errorf("placement after the restart (-before +after):\n%s", d)
			}
		})
	}
}

// followerView is a follower's store that shares the leader's state.
type followerView struct{ *fakeStore }

func (followerView) IsLeader() bool { return false }

func (f followerView) Leader() model.NodeID { return "n1" }

// The restart returns only once the executor's reports show every part
// started again; reports of what only stopped so far do not end it.
func TestRestartWaitsForReports(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := testConfig()
		st := testState()
		converge(cfg)(&st)
		s := newFakeStore("n1", "n1", st)
		o := newOperator(t, "n1", s)
		o.now = time.Now
		// The executor on n2, reporting through the leader as it goes.
		go func() {
			for s.State().Restarts["ip"].Count == 0 {
				<-s.Changed()
			}
			for _, rep := range []store.Report{
				{Resource: "web", Node: "n2", State: model.ResourceStopped},
				{Resource: "ip", Node: "n2", State: model.ResourceStarted},
				{Resource: "web", Node: "n2", State: model.ResourceStarted},
			} {
				time.Sleep(2 * time.Second)
				rep.At = time.Now().UTC()
				if err := s.Apply(store.Command{Report: &rep}, time.Second); err != nil {
					t.Error(err)
				}
			}
		}()
		start := time.Now()
		out, err := o.Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "ip"})
		if err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != 6*time.Second {
			t.Errorf("returned after %v, want after the last report (6s)", took)
		}
		if out.Message != "ip restarted on n2 (ip, web)" {
			t.Errorf("message %q", out.Message)
		}
	})
}

func TestRestartRefusals(t *testing.T) {
	ctx := context.Background()
	st := testState()
	st.Resources["db"] = model.ResourceRecord{State: model.ResourceStopped}
	st.Nodes["n2"] = model.NodeRecord{State: model.NodeOnline, Maintenance: true}
	s := newFakeStore("n1", "n1", st)
	o := newOperator(t, "n1", s)
	_, err := o.Operate(ctx, api.Operation{Kind: api.OpRestart, Resource: "db"})
	wantAPIError(t, err, 409, "", "db is not running")
	_, err = o.Operate(ctx, api.Operation{Kind: api.OpRestart, Resource: "web"})
	wantAPIError(t, err, 409, "", "web runs on n2, which is in maintenance")
	_, err = o.Operate(ctx, api.Operation{Kind: api.OpRestart, Resource: "nope"})
	wantAPIError(t, err, 404, "resource", "nope")
	_, err = o.Operate(ctx, api.Operation{Kind: api.OpRestart, Resource: "web", Node: "n1"})
	wantAPIError(t, err, 400, "node", "takes no node")

	// A blocked dependent cannot be stopped, so neither can what it needs.
	st = testState()
	st.Resources["web"] = model.ResourceRecord{Node: "n2", State: model.ResourceBlocked, Reason: "stop timed out"}
	s2 := newFakeStore("n1", "n1", st)
	_, err = newOperator(t, "n1", s2).Operate(ctx, api.Operation{Kind: api.OpRestart, Resource: "ip"})
	wantAPIError(t, err, 409, "", "web is blocked on n2 (stop timed out), so ip cannot be stopped there; `vigil resource cleanup web` first")

	// Without quorum nothing is sent.
	o3 := newOperator(t, "n1", s2)
	o3.observe = func() map[model.NodeID]model.NodeState {
		return map[model.NodeID]model.NodeState{"n1": model.NodeOnline}
	}
	_, err = o3.Operate(ctx, api.Operation{Kind: api.OpRestart, Resource: "db"})
	wantAPIError(t, err, 503, "", "no quorum")

	if got := append(s.log(), s2.log()...); len(got) != 0 {
		t.Errorf("refused restarts applied %v", got)
	}
}

// A part that fails to stop or start again ends the wait with what
// happened to it.
func TestRestartFails(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail map[model.ResourceID]model.ResourceRecord
		says string
	}{
		{"a stop fails", map[model.ResourceID]model.ResourceRecord{"web": {Node: "n2", State: model.ResourceBlocked, Reason: "stop failed: exit 1"}},
			"web could not be stopped on n2 and is blocked: stop failed: exit 1"},
		{"a start fails", map[model.ResourceID]model.ResourceRecord{"ip": {Node: "n2", State: model.ResourceFailed, Reason: "start failed: no such device"}},
			"ip did not start again on n2: start failed: no such device"},
		{"moved meanwhile", map[model.ResourceID]model.ResourceRecord{"web": {Node: "n3", State: model.ResourceStarted}},
			"web runs on n3 now, not on n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			st := testState()
			converge(cfg)(&st)
			s := newFakeStore("n1", "n1", st)
			r := newRestarter(cfg)
			r.fail = tc.fail
			s.react = r.react
			_, err := newOperator(t, "n1", s).Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "g"})
			wantAPIError(t, err, 409, "", tc.says)
			wantAPIError(t, err, 409, "", "(already committed: restart g on n2)")
		})
	}
}

// A restart that does not finish in time says what it still waits for;
// the request stays committed, once.
func TestRestartTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := testState()
		converge(testConfig())(&st)
		s := newFakeStore("n1", "n1", st) // no react: nothing ever restarts
		start := time.Now()
		_, err := newOperator(t, "n1", s).Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "g", Timeout: time.Minute})
		wantAPIError(t, err, 504, "", "timed out waiting for the restart on n2; still waiting for ip (not yet stopped and started), web (not yet stopped and started)")
		wantAPIError(t, err, 504, "", "(already committed: restart g on n2)")
		if took := time.Since(start); took != time.Minute {
			t.Errorf("gave up after %v, want the timeout", took)
		}
		if n := len(s.log()); n != 1 || s.State().Restarts["g"].Count != 1 {
			t.Errorf("committed %v, restarts %v; want the one request", s.log(), s.State().Restarts)
		}
	})
}

// The leader accepts a forwarded restart that names what it knows, and
// counts one delivered twice once.
func TestRestartCommit(t *testing.T) {
	ctx := context.Background()
	s := newFakeStore("n1", "n1", testState())
	o := newOperator(t, "n1", s)
	at := testNow.Format(time.RFC3339Nano)
	ok := fmt.Sprintf(`{"restart":{"resource":"g","node":"n2","at":%q}}`, at)
	for range 2 {
		if err := o.Commit(ctx, []byte(ok)); err != nil {
			t.Fatalf("%s: %v", ok, err)
		}
	}
	if got := s.State().Restarts; got["g"].Count != 1 {
		t.Errorf("after the same request twice: %v, want one", got)
	}
	for _, tt := range []struct{ body, field, says string }{
		{fmt.Sprintf(`{"restart":{"resource":"nope","node":"n2","at":%q}}`, at), "restart.resource", `"nope"`},
		{fmt.Sprintf(`{"restart":{"resource":"db","node":"n9","at":%q}}`, at), "restart.node", `"n9"`},
		{`{"restart":{"resource":"db","node":"n1"}}`, "restart.at", "the time it was requested"},
		{fmt.Sprintf(`{"restart":{"resource":"db","node":"n1","at":%q,"count":3}}`, at), "", "unknown field"},
		{fmt.Sprintf(`{"restart":{"resource":"db","node":"n1","at":%q},"cleanup":{"resource":"db"}}`, at), "", "not 2"},
	} {
		wantAPIError(t, o.Commit(ctx, []byte(tt.body)), 400, tt.field, tt.says)
	}
	if n := len(s.log()); n != 2 {
		t.Errorf("applied %d commands, want the two accepted", n)
	}
}
