package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/executor"
	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// leaseConfig is the lease every node keeps, from the timing profile: a
// fifth of it to start a resource, two fifths to stop them all (a VIP goes
// in milliseconds; a service slower to stop than that may outlive the
// lease, which only fencing can cover). The stops begin well before the
// watchdog stops being fed (a watchdog timeout of at most a quarter lease,
// plus a feed interval, before the end), so a healthy daemon that loses
// its lease has stopped everything, and feeds again, before its watchdog
// could fire.
func leaseConfig(t model.Timing) lease.Config {
	return lease.Config{Duration: t.Lease, StartBudget: t.Lease / 5, StopBudget: 2 * t.Lease / 5}
}

// leaseKeeper holds this node's lease from the grants its peers send on
// their heartbeats (package lease) and answers the executor's questions
// about it (executor.Lease). Invariant 1 rests on it: it counts a grant
// only of the generation the committed state gives this node, a quorum of
// its peers must have granted, and a change of generation (a takeover)
// revokes the lease at once.
type leaseKeeper struct {
	n   *node
	cfg lease.Config
	log *slog.Logger

	mu sync.Mutex
	h  lease.Holder
	q  lease.Quorum // the grants of the generation sought
	// voters are the other voters of the newest raft configuration: only
	// their grants count, and lease.QuorumOf(len(voters)) of them are
	// needed. A node that is the only voter (a two-node survivor that
	// recovered alone, a one-node cluster) grants itself; one that is no
	// voter holds nothing.
	voters map[model.NodeID]bool
	voter  bool
	// min is the lowest generation the keeper counts: above one it asked
	// to reset, so that no late grant of it starts anything.
	min uint64
}

func newLeaseKeeper(n *node, cfg lease.Config, log *slog.Logger) *leaseKeeper {
	return &leaseKeeper{n: n, cfg: cfg, log: log, q: lease.NewQuorum(0, 1)}
}

// setVoters records the voters of the newest raft configuration; a change
// starts the count of grants afresh.
func (k *leaseKeeper) setVoters(all []model.NodeID) {
	voters := map[model.NodeID]bool{}
	voter := false
	for _, v := range all {
		if v == k.n.cfg.Self {
			voter = true
		} else {
			voters[v] = true
		}
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if voter == k.voter && maps.Equal(voters, k.voters) {
		return
	}
	k.voters, k.voter = voters, voter
	k.q = lease.NewQuorum(k.q.Gen(), lease.QuorumOf(len(voters)))
	k.log.Info("lease: voters changed", "peers", len(voters), "voter", voter, "grants needed", lease.QuorumOf(len(voters)))
}

// MayStart implements executor.Lease.
func (k *leaseKeeper) MayStart(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.h.MayStart(now, k.cfg)
}

// MustStop implements executor.Lease.
func (k *leaseKeeper) MustStop(now time.Time) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.h.MustStop(now, k.cfg)
}

// Remaining is how long the lease lasts from now; 0 if none is held.
func (k *leaseKeeper) Remaining(now time.Time) time.Duration {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.h.Remaining(now)
}

// StopAt implements executor.Lease.
func (k *leaseKeeper) StopAt() time.Time {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.h.Expiry().IsZero() {
		return time.Time{}
	}
	return k.h.StopAt(k.cfg)
}

// held is the generation plus one of the lease held at now, 0 if none.
func (k *leaseKeeper) held(now time.Time) uint64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.h.Valid(now) {
		return 0
	}
	return k.q.Gen() + 1
}

// follow moves to generation gen if the committed state has moved past
// the one sought: what was held is not this node's any more. mu is held.
func (k *leaseKeeper) follow(gen uint64) {
	if gen > k.q.Gen() {
		if k.h.Valid(time.Now()) {
			k.log.Warn("lease taken over by the cluster", "gen", gen)
		}
		k.h.Revoke()
		k.q = lease.NewQuorum(gen, lease.QuorumOf(len(k.voters)))
	}
}

// granted counts a peer's grant of generation gen on the echo of a
// heartbeat sent at sent. The detector calls it.
func (k *leaseKeeper) granted(peer model.NodeID, gen uint64, sent time.Time) {
	st := k.n.getStore()
	if st == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	k.follow(st.LeaseGen(k.n.cfg.Self))
	if gen < k.min || !k.voter || !k.voters[peer] {
		return
	}
	if at, ok := k.q.Add(string(peer), gen, sent); ok {
		k.h.Granted(k.h.Sent(at, k.cfg))
	}
}

// Run follows the committed generation and logs the lease's changes every
// tick until ctx ends. A node that has held no lease for resetAfter, and
// runs nothing (ex.Local), resets its generation: its peers may have
// retired it for a takeover that never committed, and would never grant
// it again.
func (k *leaseKeeper) Run(ctx context.Context, every, beat time.Duration, running func() bool) error {
	t := time.NewTicker(every)
	defer t.Stop()
	self := time.NewTicker(beat) // grants to itself, when alone
	defer self.Stop()
	resetAfter := 2*k.cfg.ObserverWait() + time.Second
	held := false
	var lostSince, triedAt time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		case <-self.C:
			k.alone(time.Now())
			continue
		}
		st := k.n.getStore()
		if st == nil {
			continue
		}
		if voters, err := st.Voters(); err == nil {
			k.setVoters(voters)
		}
		now := time.Now()
		k.alone(now)
		k.mu.Lock()
		k.follow(st.LeaseGen(k.n.cfg.Self))
		valid := k.h.Valid(now)
		gen := k.q.Gen()
		k.mu.Unlock()
		if valid != held {
			held = valid
			if valid {
				k.log.Info("lease held", "lease", k.cfg.Duration, "gen", gen)
				lostSince = time.Time{}
			} else {
				k.log.Warn("lease lost", "gen", gen)
			}
		}
		if valid {
			continue
		}
		if lostSince.IsZero() {
			lostSince = now
		}
		if now.Sub(lostSince) < resetAfter || now.Sub(triedAt) < resetAfter || running() {
			continue
		}
		triedAt = now
		k.mu.Lock()
		k.min = max(k.min, gen+1)
		k.h.Revoke()
		k.mu.Unlock()
		if err := k.reset(ctx, st, gen); err != nil {
			k.log.Warn("reset the lease generation", "gen", gen, "err", err)
			continue
		}
		k.log.Info("lease generation reset: none was granted", "gen", gen+1)
	}
}

// alone grants the lease to this node itself if it is the only voter:
// nobody else can commit a takeover, so nobody else's grant is needed.
func (k *leaseKeeper) alone(now time.Time) {
	st := k.n.getStore()
	if st == nil {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.voter || len(k.voters) > 0 {
		return
	}
	gen := st.LeaseGen(k.n.cfg.Self)
	k.follow(gen)
	if gen >= k.min {
		k.h.Granted(k.h.Sent(now, k.cfg))
	}
}

// reset commits this node's reset of generation gen: here if this node
// leads, else on the leader, over all of its links at once.
func (k *leaseKeeper) reset(ctx context.Context, st *store.Store, gen uint64) error {
	self := k.n.cfg.Self
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if st.IsLeader() {
		err := st.Apply(store.Command{Reset: &store.LeaseReset{Node: self, Gen: gen}}, 2*time.Second)
		if errors.Is(err, store.ErrFenced) {
			return nil // the generation moved on anyway
		}
		return err
	}
	leader, ok := k.n.cfg.Cluster.Node(st.Leader())
	if !ok {
		return errors.New("no leader")
	}
	return onAllLinks(ctx, leader, k.n.dial, 2*time.Second, func(ctx context.Context, c *client.Client) error {
		return c.ResetLease(ctx, api.LeaseGen{Node: string(self), Gen: gen})
	})
}

// ResetLease implements api.LeaseBackend: the leader commits a node's
// reset of its lease generation.
func (n *node) ResetLease(ctx context.Context, r api.LeaseGen) error {
	if !n.isNode(model.NodeID(r.Node)) {
		return &api.Error{Status: http.StatusBadRequest, Field: "node", Message: fmt.Sprintf("unknown node %q", r.Node)}
	}
	st := n.getStore()
	if st == nil {
		return unavailable("the store is not open yet")
	}
	if !st.IsLeader() {
		return api.Errorf(http.StatusConflict, "not the leader; the leader is %q", st.Leader())
	}
	err := st.Apply(store.Command{Reset: &store.LeaseReset{Node: model.NodeID(r.Node), Gen: r.Gen}}, reportTimeout(ctx))
	if errors.Is(err, store.ErrFenced) {
		return api.Errorf(http.StatusConflict, "%v", err)
	}
	return err
}

// feed feeds the watchdog, every quarter of its timeout, while this node
// can still guarantee its lease: it holds nothing, or its lease has more
// than a watchdog timeout left. A daemon that hangs stops feeding and the
// watchdog resets the node before the lease ends (invariant 1).
func (n *node) feed(ctx context.Context, k *leaseKeeper, ex *executor.Executor) {
	if n.watchdog == nil {
		return
	}
	every := n.cfg.WatchdogTimeout / 4
	t := time.NewTicker(every)
	defer t.Stop()
	starving := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		remaining := k.Remaining(time.Now())
		ok := remaining > n.cfg.WatchdogTimeout+every || !holds(ex.Local())
		if ok {
			if err := n.watchdog.Feed(); err != nil {
				n.log.Error("feed watchdog", "err", err)
			}
		}
		if ok == starving {
			starving = !ok
			if starving {
				n.log.Warn("watchdog not fed: the lease cannot be guaranteed", "lease", remaining)
			} else {
				n.log.Info("watchdog fed again")
			}
		}
	}
}

// holds reports whether anything may run here.
func holds(local map[model.ResourceID]model.Health) bool {
	for _, h := range local {
		if h != model.HealthStopped {
			return true
		}
	}
	return false
}
