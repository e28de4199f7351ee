package store

import (
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigil-ha/vigil/internal/model"
)

func TestApply(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	yes, no := true, false
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}}
	steps := []struct {
		c    Command
		want func(*model.ClusterState)
	}{
		{Command{NodeFlags: &NodeFlags{Node: "n1", Standby: &yes}}, func(w *model.ClusterState) {
			w.Nodes["n1"] = model.NodeRecord{Standby: true}
		}},
		// Liveness from the coordinator keeps the operator's flag.
		{Command{NodeState: &NodeState{Node: "n1", State: model.NodeOnline, Since: t0, By: "n2"}}, func(w *model.ClusterState) {
			w.Nodes["n1"] = model.NodeRecord{State: model.NodeOnline, Since: t0, By: "n2", Standby: true}
		}},
		{Command{NodeFlags: &NodeFlags{Node: "n1", Standby: &no, Maintenance: &yes}}, func(w *model.ClusterState) {
			w.Nodes["n1"] = model.NodeRecord{State: model.NodeOnline, Since: t0, By: "n2", Maintenance: true}
		}},
		{Command{Report: &Report{Resource: "web", Node: "n1", State: model.ResourceStarted, At: t0}}, func(w *model.ClusterState) {
			w.Resources = map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceStarted, Since: t0}}
		}},
		{Command{Report: &Report{Resource: "web", Node: "n1", State: model.ResourceFailed, Reason: "monitor: exit 7", At: t0.Add(time.Second), FailBy: 1}}, func(w *model.ClusterState) {
			w.Resources["web"] = model.ResourceRecord{Node: "n1", State: model.ResourceFailed, Since: t0.Add(time.Second), Reason: "monitor: exit 7"}
			w.FailCounts = map[model.ResourceID]map[model.NodeID]model.FailCount{"web": {"n1": {Count: 1, Last: t0.Add(time.Second)}}}
		}},
		{Command{Report: &Report{Resource: "web", Node: "n1", State: model.ResourceFailed, At: t0.Add(2 * time.Second), FailBy: 1}}, func(w *model.ClusterState) {
			w.Resources["web"] = model.ResourceRecord{Node: "n1", State: model.ResourceFailed, Since: t0.Add(2 * time.Second)}
			w.FailCounts["web"]["n1"] = model.FailCount{Count: 2, Last: t0.Add(2 * time.Second)}
		}},
		// Started elsewhere; a late "stopped" from the old node is stale.
		{Command{Report: &Report{Resource: "web", Node: "n2", State: model.ResourceStarted, At: t0.Add(3 * time.Second)}}, func(w *model.ClusterState) {
			w.Resources["web"] = model.ResourceRecord{Node: "n2", State: model.ResourceStarted, Since: t0.Add(3 * time.Second)}
		}},
		{Command{Report: &Report{Resource: "web", Node: "n1", State: model.ResourceStopped, At: t0.Add(4 * time.Second)}}, func(w *model.ClusterState) {}},
		{Command{Cleanup: &Cleanup{Resource: "web"}}, func(w *model.ClusterState) {
			w.FailCounts = map[model.ResourceID]map[model.NodeID]model.FailCount{}
		}},
		{Command{Runtime: &Runtime{Location: model.Location{ID: "cli-ban-web-on-n2", Resource: "web", Node: "n2", Score: model.MinusInfinity}}}, func(w *model.ClusterState) {
			w.Runtime = []model.Location{{ID: "cli-ban-web-on-n2", Resource: "web", Node: "n2", Score: model.MinusInfinity}}
		}},
		{Command{Runtime: &Runtime{Location: model.Location{ID: "cli-ban-web-on-n2"}, Remove: true}}, func(w *model.ClusterState) {
			w.Runtime = []model.Location{}
		}},
	}
	want := st.Clone()
	for i, s := range steps {
		if err := apply(&st, s.c); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		s.want(&want)
		if d := cmp.Diff(want, st, cmpopts.EquateEmpty(), cmpopts.IgnoreFields(model.ClusterState{}, "Epoch", "PlacedEpoch")); d != "" {
			t.Fatalf("step %d (-want +got):\n%s", i, d)
		}
	}
}

func TestEpochAndFreshness(t *testing.T) {
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}}
	must := func(c Command) {
		t.Helper()
		if err := apply(&st, c); err != nil {
			t.Fatal(err)
		}
	}
	must(Command{NodeState: &NodeState{Node: "n1", State: model.NodeOnline}})
	must(Command{Report: &Report{Resource: "web", Node: "n1", State: model.ResourceStarted}})
	if st.Epoch != 2 || st.Fresh() {
		t.Fatalf("after two changes: epoch %d placed %d fresh %v", st.Epoch, st.PlacedEpoch, st.Fresh())
	}
	must(Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{"web": "n1", "db": ""}, Epoch: 2}})
	if st.Epoch != 2 || !st.Fresh() {
		t.Fatalf("a placement is not a change: epoch %d, fresh %v", st.Epoch, st.Fresh())
	}
	if _, ok := st.Targets["db"]; ok {
		t.Errorf("an empty target was kept: %v", st.Targets)
	}
	must(Command{Report: &Report{Resource: "web", Node: "n1", State: model.ResourceFailed, FailBy: 1}})
	if st.Fresh() {
		t.Error("a failure after the placement left it fresh")
	}
}

// A config change applies only on the version it was based on, forgets
// what it removes, and a conflicting one changes nothing at all.
func TestConfigChange(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	web := model.Resource{ID: "web", Kind: "exec", Params: map[string]string{"command": "exec web"}}
	db := model.Resource{ID: "db", Kind: "exec", Params: map[string]string{"command": "exec db"}}
	st := model.ClusterState{
		Nodes:      map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}},
		Resources:  map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceStarted}, "db": {Node: "n1", State: model.ResourceFailed}},
		FailCounts: map[model.ResourceID]map[model.NodeID]model.FailCount{"db": {"n1": {Count: 2}}},
		Targets:    map[model.ResourceID]model.NodeID{"web": "n1", "db": "n1"},
		Runtime:    []model.Location{{ID: "cli-ban-db-on-n1", Resource: "db", Node: "n1", Score: model.MinusInfinity}},
	}
	keepWeb := Command{Config: &ConfigChange{Resources: model.ResourceConfig{Resources: []model.Resource{web}}, Base: 0, At: t0, By: "root"}}
	if err := keepWeb.ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	want := model.ClusterState{
		Nodes:      map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}},
		Resources:  map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceStarted}},
		FailCounts: map[model.ResourceID]map[model.NodeID]model.FailCount{},
		Targets:    map[model.ResourceID]model.NodeID{"web": "n1"},
		Runtime:    []model.Location{},
		Epoch:      1,
		Config:     &model.AppliedConfig{ResourceConfig: model.ResourceConfig{Resources: []model.Resource{web}}, Version: 1, At: t0, By: "root"},
	}
	if d := cmp.Diff(want, st, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("after the change (-want +got):\n%s", d)
	}

	before := st.Clone()
	stale := Command{Config: &ConfigChange{Resources: model.ResourceConfig{Resources: []model.Resource{web, db}}, Base: 0, At: t0}}
	if err := stale.ApplyTo(&st); !errors.Is(err, ErrConflict) {
		t.Fatalf("a change based on version 0 after version 1: %v, want ErrConflict", err)
	}
	if d := cmp.Diff(before, st, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("a refused change changed the state (-before +after):\n%s", d)
	}
	if got := st.Effective(model.Config{Cluster: "c", Resources: []model.Resource{db}}); got.Cluster != "c" || len(got.Resources) != 1 || got.Resources[0].ID != "web" {
		t.Errorf("Effective = %+v, want the file's cluster with the applied resources", got)
	}
}

// A restart raises the count of what it names, once per request; it is no
// change the scheduler sees, and what a config change removes is
// forgotten.
func TestRestart(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}}, Epoch: 4, PlacedEpoch: 4}
	steps := []struct {
		name string
		c    Restart
		want map[model.ResourceID]model.RestartRequest
	}{
		{"first request", Restart{Resource: "web", Node: "n1", At: t0},
			map[model.ResourceID]model.RestartRequest{"web": {Count: 1, Node: "n1", At: t0}}},
		{"the same request delivered twice", Restart{Resource: "web", Node: "n1", At: t0},
			map[model.ResourceID]model.RestartRequest{"web": {Count: 1, Node: "n1", At: t0}}},
		{"a new request", Restart{Resource: "web", Node: "n1", At: t0.Add(time.Second)},
			map[model.ResourceID]model.RestartRequest{"web": {Count: 2, Node: "n1", At: t0.Add(time.Second)}}},
		{"at the same time on another node is another request", Restart{Resource: "web", Node: "n2", At: t0.Add(time.Second)},
			map[model.ResourceID]model.RestartRequest{"web": {Count: 3, Node: "n2", At: t0.Add(time.Second)}}},
		{"a group counts on its own", Restart{Resource: "g", Node: "n1", At: t0},
			map[model.ResourceID]model.RestartRequest{"web": {Count: 3, Node: "n2", At: t0.Add(time.Second)}, "g": {Count: 1, Node: "n1", At: t0}}},
	}
	for _, s := range steps {
		if err := (Command{Restart: &s.c}).ApplyTo(&st); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if d := cmp.Diff(s.want, st.Restarts); d != "" {
			t.Errorf("%s: restarts (-want +got):\n%s", s.name, d)
		}
		if st.Epoch != 4 || !st.Fresh() {
			t.Errorf("%s: epoch %d placed %d; a restart is not a change to place", s.name, st.Epoch, st.PlacedEpoch)
		}
	}
	clone := st.Clone()
	if err := (Command{Restart: &Restart{Resource: "g", Node: "n1", At: t0.Add(time.Minute)}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if clone.Restarts["g"].Count != 1 || st.Restarts["g"].Count != 2 {
		t.Errorf("Clone shares the restarts: clone %v, state %v", clone.Restarts, st.Restarts)
	}

	keepG := Command{Config: &ConfigChange{Resources: model.ResourceConfig{
		Resources: []model.Resource{{ID: "ip", Kind: "vip", Group: "g"}},
		Groups:    []model.Group{{ID: "g", Members: []model.ResourceID{"ip"}}},
	}}}
	if err := keepG.ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[model.ResourceID]model.RestartRequest{"g": {Count: 2, Node: "n1", At: t0.Add(time.Minute)}}, st.Restarts); d != "" {
		t.Errorf("after web was removed (-want +got):\n%s", d)
	}

	b, err := encodeCommand(Command{Restart: &Restart{Resource: "g", Node: "n1", At: t0}})
	if err != nil {
		t.Fatal(err)
	}
	c, err := decodeCommand(b)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(&Restart{Resource: "g", Node: "n1", At: t0}, c.Restart); d != "" {
		t.Errorf("decoded %s (-want +got):\n%s", b, d)
	}
	if _, err := encodeCommand(Command{Restart: &Restart{}, Cleanup: &Cleanup{}}); err == nil {
		t.Error("a restart with a cleanup was encoded")
	}
}

// A lease reset raises its node's generation, only from the generation
// it names, and leaves the placement fresh.
func TestLeaseReset(t *testing.T) {
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}, Epoch: 4, PlacedEpoch: 4}
	reset := func(gen uint64) error { return (Command{Reset: &LeaseReset{Node: "n1", Gen: gen}}).ApplyTo(&st) }
	if err := reset(0); err != nil {
		t.Fatal(err)
	}
	before := st.Clone()
	if err := reset(0); !errors.Is(err, ErrFenced) {
		t.Fatalf("a second reset of generation 0: %v, want ErrFenced", err)
	}
	if d := cmp.Diff(before, st, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("a refused reset changed the state:\n%s", d)
	}
	if err := reset(1); err != nil {
		t.Fatal(err)
	}
	if st.LeaseGens["n1"] != 2 || !st.Fresh() || st.Epoch != 4 {
		t.Errorf("gens %v, epoch %d placed %d; want n1=2 and a fresh placement", st.LeaseGens, st.Epoch, st.PlacedEpoch)
	}
	b, err := encodeCommand(Command{Reset: &LeaseReset{Node: "n1", Gen: 2}})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := decodeCommand(b); err != nil || got.Reset == nil || got.Reset.Node != "n1" || got.Reset.Gen != 2 {
		t.Errorf("round trip: %+v, %v", got, err)
	}
}

// A takeover applies only on the lease generation it judged, and raises
// it: the node's records of that generation no longer hold what they name,
// and a takeover judged before a reset or another takeover is refused
// (invariant 1).
func TestTakeoverRaisesTheGeneration(t *testing.T) {
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}}}
	take := func(gen uint64) error {
		return (Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{"web": "n2"}, Takeover: map[model.NodeID]uint64{"n1": gen}}}).ApplyTo(&st)
	}
	if err := (Command{Report: &Report{Resource: "db", Node: "n1", State: model.ResourceStarted}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if err := (Command{Reset: &LeaseReset{Node: "n1", Gen: 0}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	before := st.Clone()
	if err := take(0); !errors.Is(err, ErrRenewed) {
		t.Fatalf("a takeover judged on generation 0 after a reset: %v, want ErrRenewed", err)
	}
	if d := cmp.Diff(before, st, cmpopts.EquateEmpty()); d != "" {
		t.Fatalf("a refused takeover changed the state:\n%s", d)
	}
	if err := (Command{Report: &Report{Resource: "db", Node: "n1", State: model.ResourceStarted}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if on := st.MayRun("db"); on != "n1" {
		t.Fatalf("db may run on %q, want n1", on)
	}
	if err := take(1); err != nil {
		t.Fatal(err)
	}
	if st.LeaseGens["n1"] != 2 || st.Targets["web"] != "n2" {
		t.Fatalf("after the takeover: gens %v targets %v", st.LeaseGens, st.Targets)
	}
	if on := st.MayRun("db"); on != "" {
		t.Errorf("after the takeover db may still run on %q", on)
	}
	if err := (Command{Report: &Report{Resource: "db", Node: "n1", State: model.ResourceStarted}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if g := st.Resources["db"].Gen; g != 2 {
		t.Errorf("a report after the takeover is stamped with generation %d, want 2", g)
	}
}

// A start claim commits only on the node the resource is placed on, and
// only while no other node may still run it; a refused claim changes
// nothing (invariant 1).
func TestClaim(t *testing.T) {
	online := model.NodeRecord{State: model.NodeOnline}
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": online, "n2": online, "n3": online}}
	claim := func(n model.NodeID) error {
		return Command{Report: &Report{Resource: "web", Node: n, State: model.ResourceStarting}}.ApplyTo(&st)
	}
	place := func(n model.NodeID) {
		if err := (Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{"web": n}, Epoch: st.Epoch}}).ApplyTo(&st); err != nil {
			t.Fatal(err)
		}
	}
	refused := func(what string, n model.NodeID) {
		t.Helper()
		before := st.Clone()
		if err := claim(n); !errors.Is(err, ErrClaimed) {
			t.Fatalf("%s: claim by %s = %v, want ErrClaimed", what, n, err)
		}
		if d := cmp.Diff(before, st, cmpopts.EquateEmpty()); d != "" {
			t.Fatalf("%s: a refused claim changed the state:\n%s", what, d)
		}
	}
	place("n3")
	refused("placed elsewhere", "n2")
	place("n2")
	if err := claim("n2"); err != nil {
		t.Fatalf("claim on the target: %v", err)
	}
	if rec := st.Resources["web"]; rec.Node != "n2" || rec.State != model.ResourceStarting {
		t.Fatalf("record after the claim: %+v", rec)
	}
	if err := claim("n2"); err != nil {
		t.Fatalf("a second claim by the claimer: %v", err)
	}
	place("n3") // n3 applied this late; n2 has claimed
	refused("claimed by n2, which is online with its lease", "n3")
	if err := (Command{Report: &Report{Resource: "web", Node: "n2", State: model.ResourceStarted}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	refused("started on n2", "n3")
	// n2's lease is taken over: what it ran has stopped.
	if err := (Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{"web": "n3"}, Epoch: st.Epoch,
		Takeover: map[model.NodeID]uint64{"n2": st.LeaseGens["n2"]}}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if err := claim("n3"); err != nil {
		t.Fatalf("claim after n2's lease was taken over: %v", err)
	}
}

// A successful fence records the node's resources stopped (blocked ones
// too) and fences its renewals; a failed one only records the failure.
func TestFence(t *testing.T) {
	st := model.ClusterState{
		Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOffline}},
		Resources: map[model.ResourceID]model.ResourceRecord{
			"web": {Node: "n1", State: model.ResourceStarted}, "db": {Node: "n1", State: model.ResourceBlocked},
			"mail": {Node: "n2", State: model.ResourceStarted},
		},
	}
	before := st.Clone()
	if err := (Command{Fence: &Fence{Node: "n1", By: "level 1 (ipmi)", Reason: "exit status 1"}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	if f := st.Nodes["n1"].Fence; f == nil || f.OK || f.Reason != "exit status 1" {
		t.Fatalf("failed fence recorded as %+v", f)
	}
	if d := cmp.Diff(before.Resources, st.Resources); d != "" || st.LeaseGens["n1"] != 0 {
		t.Fatalf("a failed fence changed resources or gens:\n%s %v", d, st.LeaseGens)
	}
	if err := (Command{Fence: &Fence{Node: "n1", OK: true, By: "level 1 (ipmi)"}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	for _, id := range []model.ResourceID{"web", "db"} {
		if rec := st.Resources[id]; rec.Node != "" || rec.State != model.ResourceStopped {
			t.Errorf("%s after the fence: %+v, want stopped", id, rec)
		}
	}
	if st.Resources["mail"].Node != "n2" || st.LeaseGens["n1"] != 1 || st.MayRun("web") != "" {
		t.Errorf("after the fence: mail %+v, gens %v", st.Resources["mail"], st.LeaseGens)
	}
}

// Every kind of command survives the log's encoding: one left out of
// check would be refused at commit.
func TestEveryCommandEncodes(t *testing.T) {
	for _, c := range []Command{
		{NodeState: &NodeState{Node: "n1"}}, {NodeFlags: &NodeFlags{Node: "n1"}}, {Report: &Report{Resource: "web"}},
		{Cleanup: &Cleanup{Resource: "web"}}, {Runtime: &Runtime{}}, {Restart: &Restart{Resource: "web"}},
		{Placement: &Placement{}}, {Config: &ConfigChange{}}, {Reset: &LeaseReset{Node: "n1"}}, {Fence: &Fence{Node: "n1", OK: true}},
	} {
		b, err := encodeCommand(c)
		if err != nil {
			t.Errorf("encode %+v: %v", c, err)
			continue
		}
		if _, err := decodeCommand(b); err != nil {
			t.Errorf("decode %s: %v", b, err)
		}
	}
}
