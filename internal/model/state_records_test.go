package model

import "testing"

func TestRecords(t *testing.T) {
	st := ClusterState{
		LeaseGens: map[NodeID]uint64{"n2": 1},
		Resources: map[ResourceID]ResourceRecord{
			"ip":  {Node: "n1", State: ResourceStarting},
			"old": {Node: "n2", State: ResourceStarted, Gen: 0}, // before n2's takeover
			"db":  {Node: "n3", State: ResourceStopped},
		},
	}
	for node, want := range map[NodeID]bool{"n1": true, "n2": false, "n3": false, "n4": false} {
		if got := st.Records(node); got != want {
			t.Errorf("Records(%s) = %v, want %v", node, got, want)
		}
	}
}
