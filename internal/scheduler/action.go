package scheduler

import (
	"fmt"
	"slices"

	"github.com/vigil-ha/vigil/internal/model"
)

// A phase is half of what happens to a resource: its stop on one node or
// its start on another. Ordering works on phases; a resource whose stop
// and start can run back to back becomes one move or restart action.
type phase struct {
	res   int
	start bool
	node  int
}

// actions turns the placement into Plan.Placement, Plan.Why and the
// ordered Plan.Actions.
func (s *sched) actions() {
	for i := range s.res {
		x := &s.res[i]
		if x.unit == none {
			continue
		}
		node := s.nodeName(x.target)
		if x.frozen && x.target == none && x.rec.State == model.ResourceBlocked {
			node = x.rec.Node
		}
		s.plan.Placement[x.r.ID] = node
		if x.target == none && x.why == "" {
			x.why = "no node can run it"
		}
		if x.why != "" && (x.frozen || x.target == none) {
			s.plan.Why[x.r.ID] = x.why
		}
	}

	n := len(s.res)
	stopAt := make([]int, n)
	startAt := make([]int, n)
	forced := make([]string, n)
	var queue []int
	for i := range s.res {
		x := &s.res[i]
		stopAt[i], startAt[i] = none, none
		if x.frozen || x.unit == none {
			continue
		}
		if x.cur != none && (x.target != x.cur || x.failed) {
			stopAt[i] = x.cur
		}
		if x.target != none && (x.target != x.cur || x.failed) {
			startAt[i] = x.target
		}
		if stopAt[i] != none || x.lostFrom != "" {
			queue = append(queue, i)
		}
	}
	// What is ordered after a resource that goes down (a later group
	// member, the Then of a mandatory order) and stays where it is must
	// restart: it may not run while what it needs is down.
	force := func(t int, why string) {
		if t == none {
			return
		}
		x := &s.res[t]
		if x.frozen || x.cur == none || x.target != x.cur || stopAt[t] != none {
			return
		}
		stopAt[t], startAt[t], forced[t] = x.cur, x.cur, why
		queue = append(queue, t)
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		x := &s.res[i]
		u := &s.units[x.unit]
		what := s.goesDown(i, stopAt[i], startAt[i])
		if x.pos+1 < len(u.members) {
			force(u.members[x.pos+1], fmt.Sprintf("restart: %s first (group %s)", what, u.id))
		}
		for _, id := range s.asFirst(i) {
			for _, oi := range s.ordFirst[id] {
				o := s.in.Config.Constraints.Orders[oi]
				if o.Kind == model.OrderMandatory {
					force(s.firstRes(o.Then), fmt.Sprintf("restart: %s first (mandatory order %s)", what, o.ID))
				}
			}
		}
	}

	// Phases and the edges between them.
	var phases []phase
	stopPh := make([]int, n)
	startPh := make([]int, n)
	for i := range s.res {
		stopPh[i], startPh[i] = none, none
		if stopAt[i] != none {
			stopPh[i] = len(phases)
			phases = append(phases, phase{res: i, node: stopAt[i]})
		}
		if startAt[i] != none {
			startPh[i] = len(phases)
			phases = append(phases, phase{res: i, start: true, node: startAt[i]})
		}
	}
	if len(phases) == 0 {
		s.plan.Actions = []model.Action{}
		return
	}
	type edge struct{ from, to int }
	var edges []edge
	link := func(a, b int) {
		if a != none && b != none && a != b {
			edges = append(edges, edge{a, b})
		}
	}
	for i := range s.res {
		link(stopPh[i], startPh[i])
	}
	for _, u := range s.units {
		prev := none
		for _, m := range u.members {
			if startPh[m] != none {
				link(prev, startPh[m])
				prev = startPh[m]
			}
		}
		prev = none
		for k := len(u.members) - 1; k >= 0; k-- {
			if m := u.members[k]; stopPh[m] != none {
				link(prev, stopPh[m])
				prev = stopPh[m]
			}
		}
	}
	pick := func(ms []int, ph []int, last bool) int {
		for k := range ms {
			if last {
				k = len(ms) - 1 - k
			}
			if ph[ms[k]] != none {
				return ph[ms[k]]
			}
		}
		return none
	}
	for _, o := range s.in.Config.Constraints.Orders {
		if !s.known(o.First) || !s.known(o.Then) {
			continue
		}
		f, t := s.members(o.First), s.members(o.Then)
		// First's last start before Then's first; Then's last stop (its
		// first member's) before First's first stop (its last member's).
		link(pick(f, startPh, true), pick(t, startPh, false))
		tStop := pick(t, stopPh, false)
		if fStop := pick(f, stopPh, true); fStop != none {
			link(tStop, fStop)
		} else if o.Kind == model.OrderMandatory && s.lost(f) {
			link(tStop, pick(f, startPh, false))
		}
	}
	// Two resources that must never share a node: one starts on a node
	// only after the other has stopped there.
	for _, c := range s.in.Config.Constraints.Colocations {
		if c.Score > model.MinusInfinity || !s.known(c.Resource) || !s.known(c.With) {
			continue
		}
		a, b := s.members(c.Resource), s.members(c.With)
		for _, p := range [2][2][]int{{a, b}, {b, a}} {
			for _, i := range p[0] {
				for _, j := range p[1] {
					if startPh[i] != none && stopPh[j] != none && startAt[i] == stopAt[j] {
						link(stopPh[j], startPh[i])
					}
				}
			}
		}
	}

	// Contract each resource's stop and start into one action when nothing
	// must happen between them: its stop is followed by nothing else, or
	// its start waits for nothing else.
	np := len(phases)
	outs := make([][]int, np)
	ins := make([][]int, np)
	for _, e := range edges {
		outs[e.from] = append(outs[e.from], e.to)
		ins[e.to] = append(ins[e.to], e.from)
	}
	parent := make([]int, np)
	for i := range parent {
		parent[i] = i
	}
	find := func(p int) int {
		for parent[p] != p {
			parent[p] = parent[parent[p]]
			p = parent[p]
		}
		return p
	}
	only := func(adj []int, other int) bool {
		for _, q := range adj {
			if find(q) != other {
				return false
			}
		}
		return true
	}
	for i := range s.res {
		sp, tp := stopPh[i], startPh[i]
		if sp == none || tp == none {
			continue
		}
		if only(outs[sp], tp) || only(ins[tp], sp) {
			parent[tp] = sp
		}
	}

	// Order the actions: a topological order of the contracted graph,
	// choosing stops first, then moves and restarts, then starts, each in
	// configuration order; a cycle (optional orders may form one) is
	// broken at the first action in that order.
	key := func(p int) int {
		ph := phases[p]
		switch {
		case find(p) != p:
			return -1
		case !ph.start && startPh[ph.res] != none && find(startPh[ph.res]) == p:
			return n + ph.res
		case ph.start:
			return 2*n + ph.res
		}
		return ph.res
	}
	var reps []int
	byKey := make([]int, 3*n)
	for p := range phases {
		if k := key(p); k >= 0 {
			reps = append(reps, k)
			byKey[k] = p
		}
	}
	slices.Sort(reps)
	succ := make([][]int, np)
	indeg := make([]int, np)
	for _, e := range edges {
		a, b := find(e.from), find(e.to)
		if a == b {
			continue
		}
		succ[a] = append(succ[a], b)
		indeg[b]++
	}
	index := make([]int, np)
	for i := range index {
		index[i] = none
	}
	var ready minHeap
	for _, k := range reps {
		if indeg[byKey[k]] == 0 {
			ready.push(k)
		}
	}
	next := 0
	acts := make([]model.Action, 0, len(reps))
	preds := make([][]int, np)
	for _, e := range edges {
		a, b := find(e.from), find(e.to)
		if a != b {
			preds[b] = append(preds[b], a)
		}
	}
	for len(acts) < len(reps) {
		var p int
		if len(ready) > 0 {
			p = byKey[ready.pop()]
		} else {
			for index[byKey[reps[next]]] != none {
				next++
			}
			p = byKey[reps[next]]
		}
		var after []int
		for _, q := range preds[p] {
			if index[q] != none {
				after = append(after, index[q])
			}
		}
		slices.Sort(after)
		after = slices.Compact(after)
		index[p] = len(acts)
		ph := phases[p]
		whole := !ph.start && startPh[ph.res] != none && find(startPh[ph.res]) == p
		acts = append(acts, s.action(ph, whole, after, forced))
		for _, q := range succ[p] {
			indeg[q]--
			if indeg[q] == 0 && index[q] == none {
				ready.push(key(q))
			}
		}
	}
	s.plan.Actions = acts
}

// action builds the action for a phase; whole says a stop phase carries
// its start too (a move or a restart).
func (s *sched) action(ph phase, whole bool, after []int, forced []string) model.Action {
	x := &s.res[ph.res]
	a := model.Action{Resource: x.r.ID, After: after}
	switch {
	case whole && x.cur == x.target:
		a.Kind, a.Node = model.ActionRestart, s.nodes[x.target].Name
	case whole:
		a.Kind, a.Node, a.From = model.ActionMove, s.nodes[x.target].Name, s.nodes[x.cur].Name
	case ph.start:
		a.Kind, a.Node = model.ActionStart, s.nodes[ph.node].Name
	default:
		a.Kind, a.Node = model.ActionStop, s.nodes[ph.node].Name
	}
	switch {
	case x.failed && x.cur == x.target:
		a.Reason = s.recoverWhy(x)
	case forced[ph.res] != "":
		a.Reason = forced[ph.res]
	case x.cur != none && x.target != none:
		a.Reason = s.moveWhy(x)
		if x.failed {
			a.Reason = s.recoverWhat(x) + "; " + a.Reason
		}
		if !whole && ph.start {
			a.Reason = fmt.Sprintf("move from %s: %s", s.nodes[x.cur].Name, a.Reason)
		} else if !whole {
			a.Reason = fmt.Sprintf("move to %s: %s", s.nodes[x.target].Name, a.Reason)
		}
	case ph.start && x.lostFrom != "":
		a.Reason = x.lostWhy
	case ph.start:
		u := &s.units[x.unit]
		a.Reason = fmt.Sprintf("best node %s (score %s)", s.nodes[ph.node].Name, u.score[ph.node])
	default:
		a.Reason = x.why
	}
	return a
}

// goesDown describes how resource i goes down, for the restarts it forces.
func (s *sched) goesDown(i, stop, start int) string {
	x := &s.res[i]
	id := x.r.ID
	switch {
	case stop == none:
		return fmt.Sprintf("%s recovers from node %s", id, x.lostFrom)
	case start == none:
		return fmt.Sprintf("%s stops", id)
	case stop == start:
		return fmt.Sprintf("%s restarts", id)
	}
	return fmt.Sprintf("%s moves", id)
}

// asFirst returns the names under which resource i is the First of an
// order: its id, and its group's if it is the group's last member.
func (s *sched) asFirst(i int) []model.ResourceID {
	x := &s.res[i]
	u := &s.units[x.unit]
	if u.group != nil && x.pos == len(u.members)-1 {
		return []model.ResourceID{x.r.ID, u.id}
	}
	return []model.ResourceID{x.r.ID}
}

// lost reports whether any of the resources ran on a node now offline.
func (s *sched) lost(rs []int) bool {
	for _, i := range rs {
		if s.res[i].lostFrom != "" {
			return true
		}
	}
	return false
}

// recoverWhat says what failed.
func (s *sched) recoverWhat(x *rsc) string {
	what := x.rec.Reason
	if what == "" {
		what = "failed"
	}
	return "recover: " + what
}

// recoverWhy explains a restart in place after a failure.
func (s *sched) recoverWhy(x *rsc) string {
	count, expired := s.failCount(x, x.cur)
	switch {
	case count == 0 || expired:
		return s.recoverWhat(x)
	case x.threshold > 0:
		return fmt.Sprintf("%s, failcount %d < migration-threshold %d", s.recoverWhat(x), count, x.threshold)
	}
	return fmt.Sprintf("%s, failcount %d (no migration-threshold)", s.recoverWhat(x), count)
}

// moveWhy explains why x leaves its node: the ban there (the first
// -INFINITY term of its unit on that node), or a better score elsewhere.
func (s *sched) moveWhy(x *rsc) string {
	u := &s.units[x.unit]
	from, to := x.cur, x.target
	if u.score[from] <= model.MinusInfinity {
		for _, ns := range s.plan.Scores[u.id] {
			if ns.Node != s.nodes[from].Name {
				continue
			}
			for _, t := range ns.Terms {
				if t.Score <= model.MinusInfinity {
					return t.Reason
				}
			}
		}
	}
	if u.score[to] > u.score[from] {
		return fmt.Sprintf("%s scores %s, more than %s (%s)", s.nodes[to].Name, u.score[to], s.nodes[from].Name, u.score[from])
	}
	return fmt.Sprintf("%s ties with %s at %s and runs fewer resources", s.nodes[to].Name, s.nodes[from].Name, u.score[to])
}
