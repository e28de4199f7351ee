package coordinator

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// The coordinator keeps what ran on a lost node in place until enough of
// its peers retired its lease generation; a node committed online whose
// lease ended counts as offline; every node ended in its current
// generation is taken over on that generation.
func TestJudge(t *testing.T) {
	c := lease.Config{Duration: time.Second, StartBudget: 200 * time.Millisecond, StopBudget: 200 * time.Millisecond}
	nodes := []model.Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}
	now := time.Now()
	st := model.ClusterState{
		Nodes:     map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOffline}, "n2": {State: model.NodeOnline}, "n3": {State: model.NodeOnline}},
		Resources: map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceStarted, Gen: 7}, "db": {Node: "n3", State: model.ResourceStarted, Gen: 5}},
		LeaseGens: map[model.NodeID]uint64{"n1": 7, "n2": 3, "n3": 5},
	}
	j := judge(nodes, st, nil, now, c)
	if len(j.held) != 1 || !j.held["n1"].Equal(now.Add(c.ObserverWait())) || len(j.ended) != 0 || len(j.takeover) != 0 {
		t.Errorf("nothing retired: %+v; want n1 held, nothing ended", j)
	}
	// n2's ended generation is an old one: it has a lease again.
	j = judge(nodes, st, map[model.NodeID]uint64{"n1": 7, "n2": 2, "n3": 5}, now, c)
	if len(j.held) != 0 || len(j.ended) != 1 || j.ended[0] != "n3" || len(j.takeover) != 2 || j.takeover["n1"] != 7 || j.takeover["n3"] != 5 {
		t.Errorf("n1's and n3's leases retired: %+v; want n3 ended, n1 and n3 taken over on generations 7 and 5", j)
	}
	if s := j.scheduled(st); s.Nodes["n3"].State != model.NodeOffline || st.Nodes["n3"].State != model.NodeOnline {
		t.Errorf("scheduled state: n3 is %s (committed %s); want offline for the scheduler only", s.Nodes["n3"].State, st.Nodes["n3"].State)
	}
	if j.held["n2"] != (time.Time{}) || contains(j.ended, "n2") {
		t.Error("n2, whose retired generation is past, is judged")
	}
}

func contains(ns []model.NodeID, n model.NodeID) bool {
	for _, x := range ns {
		if x == n {
			return true
		}
	}
	return false
}

// With a fencing device for a node, a lost node that may still run
// something is fenced, and what it ran is held (never taken over on the
// lease alone) until the fence is recorded; a node without one is taken
// over as before; a failed stop on a covered node fences it too.
func TestWithFencing(t *testing.T) {
	c := lease.Config{Duration: time.Second, StartBudget: 200 * time.Millisecond, StopBudget: 200 * time.Millisecond}
	nodes := []model.Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}
	t0 := time.Now()
	st := model.ClusterState{
		Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOffline}, "n2": {State: model.NodeOffline}, "n3": {State: model.NodeOnline}},
		Resources: map[model.ResourceID]model.ResourceRecord{
			"web": {Node: "n1", State: model.ResourceStarted}, "db": {Node: "n2", State: model.ResourceStarted},
			"mail": {Node: "n3", State: model.ResourceBlocked},
		},
	}
	covered := func(n model.NodeID) bool { return n != "n2" }

	// The deciding node is never lost to itself; a failed stop on it still
	// fences it.
	if j := judge(nodes, st, nil, t0, c).withFencing(st, "n1", covered); slices.Contains(j.fence, "n1") {
		t.Errorf("n1 deciding: fence %v, want n1 not fenced as lost by itself", j.fence)
	}
	if j := judge(nodes, st, nil, t0, c).withFencing(st, "n3", covered); !slices.Contains(j.fence, "n3") {
		t.Errorf("n3 deciding: fence %v, want n3 fenced for its failed stop of mail", j.fence)
	}

	j := judge(nodes, st, nil, t0, c).withFencing(st, "n4", covered)
	if want := []model.NodeID{"n1", "n3"}; !slices.Equal(j.fence, want) {
		t.Errorf("within the lease: fence %v, want %v (n1 lost with web, n3's stop of mail failed)", j.fence, want)
	}
	retired := map[model.NodeID]uint64{"n1": 0, "n2": 0, "n3": 0}
	j = judge(nodes, st, retired, t0, c).withFencing(st, "n4", covered)
	if _, ok := j.takeover["n1"]; ok {
		t.Errorf("after the lease: n1 taken over on its lease alone, though a device covers it: %+v", j)
	}
	if until, ok := j.held["n1"]; !ok || !until.IsZero() {
		t.Errorf("after the lease: n1 held %v (%v), want held until fenced (zero)", until, ok)
	}
	if _, ok := j.takeover["n2"]; !ok {
		t.Errorf("after the lease: n2 (no device) not taken over: %+v", j)
	}
	// Once the fence is recorded, n1 runs nothing and nothing holds it.
	if err := (store.Command{Fence: &store.Fence{Node: "n1", OK: true, By: "level 1 (lab)"}}).ApplyTo(&st); err != nil {
		t.Fatal(err)
	}
	j = judge(nodes, st, retired, t0, c).withFencing(st, "n4", covered)
	if _, ok := j.held["n1"]; ok || slices.Contains(j.fence, "n1") {
		t.Errorf("after the fence: n1 still held or fenced again: %+v", j)
	}
}
