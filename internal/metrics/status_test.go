package metrics

import (
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// t0 is when the test clusters' snapshots begin.
var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// cluster returns a realistic status of a healthy 3-node cluster as n1,
// its leader, sees it: two links to each peer, web (a VIP and a server)
// on n1, db on n2.
func cluster() api.Status {
	links := func(node string, octet string) []api.Link {
		return []api.Link{
			{Index: 0, Address: "198.18.0." + octet, State: "online", Loss: 0, RTTMillis: 0.21},
			{Index: 1, Address: "198.18.1." + octet, State: "online", Loss: 0.05, RTTMillis: 0.34},
		}
	}
	return api.Status{
		Cluster: "vigil", Node: "n1", Leader: "n1", Quorum: true,
		QuorumDetail: api.Quorum{Voters: 3, Needed: 2, Present: []string{"n1", "n2", "n3"}},
		Nodes: []api.Node{
			{Name: "n1", State: "online", Committed: "online", Addresses: []string{"198.18.0.1", "198.18.1.1"}, Self: true,
				Links: []api.Link{{Index: 0, Address: "198.18.0.1", State: "online"}, {Index: 1, Address: "198.18.1.1", State: "online"}}},
			{Name: "n2", State: "online", Committed: "online", Addresses: []string{"198.18.0.2", "198.18.1.2"},
				LastHeard: t0.Add(-50 * time.Millisecond), Links: links("n2", "2")},
			{Name: "n3", State: "online", Committed: "online", Addresses: []string{"198.18.0.3", "198.18.1.3"},
				LastHeard: t0.Add(-80 * time.Millisecond), Links: links("n3", "3")},
		},
		Resources: []api.Resource{
			{ID: "web-ip", Kind: "vip", Group: "web", State: "started", Node: "n1", Target: "n1"},
			{ID: "web-server", Kind: "exec", Group: "web", State: "started", Node: "n1", Target: "n1", FailCount: 1},
			{ID: "db", Kind: "ocf", State: "started", Node: "n2", Target: "n2"},
		},
		Raft:      api.Raft{State: "Leader", Term: 4, LastIndex: 120, CommitIndex: 120, AppliedIndex: 119, Refused: 2},
		Heartbeat: api.Counters{Sent: 1000, Received: 990, Malformed: 1, Forged: 2, Replayed: 3, Stale: 4, UnknownSender: 5, WrongReceiver: 6, SendErrors: 7},
		Profile:   "lan", Time: t0,
		Lease:    api.Lease{Held: true, RemainingMillis: 2400},
		Watchdog: "/dev/watchdog0",
	}
}

// with returns a copy of s (nodes and resources copied too) changed by f.
func with(s api.Status, f func(s *api.Status)) api.Status {
	s.Nodes = append([]api.Node(nil), s.Nodes...)
	s.Resources = append([]api.Resource(nil), s.Resources...)
	f(&s)
	return s
}

// node returns the member called name in s, to change it.
func node(s *api.Status, name string) *api.Node {
	for i := range s.Nodes {
		if s.Nodes[i].Name == name {
			s.Nodes[i].Links = append([]api.Link(nil), s.Nodes[i].Links...)
			return &s.Nodes[i]
		}
	}
	panic("no node " + name)
}

// resource returns the resource id in s, to change it.
func resource(s *api.Status, id string) *api.Resource {
	for i := range s.Resources {
		if s.Resources[i].ID == id {
			return &s.Resources[i]
		}
	}
	panic("no resource " + id)
}

// fakeSource is a Source whose status the test sets.
type fakeSource struct {
	mu sync.Mutex
	s  api.Status
}

func (f *fakeSource) Status() api.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.s
}

func (f *fakeSource) set(s api.Status) {
	f.mu.Lock()
	f.s = s
	f.mu.Unlock()
}
