package api

import "time"

// Status is GET /v1/status: one node's view of the cluster. Its JSON is the
// stable shape of `vigil status --output json`; fields are added, never
// renamed or removed.
type Status struct {
	Cluster string `json:"cluster"`
	Node    string `json:"node"`   // the node that answers
	Leader  string `json:"leader"` // "" while none is known
	Quorum  bool   `json:"quorum"`
	// QuorumDetail says how quorum was counted.
	QuorumDetail Quorum     `json:"quorum_detail"`
	Nodes        []Node     `json:"nodes"`
	Resources    []Resource `json:"resources"`
	Raft         Raft       `json:"raft"`
	Heartbeat    Counters   `json:"heartbeat"`
	Profile      string     `json:"profile"`
	Time         time.Time  `json:"time"`
	// Lease is the answering node's own lease on its resources.
	Lease Lease `json:"lease"`
	// Watchdog is the watchdog device the node feeds, "" if none.
	Watchdog string `json:"watchdog"`
}

// Lease is a node's lease as the node itself holds it.
type Lease struct {
	Held            bool    `json:"held"`
	RemainingMillis float64 `json:"remaining_ms"`
}

// Quorum is how a node counted its partition's votes.
type Quorum struct {
	Voters  int      `json:"voters"`
	Needed  int      `json:"needed"`
	Present []string `json:"present"`
}

// Node is one member as the answering node sees it.
type Node struct {
	Name      string   `json:"name"`
	State     string   `json:"state"` // online, suspect, offline: this node's own view
	Addresses []string `json:"addresses"`
	// Committed is the state the coordinator committed to the store
	// ("" if it never did), as this node has applied it.
	Committed string    `json:"committed_state"`
	LastHeard time.Time `json:"last_heard,omitzero"`
	Links     []Link    `json:"links"`
	Self      bool      `json:"self,omitempty"`
	// Fence is the newest fencing of the node, if any: "fenced at
	// 12:00:01 (level 1 (ipmi))" or "fencing FAILED at …: why".
	Fence string `json:"fence,omitempty"`
	// Detection says how the detection layers judge the peer, e.g.
	// "udp: all 2 links silent 720ms; tcp: 2/2 probes failing 650ms;
	// app: no checks" (empty for this node).
	Detection string `json:"detection,omitempty"`
	// Damped, if set, says why the peer is kept from new placements: it
	// kept going offline and coming back.
	Damped string `json:"damped,omitempty"`
	// Standby and Maintenance are the operator's flags, as committed.
	Standby     bool `json:"standby"`
	Maintenance bool `json:"maintenance"`
}

// Link is one link to a peer, as heartbeats show it.
type Link struct {
	Index     int     `json:"index"`
	Address   string  `json:"address"`
	State     string  `json:"state"`
	Loss      float64 `json:"loss"`   // fraction of recent heartbeats lost, 0..1
	RTTMillis float64 `json:"rtt_ms"` // newest heartbeat round trip; 0 if unknown
}

// Resource is a managed resource as the answering node knows it.
type Resource struct {
	ID    string `json:"id"`
	Kind  string `json:"kind"`
	Group string `json:"group,omitempty"`
	// State is the committed state: started, stopped, failed, blocked.
	State string `json:"state"`
	// Node is where it runs (or failed, or is blocked); "" when stopped.
	Node string `json:"node"`
	// Target is where the coordinator placed it; "" means stopped.
	Target    string `json:"target"`
	FailCount int    `json:"fail_count"` // summed over nodes, expired counts included
	Reason    string `json:"reason,omitempty"`
}

// Raft is the raft library's view of the answering node.
type Raft struct {
	State        string `json:"state"`
	Term         uint64 `json:"term"`
	LastIndex    uint64 `json:"last_index"`
	CommitIndex  uint64 `json:"commit_index"`
	AppliedIndex uint64 `json:"applied_index"`
	Refused      uint64 `json:"refused_connections"`
}

// Counters are the heartbeat packets sent, received and dropped by reason.
type Counters struct {
	Sent          uint64 `json:"sent"`
	SendErrors    uint64 `json:"send_errors"`
	Received      uint64 `json:"received"`
	Malformed     uint64 `json:"malformed"`
	Forged        uint64 `json:"forged"`
	Replayed      uint64 `json:"replayed"`
	Stale         uint64 `json:"stale"`
	UnknownSender uint64 `json:"unknown_sender"`
	WrongReceiver uint64 `json:"wrong_receiver"`
}

// RaftState is GET /v1/raft/state: whether a node has ever been part of a
// cluster. A node whose data was wiped asks its peers before it decides to
// bootstrap.
type RaftState struct {
	Node     string `json:"node"`
	HasState bool   `json:"has_state"`
}

// Report is POST /v1/internal/report: an executor's result for a resource
// on its node, sent to the leader (node to node, token required on TCP).
type Report struct {
	Resource string    `json:"resource"`
	Node     string    `json:"node"`
	State    string    `json:"state"` // started, stopped, failed, blocked
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
	FailBy   int       `json:"fail_by,omitempty"`
}
