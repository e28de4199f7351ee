package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/lease"
	"github.com/vigil-ha/vigil/internal/model"
)

// retiredFile keeps, in the data directory, the lease generations this
// node retired: a restarted daemon must not grant one again.
const retiredFile = "lease-retired.json"

// grants is this node's side of its peers' leases, carried on its
// heartbeats (detect.LeaseHooks): it grants each peer the generation the
// committed state gives it, unless it retired it, and it hands the grants
// it hears to the keeper. Every node has one, witnesses too.
type grants struct {
	n   *node
	cfg lease.Config
	dir string

	mu sync.Mutex
	g  lease.Granter
	// held: the generation plus one each peer last said it holds, and since
	// when it said so (this node's clock).
	held map[model.NodeID]peerHeld
}

type peerHeld struct {
	gen   uint64
	since time.Time
}

// newGrants loads the retired generations from dir. It starts the
// granter's clock now, before any heartbeat of this process can carry a
// grant.
func newGrants(n *node, cfg lease.Config, dir string) (*grants, error) {
	retired := map[string]uint64{}
	b, err := os.ReadFile(filepath.Join(dir, retiredFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("lease: %w", err)
	default:
		if err := json.Unmarshal(b, &retired); err != nil {
			return nil, fmt.Errorf("lease: %s: %w", filepath.Join(dir, retiredFile), err)
		}
	}
	return &grants{n: n, cfg: cfg, dir: dir, g: lease.NewGranter(time.Now(), retired), held: map[model.NodeID]peerHeld{}}, nil
}

// Grant implements detect.LeaseHooks.
func (g *grants) Grant(peer model.NodeID, heardAt time.Time) uint64 {
	st := g.n.getStore()
	if st == nil {
		return 0 // the generation is not known yet
	}
	gen := st.LeaseGen(peer)
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.g.Grant(string(peer), gen, heardAt) {
		return 0
	}
	return gen + 1
}

// Held implements detect.LeaseHooks.
func (g *grants) Held() uint64 {
	if k := g.n.keeper; k != nil {
		return k.held(time.Now())
	}
	return 0
}

// Granted implements detect.LeaseHooks.
func (g *grants) Granted(peer model.NodeID, gen uint64, sent time.Time) {
	if k := g.n.keeper; k != nil {
		k.granted(peer, gen, sent)
	}
}

// PeerHeld implements detect.LeaseHooks.
func (g *grants) PeerHeld(peer model.NodeID, held uint64, at time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if cur, ok := g.held[peer]; !ok || cur.gen != held {
		g.held[peer] = peerHeld{gen: held, since: at}
	}
}

// unleased reports whether peer has said, for at least d, that it holds no
// lease of generation gen.
func (g *grants) unleased(peer model.NodeID, gen uint64, now time.Time, d time.Duration) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	h, ok := g.held[peer]
	return ok && h.gen != gen+1 && now.Sub(h.since) >= d
}

// retire retires generation gen of peer's lease here, persists that, and
// waits until every grant this node made of it has certainly ended.
func (g *grants) retire(ctx context.Context, peer model.NodeID, gen uint64) error {
	g.mu.Lock()
	until := g.g.Retire(string(peer), gen, g.cfg)
	err := g.save(g.g.Retired())
	g.mu.Unlock()
	if err != nil {
		return err
	}
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
}

// save writes the retired generations atomically and durably. mu is held,
// so that no grant is decided on a state that is not yet on disk.
func (g *grants) save(retired map[string]uint64) error {
	b, err := json.Marshal(retired)
	if err != nil {
		return err
	}
	path := filepath.Join(g.dir, retiredFile)
	tmp, err := os.CreateTemp(g.dir, retiredFile+".*")
	if err != nil {
		return fmt.Errorf("lease: save retired generations: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("lease: save retired generations: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("lease: save retired generations: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("lease: save retired generations: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("lease: save retired generations: %w", err)
	}
	if d, err := os.Open(g.dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// RetireLease implements api.LeaseBackend.
func (n *node) RetireLease(ctx context.Context, r api.LeaseGen) error {
	peer := model.NodeID(r.Node)
	if !n.isNode(peer) {
		return &api.Error{Status: http.StatusBadRequest, Field: "node", Message: fmt.Sprintf("unknown node %q", r.Node)}
	}
	if peer == n.cfg.Self {
		return &api.Error{Status: http.StatusBadRequest, Field: "node", Message: "a node does not retire its own lease"}
	}
	g := n.grants
	if g == nil {
		return unavailable("the lease is not running yet")
	}
	return g.retire(ctx, peer, r.Gen)
}
