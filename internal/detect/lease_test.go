package detect

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// hooks is a LeaseHooks that grants generation gen to every peer not in
// refuse, holds held, and records what it is told.
type hooks struct {
	mu      sync.Mutex
	gen     uint64
	refuse  map[model.NodeID]bool
	held    uint64
	granted []grant
	heard   map[model.NodeID]uint64 // what each peer said it holds
	sent    map[model.NodeID][]time.Time
}

type grant struct {
	from      model.NodeID
	gen       uint64
	sent, got time.Time
}

func (h *hooks) Grant(peer model.NodeID, heardAt time.Time) uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.refuse[peer] {
		return 0
	}
	return h.gen + 1
}

func (h *hooks) Held() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.held
}

func (h *hooks) Granted(peer model.NodeID, gen uint64, sent time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.granted = append(h.granted, grant{peer, gen, sent, time.Now()})
}

func (h *hooks) PeerHeld(peer model.NodeID, held uint64, _ time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.heard[peer] = held
}

func (h *hooks) take() []grant {
	h.mu.Lock()
	defer h.mu.Unlock()
	g := h.granted
	h.granted = nil
	return g
}

// TestLeaseOverHeartbeats runs three Detectors over the in-memory network:
// each grant a node hears names the send time of one of its own
// heartbeats, no later than the grant's arrival and a round trip old; a
// peer that stops granting stops reaching the holder; and every node hears
// what its peers say they hold.
func TestLeaseOverHeartbeats(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fn := newFakeNet()
		nodes := []model.Node{
			{Name: "n1", Addresses: addrs("127.0.0.1", "127.0.1.1")},
			{Name: "n2", Addresses: addrs("127.0.0.2", "127.0.1.2")},
			{Name: "n3", Addresses: addrs("127.0.0.3", "127.0.1.3")},
		}
		const every = 10 * time.Millisecond
		hs := map[model.NodeID]*hooks{}
		var stops []func() error
		for _, n := range nodes {
			h := &hooks{gen: 4, refuse: map[model.NodeID]bool{}, held: 5, heard: map[model.NodeID]uint64{}}
			hs[n.Name] = h
			_, stop := fn.run(t, Config{Self: n.Name, Nodes: nodes, Port: 5405, Key: testKey, Lease: h,
				Timing: model.Timing{HeartbeatInterval: every, SuspectAfter: 50 * time.Millisecond,
					OfflineAfter: 100 * time.Millisecond, MaxClockSkew: time.Second}})
			stops = append(stops, stop)
		}
		defer func() {
			for _, stop := range stops {
				if err := stop(); err != nil {
					t.Errorf("Run: %v", err)
				}
			}
		}()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		h1 := hs["n1"]
		from := map[model.NodeID]int{}
		for _, g := range h1.take() {
			from[g.from]++
			if g.gen != 4 {
				t.Errorf("grant of generation %d from %s, want 4", g.gen, g.from)
			}
			// Fake time moves in steps of the interval: the echoed heartbeat
			// left on one tick and the grant came back by the next.
			if age := g.got.Sub(g.sent); age < 0 || age > 2*every || g.sent.Sub(g.sent.Truncate(every)) != 0 {
				t.Errorf("grant from %s: sent %v, arrived %v later; want one of n1's ticks, at most two intervals old", g.from, g.sent, age)
			}
		}
		// Two links, a heartbeat each per interval: about 20 each in 100ms.
		if from["n2"] < 15 || from["n3"] < 15 {
			t.Errorf("grants heard by n1 in 100ms: %v; want at least 15 from each peer", from)
		}
		hs["n2"].mu.Lock()
		hs["n2"].refuse["n1"] = true
		hs["n2"].mu.Unlock()
		time.Sleep(20 * time.Millisecond) // a grant may be in flight
		synctest.Wait()
		h1.take()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()
		from = map[model.NodeID]int{}
		for _, g := range h1.take() {
			from[g.from]++
		}
		if from["n2"] != 0 || from["n3"] < 15 {
			t.Errorf("after n2 stopped granting n1: grants %v; want none from n2, n3's still", from)
		}
		for _, n := range []model.NodeID{"n2", "n3"} {
			hs[n].mu.Lock()
			if got := hs[n].heard["n1"]; got != 5 {
				t.Errorf("%s heard n1 hold %d, want 5", n, got)
			}
			hs[n].mu.Unlock()
		}
	})
}
