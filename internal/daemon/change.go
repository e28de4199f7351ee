package daemon

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// Operate validates op against the configuration and this node's
// committed state, commits the store commands it becomes (in order,
// through the leader), and answers with what the scheduler then plans.
func (o operator) Operate(ctx context.Context, op api.Operation) (api.Outcome, error) {
	st, err := o.state()
	if err != nil {
		return api.Outcome{}, err
	}
	if op.Kind == api.OpRestart {
		return o.restart(ctx, st, op)
	}
	if op.Kind == api.OpFence {
		return o.fenceNode(ctx, st, model.NodeID(op.Node))
	}
	cfg := st.Effective(o.cfg) // the resources an operator applied at run time, if any
	ch, err := changeFor(cfg, st, op)
	if err != nil {
		return api.Outcome{}, err
	}
	out := api.Outcome{Message: ch.msg, Changes: []string{}}
	for _, c := range ch.cmds {
		if c.Fence != nil {
			c.Fence.At = o.now().UTC()
		}
		if err := o.commit(ctx, c); err != nil {
			return api.Outcome{}, partial(err, out.Changes)
		}
		out.Changes = append(out.Changes, describe(c))
		_ = c.ApplyTo(&st) // the state the leader now has, for the prediction
	}
	plan := o.schedule(st, o.vote(nil).Quorate)
	out.Actions = actions(plan)
	if ch.expect != "" {
		if at := placed(cfg, plan, ch.resource); at != ch.expect {
			out.Message += "; but the scheduler does not place it there: " + whyNot(plan, ch.resource, ch.expect, at)
		}
	}
	return out, nil
}

// partial adds to err which changes were committed before it, if any:
// the operator must know that some of the request took effect.
func partial(err error, done []string) error {
	if len(done) == 0 {
		return err
	}
	return withMessage(err, " (already committed: "+strings.Join(done, "; ")+")")
}

// change is what an operator's request becomes.
type change struct {
	cmds []store.Command // to commit in order; none if nothing needs to change
	msg  string
	// resource and expect: after the change the scheduler should place
	// resource on expect (a move to a node); Operate warns if it does not.
	resource model.ResourceID
	expect   model.NodeID
}

// changeFor turns op into store commands. It is pure: cfg and st decide.
// An unknown node or resource in the path is a 404, in the body a 400,
// each naming its field; a request that cannot apply (a ban without a
// node for a resource that runs nowhere) is a 409.
func changeFor(cfg model.Config, st model.ClusterState, op api.Operation) (change, error) {
	node := model.NodeID(op.Node)
	res := model.ResourceID(op.Resource)
	switch op.Kind {
	case api.OpStandby, api.OpUnstandby, api.OpMaintenance, api.OpUnmaintenance:
		if _, ok := cfg.Node(node); !ok {
			return change{}, &api.Error{Status: http.StatusNotFound, Field: "node", Message: fmt.Sprintf("unknown node %q", op.Node)}
		}
		return nodeChange(st, node, op.Kind), nil
	case api.OpConfirmDown:
		if _, ok := cfg.Node(node); !ok {
			return change{}, &api.Error{Status: http.StatusNotFound, Field: "node", Message: fmt.Sprintf("unknown node %q", op.Node)}
		}
		if st.Nodes[node].State != model.NodeOffline {
			return change{}, api.Errorf(http.StatusConflict, "%s is %s, not offline: confirm-down is for a lost node you know is powered off (`vigil node fence %s` fences a running one)",
				node, orUnknown(st.Nodes[node].State), node)
		}
		f := store.Fence{Node: node, OK: true, By: "confirmed down by the operator"}
		return change{cmds: []store.Command{{Fence: &f}},
			msg: fmt.Sprintf("%s is recorded as fenced on your word: what it ran is recovered elsewhere", node)}, nil
	case api.OpMove, api.OpBan, api.OpClear, api.OpCleanup:
	default:
		return change{}, &api.Error{Status: http.StatusBadRequest, Field: "op", Message: fmt.Sprintf("unknown operation %q", op.Kind)}
	}
	if !isResourceOrGroup(cfg, res) {
		return change{}, &api.Error{Status: http.StatusNotFound, Field: "resource", Message: fmt.Sprintf("unknown resource or group %q", op.Resource)}
	}
	if _, ok := cfg.Node(node); node != "" && !ok {
		return change{}, &api.Error{Status: http.StatusBadRequest, Field: "node", Message: fmt.Sprintf("unknown node %q", op.Node)}
	}
	switch op.Kind {
	case api.OpMove:
		if node == "" {
			return banChange(cfg, st, res, "", "move")
		}
		return moveChange(st, res, node), nil
	case api.OpBan:
		return banChange(cfg, st, res, node, "ban")
	case api.OpClear:
		return clearChange(st, res, node), nil
	}
	return cleanupChange(cfg, res, node), nil
}

func nodeChange(st model.ClusterState, node model.NodeID, kind api.OpKind) change {
	rec := st.Nodes[node]
	on := kind == api.OpStandby || kind == api.OpMaintenance
	flags := store.NodeFlags{Node: node}
	var already bool
	var msg string
	switch kind {
	case api.OpStandby, api.OpUnstandby:
		flags.Standby, already = &on, rec.Standby == on
		msg = fmt.Sprintf("%s is in standby: it runs no resources", node)
		if !on {
			msg = fmt.Sprintf("%s is out of standby: it may run resources again", node)
		}
	default:
		flags.Maintenance, already = &on, rec.Maintenance == on
		msg = fmt.Sprintf("%s is in maintenance: vigil starts, stops and monitors nothing there", node)
		if !on {
			msg = fmt.Sprintf("%s is out of maintenance: vigil manages its resources again", node)
		}
	}
	if already {
		return change{msg: msg + " (it already was; nothing changed)"}
	}
	return change{cmds: []store.Command{{NodeFlags: &flags}}, msg: msg}
}

// The IDs of operator constraints, as Pacemaker's crm_resource names
// them, so that clear finds what move and ban added.
func preferID(r model.ResourceID) string { return runtimePrefix + "prefer-" + string(r) }

func banID(r model.ResourceID, n model.NodeID) string {
	return runtimePrefix + "ban-" + string(r) + "-on-" + string(n)
}

func addLocation(id string, r model.ResourceID, n model.NodeID, s model.Score) store.Command {
	return store.Command{Runtime: &store.Runtime{Location: model.Location{ID: id, Resource: r, Node: n, Score: s}}}
}

func removeLocation(id string) store.Command {
	return store.Command{Runtime: &store.Runtime{Location: model.Location{ID: id}, Remove: true}}
}

// moveChange prefers node with INFINITY (replacing an earlier move) and
// lifts a ban from it, which would otherwise dominate.
func moveChange(st model.ClusterState, r model.ResourceID, node model.NodeID) change {
	var cmds []store.Command
	if hasRuntime(st, banID(r, node)) {
		cmds = append(cmds, removeLocation(banID(r, node)))
	}
	cmds = append(cmds, addLocation(preferID(r), r, node, model.Infinity))
	return change{cmds: cmds, resource: r, expect: node,
		msg: fmt.Sprintf("%s moves to %s (constraint %s until `vigil resource clear %s`)", r, node, preferID(r), r)}
}

// banChange bans r from node, or from where it runs if node is "".
func banChange(cfg model.Config, st model.ClusterState, r model.ResourceID, node model.NodeID, verb string) (change, error) {
	where := ""
	if node == "" {
		at, ok := whereRuns(cfg, st, r)
		if !ok {
			return change{}, &api.Error{Status: http.StatusConflict, Field: "node",
				Message: fmt.Sprintf("%s runs nowhere, so there is no node to %s it from; name one: vigil resource %s %s NODE", r, verb, verb, r)}
		}
		node, where = at, ", where it ran"
	}
	id := banID(r, node)
	return change{cmds: []store.Command{addLocation(id, r, node, model.MinusInfinity)},
		msg: fmt.Sprintf("%s is banned from %s%s (constraint %s until `vigil resource clear %s`, even if %s is the last node left)", r, node, where, id, r, node)}, nil
}

// clearChange removes r's runtime constraints: all, or those on node.
func clearChange(st model.ClusterState, r model.ResourceID, node model.NodeID) change {
	var cmds []store.Command
	var ids []string
	for _, l := range st.Runtime {
		if l.Resource == r && (node == "" || l.Node == node) {
			cmds = append(cmds, removeLocation(l.ID))
			ids = append(ids, l.ID)
		}
	}
	if len(cmds) == 0 {
		on := ""
		if node != "" {
			on = " on " + string(node)
		}
		return change{msg: fmt.Sprintf("%s has no runtime constraints%s; nothing changed", r, on)}
	}
	return change{cmds: cmds, msg: fmt.Sprintf("%s: removed %s", r, strings.Join(ids, ", "))}
}

// cleanupChange forgets the failures of r, or of every member of group r.
func cleanupChange(cfg model.Config, r model.ResourceID, node model.NodeID) change {
	var cmds []store.Command
	for _, m := range members(cfg, r) {
		cmds = append(cmds, store.Command{Cleanup: &store.Cleanup{Resource: m, Node: node}})
	}
	where := "everywhere"
	if node != "" {
		where = "on " + string(node)
	}
	return change{cmds: cmds, msg: fmt.Sprintf("%s: failures forgotten %s, and unblocked", r, where)}
}

// members is [r] for a resource, a group's members for a group.
func members(cfg model.Config, r model.ResourceID) []model.ResourceID {
	if g, ok := groupOf(cfg, r); ok {
		return g.Members
	}
	return []model.ResourceID{r}
}

// whereRuns is the node where r (or a member of group r) is started,
// failed or blocked.
func whereRuns(cfg model.Config, st model.ClusterState, r model.ResourceID) (model.NodeID, bool) {
	for _, m := range members(cfg, r) {
		if rec := st.Resources[m]; rec.Node != "" && rec.State != model.ResourceStopped {
			return rec.Node, true
		}
	}
	return "", false
}

func hasRuntime(st model.ClusterState, id string) bool {
	for _, l := range st.Runtime {
		if l.ID == id {
			return true
		}
	}
	return false
}

// describe says what a command changes, for Outcome.Changes.
func describe(c store.Command) string {
	switch {
	case c.NodeFlags != nil:
		f := c.NodeFlags
		var parts []string
		if f.Standby != nil {
			parts = append(parts, "standby "+onOff(*f.Standby))
		}
		if f.Maintenance != nil {
			parts = append(parts, "maintenance "+onOff(*f.Maintenance))
		}
		return fmt.Sprintf("set %s %s", f.Node, strings.Join(parts, ", "))
	case c.Runtime != nil && c.Runtime.Remove:
		return "remove location " + c.Runtime.Location.ID
	case c.Runtime != nil:
		l := c.Runtime.Location
		return fmt.Sprintf("add location %s: %s %s on %s", l.ID, l.Resource, l.Score, l.Node)
	case c.Cleanup != nil:
		if c.Cleanup.Node == "" {
			return fmt.Sprintf("clean up %s on every node", c.Cleanup.Resource)
		}
		return fmt.Sprintf("clean up %s on %s", c.Cleanup.Resource, c.Cleanup.Node)
	case c.Restart != nil:
		return fmt.Sprintf("restart %s on %s", c.Restart.Resource, c.Restart.Node)
	case c.Fence != nil && c.Fence.OK:
		return fmt.Sprintf("record %s fenced (%s)", c.Fence.Node, c.Fence.By)
	case c.Fence != nil:
		return fmt.Sprintf("record fencing of %s failed: %s", c.Fence.Node, c.Fence.Reason)
	}
	return "unknown change"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

func orUnknown(s model.NodeState) model.NodeState {
	if s == "" {
		return "unknown"
	}
	return s
}

// fenceNode fences node by hand (`vigil node fence`): it runs the node's
// fencing levels here, then commits the outcome, a failure included, and
// answers with what the scheduler then plans. It needs quorum, as every
// change does (invariant 4).
func (o operator) fenceNode(ctx context.Context, st model.ClusterState, node model.NodeID) (api.Outcome, error) {
	if _, ok := o.cfg.Node(node); !ok {
		return api.Outcome{}, &api.Error{Status: http.StatusNotFound, Field: "node", Message: fmt.Sprintf("unknown node %q", node)}
	}
	if len(o.cfg.Fencing.FenceLevels(node)) == 0 || o.fence == nil {
		return api.Outcome{}, api.Errorf(http.StatusConflict, "no fencing device covers %s: add one to the fencing section of the configuration", node)
	}
	if v := o.vote(nil); !v.Quorate {
		return api.Outcome{}, unavailable("no quorum: this node counts %s; %s was not fenced", v.Reasoned, node)
	}
	by, ferr := o.fence(ctx, node)
	f := store.Fence{Node: node, OK: ferr == nil, By: by, At: o.now().UTC()}
	if ferr != nil {
		f.Reason = ferr.Error()
	}
	cmd := store.Command{Fence: &f}
	if err := o.commit(ctx, cmd); err != nil {
		if ferr == nil {
			return api.Outcome{}, withMessage(err, fmt.Sprintf(" (%s WAS fenced, %s, but the cluster has not recorded it)", node, by))
		}
		return api.Outcome{}, err
	}
	if ferr != nil {
		return api.Outcome{}, api.Errorf(http.StatusBadGateway, "fencing %s failed (recorded): %v", node, ferr)
	}
	_ = cmd.ApplyTo(&st)
	return api.Outcome{Message: fmt.Sprintf("%s is fenced (%s): what it ran is recovered elsewhere", node, by),
		Changes: []string{describe(cmd)}, Actions: actions(o.schedule(st, o.vote(nil).Quorate))}, nil
}
