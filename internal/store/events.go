package store

import (
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// MaxEvents bounds the event history a node keeps, and its snapshots.
const MaxEvents = 2000

// eventsOf returns the events that committing c means, given the state
// before it. It is pure: every node derives the same events from the same
// log. at is when the leader appended the entry, for commands that carry
// no time of their own. A lease reset is no event: the node held nothing.
func eventsOf(st *model.ClusterState, c Command, at time.Time) []model.Event {
	ev := func(kind model.EventKind, at time.Time, format string, args ...any) model.Event {
		return model.Event{At: at.UTC(), Kind: kind, Message: fmt.Sprintf(format, args...)}
	}
	or := func(t time.Time) time.Time {
		if t.IsZero() {
			return at
		}
		return t
	}
	var out []model.Event
	switch {
	case c.NodeState != nil:
		ns := c.NodeState
		if st.Nodes[ns.Node].State == ns.State {
			return nil
		}
		e := ev(model.EventKind("node."+string(ns.State)), or(ns.Since), "%s is %s", ns.Node, ns.State)
		if was := st.Nodes[ns.Node].State; was != "" {
			e.Message += fmt.Sprintf(" (was %s)", was)
		}
		e.Node, e.By = ns.Node, string(ns.By)
		out = append(out, e)
	case c.NodeFlags != nil:
		f, rec := c.NodeFlags, st.Nodes[c.NodeFlags.Node]
		if f.Standby != nil && *f.Standby != rec.Standby {
			kind, what := model.EventNodeActive, "no longer in standby"
			if *f.Standby {
				kind, what = model.EventNodeStandby, "in standby: it runs nothing"
			}
			e := ev(kind, at, "%s is %s", f.Node, what)
			e.Node, e.By = f.Node, "operator"
			out = append(out, e)
		}
		if f.Maintenance != nil && *f.Maintenance != rec.Maintenance {
			kind, what := model.EventUnmaintenance, "out of maintenance"
			if *f.Maintenance {
				kind, what = model.EventMaintenance, "in maintenance: its resources are left alone"
			}
			e := ev(kind, at, "%s is %s", f.Node, what)
			e.Node, e.By = f.Node, "operator"
			out = append(out, e)
		}
	case c.Report != nil:
		r := c.Report
		if r.State == model.ResourceStarting {
			return nil // a claim; its start is the event
		}
		if old := st.Resources[r.Resource]; old.State == r.State && (old.Node == r.Node || r.State == model.ResourceStopped) {
			return nil // a report repeated
		}
		kind := model.EventKind("resource." + string(r.State))
		var e model.Event
		switch r.State {
		case model.ResourceStarted:
			e = ev(kind, or(r.At), "%s started on %s", r.Resource, r.Node)
		case model.ResourceStopped:
			e = ev(kind, or(r.At), "%s stopped on %s", r.Resource, r.Node)
		default:
			e = ev(kind, or(r.At), "%s %s on %s", r.Resource, r.State, r.Node)
		}
		if r.Reason != "" {
			e.Message += ": " + r.Reason
		}
		e.Node, e.Resource, e.By = r.Node, r.Resource, string(r.Node)
		out = append(out, e)
	case c.Placement != nil:
		p := c.Placement
		ids := slices.Sorted(maps.Keys(p.Targets))
		for _, id := range slices.Sorted(maps.Keys(st.Targets)) {
			if _, ok := p.Targets[id]; !ok {
				ids = append(ids, id)
			}
		}
		for _, id := range ids {
			from, to := st.Targets[id], p.Targets[id]
			if from == to {
				continue
			}
			var e model.Event
			switch {
			case from == "":
				e = ev(model.EventPlaced, or(p.At), "%s placed on %s", id, to)
			case to == "":
				e = ev(model.EventUnplaced, or(p.At), "%s placed nowhere (was %s)", id, from)
			default:
				e = ev(model.EventMoved, or(p.At), "%s moves from %s to %s", id, from, to)
			}
			if why := p.Reasons[id]; why != "" {
				e.Message += ": " + why
			}
			e.Node, e.Resource, e.By = to, id, "scheduler"
			out = append(out, e)
		}
		if len(out) == 0 {
			return nil // a takeover repeated with a placement that changes nothing
		}
		for _, n := range slices.Sorted(maps.Keys(p.Takeover)) {
			e := ev(model.EventTakeover, or(p.At), "%s's lease has certainly ended: what it ran may run elsewhere", n)
			e.Node, e.By = n, "coordinator"
			out = append(out, e)
		}
	case c.Fence != nil:
		f := c.Fence
		e := ev(model.EventFenceOK, or(f.At), "%s fenced (%s)", f.Node, f.By)
		if !f.OK {
			e = ev(model.EventFenceFailed, or(f.At), "fencing %s FAILED: %s", f.Node, f.Reason)
		}
		e.Node, e.By = f.Node, f.By
		out = append(out, e)
	case c.Cleanup != nil:
		cl := c.Cleanup
		e := ev(model.EventCleanup, at, "%s's failures forgotten", cl.Resource)
		if cl.Node != "" {
			e.Message = fmt.Sprintf("%s's failures on %s forgotten", cl.Resource, cl.Node)
		}
		e.Node, e.Resource, e.By = cl.Node, cl.Resource, "operator"
		out = append(out, e)
	case c.Runtime != nil:
		l := c.Runtime.Location
		e := ev(model.EventConstraint, at, "constraint %s added: %s on %s scores %s", l.ID, l.Resource, l.Node, l.Score)
		if c.Runtime.Remove {
			e.Message = fmt.Sprintf("constraint %s removed", l.ID)
		}
		e.Node, e.Resource, e.By = l.Node, l.Resource, "operator"
		out = append(out, e)
	case c.Restart != nil:
		r := c.Restart
		e := ev(model.EventRestart, or(r.At), "%s restart requested on %s", r.Resource, r.Node)
		e.Node, e.Resource, e.By = r.Node, r.Resource, "operator"
		out = append(out, e)
	case c.Config != nil:
		e := ev(model.EventConfig, or(c.Config.At), "resource configuration version %d applied (%d resources)", st.ConfigVersion()+1, len(c.Config.Resources.Resources))
		e.By = c.Config.By
		if e.By == "" {
			e.By = "operator"
		}
		out = append(out, e)
	}
	return out
}
