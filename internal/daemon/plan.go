package daemon

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/scheduler"
	"github.com/vigil-ha/vigil/internal/store"
)

// Plan runs the scheduler on this node's committed state, or on a copy of
// it with sim's changes applied. It changes nothing and needs no leader.
func (o operator) Plan(sim api.Simulation) (api.Plan, error) {
	st, err := o.state() // a copy: State clones
	if err != nil {
		return api.Plan{}, err
	}
	now := o.now()
	cfg := st.Effective(o.cfg)
	done, down, err := simulate(cfg, &st, sim, o.self, now)
	if err != nil {
		return api.Plan{}, err
	}
	quorate := o.vote(down).Quorate
	p := planOf(cfg, st, o.schedule(st, quorate))
	p.Node, p.Quorum, p.Time, p.Simulated = string(o.self), quorate, now, done
	return p, nil
}

// schedule runs the scheduler on st with the configuration in force:
// the file's, or the resources an operator applied at run time.
func (o operator) schedule(st model.ClusterState, quorate bool) model.Plan {
	now := o.now()
	var held map[model.NodeID]time.Time
	if o.leases != nil {
		st, held = o.leases(st, now)
	}
	return scheduler.Schedule(scheduler.Input{Config: st.Effective(o.cfg), State: st, Quorum: quorate, Now: now, Held: held})
}

// simulate applies sim to st, as the commands that real events commit
// would: a node the coordinator saw go offline, a failed monitor's report.
// It returns what it did, in order, and the nodes it took down. Unknown
// names are a 400 naming the field, e.g. "node_down[1]".
func simulate(cfg model.Config, st *model.ClusterState, sim api.Simulation, self model.NodeID, now time.Time) ([]string, []model.NodeID, error) {
	bad := func(field, format string, args ...any) error {
		return &api.Error{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	done := []string{}
	var down []model.NodeID
	var cmds []store.Command
	for i, name := range sim.NodeDown {
		id := model.NodeID(name)
		if _, ok := cfg.Node(id); !ok {
			return nil, nil, bad(fmt.Sprintf("node_down[%d]", i), "unknown node %q", name)
		}
		down = append(down, id)
		cmds = append(cmds, store.Command{NodeState: &store.NodeState{Node: id, State: model.NodeOffline, Since: now, By: self}})
		done = append(done, fmt.Sprintf("node %s down", id))
	}
	for i, name := range sim.ResourceFail {
		id := model.ResourceID(name)
		field := fmt.Sprintf("resource_fail[%d]", i)
		if _, ok := resourceOf(cfg, id); !ok {
			if _, isGroup := groupOf(cfg, id); isGroup {
				return nil, nil, bad(field, "%q is a group; name the member that fails", name)
			}
			return nil, nil, bad(field, "unknown resource %q", name)
		}
		rec := st.Resources[id]
		if rec.Node == "" || (rec.State != model.ResourceStarted && rec.State != model.ResourceFailed) {
			return nil, nil, bad(field, "%s is not running anywhere, so it cannot fail", id)
		}
		before := st.FailCounts[id][rec.Node].Count
		cmds = append(cmds, store.Command{Report: &store.Report{Resource: id, Node: rec.Node, State: model.ResourceFailed,
			Reason: "simulated failure", At: now, FailBy: 1}})
		done = append(done, fmt.Sprintf("%s fails on %s (fail count there %d -> %d)", id, rec.Node, before, before+1))
	}
	for _, c := range cmds {
		if err := c.ApplyTo(st); err != nil {
			return nil, nil, err
		}
	}
	return done, down, nil
}

// planOf is the API's view of plan p, computed from st.
func planOf(cfg model.Config, st model.ClusterState, p model.Plan) api.Plan {
	out := api.Plan{Epoch: st.Epoch, Simulated: []string{}, Resources: []api.PlannedResource{}, Actions: actions(p)}
	for _, r := range cfg.Resources {
		if g, ok := groupOf(cfg, r.Group); ok && g.Members[0] == r.ID {
			gr := planned(cfg, st, p, g.ID)
			gr.Kind = "group"
			for _, m := range g.Members {
				gr.Members = append(gr.Members, string(m))
			}
			gr.Target, gr.Placement = string(st.Targets[r.ID]), string(p.Placement[r.ID])
			if gr.Why == "" {
				// The scheduler says why of the members; the first one's
				// reason is the group's (a held, blocked or stopped group).
				gr.Why = p.Why[r.ID]
			}
			out.Resources = append(out.Resources, gr)
		}
		pr := planned(cfg, st, p, r.ID)
		rec := st.Resources[r.ID]
		pr.Kind, pr.Group = r.Kind, string(r.Group)
		pr.State, pr.Node = string(rec.State), string(rec.Node)
		if pr.State == "" {
			pr.State = string(model.ResourceStopped)
		}
		pr.Target, pr.Placement = string(st.Targets[r.ID]), string(p.Placement[r.ID])
		out.Resources = append(out.Resources, pr)
	}
	return out
}

// planned fills what resources and groups share: scores, why, fail counts
// and location constraints.
func planned(cfg model.Config, st model.ClusterState, p model.Plan, id model.ResourceID) api.PlannedResource {
	pr := api.PlannedResource{ID: string(id), Why: p.Why[id], Scores: []api.NodeScore{}, FailCounts: []api.FailCount{}, Constraints: []api.Location{}}
	for _, ns := range p.Scores[id] {
		s := api.NodeScore{Node: string(ns.Node), Score: ns.Score, Terms: []api.ScoreTerm{}}
		for _, t := range ns.Terms {
			s.Terms = append(s.Terms, api.ScoreTerm{Score: t.Score, Reason: t.Reason})
		}
		pr.Scores = append(pr.Scores, s)
	}
	fcs := st.FailCounts[id]
	var nodes []model.NodeID
	for n := range fcs {
		nodes = append(nodes, n)
	}
	slices.SortFunc(nodes, func(a, b model.NodeID) int { return nodeOrder(cfg, a, b) })
	for _, n := range nodes {
		pr.FailCounts = append(pr.FailCounts, api.FailCount{Node: string(n), Count: fcs[n].Count, Last: fcs[n].Last})
	}
	for _, l := range cfg.Constraints.Locations {
		if l.Resource == id {
			pr.Constraints = append(pr.Constraints, location(l, false))
		}
	}
	for _, l := range st.Runtime {
		if l.Resource == id {
			pr.Constraints = append(pr.Constraints, location(l, true))
		}
	}
	return pr
}

// nodeOrder orders nodes as the configuration lists them, unknown ones
// last by name.
func nodeOrder(cfg model.Config, a, b model.NodeID) int {
	index := func(n model.NodeID) int {
		for i, nd := range cfg.Nodes {
			if nd.Name == n {
				return i
			}
		}
		return len(cfg.Nodes)
	}
	if ia, ib := index(a), index(b); ia != ib {
		return ia - ib
	}
	return strings.Compare(string(a), string(b))
}

func location(l model.Location, runtime bool) api.Location {
	return api.Location{ID: l.ID, Node: string(l.Node), Attribute: l.Attribute, Value: l.Value, Score: l.Score, Runtime: runtime}
}

func actions(p model.Plan) []api.Action {
	out := []api.Action{}
	for i, a := range p.Actions {
		out = append(out, api.Action{Index: i, Kind: string(a.Kind), Resource: string(a.Resource), Node: string(a.Node),
			From: string(a.From), After: slices.Clone(a.After), Reason: a.Reason})
	}
	return out
}

// placed is where p places resource r, or group r's first member.
func placed(cfg model.Config, p model.Plan, r model.ResourceID) model.NodeID {
	return p.Placement[members(cfg, r)[0]]
}

// whyNot says why p places r on at rather than on want.
func whyNot(p model.Plan, r model.ResourceID, want, at model.NodeID) string {
	where := "it stays stopped"
	if at != "" {
		where = "it goes to " + string(at)
	}
	if why := p.Why[r]; why != "" {
		return where + " (" + why + ")"
	}
	for _, ns := range p.Scores[r] {
		if ns.Node != want {
			continue
		}
		var terms []string
		for _, t := range ns.Terms {
			if t.Score < 0 {
				terms = append(terms, fmt.Sprintf("%s (%s)", t.Reason, t.Score))
			}
		}
		if len(terms) == 0 {
			return fmt.Sprintf("%s; %s scores %s", where, want, ns.Score)
		}
		return fmt.Sprintf("%s; %s scores %s: %s", where, want, ns.Score, strings.Join(terms, ", "))
	}
	return where
}
