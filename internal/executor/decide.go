package executor

import (
	"fmt"
	"maps"
	"slices"

	"github.com/vigil-ha/vigil/internal/model"
)

// opKind is what an operation does to a resource on this node.
type opKind string

const (
	opProbe   opKind = "probe"   // first monitor, to learn what already runs here
	opStart   opKind = "start"   // start here
	opStop    opKind = "stop"    // stop here
	opRestart opKind = "restart" // recover in place: stop, then start
	opMonitor opKind = "monitor" // recurring health check
)

// op is one operation to run.
type op struct {
	kind   opKind
	res    model.Resource
	reason string
}

func (o op) String() string { return fmt.Sprintf("%s %s (%s)", o.kind, o.res.ID, o.reason) }

// view is everything decide looks at.
type view struct {
	self   model.NodeID
	cfg    model.Config
	st     model.ClusterState
	local  map[model.ResourceID]model.Health // absent: not probed yet
	busy   map[model.ResourceID]bool         // an operation is in flight
	quorum bool
	boot   uint64 // this daemon's incarnation; 0: do not wait for it
}

// decide returns the operations this node should start now to converge on
// the committed targets. It is pure. Ordering is honoured by waiting: a
// start waits until everything it depends on has started, a stop waits
// until everything that depends on it here has stopped, and a start on a
// new node waits until the old node has stopped it (or is offline).
func decide(v view) []op {
	var out []op
	if v.st.Nodes[v.self].Maintenance {
		return nil // invariant: maintenance means hands off
	}
	for _, r := range v.cfg.Resources {
		if v.busy[r.ID] {
			continue
		}
		h, probed := v.local[r.ID]
		if !probed {
			out = append(out, op{opProbe, r, "learn what runs here"})
			continue
		}
		running := h == model.HealthRunning
		rec := v.st.Resources[r.ID]
		if rec.State == model.ResourceBlocked && rec.Node == v.self {
			continue // a failed stop: hands off until cleanup
		}
		if !v.quorum {
			// Invariant 4: no quorum, no action; stop only if the policy says.
			if h != model.HealthStopped && v.cfg.Options.NoQuorumPolicy != model.NoQuorumFreeze {
				out = append(out, op{opStop, r, "no quorum (no-quorum-policy stop)"})
			}
			continue
		}
		if !v.st.Fresh() {
			continue // the coordinator has not yet placed the newest change
		}
		if v.boot != 0 && v.st.Nodes[v.self].Boot != v.boot {
			// The cluster has not yet committed this incarnation online:
			// what is applied here may be history replayed from the log
			// after a restart, with targets long since moved (invariant 1).
			continue
		}
		target := v.st.Targets[r.ID]
		switch {
		case target == v.self && h == model.HealthFailed:
			out = append(out, op{opRestart, r, "recover in place: " + rec.Reason})
		case target == v.self && !running:
			if why := v.startBlocked(r, rec); why == "" {
				out = append(out, op{opStart, r, "placed here"})
			}
		case target != v.self && h != model.HealthStopped:
			if v.dependentRunning(r) == "" {
				reason := "placed on " + string(target)
				if target == "" {
					reason = "placed nowhere"
				}
				out = append(out, op{opStop, r, reason})
			}
		}
	}
	return out
}

// startBlocked says why r may not start here yet, or "".
func (v view) startBlocked(r model.Resource, rec model.ResourceRecord) string {
	if rec.Node != "" && rec.Node != v.self && rec.State != model.ResourceStopped {
		if v.st.Nodes[rec.Node].State != model.NodeOffline {
			return fmt.Sprintf("still %s on %s", rec.State, rec.Node)
		}
	}
	for _, first := range v.predecessors(r) {
		fr := v.st.Resources[first]
		if fr.State != model.ResourceStarted {
			return fmt.Sprintf("waiting for %s to start", first)
		}
		// The member before r in its group must run here, not merely
		// somewhere: during a move the record may still name the old node.
		if f, ok := v.cfg.Resource(first); ok && r.Group != "" && f.Group == r.Group &&
			(fr.Node != v.self || v.local[first] != model.HealthRunning) {
			return fmt.Sprintf("waiting for %s to start here", first)
		}
	}
	return ""
}

// dependentRunning names a resource running here that must stop before r.
func (v view) dependentRunning(r model.Resource) string {
	for _, d := range v.cfg.Resources {
		if v.local[d.ID] == model.HealthStopped || v.local[d.ID] == "" {
			continue
		}
		for _, first := range v.predecessors(d) {
			if first == r.ID {
				return string(d.ID)
			}
		}
	}
	return ""
}

// predecessors are the resources that must run before r starts: the member
// before it in its group, and the First side of mandatory orders whose
// Then side is r or r's group (a group as First means its last member).
func (v view) predecessors(r model.Resource) []model.ResourceID {
	var out []model.ResourceID
	groups := map[model.ResourceID][]model.ResourceID{}
	for _, g := range v.cfg.Groups {
		groups[g.ID] = g.Members
	}
	if r.Group != "" {
		members := groups[r.Group]
		for i, m := range members {
			if m == r.ID && i > 0 {
				out = append(out, members[i-1])
			}
		}
	}
	for _, o := range v.cfg.Constraints.Orders {
		if o.Kind == model.OrderOptional {
			continue
		}
		isThen := o.Then == r.ID
		if ms, ok := groups[o.Then]; ok && len(ms) > 0 && ms[0] == r.ID {
			isThen = true // a group as Then: its first member waits
		}
		if !isThen {
			continue
		}
		if ms, ok := groups[o.First]; ok {
			if len(ms) > 0 {
				out = append(out, ms[len(ms)-1])
			}
		} else {
			out = append(out, o.First)
		}
	}
	return out
}

// reconfigure returns the stops that a configuration applied at run time
// calls for here: a resource that runs here (as ran says) but is no longer
// configured, or whose kind or parameters changed, is stopped with the
// definition it runs with; decide then starts the new one where it is
// placed (a parameter change is a restart, as in Pacemaker). It is pure,
// and orders its result by resource.
func reconfigure(v view, ran map[model.ResourceID]model.Resource) []op {
	if v.st.Nodes[v.self].Maintenance || (v.boot != 0 && v.st.Nodes[v.self].Boot != v.boot) {
		return nil // hands off; or the state may be replayed history
	}
	var out []op
	for _, id := range slices.Sorted(maps.Keys(ran)) {
		old := ran[id]
		if v.busy[id] || v.local[id] == model.HealthStopped {
			continue
		}
		cur, ok := v.cfg.Resource(id)
		switch {
		case !ok:
			out = append(out, op{opStop, old, "removed from the configuration"})
		case cur.Kind != old.Kind || !maps.Equal(cur.Params, old.Params):
			out = append(out, op{opStop, old, "parameters changed"})
		}
	}
	return out
}
