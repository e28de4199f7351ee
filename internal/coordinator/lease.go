package coordinator

import (
	"maps"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
)

// judgement is what the coordinator makes of the leases at one instant.
type judgement struct {
	// held: offline nodes whose lease may still be valid, until when.
	held map[model.NodeID]time.Time
	// ended: nodes committed online whose lease has certainly ended; they
	// can hold nothing, so the scheduler sees them as offline.
	ended []model.NodeID
	// takeover: nodes whose lease ended in their current generation, with
	// that generation; the placement raises it.
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
// wait longer than the lease unless the fence fails. The deciding node,
// self, is never lost to itself: a judgement that it is comes from its
// own stale record (a two-node survivor's recovered log can hold its
// peer's last view of it), and its executor and lease govern what it
// runs; a stop that failed on it still gets it fenced.
func (j judgement) withFencing(st model.ClusterState, self model.NodeID, covered func(model.NodeID) bool) judgement {
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
		if n != self && covered(n) && runs[n] {
			add(n, "lost while it may still hold its lease")
		}
	}
	for _, n := range names(j.takeover) {
		if n == self || !covered(n) || !runs[n] {
			continue // nothing to fence for: the takeover only moves its generation on
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
// valid at now (invariant 1). ended are the nodes whose lease has
// certainly ended, with the generation: enough of their peers retired it
// (package lease). A node ended in its current generation is taken over,
// even if it holds nothing, so that its generation moves past the retired
// one and its peers grant it again; an offline node that is not, and on
// which records of its generation name resources, is held.
// It is pure.
func judge(nodes []model.Node, st model.ClusterState, ended map[model.NodeID]uint64, now time.Time, c lease.Config) judgement {
	var j judgement
	for _, n := range nodes {
		online := st.Nodes[n.Name].State == model.NodeOnline
		gen, ok := ended[n.Name]
		if !ok || gen != st.LeaseGens[n.Name] {
			if !online && st.Records(n.Name) {
				if j.held == nil {
					j.held = map[model.NodeID]time.Time{}
				}
				j.held[n.Name] = now.Add(c.ObserverWait()) // at the earliest
			}
			continue
		}
		if online {
			j.ended = append(j.ended, n.Name)
		}
		if j.takeover == nil {
			j.takeover = map[model.NodeID]uint64{}
		}
		j.takeover[n.Name] = gen
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
