package model

import (
	"maps"
	"time"
)

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
	// Boot is the incarnation of the node's daemon that the coordinator
	// saw online (its heartbeats' Boot), 0 if unknown. A restarted daemon
	// acts on the committed state only once it shows its own Boot: then it
	// has applied everything committed before the cluster saw it return,
	// and not merely history replayed from its own log.
	Boot uint64 `json:"boot,omitempty"`
	// Standby: the node runs no resources. Maintenance: vigil neither starts
	// nor stops nor monitors anything on it (resources there are left as
	// they are). Both are set by operators.
	Standby     bool `json:"standby,omitempty"`
	Maintenance bool `json:"maintenance,omitempty"`
	// Fence is the outcome of the newest fencing of the node, nil if it
	// was never fenced.
	Fence *FenceRecord `json:"fence,omitempty"`
}

// ClusterState is the replicated state that the Raft FSM holds. It grows
// with later work (placement, fail counts, leases, events).
type ClusterState struct {
	Nodes map[NodeID]NodeRecord `json:"nodes"`
	// Resources are the executors' last reports, by resource.
	Resources map[ResourceID]ResourceRecord `json:"resources,omitempty"`
	// FailCounts are failures by resource and node.
	FailCounts map[ResourceID]map[NodeID]FailCount `json:"fail_counts,omitempty"`
	// Runtime are location constraints added by operators at run time
	// (move, ban); IDs start with "cli-".
	Runtime []Location `json:"runtime,omitempty"`
	// Targets is the coordinator's committed placement: where each resource
	// should run ("" or absent: stopped). Executors converge on it.
	Targets map[ResourceID]NodeID `json:"targets,omitempty"`
	// Epoch counts every change but placements. PlacedEpoch is the Epoch
	// the committed Targets were computed from: executors act on targets
	// only while PlacedEpoch == Epoch, so no node acts on a placement that a
	// newer failure or node change has made stale.
	Epoch       uint64 `json:"epoch"`
	PlacedEpoch uint64 `json:"placed_epoch"`
	// Restarts are the operators' latest restart requests, by the resource
	// or group they name (`vigil resource restart`). The executor on the
	// request's node stops and starts it again, with what depends on it,
	// each time the count changes.
	Restarts map[ResourceID]RestartRequest `json:"restarts,omitempty"`
	// LeaseGens counts the generations of each node's lease (package
	// lease): a takeover, a fence or the node's own reset raises it. Peers
	// grant only the generation committed here, and a record made under an
	// older one no longer holds what it names (MayRun), so that no grant
	// in flight revives a lease the cluster took over.
	LeaseGens map[NodeID]uint64 `json:"lease_gens,omitempty"`
	// Config is the resource configuration an operator applied at run time
	// (`vigil config apply`); nil until the first apply, when the config
	// file's own resource part rules. It is never changed in place: each
	// apply replaces it, so copies of the state may share it.
	Config *AppliedConfig `json:"config,omitempty"`
}

// AppliedConfig is a resource configuration committed by `config apply`.
type AppliedConfig struct {
	ResourceConfig
	// Version counts applies: 1 for the first. The file's configuration is
	// version 0. A change names the version it was based on (If-Match).
	Version uint64    `json:"version"`
	At      time.Time `json:"at"`
	By      string    `json:"by,omitempty"` // who applied it, as the API saw them
}

// ConfigVersion is the version of the resource configuration in force.
func (s ClusterState) ConfigVersion() uint64 {
	if s.Config == nil {
		return 0
	}
	return s.Config.Version
}

// Effective returns base (the config file) with the applied resource
// configuration in place of its own, if one was applied.
func (s ClusterState) Effective(base Config) Config {
	if s.Config == nil {
		return base
	}
	return base.WithResources(s.Config.ResourceConfig)
}

// Fresh reports whether the committed targets account for every change.
func (s ClusterState) Fresh() bool { return s.PlacedEpoch == s.Epoch }

// Records reports whether the committed state records resources, not
// stopped, on node under its current lease generation: what a takeover of
// node would move, and what keeps a leader from handing the leadership to
// it.
func (s ClusterState) Records(node NodeID) bool {
	for _, rec := range s.Resources {
		if rec.Node == node && rec.State != ResourceStopped && rec.Gen == s.LeaseGens[node] {
			return true
		}
	}
	return false
}

// MayRun names the node on which resource id may still run, as far as the
// committed state can tell, or "" if it runs nowhere: the node its record
// names, unless the record says stopped, or the node is offline, or the
// cluster took that node's lease over since the record (its lease ended,
// so it stopped everything). A start elsewhere waits until it is "".
func (s ClusterState) MayRun(id ResourceID) NodeID {
	rec, ok := s.Resources[id]
	if !ok || rec.Node == "" || rec.State == ResourceStopped {
		return ""
	}
	if s.Nodes[rec.Node].State == NodeOffline || rec.Gen < s.LeaseGens[rec.Node] {
		return ""
	}
	return rec.Node
}

// FenceRecord is the outcome of fencing a node.
type FenceRecord struct {
	OK bool `json:"ok"`
	// By says how: "level 1 (ipmi-n1)", or "confirmed down by the operator".
	By     string    `json:"by"`
	Reason string    `json:"reason,omitempty"` // why it failed
	At     time.Time `json:"at"`
}

// ResourceState is a resource's state as its executor last reported it.
type ResourceState string

// The resource states.
const (
	ResourceStopped ResourceState = "stopped"
	ResourceStarted ResourceState = "started"
	// ResourceStarting: the node claimed the resource and is starting it.
	// The claim is committed before the start begins, so that no other
	// node can start the resource meanwhile (invariant 1), however late it
	// applies the placements that moved it.
	ResourceStarting ResourceState = "starting"
	// ResourceFailed: a start or monitor failed; the scheduler recovers it.
	ResourceFailed ResourceState = "failed"
	// ResourceBlocked: a stop failed or timed out, so vigil cannot know
	// whether it still runs. Nothing moves it until it is cleaned up (or,
	// with fencing, the node is fenced).
	ResourceBlocked ResourceState = "blocked"
)

// ResourceRecord is where a resource is and in what state.
type ResourceRecord struct {
	Node   NodeID        `json:"node,omitempty"` // where it runs, failed or is blocked; "" when stopped
	State  ResourceState `json:"state"`
	Since  time.Time     `json:"since"`
	Reason string        `json:"reason,omitempty"`
	// Gen is the node's lease generation when the report was committed: a
	// record older than the node's current generation predates a takeover
	// of its lease, so whatever it says ran there has stopped (the lease
	// ended first, invariant 1).
	Gen uint64 `json:"gen,omitempty"`
}

// RestartRequest is the latest operator's request to restart a resource
// (or group) in place, and how many were committed.
type RestartRequest struct {
	// Count rises by one with each request: an executor restarts when it
	// differs from the count it last dealt with.
	Count uint64 `json:"count"`
	// Node is where the resource ran when it was requested; only that
	// node's executor restarts it.
	Node NodeID `json:"node"`
	// At is when it was requested, on the requesting daemon's clock. It
	// tells a request from a copy of it delivered twice.
	At time.Time `json:"at"`
}

// FailCount counts a resource's failures on one node.
type FailCount struct {
	Count int       `json:"count"`
	Last  time.Time `json:"last"` // the newest failure; failure-timeout runs from it
}

// Clone returns a deep copy, so that a reader can keep a snapshot while the
// FSM moves on.
func (s ClusterState) Clone() ClusterState {
	c := ClusterState{
		Nodes:       make(map[NodeID]NodeRecord, len(s.Nodes)),
		Resources:   make(map[ResourceID]ResourceRecord, len(s.Resources)),
		FailCounts:  make(map[ResourceID]map[NodeID]FailCount, len(s.FailCounts)),
		Runtime:     append([]Location(nil), s.Runtime...),
		Targets:     make(map[ResourceID]NodeID, len(s.Targets)),
		Epoch:       s.Epoch,
		PlacedEpoch: s.PlacedEpoch,
		Config:      s.Config,
	}
	for k, v := range s.Targets {
		c.Targets[k] = v
	}
	if s.LeaseGens != nil {
		c.LeaseGens = maps.Clone(s.LeaseGens)
	}
	if s.Restarts != nil { // nil stays nil: most states never see a restart
		c.Restarts = make(map[ResourceID]RestartRequest, len(s.Restarts))
		for k, v := range s.Restarts {
			c.Restarts[k] = v
		}
	}
	for k, v := range s.Nodes {
		c.Nodes[k] = v
	}
	for k, v := range s.Resources {
		c.Resources[k] = v
	}
	for r, m := range s.FailCounts {
		cm := make(map[NodeID]FailCount, len(m))
		for n, f := range m {
			cm[n] = f
		}
		c.FailCounts[r] = cm
	}
	return c
}

// Health is what a monitor found.
type Health string

// The monitor results. An agent that cannot tell reports Failed with an
// error saying why: vigil never guesses that a resource is fine.
const (
	HealthRunning Health = "running"
	HealthStopped Health = "stopped" // cleanly not running
	HealthFailed  Health = "failed"  // running but unhealthy, or in an unknown state
)
