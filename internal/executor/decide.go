package executor

import (
	"fmt"
	"maps"
	"slices"
	"strings"

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
	opRelease opKind = "release" // give up a claim whose start never ran
)

// op is one operation to run.
type op struct {
	kind   opKind
	res    model.Resource
	reason string
	// chain is set for an operator's restart (opRestart): everything it
	// stops and starts again here, in start order, res first. They stop in
	// reverse, then start in order, as one operation: the cluster sees
	// only the outcome, so nothing is placed anew meanwhile.
	chain []model.Resource
	// seq numbers the op as the loop dispatched it, so that the result of
	// a monitor overtaken by a later op on the same resource (a stop the
	// lease forced while the monitor waited on its check) is dropped.
	seq uint64
}

func (o op) String() string {
	if o.chain != nil {
		return fmt.Sprintf("%s %s (%s)", o.kind, chainIDs(o.chain), o.reason)
	}
	return fmt.Sprintf("%s %s (%s)", o.kind, o.res.ID, o.reason)
}

// chainIDs names a restart's resources, in start order.
func chainIDs(chain []model.Resource) string {
	ids := make([]string, len(chain))
	for i, r := range chain {
		ids[i] = string(r.ID)
	}
	return strings.Join(ids, ",")
}

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
			out = append(out, op{kind: opProbe, res: r, reason: "learn what runs here"})
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
				out = append(out, op{kind: opStop, res: r, reason: "no quorum (no-quorum-policy stop)"})
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
			// A restart starts r again, so it waits for what r depends on
			// like any start. A member whose predecessor does not run
			// here (the lease stopped the VIP before the service's
			// monitor failed) is stopped instead; it starts once its
			// predecessor runs. Restarting it could only fail (it cannot
			// bind the VIP), and the failed start would ban it here.
			if why := v.predecessorMissing(r); why != "" {
				if v.dependentRunning(r) == "" {
					out = append(out, op{kind: opStop, res: r, reason: "failed; " + why})
				}
				break
			}
			out = append(out, op{kind: opRestart, res: r, reason: "recover in place: " + rec.Reason})
		case target == v.self && !running:
			if why := v.startBlocked(r, rec); why == "" {
				out = append(out, op{kind: opStart, res: r, reason: "placed here"})
			}
		case target != v.self && h == model.HealthStopped && rec.Node == v.self && rec.State == model.ResourceStarting:
			// Claimed here, never started (the claim's answer was lost,
			// or the lease ran short), and placed elsewhere since: the
			// claim would hold the new node back.
			out = append(out, op{kind: opRelease, res: r, reason: "claimed here but not started; placed on " + string(target)})
		case target != v.self && h != model.HealthStopped:
			if v.dependentRunning(r) == "" {
				reason := "placed on " + string(target)
				if target == "" {
					reason = "placed nowhere"
				}
				out = append(out, op{kind: opStop, res: r, reason: reason})
			}
		}
	}
	return out
}

// startBlocked says why r may not start here yet, or "".
func (v view) startBlocked(r model.Resource, rec model.ResourceRecord) string {
	if on := v.st.MayRun(r.ID); on != "" && on != v.self {
		return fmt.Sprintf("still %s on %s", rec.State, on)
	}
	return v.predecessorMissing(r)
}

// predecessorMissing says which of r's predecessors has not started as a
// start of r here requires, or "".
func (v view) predecessorMissing(r model.Resource) string {
	for _, first := range v.predecessors(r) {
		fr := v.st.Resources[first]
		if f, ok := v.cfg.Resource(first); ok && r.Group != "" && f.Group == r.Group {
			// The member before r in its group must run here, not merely
			// somewhere: during a move the record may still name the old
			// node. Its committed claim made it this node's, so once it
			// runs here r need not wait for the report of that to commit
			// (a raft round on the failover's critical path); r's own
			// claim still commits before r starts.
			if fr.Node != v.self || v.local[first] != model.HealthRunning ||
				(fr.State != model.ResourceStarted && fr.State != model.ResourceStarting) {
				return fmt.Sprintf("waiting for %s to start here", first)
			}
			continue
		}
		if fr.State != model.ResourceStarted {
			return fmt.Sprintf("waiting for %s to start", first)
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
			out = append(out, op{kind: opStop, res: old, reason: "removed from the configuration"})
		case cur.Kind != old.Kind || !maps.Equal(cur.Params, old.Params):
			out = append(out, op{kind: opStop, res: old, reason: "parameters changed"})
		}
	}
	return out
}

// operatorRestart is the reason of an operator's restart.
const operatorRestart = "restart requested by operator"

// lapse is a restart request this node deals with by doing nothing.
type lapse struct {
	resource model.ResourceID
	why      string
}

// restarts returns the operators' restarts to run here now, the restart
// counts this executor has dealt with afterwards (seen, as it now is),
// and the requests for this node that it dropped, with why. It is pure,
// and orders its result by resource.
//
// seen is nil until the cluster has committed this incarnation (the Boot
// gate of decide); then it starts as the committed counts, so that what
// was requested before, replayed from the log after a daemon restart,
// restarts nothing. A request is acted on once, when its count differs
// from seen: in maintenance or without quorum it lapses (invariant 4; and
// leaving maintenance must not restart on old news), and it waits only
// while the placement is stale or what it restarts is busy or unprobed.
func restarts(v view, seen map[model.ResourceID]uint64) ([]op, map[model.ResourceID]uint64, []lapse) {
	if v.boot != 0 && v.st.Nodes[v.self].Boot != v.boot {
		return nil, seen, nil
	}
	next := make(map[model.ResourceID]uint64, len(v.st.Restarts))
	if seen == nil {
		for id, req := range v.st.Restarts {
			next[id] = req.Count
		}
		return nil, next, nil
	}
	var out []op
	var lapsed []lapse
	v.busy = maps.Clone(v.busy) // what an earlier request restarts is busy for a later one
	if v.busy == nil {
		v.busy = map[model.ResourceID]bool{}
	}
	for _, id := range slices.Sorted(maps.Keys(v.st.Restarts)) {
		req := v.st.Restarts[id]
		next[id] = seen[id] // only what is requested is kept: a removed resource is forgotten
		if req.Count == seen[id] {
			continue
		}
		if req.Node != v.self {
			next[id] = req.Count // another node's
			continue
		}
		var why string
		switch {
		case v.st.Nodes[v.self].Maintenance:
			why = "node in maintenance"
		case !v.quorum:
			why = "no quorum"
		case !v.st.Fresh():
			continue // the coordinator has not yet placed the newest change
		}
		var chain []model.Resource
		if why == "" {
			var wait bool
			chain, why, wait = v.restartChain(id)
			if wait {
				continue
			}
		}
		next[id] = req.Count
		if why != "" {
			lapsed = append(lapsed, lapse{id, why})
			continue
		}
		out = append(out, op{kind: opRestart, res: chain[0], reason: operatorRestart, chain: chain})
		for _, r := range chain {
			v.busy[r.ID] = true
		}
	}
	return out, next, lapsed
}

// restartChain returns what a restart of id stops and starts again here:
// the resources of RestartSet that run (or failed) here and are placed
// here. It says why there is nothing to restart, or to wait, instead.
func (v view) restartChain(id model.ResourceID) (chain []model.Resource, why string, wait bool) {
	named := map[model.ResourceID]bool{}
	for _, m := range ownMembers(v.cfg, id) {
		named[m] = true
	}
	if len(named) == 0 {
		return nil, "not configured", false
	}
	var runsHere bool
	for _, rid := range RestartSet(v.cfg, id) {
		r, _ := v.cfg.Resource(rid)
		h, probed := v.local[rid]
		rec := v.st.Resources[rid]
		switch {
		case rec.State == model.ResourceBlocked && rec.Node == v.self:
			return nil, fmt.Sprintf("%s is blocked here (a stop failed)", rid), false
		case v.busy[rid] || !probed:
			return nil, "", true
		case h == model.HealthStopped:
			continue // not here
		case v.st.Targets[rid] != v.self:
			// Leaving: decide stops it first, then the restart goes on
			// without it, so that nothing runs here without what it
			// needs.
			return nil, "", true
		}
		runsHere = runsHere || named[rid]
		chain = append(chain, r)
	}
	if !runsHere {
		return nil, "not running here", false
	}
	return chain, "", false
}

// ownMembers is [id] for a resource, a group's members for a group, and
// nothing for an unknown ID.
func ownMembers(cfg model.Config, id model.ResourceID) []model.ResourceID {
	for _, g := range cfg.Groups {
		if g.ID == id {
			return g.Members
		}
	}
	if _, ok := cfg.Resource(id); ok {
		return []model.ResourceID{id}
	}
	return nil
}

// RestartSet returns the resources that a restart of id (a resource or a
// group) stops and starts again, in start order: id itself, or a group's
// members, and what depends on them, as Pacemaker restarts it: the
// members after a resource in its group, the Then side of a mandatory
// order, and a resource colocated with one of them at INFINITY, each
// transitively. Each comes after what it depends on, otherwise in the
// order of the configuration. It is pure; the daemon uses it to know what
// a restart it commits will have restarted.
func RestartSet(cfg model.Config, id model.ResourceID) []model.ResourceID {
	v := view{cfg: cfg}
	in := map[model.ResourceID]bool{}
	for _, m := range ownMembers(cfg, id) {
		in[m] = true
	}
	deps := map[model.ResourceID][]model.ResourceID{} // what each resource needs
	for _, r := range cfg.Resources {
		deps[r.ID] = append(deps[r.ID], v.predecessors(r)...)
	}
	for _, c := range cfg.Constraints.Colocations {
		if c.Score < model.Infinity {
			continue
		}
		with := ownMembers(cfg, c.With)
		for _, r := range ownMembers(cfg, c.Resource) {
			for _, w := range with {
				if w != r {
					deps[r] = append(deps[r], w)
				}
			}
		}
	}
	// needsIn: whether r needs some resource of the set, and whether
	// everything it needs there is done.
	needsIn := func(r model.ResourceID, done map[model.ResourceID]bool) (some, all bool) {
		all = true
		for _, d := range deps[r] {
			if in[d] {
				some = true
				all = all && done[d]
			}
		}
		return some, all
	}
	// Each round adds at least one dependent, or ends.
	for range cfg.Resources {
		grew := false
		for _, r := range cfg.Resources {
			if some, _ := needsIn(r.ID, nil); !in[r.ID] && some {
				in[r.ID], grew = true, true
			}
		}
		if !grew {
			break
		}
	}
	var out []model.ResourceID
	placed := map[model.ResourceID]bool{}
	for range cfg.Resources {
		for _, r := range cfg.Resources {
			if _, ready := needsIn(r.ID, placed); in[r.ID] && !placed[r.ID] && ready {
				placed[r.ID] = true
				out = append(out, r.ID)
			}
		}
	}
	for _, r := range cfg.Resources { // a cycle (an order against a colocation): as configured
		if in[r.ID] && !placed[r.ID] {
			out = append(out, r.ID)
		}
	}
	return out
}

// leaseGate keeps ops within this node's lease (invariant 1). When the
// lease must be given up, every resource that may run here and is not
// busy is stopped at once, in parallel and regardless of order (a VIP
// must not wait for the service behind it), and nothing else is done;
// no-quorum-policy freeze keeps resources only this long. While a start
// could not be stopped in time, no start or restart begins. Probes and
// monitors go on. It is pure.
func leaseGate(v view, ops []op, ran map[model.ResourceID]model.Resource, mayStart, mustStop bool) []op {
	if v.st.Nodes[v.self].Maintenance {
		return ops // hands off: the operator holds what runs there
	}
	if mustStop {
		var out []op
		stopping := map[model.ResourceID]bool{}
		add := func(r model.Resource) {
			if stopping[r.ID] || v.busy[r.ID] || v.local[r.ID] == model.HealthStopped {
				return
			}
			stopping[r.ID] = true
			out = append(out, op{kind: opStop, res: r, reason: "lease ending: stop before it does"})
		}
		for _, r := range v.cfg.Resources {
			if _, probed := v.local[r.ID]; probed {
				add(r)
			}
		}
		for _, id := range slices.Sorted(maps.Keys(ran)) {
			add(ran[id])
		}
		for _, o := range ops {
			if (o.kind == opProbe || o.kind == opMonitor) && !stopping[o.res.ID] {
				out = append(out, o)
			}
		}
		return out
	}
	if mayStart {
		return ops
	}
	var out []op
	for _, o := range ops {
		if o.kind != opStart && o.kind != opRestart {
			out = append(out, o)
		}
	}
	return out
}
