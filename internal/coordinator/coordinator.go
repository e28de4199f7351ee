// Package coordinator is the leader's loop. It runs on every node and acts
// only while its node leads the raft store: it commits node liveness as the
// leader observes it, runs the scheduler on every change, and commits the
// placement the scheduler computed (with the state epoch it was computed
// from), which the executors on the nodes then converge on. It decides
// nothing itself: the scheduler does.
package coordinator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// Change is one node whose committed state must change.
type Change struct {
	Node     model.NodeID
	From, To model.NodeState // From is "" if never committed
	// Boot is the incarnation seen online, when it is new (a restarted
	// daemon); 0 otherwise.
	Boot uint64
}

func (c Change) String() string {
	from := c.From
	if from == "" {
		from = "unknown"
	}
	if c.Boot != 0 {
		return fmt.Sprintf("%s %s -> %s (boot %d)", c.Node, from, c.To, c.Boot)
	}
	return fmt.Sprintf("%s %s -> %s", c.Node, from, c.To)
}

// NodeChanges compares the committed node states with the observed ones
// and returns what to commit, sorted by node. Only online and offline are
// committed: suspect is a transient local view and changes nothing (a
// suspect node keeps its committed state until it is observed offline or
// online again), so a lossy link does not churn the store. An online node
// whose observed incarnation (boots; nil or 0 means unknown) differs from
// the committed one is committed again with it, even if it never looked
// offline: its restarted executor waits for that (see model.NodeRecord).
func NodeChanges(committed map[model.NodeID]model.NodeRecord, observed map[model.NodeID]model.NodeState, boots map[model.NodeID]uint64) []Change {
	var out []Change
	for id, st := range observed {
		if st == model.NodeSuspect {
			continue
		}
		cur, ok := committed[id]
		var boot uint64
		if b := boots[id]; st == model.NodeOnline && b != 0 && b != cur.Boot {
			boot = b
		}
		if !ok || cur.State != st || boot != 0 {
			out = append(out, Change{Node: id, From: cur.State, To: st, Boot: boot})
		}
	}
	slices.SortFunc(out, func(a, b Change) int { return cmpString(string(a.Node), string(b.Node)) })
	return out
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Store is the part of the store the coordinator uses.
type Store interface {
	// IsLeader reports whether this node leads. Concurrency-safe.
	IsLeader() bool
	// State returns the committed state. Concurrency-safe.
	State() model.ClusterState
	// Apply commits a command; it blocks until committed or timeout.
	Apply(c store.Command, timeout time.Duration) error
}

// Config is what New needs.
type Config struct {
	Self  model.NodeID
	Store Store
	// Observe returns the liveness of every node as this node sees it now,
	// itself included. Concurrency-safe.
	Observe func() map[model.NodeID]model.NodeState
	// Boots, if not nil, returns the incarnation of every node as this node
	// sees it (its own included); 0 or absent is unknown. Concurrency-safe.
	Boots func() map[model.NodeID]uint64
	// Changed, if not nil, signals that observations changed, so that the
	// loop acts before the next tick.
	Changed <-chan struct{}
	Tick    time.Duration // how often to reconcile; required
	// Cluster is the configuration file's: the scheduler places its
	// resources, or those of the configuration applied at run time, which
	// the committed state carries (model.ClusterState.Effective).
	Cluster model.Config
	// Schedule computes a plan; the daemon passes scheduler.Schedule.
	// held are the offline nodes whose lease may still be valid, until
	// when (scheduler.Input.Held).
	Schedule func(cfg model.Config, st model.ClusterState, now time.Time, held map[model.NodeID]time.Time) model.Plan
	// Lease is the nodes' lease (invariant 1): what ran on a lost node is
	// recovered only once its lease has certainly ended, as Ended says. A
	// zero Duration turns leases off (tests of other things); the daemon
	// always sets it.
	Lease lease.Config
	// Ended returns the nodes whose lease has certainly ended, each with
	// the generation that ended: enough of its peers retired it (the
	// daemon's takeover rounds). Nil: none ever ends. Concurrency-safe.
	Ended func() map[model.NodeID]uint64
	// EndedChanged, if not nil, signals that Ended changed.
	EndedChanged <-chan struct{}
	// Fence, if not nil, fences a node with the cluster's fencing levels
	// (Cluster.Fencing) and says how it succeeded ("level 1 (ipmi-n1)").
	// The leader fences a lost node that may still run resources, and a
	// node whose stop failed, when a device covers it; until fencing (or
	// an operator's confirm-down) succeeds, such a node's resources are
	// not recovered, whatever its lease (invariant 1).
	Fence func(ctx context.Context, node model.NodeID) (string, error)
	// FenceRetry is how long after a failed fencing the leader tries
	// again; 0 means 10s.
	FenceRetry time.Duration
	Now        func() time.Time // nil: time.Now
	Log        *slog.Logger     // nil: discard
}

// Coordinator is the leader's loop.
type Coordinator struct {
	cfg Config

	mu   sync.Mutex
	plan model.Plan // the newest plan, for explain and status
	// fencing: nodes being fenced now; failedAt: when the newest fencing
	// of a node failed (this node's clock), for the retry delay.
	fencing  map[model.NodeID]bool
	failedAt map[model.NodeID]time.Time
	ctx      context.Context // Run's, for the fencing it starts
	wg       sync.WaitGroup  // the fencing in flight
}

// Leases judges st's leases at now as placement does: st as the scheduler
// must see it (online nodes whose lease ended are offline) and the offline
// nodes whose lease may still be valid, until when. It lets explain and
// simulate show what the coordinator will do. Concurrency-safe.
func (c *Coordinator) Leases(st model.ClusterState, now time.Time) (model.ClusterState, map[model.NodeID]time.Time) {
	if c.cfg.Lease.Duration == 0 {
		return st, nil
	}
	j := judge(c.cfg.Cluster.Nodes, st, c.ended(), now, c.cfg.Lease).withFencing(st, c.cfg.Self, c.covered)
	return j.scheduled(st), j.held
}

// Plan returns the newest plan this node computed as leader (zero if it
// never led). Concurrency-safe.
func (c *Coordinator) Plan() model.Plan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.plan
}

// New checks cfg and returns a coordinator.
func New(cfg Config) (*Coordinator, error) {
	switch {
	case cfg.Self == "":
		return nil, errors.New("coordinator: Self is required")
	case cfg.Store == nil || cfg.Observe == nil:
		return nil, errors.New("coordinator: Store and Observe are required")
	case cfg.Tick <= 0:
		return nil, errors.New("coordinator: Tick must be positive")
	}
	if cfg.Lease.Duration != 0 {
		if err := cfg.Lease.Validate(); err != nil {
			return nil, fmt.Errorf("coordinator: lease: %w", err)
		}
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Coordinator{cfg: cfg}, nil
}

// Run reconciles on every tick and on every signalled change until ctx
// ends; it returns nil then. A failed commit is logged and retried on the
// next round: leadership may simply have moved.
func (c *Coordinator) Run(ctx context.Context) error {
	t := time.NewTicker(c.cfg.Tick)
	defer t.Stop()
	c.mu.Lock()
	c.ctx = ctx
	c.mu.Unlock()
	defer c.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-c.cfg.Changed:
		case <-c.cfg.EndedChanged:
		case <-c.storeChanged():
		}
		c.reconcile()
	}
}

// ended is cfg.Ended's answer, or none.
func (c *Coordinator) ended() map[model.NodeID]uint64 {
	if c.cfg.Ended == nil {
		return nil
	}
	return c.cfg.Ended()
}

// storeChanged is the store's change signal, if it has one.
func (c *Coordinator) storeChanged() <-chan struct{} {
	if w, ok := c.cfg.Store.(interface{ Changed() <-chan struct{} }); ok {
		return w.Changed()
	}
	return nil
}

// reconcile commits the node changes the leader observes, then the
// placement of the state that results.
func (c *Coordinator) reconcile() {
	if !c.cfg.Store.IsLeader() {
		return
	}
	if !c.commitLiveness() {
		return
	}
	c.commitPlacement()
}

// commitPlacement schedules the committed state and commits the placement
// if it differs from the committed one or is stale.
func (c *Coordinator) commitPlacement() {
	if c.cfg.Schedule == nil {
		return
	}
	st := c.cfg.Store.State()
	cfg := st.Effective(c.cfg.Cluster)
	if len(cfg.Resources) == 0 && len(st.Targets) == 0 {
		return // nothing to place, and nothing placed to take back
	}
	now := c.cfg.Now()
	var j judgement
	if c.cfg.Lease.Duration != 0 {
		j = judge(c.cfg.Cluster.Nodes, st, c.ended(), now, c.cfg.Lease).withFencing(st, c.cfg.Self, c.covered)
	}
	c.fenceLost(st, j, now)
	plan := c.cfg.Schedule(cfg, j.scheduled(st), now, j.held)
	c.mu.Lock()
	c.plan = plan
	c.mu.Unlock()
	if st.Fresh() && sameTargets(st.Targets, plan.Placement) && len(j.takeover) == 0 {
		return
	}
	// The takeover is checked at commit: if a listed node's generation
	// moved since, the placement is refused whole and the next round
	// judges again.
	reasons := map[model.ResourceID]string{}
	for _, a := range plan.Actions {
		if a.Node == plan.Placement[a.Resource] && a.Reason != "" {
			reasons[a.Resource] = a.Reason
		}
	}
	cmd := store.Command{Placement: &store.Placement{Targets: plan.Placement, Epoch: st.Epoch, Takeover: j.takeover,
		At: now.UTC(), Reasons: reasons}}
	if err := c.cfg.Store.Apply(cmd, 4*c.cfg.Tick+time.Second); err != nil {
		c.cfg.Log.Warn("commit placement", "err", err)
		return
	}
	if len(j.takeover) > 0 {
		c.cfg.Log.Info("leases taken over", "nodes", names(j.takeover))
	}
	for _, a := range plan.Actions {
		c.cfg.Log.Info("placement", "resource", a.Resource, "op", a.Kind, "node", a.Node, "from", a.From, "reason", a.Reason)
	}
}

// sameTargets compares committed targets with a placement ("" = absent).
func sameTargets(committed, placed map[model.ResourceID]model.NodeID) bool {
	for r, n := range placed {
		if committed[r] != n {
			return false
		}
	}
	for r, n := range committed {
		if placed[r] != n {
			return false
		}
	}
	return true
}

// commitLiveness commits the node changes the leader observes. It reports
// whether all of them were committed.
func (c *Coordinator) commitLiveness() bool {
	var boots map[model.NodeID]uint64
	if c.cfg.Boots != nil {
		boots = c.cfg.Boots()
	}
	changes := NodeChanges(c.cfg.Store.State().Nodes, c.cfg.Observe(), boots)
	for _, ch := range changes {
		cmd := store.Command{NodeState: &store.NodeState{Node: ch.Node, State: ch.To, Since: c.cfg.Now().UTC(), By: c.cfg.Self, Boot: ch.Boot}}
		if err := c.cfg.Store.Apply(cmd, 4*c.cfg.Tick+time.Second); err != nil {
			c.cfg.Log.Warn("commit node state", "node", ch.Node, "state", ch.To, "err", err)
			return false
		}
		c.cfg.Log.Info("node state committed", "node", ch.Node, "from", ch.From, "state", ch.To, "boot", ch.Boot)
	}
	return true
}

// covered reports whether a fencing device covers node, so that the
// cluster fences it when it is lost instead of trusting its lease alone.
func (c *Coordinator) covered(node model.NodeID) bool {
	return c.cfg.Fence != nil && len(c.cfg.Cluster.Fencing.FenceLevels(node)) > 0
}

// fenceLost starts fencing every node j says must be fenced, one fencing
// at a time per node, and not sooner than FenceRetry after one failed.
func (c *Coordinator) fenceLost(st model.ClusterState, j judgement, now time.Time) {
	if c.cfg.Fence == nil || len(j.fence) == 0 {
		return
	}
	retry := c.cfg.FenceRetry
	if retry <= 0 {
		retry = 10 * time.Second
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil || c.ctx.Err() != nil {
		return
	}
	for _, n := range j.fence {
		if c.fencing[n] {
			continue
		}
		if at, failed := c.failedAt[n]; failed && now.Sub(at) < retry {
			continue
		}
		if c.fencing == nil {
			c.fencing, c.failedAt = map[model.NodeID]bool{}, map[model.NodeID]time.Time{}
		}
		c.fencing[n] = true
		why := j.fenceWhy[n]
		c.wg.Go(func() { c.fence(c.ctx, n, why) })
	}
}

// fence fences node and commits the outcome. A success lets the
// scheduler recover what the node ran at once; a failure leaves it where
// it is until a later try or the operator's confirm-down.
func (c *Coordinator) fence(ctx context.Context, node model.NodeID, why string) {
	c.cfg.Log.Warn("fencing node", "node", node, "reason", why)
	by, err := c.cfg.Fence(ctx, node)
	f := store.Fence{Node: node, OK: err == nil, By: by, At: c.cfg.Now().UTC()}
	if err != nil {
		f.Reason = err.Error()
		c.cfg.Log.Error("fencing failed; the node's resources are not recovered until it is fenced or confirmed down",
			"node", node, "err", err)
	} else {
		c.cfg.Log.Warn("node fenced", "node", node, "by", by)
	}
	cerr := c.cfg.Store.Apply(store.Command{Fence: &f}, 4*c.cfg.Tick+time.Second)
	if cerr != nil {
		// Not recorded: a later round fences again (off is idempotent).
		c.cfg.Log.Warn("commit fencing outcome", "node", node, "err", cerr)
	}
	c.mu.Lock()
	delete(c.fencing, node)
	if err != nil || cerr != nil {
		c.failedAt[node] = c.cfg.Now()
	} else {
		delete(c.failedAt, node)
	}
	c.mu.Unlock()
}
