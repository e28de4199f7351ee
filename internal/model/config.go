package model

import (
	"net/netip"
	"slices"
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
	// Fencing is how the cluster powers off a node it lost; empty: no
	// fencing, and leases alone guard invariant 1.
	Fencing Fencing
	// Detection tunes failure detection (K of N layers, the TCP probe,
	// application checks, damping), with every default filled in.
	Detection Detection
	// Alerts are the hooks run on events, in file order.
	Alerts []Alert
	// API is the HTTP API's TLS mode and bearer tokens.
	API APIAccess
}

// Fencing lists the fencing devices and the order in which they are tried.
type Fencing struct {
	Devices []FenceDevice
	// Levels are, per node, the levels tried in order, each a list of
	// device ids that must all succeed. A node not listed is fenced by
	// each device that covers it, one level per device, in file order.
	Levels map[NodeID][][]string
	// TwoNode is a cluster of two nodes without a witness, as Pacemaker's
	// two_node: on a split each node fences the other, and the one that
	// fenced its peer runs alone as a cluster of one until the peer is
	// back. Config allows it only with two nodes, no witness, and a device
	// that covers each node.
	TwoNode bool
	// PriorityDelay (Pacemaker's priority-fencing-delay) makes the node
	// that runs fewer resources wait this long before it fences its peer,
	// so that the node running the service wins a fence race.
	PriorityDelay time.Duration
}

// FenceDevice is one fence agent (fence_ipmilan, fence_redfish, …) with
// its parameters.
type FenceDevice struct {
	ID    string
	Agent string // a name in /usr/sbin, or an absolute path
	// Params are passed to the agent as key=value lines; those that look
	// like secrets (password, key, …) never appear in logs or output.
	Params map[string]string
	// Nodes are the nodes it can fence; empty: every node.
	Nodes []NodeID
	// Plugs maps a node to its plug (port) on a device that powers several.
	Plugs   map[NodeID]string
	Timeout time.Duration
}

// FenceLevels returns the levels that fence node, as device lists in the
// order they are tried; nil if no device covers it.
func (f Fencing) FenceLevels(node NodeID) [][]FenceDevice {
	byID := map[string]FenceDevice{}
	for _, d := range f.Devices {
		byID[d.ID] = d
	}
	var out [][]FenceDevice
	if lv, ok := f.Levels[node]; ok {
		for _, ids := range lv {
			var level []FenceDevice
			for _, id := range ids {
				level = append(level, byID[id])
			}
			out = append(out, level)
		}
		return out
	}
	for _, d := range f.Devices {
		if len(d.Nodes) == 0 || slices.Contains(d.Nodes, node) {
			out = append(out, []FenceDevice{d})
		}
	}
	return out
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
	// Witness: a voter that runs no resources (`vigil witness`), so that
	// two nodes and a small third host keep quorum through the loss of
	// any one.
	Witness bool
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
	// Lease is how long a grant lets a node hold its resources
	// (invariant 1): its peers grant it on their heartbeats, each from the
	// moment the node sent the heartbeat the grant echoes (package lease).
	Lease time.Duration
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
