package scheduler

import (
	"fmt"

	"github.com/vigil-ha/vigil/internal/model"
)

// freeze marks what the scheduler must not touch: blocked resources,
// resources on an offline node that may still hold its lease, and what
// depends on them; resources on maintenance nodes; and the other members
// of their groups. Their placement is where they are now, and they
// count against their nodes for tie-breaking.
func (s *sched) freeze() {
	var queue []int // units frozen because something in them is blocked
	for ui := range s.units {
		u := &s.units[ui]
		var cause = none
		for _, m := range u.members {
			if s.res[m].frozen {
				cause = m
				break
			}
		}
		if cause == none {
			continue
		}
		for _, m := range u.members {
			if s.res[m].rec.State == model.ResourceBlocked || s.res[m].held {
				cause = m
				u.root = fmt.Sprintf("%s: %s", s.res[m].r.ID, s.res[m].why)
				queue = append(queue, ui)
				break
			}
		}
		s.freezeUnit(ui, fmt.Sprintf("not moved: group %s: %s: %s", u.id, s.res[cause].r.ID, s.res[cause].why))
	}
	// What depends on a blocked resource (an INFINITY colocation with it,
	// a mandatory order after it), and what depends on that, is not moved
	// either: moving it would need the blocked resource to move, stop or
	// start. Each says what it depends on directly and what is blocked.
	for len(queue) > 0 {
		ui := queue[0]
		queue = queue[1:]
		root := s.units[ui].root
		for _, id := range s.ids(ui) {
			for _, ci := range s.colocPrim[id] {
				c := s.in.Config.Constraints.Colocations[ci]
				if c.Score < model.Infinity {
					continue
				}
				if d := s.unitOf[c.Resource]; !s.units[d].frozen {
					s.units[d].root = root
					s.freezeUnit(d, fmt.Sprintf("not moved: depends on %s (colocation %s); %s", c.With, c.ID, root))
					queue = append(queue, d)
				}
			}
			for _, oi := range s.ordFirst[id] {
				o := s.in.Config.Constraints.Orders[oi]
				if o.Kind != model.OrderMandatory {
					continue
				}
				if d := s.unitOf[o.Then]; !s.units[d].frozen {
					s.units[d].root = root
					s.freezeUnit(d, fmt.Sprintf("not moved: depends on %s (order %s); %s", o.First, o.ID, root))
					queue = append(queue, d)
				}
			}
		}
	}
	for ui := range s.units {
		if !s.units[ui].frozen {
			continue
		}
		for _, m := range s.units[ui].members {
			x := &s.res[m]
			x.target = x.cur
			if x.cur != none {
				s.assigned[x.cur]++
			}
		}
	}
}

// freezeUnit freezes every member of unit ui; members without a reason of
// their own get why.
func (s *sched) freezeUnit(ui int, why string) {
	u := &s.units[ui]
	u.frozen = true
	for _, m := range u.members {
		x := &s.res[m]
		if !x.frozen {
			x.why = why
		}
		x.frozen = true
	}
}

// quorum applies the no-quorum policy (invariant 4): a partition without
// quorum starts nothing; it stops everything it may touch ("stop", the
// default) or leaves everything as it is ("freeze").
func (s *sched) quorum() {
	if s.in.Quorum {
		return
	}
	freeze := s.in.Config.Options.NoQuorumPolicy == model.NoQuorumFreeze
	for i := range s.res {
		x := &s.res[i]
		if x.frozen || x.unit == none {
			continue
		}
		switch {
		case freeze && x.cur != none:
			x.frozen, x.target = true, x.cur
			x.why = "no quorum: no-quorum-policy is freeze; left as it is"
		case freeze:
			x.frozen, x.target = true, none
			x.why = "no quorum: no-quorum-policy is freeze; nothing starts"
		default:
			x.target = none
			x.why = "no quorum: no-quorum-policy is stop"
		}
	}
}

// settle makes the placement consistent where placing units one by one
// could not: after a cycle of colocations or orders was broken, a
// resource may have been placed before what it depends on. It stops every
// resource whose INFINITY colocation or mandatory order is not met, and
// every group member after one that does not run. Without cycles it finds
// nothing to do.
func (s *sched) settle() {
	var queue []int
	unplace := func(i int, why string) {
		if i == none {
			return
		}
		x := &s.res[i]
		if x.frozen || x.target == none {
			return
		}
		x.target, x.why = none, why
		queue = append(queue, i)
	}
	cons := s.in.Config.Constraints
	for _, o := range cons.Orders {
		if o.Kind != model.OrderMandatory || !s.known(o.First) || !s.known(o.Then) {
			continue
		}
		if s.targetOf(o.First, true) == none {
			unplace(s.firstRes(o.Then), fmt.Sprintf("First %s is not running (mandatory order %s)", o.First, o.ID))
		}
	}
	for _, c := range cons.Colocations {
		if c.Score < model.Infinity || !s.known(c.Resource) || !s.known(c.With) || s.unitOf[c.Resource] == s.unitOf[c.With] {
			continue
		}
		w := s.targetOf(c.With, true)
		i := s.firstRes(c.Resource)
		if t := s.res[i].target; t != none && t != w {
			unplace(i, s.colocWhy(c, w))
		}
	}
	for _, u := range s.units {
		for k := 1; k < len(u.members); k++ {
			if s.res[u.members[k-1]].target == none {
				unplace(u.members[k], fmt.Sprintf("group %s: %s (before it) will not run", u.id, s.res[u.members[k-1]].r.ID))
			}
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		x := &s.res[i]
		u := &s.units[x.unit]
		if x.pos+1 < len(u.members) {
			unplace(u.members[x.pos+1], fmt.Sprintf("group %s: %s (before it) will not run", u.id, x.r.ID))
		}
		ids := []model.ResourceID{x.r.ID}
		if u.group != nil && x.pos == len(u.members)-1 {
			ids = append(ids, u.id)
		}
		for _, id := range ids {
			for _, oi := range s.ordFirst[id] {
				o := cons.Orders[oi]
				if o.Kind == model.OrderMandatory {
					unplace(s.firstRes(o.Then), fmt.Sprintf("First %s is not running (mandatory order %s)", o.First, o.ID))
				}
			}
			for _, ci := range s.colocPrim[id] {
				c := cons.Colocations[ci]
				if c.Score >= model.Infinity && s.unitOf[c.Resource] != x.unit {
					unplace(s.firstRes(c.Resource), s.colocWhy(c, none))
				}
			}
		}
	}
}

func (s *sched) nodeName(n int) model.NodeID {
	if n == none {
		return ""
	}
	return s.nodes[n].Name
}

// colocWhy explains an INFINITY colocation that keeps Resource off a node:
// With runs on node n, or not at all (n is none).
func (s *sched) colocWhy(c model.Colocation, n int) string {
	switch {
	case n != none:
		return fmt.Sprintf("with %s, on %s (colocation %s)", c.With, s.nodes[n].Name, c.ID)
	case s.targetOf(c.With, false) != none:
		return fmt.Sprintf("with %s, which will not run fully (colocation %s)", c.With, c.ID)
	}
	return fmt.Sprintf("with %s, which will not run (colocation %s)", c.With, c.ID)
}
