package model

import "time"

// NodeState is a node's liveness as seen by heartbeats, or as committed by
// the coordinator.
type NodeState string

// The node states, from best to worst.
const (
	NodeOnline  NodeState = "online"
	NodeSuspect NodeState = "suspect"
	NodeOffline NodeState = "offline"
)

// NodeRecord is the committed state of one node in the replicated store.
type NodeRecord struct {
	State NodeState `json:"state"`
	// Since is when the coordinator committed the state (its wall clock).
	Since time.Time `json:"since"`
	// By is the coordinator that committed it.
	By NodeID `json:"by"`
}

// ClusterState is the replicated state that the Raft FSM holds. It grows
// with later work (placement, fail counts, leases, events).
type ClusterState struct {
	Nodes map[NodeID]NodeRecord `json:"nodes"`
}

// Clone returns a deep copy, so that a reader can keep a snapshot while the
// FSM moves on.
func (s ClusterState) Clone() ClusterState {
	c := ClusterState{Nodes: make(map[NodeID]NodeRecord, len(s.Nodes))}
	for k, v := range s.Nodes {
		c.Nodes[k] = v
	}
	return c
}
