package daemon

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
)

// history records every state a resource's committed record passes
// through, after react has run.
func history(react func(*model.ClusterState), id model.ResourceID, into *[]string) func(*model.ClusterState) {
	return func(st *model.ClusterState) {
		react(st)
		rec := st.Resources[id]
		s := string(rec.State) + "@" + string(rec.Node)
		if n := len(*into); n == 0 || (*into)[n-1] != s {
			*into = append(*into, s)
		}
	}
}

func TestRestart(t *testing.T) {
	for _, self := range []model.NodeID{"n1", "n3"} { // the leader, and a follower of a leader in memory
		t.Run("from "+string(self), func(t *testing.T) {
			cfg := testConfig()
			st := testState()
			converge(cfg)(&st)
			initial := st.Clone()
			leader := newFakeStore("n1", "n1", st)
			var seen []string
			leader.react = history(converge(cfg), "web", &seen)
			o := newOperator(t, self, leader)
			if self != "n1" {
				// The follower's own store is the leader's: a follower that
				// applies at once, so waits see the commits.
				follower := &followerView{leader}
				o.store = follower
				o.forward = func(ctx context.Context, _ model.Node, raw []byte) error {
					return newOperator(t, "n1", leader).Commit(ctx, raw)
				}
			}
			out, err := o.Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "g"})
			if err != nil {
				t.Fatal(err)
			}
			want := []string{
				"add location cli-restart-g-on-n1: g -INFINITY on n1",
				"add location cli-restart-g-on-n3: g -INFINITY on n3",
				"add location cli-restart-g-on-n2: g -INFINITY on n2",
				"remove location cli-restart-g-on-n2",
				"remove location cli-restart-g-on-n1",
				"remove location cli-restart-g-on-n3",
			}
			if d := cmp.Diff(want, leader.log()); d != "" {
				t.Errorf("applied (-want +got):\n%s", d)
			}
			if d := cmp.Diff(want, out.Changes); d != "" {
				t.Errorf("outcome changes (-want +got):\n%s", d)
			}
			if out.Message != "g restarted on n2" || len(out.Actions) != 0 {
				t.Errorf("outcome %q, actions %v", out.Message, out.Actions)
			}
			// web stopped, then started again where it was, and nowhere else.
			if d := cmp.Diff([]string{"started@n2", "stopped@", "started@n2"}, seen); d != "" {
				t.Errorf("web went through (-want +got):\n%s", d)
			}
			final := leader.State()
			if len(final.Runtime) != 0 {
				t.Errorf("restart left constraints behind: %v", final.Runtime)
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
	if got := s.log(); len(got) != 0 {
		t.Errorf("refused restarts applied %v", got)
	}
}

// A stop that fails blocks the resource: the restart stops there and
// removes its bans.
func TestRestartBlocked(t *testing.T) {
	cfg := testConfig()
	st := testState()
	converge(cfg)(&st)
	s := newFakeStore("n1", "n1", st)
	s.react = func(st *model.ClusterState) {
		if banned := len(st.Runtime) == len(cfg.Nodes); banned {
			st.Resources["db"] = model.ResourceRecord{Node: "n1", State: model.ResourceBlocked, Reason: "stop timed out"}
		}
	}
	_, err := newOperator(t, "n1", s).Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "db"})
	wantAPIError(t, err, 409, "", "db could not be stopped on n1 and is blocked: stop timed out; the restart was abandoned and its temporary bans removed (already committed:")
	if rt := s.State().Runtime; len(rt) != 0 {
		t.Errorf("bans left behind: %v", rt)
	}
}

// A restart that does not finish in time is abandoned, and its bans go.
func TestRestartTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := testState()
		converge(testConfig())(&st)
		s := newFakeStore("n1", "n1", st) // no react: nothing ever stops
		_, err := newOperator(t, "n1", s).Operate(context.Background(), api.Operation{Kind: api.OpRestart, Resource: "db", Timeout: time.Minute})
		wantAPIError(t, err, 504, "", "timed out waiting for the stop; the restart was abandoned and its temporary bans removed")
		if rt := s.State().Runtime; len(rt) != 0 {
			t.Errorf("bans left behind: %v", rt)
		}
		want := []string{
			"add location cli-restart-db-on-n2: db -INFINITY on n2",
			"add location cli-restart-db-on-n3: db -INFINITY on n3",
			"add location cli-restart-db-on-n1: db -INFINITY on n1",
			"remove location cli-restart-db-on-n2",
			"remove location cli-restart-db-on-n3",
			"remove location cli-restart-db-on-n1",
		}
		if d := cmp.Diff(want, s.log()); d != "" {
			t.Errorf("applied (-want +got):\n%s", d)
		}
	})
}
