package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
)

// takeovers runs, on the leader, the rounds that end a lost node's lease
// (package lease): it asks every peer of the node to retire the node's
// generation and to answer once its grants of it have ended, and once
// enough have (lease.AgreementsNeeded) the generation has certainly ended
// and the coordinator may take the node over. A round starts for a node on
// which the committed state records resources of its current generation,
// when the node is offline, or has said for a lease that it holds none.
type takeovers struct {
	n   *node
	cfg lease.Config
	log *slog.Logger

	mu      sync.Mutex
	ended   map[model.NodeID]uint64
	running map[model.NodeID]bool
	failed  map[model.NodeID]time.Time // when the newest round failed
	changed chan struct{}
}

func newTakeovers(n *node, cfg lease.Config, log *slog.Logger) *takeovers {
	return &takeovers{n: n, cfg: cfg, log: log, ended: map[model.NodeID]uint64{}, running: map[model.NodeID]bool{},
		failed: map[model.NodeID]time.Time{}, changed: make(chan struct{}, 1)}
}

// Ended is the coordinator's Ended: the generations whose end a round
// established. Concurrency-safe.
func (t *takeovers) Ended() map[model.NodeID]uint64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return maps.Clone(t.ended)
}

// Changed signals a newly ended generation.
func (t *takeovers) Changed() <-chan struct{} { return t.changed }

// Run starts the rounds that are due on every change of the committed
// state and every tick until ctx ends; then it waits for the rounds in
// flight.
func (t *takeovers) Run(ctx context.Context, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		var changed <-chan struct{}
		if st := t.n.getStore(); st != nil {
			changed = st.Changed()
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-changed:
		}
		st := t.n.getStore()
		if st == nil || !st.IsLeader() {
			continue
		}
		state := st.State()
		now := time.Now()
		for _, node := range t.n.cfg.Cluster.Nodes {
			id, gen := node.Name, state.LeaseGens[node.Name]
			if id == t.n.cfg.Self || !state.Records(id) {
				continue // a leader is not lost to itself; elsewhere nothing would move
			}
			why := "offline"
			if state.Nodes[id].State != model.NodeOffline {
				if !t.n.grants.unleased(id, gen, now, t.cfg.ObserverWait()) {
					continue
				}
				why = "says it holds no lease"
			}
			if !t.start(id, gen, now) {
				continue
			}
			t.log.Info("takeover round: retiring the lease", "node", id, "gen", gen, "why", why)
			wg.Go(func() { t.round(ctx, id, gen) })
		}
	}
}

// start marks a round for generation gen of id running, unless one is,
// or one already ended that generation, or the last failed within a
// second.
func (t *takeovers) start(id model.NodeID, gen uint64, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if ended, ok := t.ended[id]; (ok && ended == gen) || t.running[id] || now.Sub(t.failed[id]) < time.Second {
		return false
	}
	t.running[id] = true
	return true
}

// round asks every peer of id, this node included, to retire generation
// gen, and records it ended once enough agreed.
func (t *takeovers) round(ctx context.Context, id model.NodeID, gen uint64) {
	start := time.Now()
	agreed, need, err := t.agree(ctx, id, gen)
	t.mu.Lock()
	delete(t.running, id)
	if agreed >= need {
		t.ended[id] = gen
	} else {
		t.failed[id] = time.Now()
	}
	t.mu.Unlock()
	if agreed < need {
		t.log.Warn("takeover round failed", "node", id, "gen", gen, "agreed", agreed, "need", need, "err", err)
		return
	}
	t.log.Info("lease certainly ended", "node", id, "gen", gen, "agreed", agreed, "took", time.Since(start))
	select {
	case t.changed <- struct{}{}:
	default:
	}
}

// agree asks the voters other than id to retire generation gen, and
// returns once need of them agreed or all answered; err joins the
// refusals.
func (t *takeovers) agree(ctx context.Context, id model.NodeID, gen uint64) (agreed, need int, err error) {
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ObserverWait()+5*time.Second)
	defer cancel()
	// The peers that count are the voters: only their grants hold a lease.
	voters, err := t.n.getStore().Voters()
	if err != nil {
		return 0, 1, fmt.Errorf("no raft configuration: %w", err)
	}
	var peers []model.Node
	for _, p := range t.n.cfg.Cluster.Nodes {
		if p.Name != id && slices.Contains(voters, p.Name) {
			peers = append(peers, p)
		}
	}
	need = lease.AgreementsNeeded(len(peers))
	results := make(chan error, len(peers))
	for _, p := range peers {
		go func() { results <- t.ask(ctx, p, id, gen) }()
	}
	var errs []error
	for range peers {
		if err := <-results; err != nil {
			errs = append(errs, err)
			continue
		}
		if agreed++; agreed == need {
			break
		}
	}
	return agreed, need, errors.Join(errs...)
}

// ask has peer p retire generation gen of id's lease: here if p is this
// node, else over all of p's links at once.
func (t *takeovers) ask(ctx context.Context, p model.Node, id model.NodeID, gen uint64) error {
	if p.Name == t.n.cfg.Self {
		return t.n.grants.retire(ctx, id, gen)
	}
	return onAllLinks(ctx, p, t.n.dial, t.cfg.ObserverWait()+5*time.Second, func(ctx context.Context, c *client.Client) error {
		return c.RetireLease(ctx, api.LeaseGen{Node: string(id), Gen: gen})
	})
}
