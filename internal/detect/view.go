package detect

import (
	"cmp"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// View is one node's picture of its peers, built from accepted heartbeats.
// It is pure: it does no I/O and never reads the clock; every method takes
// the time. A View is not safe for concurrent use.
//
// A peer or link is online if heard within Timing.SuspectAfter of now,
// suspect if heard within Timing.OfflineAfter, and offline otherwise. A peer
// is as alive as its best link. One never heard counts as suspect until
// start+OfflineAfter and offline after, so that a node that has just started
// does not declare every peer dead at once.
type View struct {
	self    model.NodeID
	suspect time.Duration
	offline time.Duration
	start   time.Time
	peers   []*peerView // sorted by name
	byName  map[model.NodeID]*peerView
}

type peerView struct {
	name  model.NodeID
	links []linkView
}

type linkView struct {
	addr  netip.Addr
	heard time.Time // zero if never
	boot  uint64
	win   window
	rtt   time.Duration
	// echo is the SentAt of the newest heartbeat received on this link, and
	// echoAt when it arrived: what our next heartbeat echoes back.
	echo   int64
	echoAt time.Time
}

// Peer is what a View knows of one peer at one moment.
type Peer struct {
	Name      model.NodeID
	State     model.NodeState // the best of its links' states
	LastHeard time.Time       // zero if never
	Links     []Link          // one per link index
	// Boot is the newest incarnation heard from the peer on any link, 0 if
	// none: it grows each time the peer's daemon starts.
	Boot uint64
}

// Link is what a View knows of one link to one peer at one moment.
type Link struct {
	Index     int
	Address   netip.Addr      // the peer's address on that link
	State     model.NodeState // online, suspect or offline, by the same rule as the peer
	LastHeard time.Time       // zero if never
	// Loss is the fraction of the last 64 sequence numbers, up to the newest
	// seen in the peer's current Boot, that never arrived: 0 to 1, and 0 if
	// none arrived yet. Numbers sent before the first one this view saw do
	// not count, so joining a peer's stream late is not loss. Loss says
	// nothing about the silence since the newest; State does.
	Loss float64
	RTT  time.Duration // newest round-trip sample, 0 if none
}

// NewView returns a view, for self, of every other node in nodes, starting
// at start. It uses t.SuspectAfter and t.OfflineAfter.
func NewView(self model.NodeID, nodes []model.Node, t model.Timing, start time.Time) *View {
	v := &View{
		self:    self,
		suspect: t.SuspectAfter,
		offline: t.OfflineAfter,
		start:   start,
		byName:  make(map[model.NodeID]*peerView, len(nodes)),
	}
	for _, n := range nodes {
		if n.Name == self || v.byName[n.Name] != nil {
			continue
		}
		p := &peerView{name: n.Name, links: make([]linkView, len(n.Addresses))}
		for i, a := range n.Addresses {
			p.links[i].addr = a
		}
		v.byName[n.Name] = p
		v.peers = append(v.peers, p)
	}
	slices.SortFunc(v.peers, func(a, b *peerView) int { return cmp.Compare(a.name, b.name) })
	return v
}

// link returns the link a heartbeat from peer on index i is about, or nil.
func (v *View) link(peer model.NodeID, i uint8) *linkView {
	p := v.byName[peer]
	if p == nil || int(i) >= len(p.links) {
		return nil
	}
	return &p.links[i]
}

// Heard records h, accepted (see Guard) at now. It updates the link's last
// heard time, its loss window (reset by a newer Boot), and, when h.Echo is
// set, its round-trip time: now - Echo - Hold. Echo is our own send time
// reflected back and Hold the peer's delay, so the sample needs no clock
// agreement between the nodes. Heartbeats for another receiver, from an
// unknown node, on an unknown link, from an older Boot or repeating a
// sequence number are ignored.
func (v *View) Heard(h Heartbeat, now time.Time) {
	l := v.link(h.From, h.Link)
	if h.To != v.self || l == nil {
		return
	}
	w := l.win
	switch {
	case l.heard.IsZero() || h.Boot > l.boot:
		w = window{}
	case h.Boot < l.boot:
		return
	}
	if !w.add(h.Seq) {
		return
	}
	l.boot, l.win = h.Boot, w
	if now.After(l.heard) {
		l.heard = now
	}
	l.echo, l.echoAt = h.SentAt, now
	if ns := now.UnixNano(); h.Echo > 0 && h.Echo <= ns && h.Hold >= 0 && h.Hold <= ns-h.Echo {
		l.rtt = time.Duration(ns - h.Echo - h.Hold)
	}
}

// echo returns the Echo and Hold fields of a heartbeat sent at now to peer
// on link i: the newest heartbeat heard from it there, and how long ago;
// and when it was heard (zero if none was).
func (v *View) echo(peer model.NodeID, i uint8, now time.Time) (echo, hold int64, heardAt time.Time) {
	l := v.link(peer, i)
	if l == nil || l.echo == 0 {
		return 0, 0, time.Time{}
	}
	return l.echo, max(0, int64(now.Sub(l.echoAt))), l.echoAt
}

// state applies the liveness rule to a last-heard time.
func (v *View) state(heard, now time.Time) model.NodeState {
	if heard.IsZero() {
		if now.Sub(v.start) <= v.offline {
			return model.NodeSuspect
		}
		return model.NodeOffline
	}
	switch silence := now.Sub(heard); {
	case silence <= v.suspect:
		return model.NodeOnline
	case silence <= v.offline:
		return model.NodeSuspect
	}
	return model.NodeOffline
}

// Peers returns every peer (never self) as it stands at now, sorted by name.
// The result is the caller's to keep.
func (v *View) Peers(now time.Time) []Peer {
	out := make([]Peer, 0, len(v.peers))
	for _, p := range v.peers {
		pp := Peer{Name: p.name, Links: make([]Link, len(p.links))}
		for i, l := range p.links {
			pp.Links[i] = Link{
				Index:     i,
				Address:   l.addr,
				State:     v.state(l.heard, now),
				LastHeard: l.heard,
				Loss:      l.win.loss(),
				RTT:       l.rtt,
			}
			if l.heard.After(pp.LastHeard) {
				pp.LastHeard = l.heard
			}
			pp.Boot = max(pp.Boot, l.boot)
		}
		pp.State = v.state(pp.LastHeard, now)
		out = append(out, pp)
	}
	return out
}
