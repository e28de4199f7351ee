package daemon

import (
	"testing"

	"github.com/vigil-ha/vigil/internal/model"
)

func TestLeadershipTarget(t *testing.T) {
	on := model.NodeRecord{State: model.NodeOnline}
	cfg := model.Config{Nodes: []model.Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}, {Name: "w", Witness: true}}}
	all := map[model.NodeID]model.NodeState{"n1": model.NodeOnline, "n2": model.NodeOnline, "n3": model.NodeOnline, "w": model.NodeOnline}
	state := func(records map[model.ResourceID]model.ResourceRecord) model.ClusterState {
		return model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": on, "n2": on, "n3": on, "w": on}, Resources: records}
	}
	onN1 := map[model.ResourceID]model.ResourceRecord{"ip": {Node: "n1", State: model.ResourceStarted}}
	for _, tc := range []struct {
		name     string
		cfg      model.Config
		st       model.ClusterState
		observed map[model.NodeID]model.NodeState
		want     model.NodeID
	}{
		{"a leader that runs nothing keeps leading", cfg, state(nil), all, ""},
		{"a stopped record runs nothing", cfg, state(map[model.ResourceID]model.ResourceRecord{"ip": {Node: "n1", State: model.ResourceStopped}}), all, ""},
		{"a witness first", cfg, state(onN1), all, "w"},
		{"else the first node that runs nothing", model.Config{Nodes: cfg.Nodes[:3]}, state(map[model.ResourceID]model.ResourceRecord{
			"ip": {Node: "n1", State: model.ResourceStarted}, "db": {Node: "n2", State: model.ResourceStarting}}), all, "n3"},
		{"never one this node sees offline", cfg, state(onN1), map[model.NodeID]model.NodeState{"n2": model.NodeSuspect, "n3": model.NodeOnline, "w": model.NodeOffline}, "n3"},
		{"none left", model.Config{Nodes: cfg.Nodes[:2]}, state(map[model.ResourceID]model.ResourceRecord{
			"ip": {Node: "n1", State: model.ResourceStarted}, "db": {Node: "n2", State: model.ResourceFailed}}), all, ""},
	} {
		got, ok := leadershipTarget(tc.cfg, "n1", tc.st, tc.observed)
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("%s: %q %v, want %q", tc.name, got, ok, tc.want)
		}
	}
}
