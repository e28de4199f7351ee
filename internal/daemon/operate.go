package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/quorum"
	"github.com/vigil-ha/vigil/internal/store"
)

// raftStore is the part of the store that operator changes and plans use;
// *store.Store has it, and tests have a fake.
type raftStore interface {
	// IsLeader, Leader, State and Changed are concurrency-safe and do not
	// block.
	IsLeader() bool
	Leader() model.NodeID
	State() model.ClusterState
	Changed() <-chan struct{}
	// Apply commits c on the leader, blocking until it is applied here or
	// timeout passes.
	Apply(c store.Command, timeout time.Duration) error
}

// forwardFunc sends a store command (its JSON) to the leader and returns
// once the leader has committed it. An *api.Error is the leader's answer;
// any other error means it could not be reached.
type forwardFunc func(ctx context.Context, leader model.Node, command []byte) error

// operator carries out operator changes and computes plans on one node.
// It is a value built per request (node.operator), so it sees the store
// once it is open.
type operator struct {
	cfg   model.Config
	self  model.NodeID
	store raftStore // nil until the store is open
	// observe is every node's liveness as this node's heartbeats see it.
	observe func() map[model.NodeID]model.NodeState
	// voters are the nodes whose votes count (nil: every node).
	voters  func() []model.NodeID
	forward forwardFunc
	now     func() time.Time
	// leases judges the nodes' leases as the coordinator does (nil: no
	// leases, in tests).
	leases func(model.ClusterState, time.Time) (model.ClusterState, map[model.NodeID]time.Time)
	// fence runs a node's fencing levels (nil: fencing is not wired, in
	// tests).
	fence func(context.Context, model.NodeID) (string, error)
}

// commitTimeout bounds one commit on the leader.
const commitTimeout = 5 * time.Second

func (n *node) operator() operator {
	o := operator{cfg: n.cfg.Cluster, self: n.cfg.Self, observe: n.observe, voters: n.voters, now: time.Now,
		forward: forwarder(n.dial), fence: n.fence}
	if st := n.getStore(); st != nil {
		o.store = st
	}
	n.mu.Lock()
	if n.coordinator != nil {
		o.leases = n.coordinator.Leases
	}
	n.mu.Unlock()
	return o
}

// Plan implements api.Backend.
func (n *node) Plan(sim api.Simulation) (api.Plan, error) { return n.operator().Plan(sim) }

// Operate implements api.Backend.
func (n *node) Operate(ctx context.Context, op api.Operation) (api.Outcome, error) {
	if p := n.getPair(); p != nil && op.Kind == api.OpConfirmDown {
		switch err := p.confirmDown(model.NodeID(op.Node)); {
		case err == nil:
			n.log.Warn("operator change", "op", op.Kind, "target", op.Node, "changes", "two-node: recover alone")
			return api.Outcome{Message: fmt.Sprintf("%s is taken as off on your word: this node runs the two-node cluster alone and recovers what %s ran", op.Node, op.Node),
				Changes: []string{"two-node: " + string(n.cfg.Self) + " recovers alone"}}, nil
		case !errors.Is(err, errPairNotSplit):
			return api.Outcome{}, api.Errorf(http.StatusConflict, "%v", err)
		}
	}
	out, err := n.operator().Operate(ctx, op)
	if err == nil && len(out.Changes) > 0 {
		n.log.Info("operator change", "op", op.Kind, "resource", op.Resource, "target", op.Node, "changes", out.Changes)
	}
	return out, err
}

// Commit implements api.Backend.
func (n *node) Commit(ctx context.Context, command []byte) error {
	return n.operator().Commit(ctx, command)
}

// forwarder returns a forwardFunc that posts to the leader's API on each
// of its links in turn, with the cluster token. Trying the next link after
// one that failed may commit a command twice; every operator command is
// idempotent (flags are set, constraints replaced by ID, cleanups forget,
// a restart is known by its node and time), so that is harmless.
func forwarder(d dialer) forwardFunc {
	return func(ctx context.Context, leader model.Node, command []byte) error {
		return onLinks(ctx, leader, d, commitTimeout+time.Second,
			func(ctx context.Context, c *client.Client) error { return c.Command(ctx, command) })
	}
}

func unavailable(format string, args ...any) *api.Error {
	return api.Errorf(http.StatusServiceUnavailable, format, args...)
}

func (o operator) state() (model.ClusterState, error) {
	if o.store == nil {
		return model.ClusterState{}, unavailable("this node's store is not open yet; try again in a moment")
	}
	return o.store.State(), nil
}

// vote counts quorum as this node sees it, with the nodes in down counted
// absent (a simulation). This node always counts itself unless it is down.
func (o operator) vote(down []model.NodeID) quorum.Vote {
	obs := o.observe()
	var voters []string
	present := map[string]bool{}
	for _, id := range o.voterIDs() {
		voters = append(voters, string(id))
		present[string(id)] = obs[id] != model.NodeOffline && obs[id] != "" && !slices.Contains(down, id)
	}
	self := string(o.self)
	if slices.Contains(down, o.self) {
		self = ""
	}
	return quorum.Count(self, voters, present)
}

// voterIDs are the nodes whose votes count (node.voters), or every
// node of the configuration.
func (o operator) voterIDs() []model.NodeID {
	if o.voters != nil {
		return o.voters()
	}
	ids := make([]model.NodeID, len(o.cfg.Nodes))
	for i, nd := range o.cfg.Nodes {
		ids[i] = nd.Name
	}
	return ids
}

// commit commits one operator command through the leader: here if this
// node leads, else forwarded to the leader. Without quorum or a leader it
// sends nothing and says so (invariant 4: no quorum, no action).
func (o operator) commit(ctx context.Context, cmd store.Command) error {
	if o.store == nil {
		return unavailable("this node's store is not open yet; nothing was changed (try again in a moment)")
	}
	if v := o.vote(nil); !v.Quorate {
		return unavailable("no quorum: this node counts %s; nothing was changed", v.Reasoned)
	}
	if o.store.IsLeader() {
		return o.applyHere(cmd)
	}
	leader := o.store.Leader()
	if leader == "" {
		return unavailable("no leader is elected yet; nothing was changed (try again in a moment)")
	}
	nd, ok := o.cfg.Node(leader)
	if !ok {
		return unavailable("the leader %q is not a node of this node's configuration; nothing was changed", leader)
	}
	raw, err := json.Marshal(cmd)
	if err != nil {
		return err
	}
	err = o.forward(ctx, nd, raw)
	var apiErr *api.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict:
		return unavailable("leadership moved while forwarding to %s; nothing was changed (try again in a moment)", leader)
	case errors.As(err, &apiErr):
		return apiErr
	}
	return unavailable("cannot reach the leader %s on any link; nothing was changed: %s", leader, strings.ReplaceAll(err.Error(), "\n", "; "))
}

// applyHere commits cmd on this node, the leader.
func (o operator) applyHere(cmd store.Command) error {
	err := o.store.Apply(cmd, commitTimeout)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotLeader):
		return unavailable("leadership was lost while committing; the change may or may not be committed (it is safe to repeat): %v", err)
	}
	return unavailable("commit failed; the change may or may not be committed (it is safe to repeat): %v", err)
}

// Commit decodes, checks and commits a store command a follower forwarded.
// It checks against the configuration in force here, the leader's.
func (o operator) Commit(ctx context.Context, raw []byte) error {
	cmd, err := decodeOperatorCommand(raw)
	if err != nil {
		return err
	}
	if o.store == nil {
		return unavailable("this node's store is not open yet")
	}
	if err := checkCommand(o.store.State().Effective(o.cfg), cmd); err != nil {
		return err
	}
	if !o.store.IsLeader() {
		return api.Errorf(http.StatusConflict, "not the leader; the leader is %q", o.store.Leader())
	}
	return o.applyHere(cmd)
}

// operatorCommand is the part of store.Command that may be forwarded: the
// operator changes. Node state, reports and placements are the
// coordinator's and the executors' to commit, configuration changes go
// through their own checks, and a field the store adds later is not
// forwardable until it is listed here.
type operatorCommand struct {
	NodeFlags *store.NodeFlags `json:"node_flags,omitempty"`
	Cleanup   *store.Cleanup   `json:"cleanup,omitempty"`
	Runtime   *store.Runtime   `json:"runtime,omitempty"`
	Restart   *store.Restart   `json:"restart,omitempty"`
	Fence     *store.Fence     `json:"fence,omitempty"`
}

// decodeOperatorCommand decodes the JSON of a store.Command strictly (no
// unknown field at any depth, no trailing data) and insists that it is
// exactly one operator change: node flags, a cleanup, a runtime
// constraint or a restart.
func decodeOperatorCommand(raw []byte) (store.Command, error) {
	var c operatorCommand
	if err := api.DecodeStrict(raw, &c); err != nil {
		return store.Command{}, withMessage(err, " (only operator changes are accepted here: node_flags, cleanup, runtime, restart or fence)")
	}
	set := 0
	for _, ok := range []bool{c.NodeFlags != nil, c.Cleanup != nil, c.Runtime != nil, c.Restart != nil, c.Fence != nil} {
		if ok {
			set++
		}
	}
	if set != 1 {
		return store.Command{}, &api.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("a command holds exactly one change, not %d", set)}
	}
	return store.Command{NodeFlags: c.NodeFlags, Cleanup: c.Cleanup, Runtime: c.Runtime, Restart: c.Restart, Fence: c.Fence}, nil
}

// runtimePrefix starts the ID of every operator constraint.
const runtimePrefix = "cli-"

// checkCommand checks an operator command against the configuration: it
// names known nodes and resources, and a runtime constraint is an
// operator's. A problem is a 400 naming the field, and nothing changes
// (invariant 5).
func checkCommand(cfg model.Config, c store.Command) error {
	bad := func(field, format string, args ...any) error {
		return &api.Error{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	knownNode := func(id model.NodeID) bool { _, ok := cfg.Node(id); return ok }
	switch {
	case c.NodeFlags != nil:
		f := c.NodeFlags
		if !knownNode(f.Node) {
			return bad("node_flags.node", "unknown node %q", f.Node)
		}
		if f.Standby == nil && f.Maintenance == nil {
			return bad("node_flags", "sets neither standby nor maintenance")
		}
	case c.Fence != nil:
		if !knownNode(c.Fence.Node) {
			return bad("fence.node", "unknown node %q", c.Fence.Node)
		}
		if c.Fence.By == "" {
			return bad("fence.by", "required: how the node was fenced")
		}
	case c.Cleanup != nil:
		if _, ok := resourceOf(cfg, c.Cleanup.Resource); !ok {
			return bad("cleanup.resource", "unknown resource %q", c.Cleanup.Resource)
		}
		if c.Cleanup.Node != "" && !knownNode(c.Cleanup.Node) {
			return bad("cleanup.node", "unknown node %q", c.Cleanup.Node)
		}
	case c.Runtime != nil:
		l := c.Runtime.Location
		if len(l.ID) <= len(runtimePrefix) || len(l.ID) > 256 || l.ID[:len(runtimePrefix)] != runtimePrefix {
			return bad("runtime.location.id", "an operator constraint's ID starts with %q (and has at most 256 characters), not %q", runtimePrefix, l.ID)
		}
		if c.Runtime.Remove {
			return nil
		}
		if !isResourceOrGroup(cfg, l.Resource) {
			return bad("runtime.location.resource", "unknown resource or group %q", l.Resource)
		}
		if l.Attribute != "" || l.Value != "" {
			return bad("runtime.location.attribute", "an operator constraint names a node, not an attribute")
		}
		if !knownNode(l.Node) {
			return bad("runtime.location.node", "unknown node %q", l.Node)
		}
	case c.Restart != nil:
		// Whether it runs there is the requesting node's check (restart.go).
		if !isResourceOrGroup(cfg, c.Restart.Resource) {
			return bad("restart.resource", "unknown resource or group %q", c.Restart.Resource)
		}
		if !knownNode(c.Restart.Node) {
			return bad("restart.node", "unknown node %q", c.Restart.Node)
		}
		if c.Restart.At.IsZero() {
			return bad("restart.at", "a restart names the time it was requested")
		}
	default:
		return bad("", "no operator change")
	}
	return nil
}

func resourceOf(cfg model.Config, id model.ResourceID) (model.Resource, bool) {
	for _, r := range cfg.Resources {
		if r.ID == id {
			return r, true
		}
	}
	return model.Resource{}, false
}

func groupOf(cfg model.Config, id model.ResourceID) (model.Group, bool) {
	for _, g := range cfg.Groups {
		if g.ID == id {
			return g, true
		}
	}
	return model.Group{}, false
}

func isResourceOrGroup(cfg model.Config, id model.ResourceID) bool {
	_, r := resourceOf(cfg, id)
	_, g := groupOf(cfg, id)
	return r || g
}
