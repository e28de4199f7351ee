package daemon

import (
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// In a two-node split both sides compute the race from the same state:
// exactly one of them waits, and it is the one running less.
func TestPairDelay(t *testing.T) {
	nodes := []model.Node{{Name: "a"}, {Name: "b"}}
	rec := func(n model.NodeID, s model.ResourceState) model.ResourceRecord {
		return model.ResourceRecord{Node: n, State: s}
	}
	const d = 5 * time.Second
	for _, tc := range []struct {
		name   string
		res    map[model.ResourceID]model.ResourceRecord
		waiter model.NodeID
	}{
		{"nothing runs: the first listed wins", nil, "b"},
		{"b runs the service", map[model.ResourceID]model.ResourceRecord{"ip": rec("b", model.ResourceStarted), "web": rec("b", model.ResourceStarting)}, "a"},
		{"a runs more", map[model.ResourceID]model.ResourceRecord{"ip": rec("a", model.ResourceStarted), "web": rec("a", model.ResourceStarted), "db": rec("b", model.ResourceStarted)}, "b"},
		{"stopped and failed records do not count", map[model.ResourceID]model.ResourceRecord{"ip": rec("a", model.ResourceFailed), "web": rec("", model.ResourceStopped), "db": rec("b", model.ResourceStarted)}, "a"},
		{"a tie: the first listed wins", map[model.ResourceID]model.ResourceRecord{"ip": rec("a", model.ResourceStarted), "db": rec("b", model.ResourceStarted)}, "b"},
	} {
		st := model.ClusterState{Resources: tc.res}
		da := pairDelay(st, nodes, "a", "b", d)
		db := pairDelay(st, nodes, "b", "a", d)
		var waiter model.NodeID
		switch {
		case da == d && db == 0:
			waiter = "a"
		case db == d && da == 0:
			waiter = "b"
		default:
			t.Errorf("%s: a waits %s, b waits %s; want exactly one to wait %s", tc.name, da, db, d)
			continue
		}
		if waiter != tc.waiter {
			t.Errorf("%s: %s waits, want %s", tc.name, waiter, tc.waiter)
		}
	}
}

// A damped node keeps what runs there and receives nothing new.
func TestDamping(t *testing.T) {
	cfg := model.Config{
		Resources: []model.Resource{{ID: "ip", Group: "web"}, {ID: "server", Group: "web"}, {ID: "db"}},
		Groups:    []model.Group{{ID: "web", Members: []model.ResourceID{"ip", "server"}}},
	}
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}, "n2": {State: model.NodeOnline}},
		Resources: map[model.ResourceID]model.ResourceRecord{
			"ip": {Node: "n1", State: model.ResourceStarted}, "server": {Node: "n1", State: model.ResourceStarted},
			"db": {Node: "n2", State: model.ResourceStarted},
		}}
	got := damping(cfg, st, map[model.NodeID]string{"n1": "3 flaps", "n3": "4 flaps"})
	var ids []string
	for _, l := range got {
		if l.Score != dampedScore || l.Node == "" {
			t.Errorf("location %+v, want %v on a node", l, dampedScore)
		}
		ids = append(ids, l.ID)
	}
	want := []string{"damped-n1-db", "damped-n3-db", "damped-n3-web"}
	if !slices.Equal(ids, want) {
		t.Errorf("damping locations %v, want %v", ids, want)
	}
	if damping(cfg, st, nil) != nil {
		t.Error("no damped node, yet locations")
	}
}
