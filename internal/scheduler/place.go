package scheduler

import (
	"cmp"
	"fmt"
	"slices"
	"strings"

	"github.com/vigil-ha/vigil/internal/model"
)

// Owners of a score term within a unit: the unit as a whole, the
// influence of a resource colocated with it, or a member (its position).
const (
	ownerUnit      = -1
	ownerInfluence = -2
)

// fterm is one score term of a unit on one node.
type fterm struct {
	node  int32
	owner int32
	in    bool // counted in the unit's decision
	t     model.ScoreTerm
	// ban is, for a -INFINITY that a colocated resource's ban brought in,
	// that ban's own reason (not nested once per link of a chain).
	ban string
}

// builder sums a unit's score terms part by part. A part is either counted
// whole or, if it would leave no node able to run the unit, rolled back:
// Pacemaker's rule for merging a group's members and the preferences of
// colocated resources.
type builder struct {
	s     *sched
	score []model.Score // the decision: counted terms, folded in order
	tmp   []model.Score // the decision with the current part
	terms []fterm
	start int // where the current part's terms begin
}

func (s *sched) getBuilder() *builder {
	if n := len(s.free); n > 0 {
		b := s.free[n-1]
		s.free = s.free[:n-1]
		return b
	}
	return &builder{s: s, score: make([]model.Score, len(s.nodes)), tmp: make([]model.Score, len(s.nodes))}
}

func (s *sched) putBuilder(b *builder) {
	clear(b.score)
	b.terms = b.terms[:0]
	s.free = append(s.free, b)
}

func (b *builder) begin() {
	b.start = len(b.terms)
	copy(b.tmp, b.score)
}

func (b *builder) add(n, owner int, t model.ScoreTerm) {
	b.terms = append(b.terms, fterm{node: int32(n), owner: int32(owner), t: t})
	b.tmp[n] = b.tmp[n].Add(t.Score)
}

func (b *builder) every(owner int, t model.ScoreTerm) {
	for n := range b.tmp {
		b.add(n, owner, t)
	}
}

// commit counts the current part. With check, it does so only if some
// node could still run the unit (score >= 0), and reports whether it did.
func (b *builder) commit(check bool) bool {
	if check && !b.s.canRun(b.tmp) {
		return false
	}
	copy(b.score, b.tmp)
	for i := b.start; i < len(b.terms); i++ {
		b.terms[i].in = true
	}
	return true
}

// canRun reports whether some node that can run resources scores >= 0.
func (s *sched) canRun(v []model.Score) bool {
	for n, sc := range v {
		if sc >= 0 && s.nodeWhy[n] == "" {
			return true
		}
	}
	return false
}

// nodeTerms bans the nodes that can run nothing.
func (s *sched) nodeTerms(b *builder) {
	for n, why := range s.nodeWhy {
		if why != "" {
			b.add(n, ownerUnit, model.ScoreTerm{Score: model.MinusInfinity, Reason: why})
		}
	}
}

// locTerms adds the location constraints (configured, then runtime) on id.
func (s *sched) locTerms(b *builder, id model.ResourceID, owner int) {
	for _, l := range s.locs[id] {
		if l.Node != "" {
			if n, ok := s.nodeIdx[l.Node]; ok {
				b.add(n, owner, model.ScoreTerm{Score: l.Score, Reason: "location " + l.ID})
			}
			continue
		}
		reason := fmt.Sprintf("location %s where %s=%s", l.ID, l.Attribute, l.Value)
		for n, node := range s.nodes {
			if v, ok := node.Attributes[l.Attribute]; ok && v == l.Value {
				b.add(n, owner, model.ScoreTerm{Score: l.Score, Reason: reason})
			}
		}
	}
}

// colocTerms adds the colocations in which id is the dependent, with
// primaries placed already: INFINITY allows only the primary's node,
// -INFINITY forbids it, a finite score adds to it.
func (s *sched) colocTerms(b *builder, id model.ResourceID, owner, self int) {
	for _, ci := range s.colocDep[id] {
		c := s.in.Config.Constraints.Colocations[ci]
		w := s.unitOf[c.With]
		if w == self || !s.units[w].placed {
			continue // no order could place it first: a broken cycle; settle checks
		}
		strict := c.Score >= model.Infinity
		t := s.targetOf(c.With, strict)
		switch {
		case t == none && strict:
			b.every(owner, model.ScoreTerm{Score: model.MinusInfinity, Reason: s.colocWhy(c, none)})
		case t == none:
		case strict:
			reason := s.colocWhy(c, t)
			for n := range s.nodes {
				if n != t {
					b.add(n, owner, model.ScoreTerm{Score: model.MinusInfinity, Reason: reason})
				}
			}
		case c.Score <= model.MinusInfinity:
			b.add(t, owner, model.ScoreTerm{Score: model.MinusInfinity, Reason: fmt.Sprintf("never with %s (colocation %s)", c.With, c.ID)})
		case c.Score < 0:
			b.add(t, owner, model.ScoreTerm{Score: c.Score, Reason: fmt.Sprintf("away from %s (colocation %s)", c.With, c.ID)})
		default:
			b.add(t, owner, model.ScoreTerm{Score: c.Score, Reason: fmt.Sprintf("with %s (colocation %s)", c.With, c.ID)})
		}
	}
}

// ownTerms adds what a resource's own history says: stickiness where it
// runs (or failed), and its fail counts against its migration-threshold.
func (s *sched) ownTerms(b *builder, x *rsc, owner int) {
	// A failed resource keeps its stickiness, as in Pacemaker: it restarts
	// in place until its migration-threshold, rather than wander on its
	// first failure.
	if x.cur != none && x.stickiness != 0 {
		b.add(x.cur, owner, model.ScoreTerm{Score: x.stickiness, Reason: "stickiness"})
	}
	fcs := s.in.State.FailCounts[x.r.ID]
	if len(fcs) == 0 || x.threshold <= 0 {
		return
	}
	for n := range s.nodes {
		count, expired := s.failCount(x, n)
		switch {
		case count == 0:
		case expired:
			b.add(n, owner, model.ScoreTerm{Reason: fmt.Sprintf("failcount %d expired (failure-timeout %s)", count, x.timeout)})
		case count >= x.threshold:
			b.add(n, owner, model.ScoreTerm{Score: model.MinusInfinity, Reason: fmt.Sprintf("failcount %d >= migration-threshold %d", count, x.threshold)})
		default:
			b.add(n, owner, model.ScoreTerm{Reason: fmt.Sprintf("failcount %d < migration-threshold %d", count, x.threshold)})
		}
	}
}

// scale multiplies a dependent's score by a colocation score over
// INFINITY, as Pacemaker merges a dependent's preferences into its
// primary's. A negative factor never turns a ban into a preference.
func scale(v, by model.Score) model.Score {
	v = clampInf(v)
	by = clampInf(by)
	if by < 0 && v < 0 {
		return 0
	}
	return model.Score(int64(v) * int64(by) / int64(model.Infinity))
}

func clampInf(v model.Score) model.Score {
	return max(model.MinusInfinity, min(model.Infinity, v))
}

// place assigns units in dependency order: a colocation's With side before
// its Resource side, an order's First before its Then; among units free
// to go, configuration order. A cycle (colocations may form one) is broken
// at its first unit in configuration order.
func (s *sched) place() {
	n := len(s.units)
	indeg := make([]int, n)
	start := make([]int, n+1)
	type edge struct{ from, to int }
	var edges []edge
	for _, c := range s.in.Config.Constraints.Colocations {
		if s.known(c.Resource) && s.known(c.With) && c.Score != 0 {
			edges = append(edges, edge{s.unitOf[c.With], s.unitOf[c.Resource]})
		}
	}
	for _, o := range s.in.Config.Constraints.Orders {
		if s.known(o.First) && s.known(o.Then) && o.Kind == model.OrderMandatory {
			edges = append(edges, edge{s.unitOf[o.First], s.unitOf[o.Then]})
		}
	}
	for _, e := range edges {
		if e.from != e.to {
			start[e.from+1]++
			indeg[e.to]++
		}
	}
	for i := range n {
		start[i+1] += start[i]
	}
	out := make([]int, start[n])
	fill := slices.Clone(start[:n])
	for _, e := range edges {
		if e.from != e.to {
			out[fill[e.from]] = e.to
			fill[e.from]++
		}
	}
	var ready minHeap
	for i := range n {
		if indeg[i] == 0 {
			ready.push(i)
		}
	}
	next := 0 // the lowest unit that may still be unplaced, for breaking cycles
	for done := 0; done < n; done++ {
		var u int
		if len(ready) > 0 {
			u = ready.pop()
		} else {
			for s.units[next].placed {
				next++
			}
			u = next
		}
		s.placeUnit(u)
		for _, v := range out[start[u]:start[u+1]] {
			indeg[v]--
			if indeg[v] == 0 && !s.units[v].placed {
				ready.push(v)
			}
		}
	}
}

// disabled says, for each member of unit ui, why it cannot run whatever
// the scores ("" if it can): target-role, a mandatory order whose First
// will not run, or a member before it that cannot run.
func (s *sched) disabled(ui int) []string {
	u := &s.units[ui]
	out := make([]string, len(u.members))
	for k, m := range u.members {
		x := &s.res[m]
		switch {
		case k > 0 && out[k-1] != "":
			out[k] = fmt.Sprintf("group %s: %s (before it) will not run", u.id, s.res[u.members[k-1]].r.ID)
		case x.stopped:
			out[k] = x.stoppedBy
		default:
			out[k] = s.orderBlocks(ui, x.r.ID)
			if out[k] == "" && k == 0 && u.group != nil {
				out[k] = s.orderBlocks(ui, u.id)
			}
		}
	}
	return out
}

// orderBlocks returns why a mandatory order keeps id from running: its
// First, placed already, will not run.
func (s *sched) orderBlocks(ui int, id model.ResourceID) string {
	for _, oi := range s.ordThen[id] {
		o := s.in.Config.Constraints.Orders[oi]
		f := s.unitOf[o.First]
		if o.Kind != model.OrderMandatory || f == ui || !s.units[f].placed {
			continue
		}
		if s.targetOf(o.First, true) == none {
			return fmt.Sprintf("First %s is not running (mandatory order %s)", o.First, o.ID)
		}
	}
	return ""
}

// placeUnit scores unit ui on every node and, unless it is frozen, places
// it: on its best node if that scores >= 0; ties go to the node with the
// fewest resources assigned so far, then to the first in Config.Nodes.
func (s *sched) placeUnit(ui int) {
	u := &s.units[ui]
	b := s.getBuilder()
	defer s.putBuilder(b)

	b.begin()
	s.nodeTerms(b)
	s.locTerms(b, u.id, ownerUnit)
	s.colocTerms(b, u.id, ownerUnit, ui)
	b.commit(false)

	var dis []string
	if !u.frozen {
		dis = s.disabled(ui)
	}
	included := 0
	rolled := false
	for k, m := range u.members {
		x := &s.res[m]
		b.begin()
		if dis != nil && dis[k] != "" {
			b.every(k, model.ScoreTerm{Score: model.MinusInfinity, Reason: dis[k]})
		}
		if u.group != nil {
			s.locTerms(b, x.r.ID, k)
			s.colocTerms(b, x.r.ID, k, ui)
		}
		s.ownTerms(b, x, k)
		if !rolled && b.commit(true) {
			included++
		} else {
			rolled = true
		}
	}
	if included > 0 {
		s.influence(b, ui, included, ownerInfluence)
	}
	copy(u.score, b.score)
	s.emitScores(ui, b)
	u.placed = true
	if u.frozen {
		return
	}

	best := none
	if included > 0 {
		for n, sc := range b.score {
			if s.nodeWhy[n] != "" || sc < 0 {
				continue
			}
			if best == none || sc > b.score[best] || sc == b.score[best] && s.assigned[n] < s.assigned[best] {
				best = n
			}
		}
	}
	firstWhy := ""
	if best == none || included == 0 {
		firstWhy = x0Why(s, u, included)
		included = 0
	}
	for k, m := range u.members {
		x := &s.res[m]
		switch {
		case k < included:
			x.target = best
			s.assigned[best]++
		case dis[k] != "":
			x.why = dis[k]
		case k == 0:
			x.why = firstWhy
		case k == included:
			x.why = s.cannotJoin(x, best, u.id)
		default:
			x.why = fmt.Sprintf("group %s: %s (before it) will not run", u.id, s.res[u.members[k-1]].r.ID)
		}
	}
}

// x0Why explains why no member of unit u runs: from the first member's
// scores when even it could not join (they hold its own terms), else from
// the unit's.
func x0Why(s *sched, u *unit, included int) string {
	if included == 0 || u.group == nil {
		return s.nowhere(s.res[u.members[0]].r.ID)
	}
	return s.nowhere(u.id)
}

// influence adds, part by part, the preferences of the resources
// colocated with unit ui (with its group, or with one of its first
// `included` members), each scaled by its colocation's score over
// INFINITY; a part that would leave no node able to run the unit is rolled
// back. This is how Pacemaker lets a dependent's bans and preferences move
// its primary (colocation influence, on by default).
func (s *sched) influence(b *builder, ui, included, owner int) {
	ids := s.ids(ui)
	if s.units[ui].group != nil {
		ids = ids[:1+included]
	}
	for _, id := range ids {
		for _, ci := range s.colocPrim[id] {
			c := s.in.Config.Constraints.Colocations[ci]
			d := s.unitOf[c.Resource]
			if d == ui {
				continue
			}
			mv := s.mergedVec(d)
			if mv == nil {
				continue
			}
			b.begin()
			for n, v := range mv.score {
				v = scale(v, c.Score)
				if v == 0 || s.nodeWhy[n] != "" {
					continue
				}
				b.add(n, owner, model.ScoreTerm{Score: v, Reason: influenceWhy(c, v, mv.ban[n])})
				b.terms[len(b.terms)-1].ban = mv.ban[n]
			}
			b.commit(true)
		}
	}
}

// influenceWhy explains what a colocated resource's preferences add to
// its primary's score on a node.
func influenceWhy(c model.Colocation, v model.Score, ban string) string {
	switch {
	case c.Score < 0:
		return fmt.Sprintf("left to %s, which prefers it (colocation %s)", c.Resource, c.ID)
	case v > 0:
		return fmt.Sprintf("%s prefers it (colocation %s)", c.Resource, c.ID)
	case v <= model.MinusInfinity && ban != "":
		return fmt.Sprintf("%s cannot run here: %s (colocation %s)", c.Resource, ban, c.ID)
	}
	return fmt.Sprintf("%s avoids it (colocation %s)", c.Resource, c.ID)
}

// mvec is a unit's preferences as its primaries see them: its scores
// without its own colocations, with the preferences of what is colocated
// with it, and the first ban on each node.
type mvec struct {
	score []model.Score
	ban   []string
}

// mergedVec returns unit d's preferences for merging into a primary, or
// nil if it has none (it will not run, or a cycle leads back to it). A
// frozen unit prefers its node absolutely.
func (s *sched) mergedVec(d int) *mvec {
	if s.merged[d] != nil || s.visiting[d] {
		return s.merged[d]
	}
	s.visiting[d] = true
	u := &s.units[d]
	mv := &mvec{score: make([]model.Score, len(s.nodes)), ban: make([]string, len(s.nodes))}
	if u.frozen {
		at := none
		for _, m := range u.members {
			if s.res[m].target != none {
				at = s.res[m].target
				break
			}
		}
		if at == none {
			return nil // visiting stays set: never asked again
		}
		for n := range mv.score {
			if n != at {
				mv.score[n] = model.MinusInfinity
				mv.ban[n] = fmt.Sprintf("not moved from %s", s.nodes[at].Name)
			}
		}
		s.merged[d] = mv
		return mv
	}
	b := s.getBuilder()
	defer s.putBuilder(b)
	b.begin()
	s.nodeTerms(b)
	s.locTerms(b, u.id, ownerUnit)
	b.commit(false)
	included := 0
	for k, m := range u.members {
		x := &s.res[m]
		if x.stopped {
			break
		}
		b.begin()
		if u.group != nil {
			s.locTerms(b, x.r.ID, k)
		}
		s.ownTerms(b, x, k)
		if !b.commit(true) {
			break
		}
		included++
	}
	if included == 0 {
		return nil
	}
	s.influence(b, d, included, ownerInfluence)
	copy(mv.score, b.score)
	for _, t := range b.terms {
		if t.in && t.t.Score <= model.MinusInfinity && mv.ban[t.node] == "" {
			mv.ban[t.node] = t.t.Reason
			if t.ban != "" {
				mv.ban[t.node] = t.ban
			}
		}
	}
	s.merged[d] = mv
	return mv
}

// emitScores records the scores of unit ui and of each member: a group's
// are the terms that decided its placement (member terms prefixed with the
// member's id); a member's are the group's terms and all of its own.
func (s *sched) emitScores(ui int, b *builder) {
	u := &s.units[ui]
	if u.group != nil {
		s.plan.Scores[u.id] = s.nodeScores(b.terms, func(t *fterm) bool { return t.in }, func(t *fterm) string {
			if t.owner >= 0 {
				return string(s.res[u.members[t.owner]].r.ID) + ": " + t.t.Reason
			}
			return t.t.Reason
		})
	}
	for k, m := range u.members {
		k := int32(k)
		s.plan.Scores[s.res[m].r.ID] = s.nodeScores(b.terms, func(t *fterm) bool {
			return t.owner == k || t.in && t.owner < 0
		}, nil)
	}
}

// nodeScores builds every node's score from the terms keep selects, folded
// in order, best first (ties in node order).
func (s *sched) nodeScores(terms []fterm, keep func(*fterm) bool, reason func(*fterm) string) []model.NodeScore {
	out := make([]model.NodeScore, len(s.nodes))
	count := make([]int, len(s.nodes)+1)
	total := 0
	for i := range terms {
		if keep(&terms[i]) {
			count[terms[i].node+1]++
			total++
		}
	}
	for n := range s.nodes {
		count[n+1] += count[n]
	}
	all := make([]model.ScoreTerm, total)
	fill := count[:len(s.nodes)]
	for i := range terms {
		t := &terms[i]
		if !keep(t) {
			continue
		}
		st := t.t
		if reason != nil {
			st.Reason = reason(t)
		}
		all[fill[t.node]] = st
		fill[t.node]++
	}
	if s.scratchScores == nil {
		s.scratchScores = make([]model.Score, len(s.nodes))
		s.scratchTerms = make([][]model.ScoreTerm, len(s.nodes))
	}
	scores, byNode := s.scratchScores, s.scratchTerms
	at := 0
	for n := range s.nodes {
		ts := all[at:fill[n]:fill[n]]
		at = fill[n]
		var sc model.Score
		for _, t := range ts {
			sc = sc.Add(t.Score)
		}
		byNode[n] = nil
		if len(ts) > 0 {
			byNode[n] = ts
		}
		scores[n] = sc
	}
	order := s.order[:0]
	for n := range s.nodes {
		order = append(order, n)
	}
	// Best first; a stable sort keeps ties in node order.
	slices.SortStableFunc(order, func(a, b int) int { return cmp.Compare(scores[b], scores[a]) })
	for i, n := range order {
		out[i] = model.NodeScore{Node: s.nodes[n].Name, Score: scores[n], Terms: byNode[n]}
	}
	s.order = order
	return out
}

// nowhere explains why no node can run id, from its scores: each node's
// first -INFINITY term, or its negative score; nodes with the same reason
// are listed together.
func (s *sched) nowhere(id model.ResourceID) string {
	var reasons []string
	nodes := map[string][]string{}
	for _, ns := range s.plan.Scores[id] {
		r := fmt.Sprintf("score %s", ns.Score)
		for _, t := range ns.Terms {
			if t.Score <= model.MinusInfinity {
				r = t.Reason
				break
			}
		}
		if _, ok := nodes[r]; !ok {
			reasons = append(reasons, r)
		}
		nodes[r] = append(nodes[r], string(ns.Node))
	}
	switch len(reasons) {
	case 0:
		return "no node can run it: there are no nodes"
	case 1:
		return "no node can run it: " + reasons[0]
	}
	// Node order, not score order, reads best.
	byNode := func(a, b string) int { return s.nodeIdx[model.NodeID(a)] - s.nodeIdx[model.NodeID(b)] }
	for _, r := range reasons {
		slices.SortFunc(nodes[r], byNode)
	}
	slices.SortStableFunc(reasons, func(a, b string) int { return byNode(nodes[a][0], nodes[b][0]) })
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = strings.Join(nodes[r], ", ") + ": " + r
	}
	return "no node can run it: " + strings.Join(parts, "; ")
}

// cannotJoin explains why member x cannot run on node n with the members
// of its group before it.
func (s *sched) cannotJoin(x *rsc, n int, group model.ResourceID) string {
	node := s.nodes[n].Name
	r := ""
	for _, ns := range s.plan.Scores[x.r.ID] {
		if ns.Node != node {
			continue
		}
		r = fmt.Sprintf("score %s", ns.Score)
		for _, t := range ns.Terms {
			if t.Score <= model.MinusInfinity {
				r = t.Reason
				break
			}
		}
	}
	return fmt.Sprintf("cannot run on %s with group %s: %s", node, group, r)
}

// minHeap is a binary min-heap of ints.
type minHeap []int

func (h *minHeap) push(v int) {
	*h = append(*h, v)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *minHeap) pop() int {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if r < len(a) && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[m], a[i] = a[i], a[m]
		i = m
	}
	*h = a
	return top
}
