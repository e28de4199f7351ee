// Package store is vigil's replicated state: a raft.FSM over
// model.ClusterState, its command codec and snapshots, on hashicorp/raft
// with a boltdb log in the data directory. It hides raft behind the narrow
// Store type: callers read the state, ask who leads, and commit commands.
//
// Raft traffic between nodes travels over an authenticated stream layer:
// a raft server address is a node name, dialled on every link of that node
// at once (the first to connect wins), and both ends prove knowledge of the
// cluster secret before any raft message is exchanged.
package store
