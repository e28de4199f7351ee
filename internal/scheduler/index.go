package scheduler

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// none is the node index of "no node".
const none = -1

// sched holds one run of the scheduler: the input, indexed, and what has
// been decided so far. Every slice is in configuration order, so that
// nothing depends on map iteration.
type sched struct {
	in   Input
	plan model.Plan

	nodes   []model.Node
	nodeIdx map[model.NodeID]int
	// nodeWhy is the reason node i can run nothing ("" if it can).
	nodeWhy []string
	gone    []bool // not online: what ran there is lost
	maint   []bool // in maintenance: what runs there is left alone

	res    []rsc
	resIdx map[model.ResourceID]int
	units  []unit
	// unitOf maps a group id or a resource id to its unit.
	unitOf map[model.ResourceID]int

	locs      map[model.ResourceID][]model.Location // config, then runtime
	colocDep  map[model.ResourceID][]int            // colocations by Resource
	colocPrim map[model.ResourceID][]int            // colocations by With
	ordFirst  map[model.ResourceID][]int            // orders by First
	ordThen   map[model.ResourceID][]int            // orders by Then

	assigned []int // resources assigned to each node in this run
	merged   []*mvec
	visiting []bool
	free     []*builder
	// Scratch space for nodeScores.
	order         []int
	scratchScores []model.Score
	scratchTerms  [][]model.ScoreTerm
}

// rsc is one resource and what the scheduler decided for it.
type rsc struct {
	r    *model.Resource
	unit int
	pos  int // index among its unit's members

	stickiness model.Score
	threshold  int
	timeout    time.Duration
	stopped    bool   // target-role stopped (its own or its group's)
	stoppedBy  string // the reason when stopped

	cur      int // node it runs (started or failed) on, none if not running
	failed   bool
	lostFrom model.NodeID // the offline node it ran on, "" if none
	lostWhy  string       // why that node counts as gone
	rec      model.ResourceRecord

	frozen bool // no action; target stays cur (or its blocked node)
	held   bool // frozen because its offline node's lease may be valid
	target int
	why    string
}

// unit is what the scheduler places as one: a group or a resource that is
// in no group.
type unit struct {
	id      model.ResourceID
	group   *model.Group // nil for a lone resource
	members []int        // resource indexes, in group order
	placed  bool
	frozen  bool
	root    string // for a unit frozen by a blocked resource: which, and why
	// score is the decision vector: the unit's total per node.
	score []model.Score
}

// ids returns the names constraints may use for the unit: its own id and,
// for a group, each member's.
func (s *sched) ids(u int) []model.ResourceID {
	un := &s.units[u]
	if un.group == nil {
		return []model.ResourceID{un.id}
	}
	out := make([]model.ResourceID, 0, 1+len(un.members))
	out = append(out, un.id)
	for _, m := range un.members {
		out = append(out, s.res[m].r.ID)
	}
	return out
}

func newSched(in Input) *sched {
	cfg := in.Config
	s := &sched{
		in:        in,
		nodes:     cfg.Nodes,
		nodeIdx:   make(map[model.NodeID]int, len(cfg.Nodes)),
		nodeWhy:   make([]string, len(cfg.Nodes)),
		gone:      make([]bool, len(cfg.Nodes)),
		maint:     make([]bool, len(cfg.Nodes)),
		resIdx:    make(map[model.ResourceID]int, len(cfg.Resources)),
		unitOf:    make(map[model.ResourceID]int, len(cfg.Resources)+len(cfg.Groups)),
		locs:      make(map[model.ResourceID][]model.Location),
		colocDep:  make(map[model.ResourceID][]int),
		colocPrim: make(map[model.ResourceID][]int),
		ordFirst:  make(map[model.ResourceID][]int),
		ordThen:   make(map[model.ResourceID][]int),
		assigned:  make([]int, len(cfg.Nodes)),
	}
	s.plan = model.Plan{
		Placement: make(map[model.ResourceID]model.NodeID, len(cfg.Resources)),
		Scores:    make(map[model.ResourceID][]model.NodeScore, len(cfg.Resources)+len(cfg.Groups)),
		Why:       make(map[model.ResourceID]string),
	}
	for i, n := range cfg.Nodes {
		s.nodeIdx[n.Name] = i
		rec, ok := in.State.Nodes[n.Name]
		switch {
		case !ok || rec.State != model.NodeOnline:
			s.gone[i] = true
			s.nodeWhy[i] = "node offline"
		case n.Witness:
			s.nodeWhy[i] = "node is a witness: it runs no resources"
		case rec.Maintenance:
			s.maint[i] = true
			s.nodeWhy[i] = "node in maintenance"
		case rec.Standby:
			s.nodeWhy[i] = "node in standby"
		}
	}

	groupOf := make(map[model.ResourceID]*model.Group)
	for gi := range cfg.Groups {
		g := &cfg.Groups[gi]
		for _, m := range g.Members {
			if _, dup := groupOf[m]; !dup {
				groupOf[m] = g
			}
		}
	}
	s.res = make([]rsc, len(cfg.Resources))
	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		if _, dup := s.resIdx[r.ID]; dup {
			continue
		}
		s.resIdx[r.ID] = i
	}
	for i := range cfg.Resources {
		r := &cfg.Resources[i]
		x := &s.res[i]
		x.r, x.cur, x.target, x.unit = r, none, none, none
		if s.resIdx[r.ID] != i {
			continue // a repeated id; config rejects these
		}
		g := groupOf[r.ID]
		if g == nil {
			x.unit = len(s.units)
			s.unitOf[r.ID] = x.unit
			s.units = append(s.units, unit{id: r.ID, members: []int{i}})
		} else if u, ok := s.unitOf[g.ID]; ok {
			x.unit = u
		} else {
			x.unit = len(s.units)
			s.unitOf[g.ID] = x.unit
			var ms []int
			for _, m := range g.Members {
				if j, ok := s.resIdx[m]; ok && groupOf[m] == g {
					ms = append(ms, j)
				}
			}
			s.units = append(s.units, unit{id: g.ID, group: g, members: ms})
		}
		if g != nil {
			s.unitOf[r.ID] = x.unit
		}
		s.meta(x, g)
		s.current(x)
	}
	for ui := range s.units {
		u := &s.units[ui]
		for p, m := range u.members {
			s.res[m].pos = p
		}
		u.score = make([]model.Score, len(s.nodes))
	}
	s.merged = make([]*mvec, len(s.units))
	s.visiting = make([]bool, len(s.units))

	for _, l := range cfg.Constraints.Locations {
		s.locs[l.Resource] = append(s.locs[l.Resource], l)
	}
	for _, l := range in.State.Runtime {
		s.locs[l.Resource] = append(s.locs[l.Resource], l)
	}
	for i, c := range cfg.Constraints.Colocations {
		if !s.known(c.Resource) || !s.known(c.With) || c.Score == 0 {
			continue
		}
		s.colocDep[c.Resource] = append(s.colocDep[c.Resource], i)
		s.colocPrim[c.With] = append(s.colocPrim[c.With], i)
	}
	for i, o := range cfg.Constraints.Orders {
		if !s.known(o.First) || !s.known(o.Then) {
			continue
		}
		s.ordFirst[o.First] = append(s.ordFirst[o.First], i)
		s.ordThen[o.Then] = append(s.ordThen[o.Then], i)
	}
	return s
}

func (s *sched) known(id model.ResourceID) bool {
	_, ok := s.unitOf[id]
	return ok
}

// meta resolves a resource's effective settings: its own, else its
// group's, else the cluster's.
func (s *sched) meta(x *rsc, g *model.Group) {
	m := x.r.Meta
	var gm model.Meta
	if g != nil {
		gm = g.Meta
	}
	switch {
	case m.Stickiness != nil:
		x.stickiness = *m.Stickiness
	case gm.Stickiness != nil:
		x.stickiness = *gm.Stickiness
	default:
		x.stickiness = s.in.Config.Options.Stickiness
	}
	x.threshold = m.MigrationThreshold
	if x.threshold <= 0 {
		x.threshold = gm.MigrationThreshold
	}
	x.timeout = m.FailureTimeout
	if x.timeout <= 0 {
		x.timeout = gm.FailureTimeout
	}
	switch {
	case m.TargetRole == "stopped":
		x.stopped, x.stoppedBy = true, "target-role is stopped"
	case gm.TargetRole == "stopped":
		x.stopped, x.stoppedBy = true, fmt.Sprintf("group %s has target-role stopped", g.ID)
	}
}

// current reads where the resource runs from the committed state.
func (s *sched) current(x *rsc) {
	rec, ok := s.in.State.Resources[x.r.ID]
	if !ok {
		return
	}
	x.rec = rec
	switch rec.State {
	case model.ResourceBlocked:
		// Blocked wherever it is: vigil cannot know whether it still runs,
		// so nothing moves it (invariant 1), even off an offline node.
		x.frozen = true
		x.why = blockedWhy(x.r.ID, rec)
		if n, ok := s.nodeIdx[rec.Node]; ok {
			x.cur = n
		}
	case model.ResourceStarted, model.ResourceStarting, model.ResourceFailed:
		if rec.Node == "" {
			return
		}
		n, ok := s.nodeIdx[rec.Node]
		if until, held := s.in.Held[rec.Node]; ok && s.gone[n] && held {
			// It may still run there: leave it, and what depends on it.
			x.frozen, x.held, x.cur = true, true, n
			x.why = fmt.Sprintf("node %s is offline but may still hold its lease (until %s): not recovered yet", rec.Node, until.UTC().Format("15:04:05.000"))
			if until.IsZero() {
				x.why = fmt.Sprintf("node %s is lost and not fenced yet: not recovered until fencing succeeds or an operator runs `vigil node confirm-down %s`", rec.Node, rec.Node)
			}
			return
		}
		if !ok || s.gone[n] {
			x.lostFrom = rec.Node
			x.lostWhy = fmt.Sprintf("node %s is offline", rec.Node)
			if !ok {
				x.lostWhy = fmt.Sprintf("node %s is not in the configuration", rec.Node)
			}
			return
		}
		x.cur = n
		x.failed = rec.State == model.ResourceFailed
		if s.maint[n] {
			x.frozen = true
			x.why = fmt.Sprintf("node %s is in maintenance: left as it is", rec.Node)
		}
	}
}

func blockedWhy(id model.ResourceID, rec model.ResourceRecord) string {
	what := "stop failed"
	if rec.Reason != "" {
		what += " (" + rec.Reason + ")"
	}
	where := string(rec.Node)
	if where == "" {
		where = "an unknown node"
	}
	return fmt.Sprintf("blocked on %s: %s; run `vigil resource cleanup %s`", where, what, id)
}

// failCount returns r's live fail count on node n and whether it expired.
func (s *sched) failCount(x *rsc, n int) (count int, expired bool) {
	fc, ok := s.in.State.FailCounts[x.r.ID][s.nodes[n].Name]
	if !ok || fc.Count <= 0 {
		return 0, false
	}
	if x.timeout > 0 && !fc.Last.Add(x.timeout).After(s.in.Now) {
		return fc.Count, true
	}
	return fc.Count, false
}

// endpoint is one side of a colocation or order: a unit and, when the
// constraint names a group member, which one (-1: the whole unit).
func (s *sched) endpoint(id model.ResourceID) (u, member int) {
	u = s.unitOf[id]
	if s.units[u].id == id {
		return u, -1
	}
	return u, s.res[s.resIdx[id]].pos
}

// firstRes and lastRes are the resources that stand for id in a
// dependency: a group starts with its first member and is fully up with its
// last.
func (s *sched) firstRes(id model.ResourceID) int {
	u, m := s.endpoint(id)
	if m >= 0 {
		return s.units[u].members[m]
	}
	if len(s.units[u].members) == 0 {
		return none
	}
	return s.units[u].members[0]
}

func (s *sched) lastRes(id model.ResourceID) int {
	u, m := s.endpoint(id)
	if m >= 0 {
		return s.units[u].members[m]
	}
	ms := s.units[u].members
	if len(ms) == 0 {
		return none
	}
	return ms[len(ms)-1]
}

// members returns the resources id names: a group's members, or itself.
func (s *sched) members(id model.ResourceID) []int {
	u, m := s.endpoint(id)
	if m >= 0 {
		return s.units[u].members[m : m+1]
	}
	return s.units[u].members
}

// targetOf is where id will run, for a dependency on it: a group counts as
// running when its last member does (strict, for INFINITY colocations and
// orders) or when its first does (otherwise).
func (s *sched) targetOf(id model.ResourceID, strict bool) int {
	i := s.firstRes(id)
	if strict {
		i = s.lastRes(id)
	}
	if i == none {
		return none
	}
	return s.res[i].target
}
