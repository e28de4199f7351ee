package metrics

import (
	"fmt"
	"math"
	"slices"
	"strconv"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/internal/api"
)

// Source is the node whose view the metrics show. The daemon's node
// implements it (it is the Status method of api.Backend).
type Source interface {
	// Status returns this node's view now. It must be concurrency-safe and
	// non-blocking: it is called on every scrape and every watcher poll.
	Status() api.Status
}

// The states a node, a resource and raft can be in (read-only). A state outside these
// lists is still exported (with value 1) when a node reports it, so that a
// state added later shows up before this package learns its name.
var (
	nodeStates     = []string{"online", "suspect", "offline"}
	resourceStates = []string{"started", "starting", "stopped", "failed", "blocked"}
	raftStates     = []string{"Starting", "Follower", "Candidate", "Leader", "Shutdown"}
)

// Collector exports a Source's Status at each scrape. It implements
// prometheus.Collector; Collect is concurrency-safe and calls Status once.
type Collector struct {
	src Source

	info, nodeState, nodeCommitted, nodeLastHeard                       *prometheus.Desc
	quorum, quorumVoters, quorumNeeded, quorumPresent                   *prometheus.Desc
	leader, isLeader                                                    *prometheus.Desc
	raftState, raftTerm, raftLast, raftCommit, raftApplied, raftRefused *prometheus.Desc
	linkUp, linkLoss, linkRTT                                           *prometheus.Desc
	resState, resTarget, resFails                                       *prometheus.Desc
	hbSent, hbSendErrors, hbReceived, hbDropped                         *prometheus.Desc
	leaseHeld, leaseRemaining, watchdog, fenceLast                      *prometheus.Desc
}

// NewCollector returns a Collector over src and registers it on reg.
func NewCollector(reg *prometheus.Registry, src Source) (*Collector, error) {
	if reg == nil || src == nil {
		return nil, fmt.Errorf("metrics collector: registry and source are required")
	}
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc(name, help, labels, nil)
	}
	c := &Collector{
		src:           src,
		info:          d("vigil_info", "Always 1: the answering node, its cluster and timing profile.", "cluster", "node", "profile"),
		nodeState:     d("vigil_node_state", "1 for the state this node's heartbeats see a member in, 0 for the other states.", "node", "state"),
		nodeCommitted: d("vigil_node_committed_state", "1 for the state the coordinator committed for a member, 0 for the others; all 0 if none was committed.", "node", "state"),
		nodeLastHeard: d("vigil_node_last_heard_timestamp_seconds", "When this node last heard a peer's heartbeat (Unix time).", "node"),

		quorum:        d("vigil_quorum", "1 if this node's partition has quorum, else 0."),
		quorumVoters:  d("vigil_quorum_voters", "Votes in the cluster, as this node counts them."),
		quorumNeeded:  d("vigil_quorum_needed", "Votes needed for quorum."),
		quorumPresent: d("vigil_quorum_present", "Voters this node sees present (itself included)."),

		leader:   d("vigil_leader", "1 for the node this node knows as raft leader; no series while none is known.", "node"),
		isLeader: d("vigil_is_leader", "1 if this node is the raft leader (the coordinator), else 0."),

		raftState:   d("vigil_raft_state", "1 for this node's raft state, 0 for the others.", "state"),
		raftTerm:    d("vigil_raft_term", "This node's raft term."),
		raftLast:    d("vigil_raft_last_index", "Index of the newest entry in this node's raft log."),
		raftCommit:  d("vigil_raft_commit_index", "Raft commit index as this node knows it."),
		raftApplied: d("vigil_raft_applied_index", "Raft index this node has applied."),
		raftRefused: d("vigil_raft_refused_connections_total", "Raft connections refused (bad or missing cluster authentication)."),

		linkUp:   d("vigil_link_up", "1 if heartbeats arrive from the peer on the link, else 0.", "peer", "link", "address"),
		linkLoss: d("vigil_link_loss_ratio", "Fraction of recent heartbeats from the peer lost on the link (0..1).", "peer", "link"),
		linkRTT:  d("vigil_link_rtt_seconds", "Newest heartbeat round trip to the peer on the link; no series while unknown.", "peer", "link"),

		resState:  d("vigil_resource_state", "1 for a resource's committed state, 0 for the others; node is where it runs, failed or is blocked (\"\" when stopped).", "resource", "kind", "state", "node"),
		resTarget: d("vigil_resource_target", "1 for the node the coordinator placed a resource on; no series while placed nowhere.", "resource", "node"),
		resFails:  d("vigil_resource_failcount", "A resource's fail count, summed over nodes (expired counts included).", "resource"),

		hbSent:       d("vigil_heartbeats_sent_total", "Heartbeat packets sent."),
		hbSendErrors: d("vigil_heartbeat_send_errors_total", "Heartbeat packets that could not be sent."),
		hbReceived:   d("vigil_heartbeats_received_total", "Heartbeat packets received and accepted."),
		hbDropped:    d("vigil_heartbeats_dropped_total", "Heartbeat packets received and dropped, by reason.", "reason"),

		leaseHeld:      d("vigil_lease_held", "1 if this node holds its lease on its resources, else 0 (always 0 on a witness)."),
		leaseRemaining: d("vigil_lease_remaining_seconds", "Time left on this node's lease."),
		watchdog:       d("vigil_watchdog_present", "1 if this node feeds a watchdog device, else 0."),
		fenceLast:      d("vigil_fence_last", "1 for the outcome of the newest fencing of a node (ok=\"true\" or \"false\"); no series if it was never fenced or a fence is under way.", "node", "ok"),
	}
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("metrics collector: %w", err)
	}
	return c, nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{
		c.info, c.nodeState, c.nodeCommitted, c.nodeLastHeard,
		c.quorum, c.quorumVoters, c.quorumNeeded, c.quorumPresent,
		c.leader, c.isLeader,
		c.raftState, c.raftTerm, c.raftLast, c.raftCommit, c.raftApplied, c.raftRefused,
		c.linkUp, c.linkLoss, c.linkRTT,
		c.resState, c.resTarget, c.resFails,
		c.hbSent, c.hbSendErrors, c.hbReceived, c.hbDropped,
		c.leaseHeld, c.leaseRemaining, c.watchdog, c.fenceLast,
	} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.src.Status()
	gauge := func(d *prometheus.Desc, v float64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, labels...)
	}
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	// oneOf exports 1 for cur and 0 for the other known states.
	oneOf := func(d *prometheus.Desc, known []string, cur string, labels func(state string) []string) {
		for _, st := range known {
			gauge(d, b2f(st == cur), labels(st)...)
		}
		if cur != "" && !slices.Contains(known, cur) {
			gauge(d, 1, labels(cur)...)
		}
	}

	gauge(c.info, 1, s.Cluster, s.Node, s.Profile)
	for _, n := range s.Nodes {
		oneOf(c.nodeState, nodeStates, n.State, func(st string) []string { return []string{n.Name, st} })
		oneOf(c.nodeCommitted, nodeStates, n.Committed, func(st string) []string { return []string{n.Name, st} })
		if !n.LastHeard.IsZero() {
			gauge(c.nodeLastHeard, float64(n.LastHeard.UnixNano())/1e9, n.Name)
		}
		if ok, final := fenceOutcome(n.Fence); final {
			gauge(c.fenceLast, 1, n.Name, strconv.FormatBool(ok))
		}
		if n.Self {
			continue // its own links are always up and say nothing
		}
		for _, l := range n.Links {
			link := strconv.Itoa(l.Index)
			gauge(c.linkUp, b2f(l.State == "online"), n.Name, link, l.Address)
			gauge(c.linkLoss, l.Loss, n.Name, link)
			if l.RTTMillis > 0 {
				gauge(c.linkRTT, math.Round(l.RTTMillis*1000)/1e6, n.Name, link) // to the µs the status has
			}
		}
	}

	gauge(c.quorum, b2f(s.Quorum))
	gauge(c.quorumVoters, float64(s.QuorumDetail.Voters))
	gauge(c.quorumNeeded, float64(s.QuorumDetail.Needed))
	gauge(c.quorumPresent, float64(len(s.QuorumDetail.Present)))
	if s.Leader != "" {
		gauge(c.leader, 1, s.Leader)
	}
	gauge(c.isLeader, b2f(s.Leader != "" && s.Leader == s.Node))

	oneOf(c.raftState, raftStates, s.Raft.State, func(st string) []string { return []string{st} })
	gauge(c.raftTerm, float64(s.Raft.Term))
	gauge(c.raftLast, float64(s.Raft.LastIndex))
	gauge(c.raftCommit, float64(s.Raft.CommitIndex))
	gauge(c.raftApplied, float64(s.Raft.AppliedIndex))
	counter(c.raftRefused, s.Raft.Refused)

	for _, r := range s.Resources {
		oneOf(c.resState, resourceStates, r.State, func(st string) []string { return []string{r.ID, r.Kind, st, r.Node} })
		if r.Target != "" {
			gauge(c.resTarget, 1, r.ID, r.Target)
		}
		gauge(c.resFails, float64(r.FailCount), r.ID)
	}

	h := s.Heartbeat
	counter(c.hbSent, h.Sent)
	counter(c.hbSendErrors, h.SendErrors)
	counter(c.hbReceived, h.Received)
	for _, d := range []struct {
		reason string
		n      uint64
	}{
		{"malformed", h.Malformed}, {"forged", h.Forged}, {"replayed", h.Replayed},
		{"stale", h.Stale}, {"unknown_sender", h.UnknownSender}, {"wrong_receiver", h.WrongReceiver},
	} {
		counter(c.hbDropped, d.n, d.reason)
	}

	gauge(c.leaseHeld, b2f(s.Lease.Held))
	gauge(c.leaseRemaining, max(s.Lease.RemainingMillis, 0)/1000)
	gauge(c.watchdog, b2f(s.Watchdog != ""))
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
