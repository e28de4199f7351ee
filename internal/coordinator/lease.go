package coordinator

import (
	"maps"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
)

// renewals remembers, for every node, the newest renewal count this node
// has applied and when (its own clock) it first saw that count. That time
// is never before the holder sent the renewal, which is what the lease
// arithmetic needs. It runs on every node, leader or not, so that a new
// leader judges on what it saw as a follower. Owned by Run.
type renewals struct {
	seen map[model.NodeID]seenRenewal
}

type seenRenewal struct {
	count uint64
	at    time.Time
}

// observe records the counts of st at now. A node seen for the first
// time counts as renewed now: this node cannot know better (after a
// daemon restart, say), and later is the safe side.
func (r *renewals) observe(nodes []model.Node, st model.ClusterState, now time.Time) {
	if r.seen == nil {
		r.seen = map[model.NodeID]seenRenewal{}
	}
	for _, n := range nodes {
		c := st.Leases[n.Name]
		if s, ok := r.seen[n.Name]; !ok || s.count != c {
			r.seen[n.Name] = seenRenewal{count: c, at: now}
		}
	}
}

// judgement is what the coordinator makes of the leases at one instant.
type judgement struct {
	// held: offline nodes whose lease may still be valid, until when.
	held map[model.NodeID]time.Time
	// ended: nodes committed online whose lease has certainly ended; they
	// can hold nothing, so the scheduler sees them as offline.
	ended []model.NodeID
	// takeover: nodes whose lease ended and on which the committed state
	// still records resources, with the renewal count that was judged.
	takeover map[model.NodeID]uint64
	// fence: nodes to fence (withFencing), sorted, with why.
	fence    []model.NodeID
	fenceWhy map[model.NodeID]string
}

// withFencing applies fencing to j. A node that a device covers (covered)
// is fenced when it is lost while it may still run resources (its lease
// may be valid, or it ended with resources recorded there), or when a
// stop failed on it; and what it ran is not taken over on the lease alone:
// it stays held until the fence succeeds (which records it stopped) or an
// operator confirms the node down. Fencing thus never makes recovery
// wait longer than the lease unless the fence fails.
func (j judgement) withFencing(st model.ClusterState, covered func(model.NodeID) bool) judgement {
	add := func(n model.NodeID, why string) {
		if j.fenceWhy == nil {
			j.fenceWhy = map[model.NodeID]string{}
		}
		if _, ok := j.fenceWhy[n]; !ok {
			j.fenceWhy[n] = why
			j.fence = append(j.fence, n)
		}
	}
	runs := map[model.NodeID]bool{}
	for _, rec := range st.Resources {
		if rec.Node != "" && rec.State != model.ResourceStopped {
			runs[rec.Node] = true
		}
	}
	for _, n := range names(j.held) {
		if covered(n) && runs[n] {
			add(n, "lost while it may still hold its lease")
		}
	}
	for _, n := range names(j.takeover) {
		if !covered(n) {
			continue
		}
		delete(j.takeover, n)
		if j.held == nil {
			j.held = map[model.NodeID]time.Time{}
		}
		j.held[n] = time.Time{} // until fenced
		add(n, "lost with resources recorded there")
	}
	for _, id := range slices.Sorted(maps.Keys(st.Resources)) {
		if rec := st.Resources[id]; rec.State == model.ResourceBlocked && rec.Node != "" && covered(rec.Node) {
			add(rec.Node, "a stop of "+string(id)+" failed there")
		}
	}
	slices.Sort(j.fence)
	return j
}

// judge says, for every configured node, whether its lease may still be
// valid at now (invariant 1). It is pure given r.
func (r *renewals) judge(nodes []model.Node, st model.ClusterState, now time.Time, c lease.Config) judgement {
	var j judgement
	holds := map[model.NodeID]bool{}
	for _, rec := range st.Resources {
		if rec.Node != "" && (rec.State == model.ResourceStarted || rec.State == model.ResourceStarting || rec.State == model.ResourceFailed) {
			holds[rec.Node] = true
		}
	}
	for _, n := range nodes {
		s := r.seen[n.Name]
		online := st.Nodes[n.Name].State == model.NodeOnline
		if !lease.CertainlyExpired(s.at, now, c) {
			if !online {
				if j.held == nil {
					j.held = map[model.NodeID]time.Time{}
				}
				j.held[n.Name] = lease.ExpiresBy(s.at, c)
			}
			continue
		}
		if online {
			j.ended = append(j.ended, n.Name)
		}
		if holds[n.Name] {
			if j.takeover == nil {
				j.takeover = map[model.NodeID]uint64{}
			}
			j.takeover[n.Name] = s.count
		}
	}
	return j
}

// scheduled is st as the scheduler should see it under j: a node whose
// lease ended is offline, whatever heartbeats say.
func (j judgement) scheduled(st model.ClusterState) model.ClusterState {
	if len(j.ended) == 0 {
		return st
	}
	st.Nodes = maps.Clone(st.Nodes)
	for _, n := range j.ended {
		rec := st.Nodes[n]
		rec.State = model.NodeOffline
		st.Nodes[n] = rec
	}
	return st
}

// names lists a set's nodes, sorted, for logs.
func names[V any](m map[model.NodeID]V) []model.NodeID {
	return slices.Sorted(maps.Keys(m))
}
