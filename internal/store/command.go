package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Command is one change to the cluster state, as committed to the log.
// Exactly one field is set. Its JSON is the log's format: fields are added,
// never renamed.
type Command struct {
	NodeState *NodeState    `json:"node_state,omitempty"`
	NodeFlags *NodeFlags    `json:"node_flags,omitempty"`
	Report    *Report       `json:"report,omitempty"`
	Cleanup   *Cleanup      `json:"cleanup,omitempty"`
	Runtime   *Runtime      `json:"runtime,omitempty"`
	Restart   *Restart      `json:"restart,omitempty"`
	Placement *Placement    `json:"placement,omitempty"`
	Config    *ConfigChange `json:"config,omitempty"`
	Reset     *LeaseReset   `json:"lease_reset,omitempty"`
	Fence     *Fence        `json:"fence,omitempty"`
}

// Fence records the outcome of fencing Node. A success, or an operator's
// confirmation that the node is down, bumps the node's lease generation
// (no grant of the old one counts) and records every resource on the node
// stopped, blocked ones included: the node is off, so it runs nothing, and
// the scheduler recovers them at once (invariant 1 holds by the fence, not
// by the lease). A failure is recorded for status and changes nothing else.
type Fence struct {
	Node   model.NodeID `json:"node"`
	OK     bool         `json:"ok"`
	By     string       `json:"by"`
	Reason string       `json:"reason,omitempty"`
	At     time.Time    `json:"at"`
}

// ConfigChange replaces the resource configuration (`vigil config apply`). It
// is applied only if Base is still the version in force: otherwise it
// changes nothing and fails with ErrConflict, so that two operators cannot
// silently overwrite each other. What it removes is forgotten: records,
// fail counts, targets, restart requests and runtime constraints of
// resources no longer configured.
type ConfigChange struct {
	Resources model.ResourceConfig `json:"resources"`
	Base      uint64               `json:"base"`
	At        time.Time            `json:"at"`
	By        string               `json:"by,omitempty"`
}

// LeaseReset is a node giving up generation Gen of its lease while it
// holds nothing: its peers may have retired that generation for a
// takeover that never committed, and would grant it no more. Committing it
// raises the node's generation, whose grants start afresh. It is refused
// with ErrFenced once the generation is no longer Gen. It changes nothing
// the scheduler reads, so it leaves the Epoch (and the placement fresh).
type LeaseReset struct {
	Node model.NodeID `json:"node"`
	Gen  uint64       `json:"gen"`
}

// ErrFenced refuses a lease reset of a generation that is no longer the
// node's.
var ErrFenced = errors.New("lease generation changed")

// ErrRenewed refuses a takeover of a lease whose generation changed since
// it was judged ended.
var ErrRenewed = errors.New("lease generation changed since it was judged ended")

// ErrConflict is returned for a ConfigChange whose Base is not the version in
// force.
var ErrConflict = errors.New("configuration changed meanwhile")

// ErrClaimed refuses a start claim: the resource is not placed on the
// claiming node, or another node may still run it.
var ErrClaimed = errors.New("start not claimed")

// Placement replaces the committed targets with the scheduler's placement,
// computed from the state at Epoch.
type Placement struct {
	Targets map[model.ResourceID]model.NodeID `json:"targets"`
	Epoch   uint64                            `json:"epoch"`
	// Takeover lists the nodes whose lease the coordinator judged ended,
	// each with the lease generation it judged: enough of the node's peers
	// retired it (package lease). The placement applies only if each is
	// still the node's generation (else ErrRenewed, and nothing changes);
	// it then raises them, so that the node's records of that generation
	// no longer hold what they name (invariant 1).
	Takeover map[model.NodeID]uint64 `json:"takeover,omitempty"`
	// At and Reasons (why each resource goes where it goes) are for the
	// event history only.
	At      time.Time                   `json:"at,omitzero"`
	Reasons map[model.ResourceID]string `json:"reasons,omitempty"`
}

// NodeState records a node's liveness as the coordinator observed it. It
// leaves the node's operator flags alone.
type NodeState struct {
	Node  model.NodeID    `json:"node"`
	State model.NodeState `json:"state"`
	Since time.Time       `json:"since"`
	By    model.NodeID    `json:"by"`
	// Boot is the node's incarnation when observed online; 0 leaves the
	// committed one as it is.
	Boot uint64 `json:"boot,omitempty"`
}

// NodeFlags sets an operator's standby or maintenance flag; a nil field is
// left as it is.
type NodeFlags struct {
	Node        model.NodeID `json:"node"`
	Standby     *bool        `json:"standby,omitempty"`
	Maintenance *bool        `json:"maintenance,omitempty"`
}

// Report is an executor's result for a resource on its node. Failures
// raise the fail count of the resource on that node by FailBy (at least 1).
// A report of state starting is a claim, made before a start: it commits
// only if the resource is placed on the node and may run nowhere else
// (ErrClaimed otherwise).
type Report struct {
	Resource model.ResourceID    `json:"resource"`
	Node     model.NodeID        `json:"node"`
	State    model.ResourceState `json:"state"`
	Reason   string              `json:"reason,omitempty"`
	At       time.Time           `json:"at"`
	FailBy   int                 `json:"fail_by,omitempty"`
}

// Cleanup forgets a resource's failures (on one node, or every node when
// Node is ""), and unblocks it: the next probe tells where it runs.
type Cleanup struct {
	Resource model.ResourceID `json:"resource"`
	Node     model.NodeID     `json:"node,omitempty"`
}

// Runtime adds (or with Remove, removes by ID) an operator's location
// constraint: `resource move` and `resource ban` add, `resource clear`
// removes.
type Runtime struct {
	Location model.Location `json:"location"`
	Remove   bool           `json:"remove,omitempty"`
}

// Restart asks the executor on Node to stop Resource (a resource or a
// group) and start it again there, with what depends on it (`vigil
// resource restart`): it raises the resource's restart count. A copy of
// the latest request (the same Node and At) is that request delivered
// twice and changes nothing, so a forwarder may send it again. A restart
// changes nothing the scheduler reads, so it leaves the Epoch as it is and
// the committed placement fresh.
type Restart struct {
	Resource model.ResourceID `json:"resource"`
	Node     model.NodeID     `json:"node"`
	At       time.Time        `json:"at"`
}

// entry is a Command in the log, with the codec version.
type entry struct {
	Command
	Version int `json:"v"`
}

const codecVersion = 2

func encodeCommand(c Command) ([]byte, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	return json.Marshal(entry{Command: c, Version: codecVersion})
}

func decodeCommand(b []byte) (Command, error) {
	var e entry
	if err := json.Unmarshal(b, &e); err != nil {
		return Command{}, fmt.Errorf("decode command: %w", err)
	}
	if e.Version != codecVersion {
		return Command{}, fmt.Errorf("decode command: codec version %d, want %d", e.Version, codecVersion)
	}
	return e.Command, e.check()
}

// check insists on exactly one change.
func (c Command) check() error {
	n := 0
	for _, set := range []bool{c.NodeState != nil, c.NodeFlags != nil, c.Report != nil, c.Cleanup != nil, c.Runtime != nil, c.Restart != nil, c.Placement != nil, c.Config != nil, c.Reset != nil, c.Fence != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("command: %d changes set, want exactly one", n)
	}
	return nil
}

// ApplyTo changes st as committing c does. It is pure, so the FSM, tests
// and simulations share it.
func (c Command) ApplyTo(st *model.ClusterState) error { return apply(st, c) }

// apply changes st by c.
func apply(st *model.ClusterState, c Command) error {
	if c.Config != nil && c.Config.Base != st.ConfigVersion() {
		return fmt.Errorf("%w: based on version %d, version %d is in force", ErrConflict, c.Config.Base, st.ConfigVersion())
	}
	if r := c.Reset; r != nil && r.Gen != st.LeaseGens[r.Node] {
		return fmt.Errorf("reset the lease of %s: %w (generation %d, not %d)", r.Node, ErrFenced, st.LeaseGens[r.Node], r.Gen)
	}
	if r := c.Report; r != nil && r.State == model.ResourceStarting {
		// A claim: checked against the committed state at its place in
		// the log, so two nodes can never both win one (invariant 1).
		if t := st.Targets[r.Resource]; t != r.Node {
			return fmt.Errorf("%w: %s is placed on %q, not %s", ErrClaimed, r.Resource, t, r.Node)
		}
		if on := st.MayRun(r.Resource); on != "" && on != r.Node {
			return fmt.Errorf("%w: %s may still run on %s", ErrClaimed, r.Resource, on)
		}
	}
	if p := c.Placement; p != nil {
		for _, n := range slices.Sorted(maps.Keys(p.Takeover)) {
			if st.LeaseGens[n] != p.Takeover[n] {
				return fmt.Errorf("take over %s: %w (generation %d, judged %d)", n, ErrRenewed, st.LeaseGens[n], p.Takeover[n])
			}
		}
	}
	if c.Placement == nil && c.Restart == nil && c.Reset == nil {
		st.Epoch++
	}
	switch {
	case c.NodeState != nil:
		ns := c.NodeState
		rec := st.Nodes[ns.Node]
		rec.State, rec.Since, rec.By = ns.State, ns.Since, ns.By
		if ns.Boot != 0 {
			rec.Boot = ns.Boot
		}
		st.Nodes[ns.Node] = rec
	case c.NodeFlags != nil:
		f := c.NodeFlags
		rec := st.Nodes[f.Node]
		if f.Standby != nil {
			rec.Standby = *f.Standby
		}
		if f.Maintenance != nil {
			rec.Maintenance = *f.Maintenance
		}
		st.Nodes[f.Node] = rec
	case c.Fence != nil:
		applyFence(st, *c.Fence)
	case c.Reset != nil:
		if st.LeaseGens == nil {
			st.LeaseGens = map[model.NodeID]uint64{}
		}
		st.LeaseGens[c.Reset.Node]++
	case c.Report != nil:
		applyReport(st, *c.Report)
	case c.Cleanup != nil:
		applyCleanup(st, *c.Cleanup)
	case c.Runtime != nil:
		applyRuntime(st, *c.Runtime)
	case c.Restart != nil:
		applyRestart(st, *c.Restart)
	case c.Config != nil:
		applyConfig(st, *c.Config)
	case c.Placement != nil:
		st.Targets = map[model.ResourceID]model.NodeID{}
		for r, n := range c.Placement.Targets {
			if n != "" {
				st.Targets[r] = n
			}
		}
		st.PlacedEpoch = c.Placement.Epoch
		for n := range c.Placement.Takeover {
			if st.LeaseGens == nil {
				st.LeaseGens = map[model.NodeID]uint64{}
			}
			st.LeaseGens[n]++
		}
	default:
		return errors.New("apply: empty command")
	}
	return nil
}

func applyFence(st *model.ClusterState, f Fence) {
	rec := st.Nodes[f.Node]
	rec.Fence = &model.FenceRecord{OK: f.OK, By: f.By, Reason: f.Reason, At: f.At}
	st.Nodes[f.Node] = rec
	if !f.OK {
		return
	}
	if st.LeaseGens == nil {
		st.LeaseGens = map[model.NodeID]uint64{}
	}
	st.LeaseGens[f.Node]++
	for id, r := range st.Resources {
		if r.Node == f.Node {
			st.Resources[id] = model.ResourceRecord{State: model.ResourceStopped, Since: f.At, Reason: "node " + string(f.Node) + " fenced"}
		}
	}
}

func applyReport(st *model.ClusterState, r Report) {
	if st.Resources == nil {
		st.Resources = map[model.ResourceID]model.ResourceRecord{}
	}
	rec := model.ResourceRecord{Node: r.Node, State: r.State, Since: r.At, Reason: r.Reason, Gen: st.LeaseGens[r.Node]}
	if r.State == model.ResourceStopped {
		// Stopped on the reporting node. If the record says the resource is
		// somewhere else, this report is stale news about an old place.
		if cur, ok := st.Resources[r.Resource]; ok && cur.Node != r.Node && cur.Node != "" {
			return
		}
		rec.Node = ""
	}
	st.Resources[r.Resource] = rec
	if r.FailBy > 0 {
		if st.FailCounts == nil {
			st.FailCounts = map[model.ResourceID]map[model.NodeID]model.FailCount{}
		}
		m := st.FailCounts[r.Resource]
		if m == nil {
			m = map[model.NodeID]model.FailCount{}
			st.FailCounts[r.Resource] = m
		}
		fc := m[r.Node]
		fc.Count += r.FailBy
		fc.Last = r.At
		m[r.Node] = fc
	}
}

func applyCleanup(st *model.ClusterState, c Cleanup) {
	if c.Node == "" {
		delete(st.FailCounts, c.Resource)
	} else if m := st.FailCounts[c.Resource]; m != nil {
		delete(m, c.Node)
		if len(m) == 0 {
			delete(st.FailCounts, c.Resource)
		}
	}
	if rec, ok := st.Resources[c.Resource]; ok && (rec.State == model.ResourceBlocked || rec.State == model.ResourceFailed) {
		if c.Node == "" || rec.Node == c.Node {
			delete(st.Resources, c.Resource)
		}
	}
}

func applyRuntime(st *model.ClusterState, r Runtime) {
	kept := st.Runtime[:0:0]
	for _, l := range st.Runtime {
		if l.ID != r.Location.ID {
			kept = append(kept, l)
		}
	}
	if !r.Remove {
		kept = append(kept, r.Location)
	}
	st.Runtime = kept
}

func applyRestart(st *model.ClusterState, r Restart) {
	cur := st.Restarts[r.Resource]
	if cur.Count > 0 && cur.Node == r.Node && cur.At.Equal(r.At) {
		return // the same request again
	}
	if st.Restarts == nil {
		st.Restarts = map[model.ResourceID]model.RestartRequest{}
	}
	st.Restarts[r.Resource] = model.RestartRequest{Count: cur.Count + 1, Node: r.Node, At: r.At}
}

func applyConfig(st *model.ClusterState, c ConfigChange) {
	st.Config = &model.AppliedConfig{ResourceConfig: c.Resources, Version: c.Base + 1, At: c.At, By: c.By}
	known := map[model.ResourceID]bool{}
	for _, r := range c.Resources.Resources {
		known[r.ID] = true
	}
	for _, g := range c.Resources.Groups {
		known[g.ID] = true
	}
	for id := range st.Resources {
		if !known[id] {
			delete(st.Resources, id)
		}
	}
	for id := range st.FailCounts {
		if !known[id] {
			delete(st.FailCounts, id)
		}
	}
	for id := range st.Targets {
		if !known[id] {
			delete(st.Targets, id)
		}
	}
	for id := range st.Restarts {
		if !known[id] {
			delete(st.Restarts, id)
		}
	}
	kept := st.Runtime[:0:0]
	for _, l := range st.Runtime {
		if known[l.Resource] {
			kept = append(kept, l)
		}
	}
	st.Runtime = kept
}
