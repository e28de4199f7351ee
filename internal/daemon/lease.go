package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
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

// leaseKeeper renews this node's lease through the leader and answers the
// executor's questions about it (executor.Lease). Invariant 1 rests on
// it: a renewal counts only once its commit succeeded, and a takeover the
// node sees in the committed state revokes the lease at once.
type leaseKeeper struct {
	n   *node
	cfg lease.Config
	log *slog.Logger

	mu  sync.Mutex
	h   lease.Holder
	gen uint64 // the lease generation the holder's renewals carry
	// clients reach the leader's addresses, kept alive between renewals.
	clients map[string]*client.Client
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

// Run renews the lease every renew interval until ctx ends. Renewals
// overlap: each may take until it could no longer help (the lease it asks
// for would already have to be stopping), so that a lost packet, which TCP
// resends after 200ms or more, costs one renewal and not the lease. Under
// 20% loss a renewal bounded by the interval failed a third of the time,
// and three in a row stopped a healthy holder.
func (k *leaseKeeper) Run(ctx context.Context, every time.Duration) error {
	t := time.NewTicker(every)
	defer t.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	defer k.closeClients()
	held := false
	results := make(chan error, 16)
	var lastErr error
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-results:
			if err != nil {
				lastErr = err
			}
		case <-t.C:
			k.send(ctx, &wg, results)
		}
		k.mu.Lock()
		valid := k.h.Valid(time.Now())
		k.mu.Unlock()
		if valid != held {
			held = valid
			if valid {
				k.log.Info("lease held", "lease", k.cfg.Duration)
			} else {
				k.log.Warn("lease lost", "err", lastErr)
			}
		}
	}
}

// send starts one renewal; its outcome goes to results.
func (k *leaseKeeper) send(ctx context.Context, wg *sync.WaitGroup, results chan<- error) {
	st := k.n.getStore()
	if st == nil {
		return
	}
	gen := st.State().LeaseGens[k.n.cfg.Self]
	now := time.Now()
	k.mu.Lock()
	if gen > k.gen {
		// The cluster took the lease over: nothing we hold is ours, and
		// no renewal sent before counts.
		k.h.Revoke()
		k.gen = gen
		k.log.Warn("lease taken over by the cluster", "gen", gen)
	}
	r := k.h.Sent(now, k.cfg)
	k.mu.Unlock()
	// A grant after Duration - StopBudget from the send would only end
	// a lease that must already be stopping: give up then.
	useful := max(k.cfg.Duration-k.cfg.StopBudget, time.Millisecond)
	wg.Go(func() {
		rctx, cancel := context.WithDeadline(ctx, now.Add(useful))
		defer cancel()
		err := k.renew(rctx, st, gen)
		if err == nil {
			k.mu.Lock()
			k.h.Granted(r)
			k.mu.Unlock()
		}
		select {
		case results <- err:
		default:
		}
	})
}

// renew commits one renewal: here if this node leads, else on the leader,
// over all of its links at once.
func (k *leaseKeeper) renew(ctx context.Context, st *store.Store, gen uint64) error {
	self := k.n.cfg.Self
	if st.IsLeader() {
		d := time.Second
		if dl, ok := ctx.Deadline(); ok {
			d = time.Until(dl)
		}
		return st.Apply(store.Command{Renew: &store.Renew{Node: self, Gen: gen}}, d)
	}
	leader, ok := k.n.cfg.Cluster.Node(st.Leader())
	if !ok {
		return errors.New("no leader")
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel() // the first link that answers ends the others
	errs := make(chan error, len(leader.Addresses))
	for _, a := range leader.Addresses {
		c, err := k.client(leader.Name, a)
		if err != nil {
			return err
		}
		go func() { errs <- c.Renew(ctx, api.Renew{Node: string(self), Gen: gen}) }()
	}
	var all []error
	for range leader.Addresses {
		err := <-errs
		if err == nil {
			return nil
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) {
			return fmt.Errorf("renew on %s: %w", leader.Name, apiErr) // an answer: the other links would say the same
		}
		all = append(all, err)
	}
	return fmt.Errorf("renew on %s: %w", leader.Name, errors.Join(all...))
}

// client returns the keeper's client for url, made once: renewals reuse
// its connections instead of a TCP handshake each (a lost SYN costs 1s).
func (k *leaseKeeper) client(peer model.NodeID, a netip.Addr) (*client.Client, error) {
	url := k.n.dial.url(peer, a)
	k.mu.Lock()
	defer k.mu.Unlock()
	if c, ok := k.clients[url]; ok {
		return c, nil
	}
	c, err := k.n.dial.client(peer, a, k.cfg.Duration)
	if err != nil {
		return nil, err
	}
	if k.clients == nil {
		k.clients = map[string]*client.Client{}
	}
	k.clients[url] = c
	return c, nil
}

func (k *leaseKeeper) closeClients() {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, c := range k.clients {
		c.Close()
	}
	k.clients = nil
}

// Renew implements api.LeaseBackend: the leader commits a node's renewal.
func (n *node) Renew(ctx context.Context, r api.Renew) error {
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
	err := st.Apply(store.Command{Renew: &store.Renew{Node: model.NodeID(r.Node), Gen: r.Gen}}, reportTimeout(ctx))
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
