package coordinator

import (
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
)

// The coordinator keeps what ran on a lost node in place until the node's
// lease has certainly ended, judged from when it saw the last renewal; a
// node committed online whose lease ended counts as offline; takeovers
// name the nodes with resources on them and the count judged.
func TestJudge(t *testing.T) {
	c := lease.Config{Duration: time.Second, StartBudget: 200 * time.Millisecond, StopBudget: 200 * time.Millisecond}
	nodes := []model.Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}
	t0 := time.Now()
	st := model.ClusterState{
		Nodes:     map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOffline}, "n2": {State: model.NodeOnline}, "n3": {State: model.NodeOnline}},
		Resources: map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceStarted}, "db": {Node: "n3", State: model.ResourceStarted}},
		Leases:    map[model.NodeID]uint64{"n1": 7, "n2": 3, "n3": 5},
	}
	var r renewals
	r.observe(nodes, st, t0)
	st2 := st.Clone()
	st2.Leases["n2"] = 4 // n2 keeps renewing; n1 and n3 do not
	r.observe(nodes, st2, t0.Add(900*time.Millisecond))

	j := r.judge(nodes, st2, t0.Add(500*time.Millisecond), c)
	if len(j.held) != 1 || !j.held["n1"].Equal(lease.ExpiresBy(t0, c)) || len(j.ended) != 0 || len(j.takeover) != 0 {
		t.Errorf("within the lease: %+v; want n1 held until %v, nothing ended", j, lease.ExpiresBy(t0, c))
	}
	after := lease.ExpiresBy(t0, c)
	j = r.judge(nodes, st2, after, c)
	if len(j.held) != 0 || len(j.ended) != 1 || j.ended[0] != "n3" || len(j.takeover) != 2 || j.takeover["n1"] != 7 || j.takeover["n3"] != 5 {
		t.Errorf("after n1's and n3's leases: %+v; want n3 ended, n1 and n3 taken over on counts 7 and 5", j)
	}
	if s := j.scheduled(st2); s.Nodes["n3"].State != model.NodeOffline || st2.Nodes["n3"].State != model.NodeOnline {
		t.Errorf("scheduled state: n3 is %s (committed %s); want offline for the scheduler only", s.Nodes["n3"].State, st2.Nodes["n3"].State)
	}
	if j.held["n2"] != (time.Time{}) || contains(j.ended, "n2") {
		t.Error("n2, which renewed, is judged")
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
