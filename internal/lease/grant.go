package lease

import (
	"slices"
	"time"
)

// Leases granted by peers. A holder's lease is granted by its peers over
// the heartbeats, not committed through Raft: a heartbeat from a peer that
// echoes one of the holder's grants the holder a lease of Duration from
// the moment it sent the echoed heartbeat, and the holder holds while it
// has fresh grants from a quorum of its peers ([Quorum]). Each grant is a
// promise of the peer ([Granter]): it will not agree that the holder's
// lease ended until ObserverWait after it heard the heartbeat it granted
// on. A takeover needs that agreement (Retire) from enough peers that no
// quorum of grants can remain ([AgreementsNeeded]), and once a peer has
// agreed it grants that generation of the lease never again, so no grant
// in flight can revive it.
//
// The arithmetic is that of the package documentation with the peer as
// observer: the holder read S before the heartbeat left; the peer heard it
// at A, after S in real time; the holder's lease ends by S+Duration on its
// clock, so at most Duration/(1-MaxDrift) of real time after S, which is
// before ObserverWait has passed on the peer's clock after A.

// QuorumOf is how many of its peers' grants a holder with peers peers
// needs: half of them, rounded up. With three nodes a holder needs one of
// its two peers; with five, two of its four.
func QuorumOf(peers int) int { return (peers + 1) / 2 }

// AgreementsNeeded is how many of a holder's peers must agree that its
// lease ended before it is taken over: enough that the others are fewer
// than QuorumOf(peers), so no quorum of grants can remain. With three
// nodes both peers must agree; with five, three of the four.
func AgreementsNeeded(peers int) int { return peers - QuorumOf(peers) + 1 }

// Quorum is a holder's view of the grants of its peers for one lease
// generation. It is a plain value; its owner serializes calls.
type Quorum struct {
	need   int
	gen    uint64
	latest map[string]time.Time // per peer: the newest send time it granted
}

// NewQuorum returns the grants of generation gen, none yet, of which need
// are required.
func NewQuorum(gen uint64, need int) Quorum {
	return Quorum{need: max(need, 1), gen: gen, latest: map[string]time.Time{}}
}

// Gen is the generation whose grants q counts.
func (q *Quorum) Gen() uint64 { return q.gen }

// Add records that peer granted generation gen on the echo of a heartbeat
// the holder sent at sent, and returns the send time that a quorum of
// peers has granted: the need-th newest among each peer's newest. The
// lease then lasts until that time plus Duration. It returns false while
// fewer than need peers granted, and ignores a grant of another
// generation.
func (q *Quorum) Add(peer string, gen uint64, sent time.Time) (time.Time, bool) {
	if gen != q.gen || q.latest == nil {
		return time.Time{}, false
	}
	if cur, ok := q.latest[peer]; !ok || sent.After(cur) {
		q.latest[peer] = sent
	}
	if len(q.latest) < q.need {
		return time.Time{}, false
	}
	times := make([]time.Time, 0, len(q.latest))
	for _, t := range q.latest {
		times = append(times, t)
	}
	slices.SortFunc(times, func(a, b time.Time) int { return b.Compare(a) })
	return times[q.need-1], true
}

// Granter is one node's side of the leases it grants its peers: what it
// promised and which generations it retired. It is a plain value; its
// owner serializes calls and persists Retired before it reports an
// agreement (a restarted process must not grant a retired generation).
type Granter struct {
	start    time.Time            // the promises of an earlier process are unknown: they count from here
	promised map[string]time.Time // per peer: when it heard the newest heartbeat it granted on
	retired  map[string]uint64    // per peer: generations below this are retired
}

// NewGranter returns a granter that starts at start (a time.Now reading
// taken before any grant of this process could be sent), with the
// generations a previous process retired.
func NewGranter(start time.Time, retired map[string]uint64) Granter {
	g := Granter{start: start, promised: map[string]time.Time{}, retired: map[string]uint64{}}
	for p, r := range retired {
		g.retired[p] = r
	}
	return g
}

// Grant reports whether this node may grant generation gen of peer's lease
// on a heartbeat that echoes one it heard at heardAt, and if so records
// the promise. It may unless it retired that generation.
func (g *Granter) Grant(peer string, gen uint64, heardAt time.Time) bool {
	if gen < g.retired[peer] {
		return false
	}
	if cur := g.promised[peer]; heardAt.After(cur) {
		g.promised[peer] = heardAt
	}
	return true
}

// Retire makes this node grant no generation of peer's lease up to gen
// ever again, and returns the instant, on this node's clock, from which
// every grant it made of them has ended: the newest promise (or the
// start) plus c.ObserverWait. The caller agrees that the lease ended only
// from then on, and only after persisting Retired.
func (g *Granter) Retire(peer string, gen uint64, c Config) time.Time {
	if gen+1 > g.retired[peer] {
		g.retired[peer] = gen + 1
	}
	from := g.start
	if p := g.promised[peer]; p.After(from) {
		from = p
	}
	return ExpiresBy(from, c)
}

// Retired returns, per peer, the lowest generation this node may still
// grant; a copy, for persisting.
func (g *Granter) Retired() map[string]uint64 {
	out := make(map[string]uint64, len(g.retired))
	for p, r := range g.retired {
		out[p] = r
	}
	return out
}
