package scheduler

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/model"
)

// A witness votes but runs nothing: with one of the two other nodes gone,
// everything goes to the one left, never to the witness, and with both
// gone it runs nowhere.
func TestWitnessRunsNothing(t *testing.T) {
	online := model.NodeRecord{State: model.NodeOnline}
	in := Input{
		Config: model.Config{
			Nodes:     []model.Node{{Name: "n1"}, {Name: "n2"}, {Name: "w", Witness: true}},
			Resources: []model.Resource{{ID: "ip", Kind: "vip", Meta: model.Meta{TargetRole: "started"}}},
		},
		State:  model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": online, "n2": online, "w": online}},
		Quorum: true,
	}
	if got := Schedule(in).Placement["ip"]; got != "n1" && got != "n2" {
		t.Errorf("all online: ip on %q, want n1 or n2", got)
	}
	in.State.Nodes["n1"] = model.NodeRecord{State: model.NodeOffline}
	if got := Schedule(in).Placement["ip"]; got != "n2" {
		t.Errorf("n1 offline: ip on %q, want n2", got)
	}
	in.State.Nodes["n2"] = model.NodeRecord{State: model.NodeOffline}
	p := Schedule(in)
	if got := p.Placement["ip"]; got != "" {
		t.Errorf("only the witness left: ip on %q, want nowhere", got)
	}
}
