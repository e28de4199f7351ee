package model

import "time"

// ResourceID names a resource or a group. Resources and groups share one
// namespace, so a constraint can name either.
type ResourceID string

// Resource is one managed resource as configured.
type Resource struct {
	ID ResourceID
	// Kind selects the agent: "vip", "exec", "ocf", "systemd", "script".
	Kind string
	// Params are the kind's parameters (for ocf, the OCF_RESKEY_* values;
	// for vip, address, interface, arp_count…). The agent validates them.
	Params map[string]string
	Ops    Ops
	Meta   Meta
	// Group is the group the resource belongs to, "" if none. Set by config.
	Group ResourceID
}

// Ops are the operation settings of a resource. Zero values mean the
// documented defaults, filled by config: start 20s, stop 20s, monitor
// every 10s with a 20s timeout.
type Ops struct {
	StartTimeout    time.Duration
	StopTimeout     time.Duration
	MonitorInterval time.Duration // 0 after defaults only if monitoring is off
	MonitorTimeout  time.Duration
}

// Meta are the placement and recovery settings of a resource.
type Meta struct {
	// Stickiness is added to the score of the node the resource runs on.
	// nil means the cluster default (Options.Stickiness).
	Stickiness *Score
	// MigrationThreshold: after this many failures on a node the resource
	// is banned there (until the fail count expires or is cleaned up).
	// 0 means INFINITY-like: never banned by failures (Pacemaker's default).
	MigrationThreshold int
	// FailureTimeout: a fail count older than this is forgotten. 0: never.
	FailureTimeout time.Duration
	// TargetRole is "started" (default) or "stopped".
	TargetRole string
}

// Group is an ordered set of resources that run on one node: members start
// in order and stop in reverse, and each is colocated with the one before.
type Group struct {
	ID      ResourceID
	Members []ResourceID
	Meta    Meta // applies to members that do not set their own
}

// Location makes a resource prefer (positive score) or avoid (negative)
// a node, or every node whose attribute matches.
type Location struct {
	ID       string
	Resource ResourceID // a resource or a group
	// Exactly one of Node or Attribute is set.
	Node      NodeID
	Attribute string // node attribute name
	Value     string // the attribute value that matches
	Score     Score
}

// Colocation places Resource relative to With: a positive score draws it
// to With's node, INFINITY requires it (and Resource cannot run where With
// cannot), a negative score pushes it away, -INFINITY forbids sharing.
type Colocation struct {
	ID       string
	Resource ResourceID
	With     ResourceID
	Score    Score
}

// OrderKind says whether an order constraint is mandatory or optional.
type OrderKind string

// The order kinds, as Pacemaker's.
const (
	OrderMandatory OrderKind = "mandatory" // Then starts only after First started; stopping First stops Then first
	OrderOptional  OrderKind = "optional"  // only when both change in the same transition
)

// Order sequences actions: First starts before Then, and Then stops before
// First (the order is symmetrical).
type Order struct {
	ID    string
	First ResourceID
	Then  ResourceID
	Kind  OrderKind
}

// Constraints are all placement and ordering constraints.
type Constraints struct {
	Locations   []Location
	Colocations []Colocation
	Orders      []Order
}

// NoQuorumPolicy is what a partition without quorum does with its resources.
type NoQuorumPolicy string

// The policies.
const (
	NoQuorumStop   NoQuorumPolicy = "stop"   // stop every resource (the default)
	NoQuorumFreeze NoQuorumPolicy = "freeze" // keep what runs, start nothing
)

// Options are cluster-wide resource settings.
type Options struct {
	NoQuorumPolicy NoQuorumPolicy
	Stickiness     Score // default resource stickiness; 0 by default
}
