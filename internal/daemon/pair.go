package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// pair runs a two-node cluster without a witness (fencing.two_node), as
// Pacemaker's two_node does. Two voters have no majority once split, so
// neither side may act by quorum; instead each fences the other, and the
// one that succeeds makes itself a cluster of one (store.RecoverAlone),
// which has quorum alone and recovers what the fenced peer ran. When the
// peer is back it is made a voter again.
//
// Invariant 1 holds through the race: while split, neither side has
// quorum or a lease, so both have stopped everything before either can
// recover alone, and a node recovers alone only after its peer is
// certainly off. Which side shoots first is decided by the replicated
// state both had before the split (see delay), so that the node running
// the service survives.
//
// A node that has not been part of the whole cluster since it started
// (the peer has not been seen with a leader) never fences: after a
// reboot into a split it waits for its peer or for the operator's
// `vigil node confirm-down` (Corosync's wait_for_all).
type pair struct {
	n     *node
	peer  model.NodeID
	delay time.Duration // priority_fencing_delay
	retry time.Duration // between failed fences
	log   *slog.Logger

	mu     sync.Mutex
	whole  bool   // both were voters under a leader since this daemon started
	status string // the newest fencing news of the peer, for status; "" none
	// confirmed is set by the operator's confirm-down: the peer is off.
	confirmed chan struct{}
}

func newPair(n *node) *pair {
	p := &pair{n: n, delay: n.cfg.Cluster.Fencing.PriorityDelay, retry: fenceRetry,
		log: n.log.With("component", "two-node"), confirmed: make(chan struct{}, 1)}
	for _, nd := range n.cfg.Cluster.Nodes {
		if nd.Name != n.cfg.Self {
			p.peer = nd.Name
		}
	}
	return p
}

// fenceRetry is how long a node waits after a failed fence of its peer
// before it tries again.
const fenceRetry = 10 * time.Second

// Run watches the pair every tick until ctx ends.
func (p *pair) Run(ctx context.Context, tick time.Duration) error {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		p.step(ctx)
	}
}

// step looks once: notes a whole cluster, lets a returned peer back, or
// starts the fence race when the peer is lost.
func (p *pair) step(ctx context.Context) {
	st := p.n.getStore()
	if st == nil {
		return
	}
	voters, err := st.Voters()
	if err != nil {
		return
	}
	both := slices.Contains(voters, p.peer) && slices.Contains(voters, p.n.cfg.Self)
	seen := p.n.observe()[p.peer]
	switch {
	case both && st.Leader() != "":
		p.mu.Lock()
		if !p.whole {
			p.log.Info("both nodes are voters under a leader: this node fences its peer if it loses it")
		}
		p.whole = true
		p.mu.Unlock()
	case !both && st.IsLeader() && seen == model.NodeOnline:
		p.log.Info("peer is back: making it a voter again", "peer", p.peer)
		if err := st.AddVoter(p.peer, 10*time.Second); err != nil {
			p.log.Warn("add peer back as a voter", "peer", p.peer, "err", err)
			return
		}
		p.setStatus("")
	case both && st.Leader() == "" && seen == model.NodeOffline && p.isWhole():
		p.race(ctx, st)
	}
	select {
	case <-p.confirmed:
		if both && st.Leader() == "" && seen == model.NodeOffline {
			p.survive(ctx, st, "confirmed down by the operator")
		}
	default:
	}
}

func (p *pair) isWhole() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.whole
}

func (p *pair) setStatus(s string) {
	p.mu.Lock()
	p.status = s
	p.mu.Unlock()
}

// Status is the newest fencing news of node while the pair is split,
// or "".
func (p *pair) Status(node model.NodeID) string {
	if node != p.peer {
		return ""
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.status
}

// lost reports whether the peer is still lost: silent, and no leader.
func (p *pair) lost(st *store.Store) bool {
	return st.Leader() == "" && p.n.observe()[p.peer] == model.NodeOffline
}

// race fences the peer, after the priority delay if this node is the one
// that should lose, and on success recovers alone. It returns when the
// race is over, won, lost or abandoned because the peer came back.
func (p *pair) race(ctx context.Context, st *store.Store) {
	for attempt := 1; ctx.Err() == nil; attempt++ {
		wait := pairDelay(st.State(), p.n.cfg.Cluster.Nodes, p.n.cfg.Self, p.peer, p.delay)
		if attempt > 1 {
			wait = p.retry
		}
		p.log.Warn("peer lost in a two-node cluster: fencing it", "peer", p.peer, "after", wait, "attempt", attempt)
		if attempt == 1 { // later, the failure stays in status until the next outcome
			p.setStatus(fmt.Sprintf("fencing %s in %s (two-node split)", p.peer, wait))
		}
		switch p.await(ctx, st, wait) {
		case peerBack:
			p.log.Info("peer is back, or a leader: no fencing", "peer", p.peer)
			p.setStatus("")
			return
		case peerConfirmed:
			p.survive(ctx, st, "confirmed down by the operator")
			return
		}
		how, err := p.n.fence(ctx, p.peer)
		if err == nil {
			p.survive(ctx, st, "two-node split: "+how)
			return
		}
		p.log.Error("fencing the peer failed: nothing is recovered until it succeeds or the operator confirms the peer is down",
			"peer", p.peer, "err", err)
		p.setStatus(fmt.Sprintf("fencing FAILED at %s: %v; retrying every %s, or `vigil node confirm-down %s`",
			time.Now().UTC().Format("15:04:05"), err, p.retry, p.peer))
	}
}

// The outcomes of await.
const (
	peerLost      = iota // still lost when the wait ended: fence it
	peerBack             // back, or a leader is: nothing to do (or ctx ended)
	peerConfirmed        // the operator confirmed it is down
)

// await waits d and says whether the peer is still lost; it returns early
// if the peer comes back or the operator confirms it down.
func (p *pair) await(ctx context.Context, st *store.Store, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		if !p.lost(st) {
			return peerBack
		}
		left := time.Until(deadline)
		if left <= 0 {
			return peerLost
		}
		select {
		case <-ctx.Done():
			return peerBack
		case <-p.confirmed:
			return peerConfirmed
		case <-time.After(min(left, 50*time.Millisecond)):
		}
	}
}

// survive makes this node a cluster of one and records the peer as
// fenced, which recovers what it ran here.
func (p *pair) survive(ctx context.Context, st *store.Store, how string) {
	p.log.Warn("the peer is off: this node runs the cluster alone", "peer", p.peer, "how", how)
	if err := st.RecoverAlone(); err != nil {
		p.log.Error("recover alone", "err", err)
		p.setStatus(fmt.Sprintf("fenced (%s), but recovering alone failed: %v", how, err))
		return
	}
	f := store.Fence{Node: p.peer, OK: true, By: string(p.n.cfg.Self) + ": " + how}
	for i := 0; i < 200 && ctx.Err() == nil; i++ { // 200 × 50ms: well past an election of one
		f.At = time.Now().UTC()
		err := st.Apply(store.Command{Fence: &f}, time.Second)
		if err == nil {
			p.setStatus("")
			return
		}
		if !errors.Is(err, store.ErrNotLeader) {
			p.log.Warn("record the fence", "err", err)
		}
		select { // the election of one: wait for it, but not past shutdown
		case <-ctx.Done():
		case <-st.Changed():
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.setStatus(fmt.Sprintf("fenced (%s); recording it is still pending", how))
}

// confirmDown takes the operator's word that the peer is off. It only
// queues it: step acts once the peer is lost and there is no leader.
func (p *pair) confirmDown(node model.NodeID) error {
	st := p.n.getStore()
	switch {
	case node != p.peer:
		return fmt.Errorf("%s is this node; confirm-down is for its peer %s", node, p.peer)
	case st == nil || !p.lost(st):
		return errPairNotSplit
	}
	select {
	case p.confirmed <- struct{}{}:
	default:
	}
	return nil
}

// errPairNotSplit: the two-node cluster has a leader, so confirm-down goes
// the usual way.
var errPairNotSplit = errors.New("the two nodes are not split")

// pairDelay is how long self waits before it fences peer in a split: zero
// for the node that should win, delay for the other. The winner is the
// node that runs more resources in the state both replicated before the
// split (each resource counts one, as Pacemaker counts priorities), so
// that the service survives the race; on a tie, the node listed first.
// Both sides compute it from the same state and so never both wait, nor
// both shoot at once.
func pairDelay(st model.ClusterState, nodes []model.Node, self, peer model.NodeID, delay time.Duration) time.Duration {
	weight := func(n model.NodeID) int {
		w := 0
		for _, r := range st.Resources {
			if r.Node == n && (r.State == model.ResourceStarted || r.State == model.ResourceStarting) {
				w++
			}
		}
		return w
	}
	ws, wp := weight(self), weight(peer)
	if ws != wp {
		if ws > wp {
			return 0
		}
		return delay
	}
	for _, nd := range nodes {
		switch nd.Name {
		case self:
			return 0
		case peer:
			return delay
		}
	}
	return delay
}
