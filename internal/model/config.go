package model

import (
	"net/netip"
	"time"
)

// NodeID names a node. It is the node's name from the configuration and
// also its Raft server ID.
type NodeID string

// Config is a validated cluster configuration. Only the config package
// builds one; every other package may assume it is internally consistent.
type Config struct {
	Version int
	Cluster string
	// Secret authenticates all node traffic (heartbeats, Raft, API tokens).
	// It is resolved from the file's `secret` or `secret_file`.
	Secret  []byte
	DataDir string
	// Nodes are the voters, in the order of the file.
	Nodes  []Node
	Timing Timing
	Ports  Ports

	// Resources, in the order of the file; group members included.
	Resources   []Resource
	Groups      []Group
	Constraints Constraints
	Options     Options
}

// ResourceConfig is the part of a configuration that `vigil config apply`
// changes while the cluster runs: what runs, where, and how. The rest
// (nodes, secret, ports, timing, data directory) takes a restart.
type ResourceConfig struct {
	Resources   []Resource
	Groups      []Group
	Constraints Constraints
	Options     Options
}

// ResourceConfig returns c's resource part.
func (c Config) ResourceConfig() ResourceConfig {
	return ResourceConfig{Resources: c.Resources, Groups: c.Groups, Constraints: c.Constraints, Options: c.Options}
}

// WithResources returns c with its resource part replaced by rc.
func (c Config) WithResources(rc ResourceConfig) Config {
	c.Resources, c.Groups, c.Constraints, c.Options = rc.Resources, rc.Groups, rc.Constraints, rc.Options
	return c
}

// Resource returns the resource named id and whether it exists.
func (c Config) Resource(id ResourceID) (Resource, bool) {
	for _, r := range c.Resources {
		if r.ID == id {
			return r, true
		}
	}
	return Resource{}, false
}

// Node is one cluster member. Addresses[i] is the node's address on link i;
// every node has the same number of links.
type Node struct {
	Name      NodeID
	Addresses []netip.Addr
	// Attributes are operator labels (e.g. rack: a) that location
	// constraints can match.
	Attributes map[string]string
}

// Timing is a resolved timing profile: the profile's defaults with the
// file's overrides applied.
type Timing struct {
	Profile string // "lan" or "wan"
	// HeartbeatInterval is how often a node sends a heartbeat to each peer on
	// each link.
	HeartbeatInterval time.Duration
	// SuspectAfter is the silence after which a peer (or one of its links) is
	// suspect.
	SuspectAfter time.Duration
	// OfflineAfter is the silence after which a peer (or link) is offline.
	OfflineAfter time.Duration
	// MaxClockSkew bounds the difference between a heartbeat's send time and
	// the receiver's clock; packets outside it are dropped as stale.
	MaxClockSkew time.Duration
	// Raft timeouts, passed to hashicorp/raft.
	RaftHeartbeatTimeout   time.Duration
	RaftElectionTimeout    time.Duration
	RaftLeaderLeaseTimeout time.Duration
	// Lease is how long a renewal committed through Raft lets a node hold
	// its resources (invariant 1); LeaseRenew is how often it renews.
	Lease      time.Duration
	LeaseRenew time.Duration
}

// Ports are the cluster-wide port numbers every node listens on, on each of
// its addresses.
type Ports struct {
	Heartbeat uint16 // UDP
	Raft      uint16 // TCP
	API       uint16 // TCP (HTTP)
}

// Node returns the node named id and whether it exists.
func (c Config) Node(id NodeID) (Node, bool) {
	for _, n := range c.Nodes {
		if n.Name == id {
			return n, true
		}
	}
	return Node{}, false
}

// Links returns the number of links every node has.
func (c Config) Links() int {
	if len(c.Nodes) == 0 {
		return 0
	}
	return len(c.Nodes[0].Addresses)
}
