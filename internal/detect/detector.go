package detect

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// maxLinks is how many links a heartbeat's one-byte link index can name.
const maxLinks = 256

// Config configures a Detector. Every field but Log and Now is required.
type Config struct {
	Self model.NodeID
	// Nodes are all the nodes, self included. Link i of self binds
	// Self's Addresses[i]:Port and sends to each peer's Addresses[i]:Port.
	Nodes []model.Node
	Port  uint16 // UDP, the same on every node and link
	Key   Key
	// Timing gives HeartbeatInterval, SuspectAfter, OfflineAfter and
	// MaxClockSkew; all must be positive and SuspectAfter <= OfflineAfter.
	Timing model.Timing
	Log    *slog.Logger     // nil means discard
	Now    func() time.Time // nil means time.Now
	// Lease, if not nil, carries the nodes' leases on the heartbeats.
	Lease LeaseHooks
}

// LeaseHooks let heartbeats carry leases (package lease): every heartbeat
// to a peer may grant it its lease, from the moment it sent the heartbeat
// the grant echoes, and a grant heard back extends this node's own. The
// Detector calls them with its lock held, so they must not call it back.
type LeaseHooks interface {
	// Grant is called for every heartbeat to peer that echoes one of the
	// peer's, heard at heardAt (this node's clock). It returns the lease
	// generation of peer, plus one, that the heartbeat grants, or 0. A
	// hook that grants promises to count the grant from heardAt.
	Grant(peer model.NodeID, heardAt time.Time) uint64
	// Held returns the lease generation, plus one, that this node holds
	// now, or 0; heartbeats tell peers.
	Held() uint64
	// Granted is called for every authentic heartbeat from peer that
	// grants generation gen on the echo of a heartbeat this detector sent
	// at sent (this node's clock, so with its monotonic reading).
	Granted(peer model.NodeID, gen uint64, sent time.Time)
	// PeerHeld is called for every authentic heartbeat from peer, with the
	// generation plus one that it says it holds (0: none).
	PeerHeld(peer model.NodeID, held uint64, at time.Time)
}

// sentRing remembers the send times of the newest heartbeats to one peer
// on one link, so that a grant echoing one finds its send time with the
// monotonic reading that the wall-clock SentAt lacks.
type sentRing struct {
	ns  [64]int64
	at  [64]time.Time
	pos int
}

func (r *sentRing) add(at time.Time) {
	r.ns[r.pos], r.at[r.pos] = at.UnixNano(), at
	r.pos = (r.pos + 1) % len(r.ns)
}

// find returns the send time of the heartbeat whose SentAt is ns.
func (r *sentRing) find(ns int64) (time.Time, bool) {
	for i, v := range r.ns {
		if v == ns && ns != 0 {
			return r.at[i], true
		}
	}
	return time.Time{}, false
}

func (c Config) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Self == "" {
		bad("self: empty")
	}
	if len(c.Nodes) == 0 {
		bad("nodes: empty")
	}
	links := -1
	seen := map[model.NodeID]bool{}
	for i, n := range c.Nodes {
		switch {
		case len(n.Name) == 0 || len(n.Name) > MaxNameLen:
			bad("nodes[%d].name %q: must be 1 to %d bytes", i, n.Name, MaxNameLen)
		case seen[n.Name]:
			bad("nodes[%d].name %q: duplicate", i, n.Name)
		}
		seen[n.Name] = true
		switch {
		case links < 0 && (len(n.Addresses) == 0 || len(n.Addresses) > maxLinks):
			bad("nodes[%d].addresses: %d links, want 1 to %d", i, len(n.Addresses), maxLinks)
		case links < 0:
			links = len(n.Addresses)
		case len(n.Addresses) != links:
			bad("nodes[%d].addresses: %d links, want %d like nodes[0]", i, len(n.Addresses), links)
		}
		for j, a := range n.Addresses {
			if !a.IsValid() || a.IsUnspecified() {
				bad("nodes[%d].addresses[%d]: %q is not a usable address", i, j, a)
			}
		}
	}
	if c.Self != "" && !seen[c.Self] {
		bad("self %q: not among nodes", c.Self)
	}
	if c.Port == 0 {
		bad("port: must not be 0")
	}
	if !c.Key.ok {
		bad("key: zero, or derived from an empty secret")
	}
	t := c.Timing
	for _, d := range []struct {
		name string
		v    time.Duration
	}{
		{"heartbeat interval", t.HeartbeatInterval},
		{"suspect after", t.SuspectAfter},
		{"offline after", t.OfflineAfter},
		{"max clock skew", t.MaxClockSkew},
	} {
		if d.v <= 0 {
			bad("timing: %s is %v, must be positive", d.name, d.v)
		}
	}
	if t.SuspectAfter > t.OfflineAfter {
		bad("timing: suspect after (%v) exceeds offline after (%v)", t.SuspectAfter, t.OfflineAfter)
	}
	return errors.Join(errs...)
}

// Counters count heartbeats since New. Every packet read lands in exactly
// one of Received or the drop counters.
type Counters struct {
	Sent       uint64 // heartbeats handed to the kernel
	SendErrors uint64 // heartbeats the kernel refused (a link down, no route); not fatal
	Received   uint64 // heartbeats accepted
	// Drops, in the order they are checked.
	Malformed     uint64 // not a heartbeat of this version
	Forged        uint64 // bad MAC: wrong key, another cluster, corruption
	WrongReceiver uint64 // authentic, but for another node or arrived on another link
	UnknownSender uint64 // authentic, but from self or a node not configured here
	Stale         uint64 // send time beyond Timing.MaxClockSkew of our clock
	Replayed      uint64 // old Boot, repeated or too old Seq
}

// Snapshot is a Detector's state at one moment.
type Snapshot struct {
	Peers    []Peer
	Counters Counters
}

// Detector runs the heartbeat layer for one node: it sends heartbeats to
// every peer on every link, receives theirs, and keeps a View.
type Detector struct {
	self    model.Node
	nodes   []model.Node
	peers   []model.Node // sorted by name, self excluded
	isPeer  map[model.NodeID]bool
	port    uint16
	key     Key
	timing  model.Timing
	log     *slog.Logger
	now     func() time.Time
	changes chan struct{}
	running atomic.Bool
	listen  func(ctx context.Context, a netip.AddrPort) (conn, error) // listenUDP, or a test's fake

	mu       sync.Mutex
	view     *View
	guard    Guard
	counters Counters
	boot     uint64
	seq      map[model.NodeID][]uint64 // last sent, per peer and link
	sent     map[model.NodeID][]sentRing
	lease    LeaseHooks
	reported map[model.NodeID]*reported
}

// reported are the states last logged for one peer.
type reported struct {
	state model.NodeState
	links []model.NodeState
}

// New validates cfg and returns a Detector that has not started. All
// problems found are reported together.
func New(cfg Config) (*Detector, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("detect: invalid config: %w", err)
	}
	d := &Detector{
		port:    cfg.Port,
		key:     cfg.Key,
		timing:  cfg.Timing,
		log:     cfg.Log,
		now:     cfg.Now,
		changes: make(chan struct{}, 1),
		isPeer:  map[model.NodeID]bool{},
		seq:     map[model.NodeID][]uint64{},
		sent:    map[model.NodeID][]sentRing{},
		lease:   cfg.Lease,
		listen:  listenUDP,
	}
	if d.log == nil {
		d.log = slog.New(slog.DiscardHandler)
	}
	if d.now == nil {
		d.now = time.Now
	}
	for _, n := range cfg.Nodes {
		n.Addresses = slices.Clone(n.Addresses)
		d.nodes = append(d.nodes, n)
		if n.Name == cfg.Self {
			d.self = n
			continue
		}
		d.peers = append(d.peers, n)
		d.isPeer[n.Name] = true
		d.seq[n.Name] = make([]uint64, len(n.Addresses))
		d.sent[n.Name] = make([]sentRing, len(n.Addresses))
	}
	slices.SortFunc(d.peers, func(a, b model.Node) int { return cmp.Compare(a.Name, b.Name) })
	start := d.now()
	d.boot = uint64(max(1, start.UnixNano()))
	d.begin(start)
	return d, nil
}

// Boot returns this detector's incarnation: the Boot its heartbeats carry,
// fixed by New and larger than that of any earlier detector of this node
// (it is the start time in nanoseconds). Concurrency-safe.
func (d *Detector) Boot() uint64 { return d.boot }

// begin starts a new view at start. mu must not be held.
func (d *Detector) begin(start time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.view = NewView(d.self.Name, d.nodes, d.timing, start)
	d.reported = map[model.NodeID]*reported{}
	for _, p := range d.view.Peers(start) {
		r := &reported{state: p.State}
		for _, l := range p.Links {
			r.links = append(r.links, l.State)
		}
		d.reported[p.Name] = r
	}
}

// Changes returns a channel that receives a value whenever any peer's node
// State changes. Sends do not block and the buffer holds one value, so a
// slow reader sees one value for many changes and should then read
// Snapshot.
func (d *Detector) Changes() <-chan struct{} { return d.changes }

// Snapshot returns every peer as it stands now, and the counters. It is safe
// to call concurrently with Run and from any goroutine, before Run too.
func (d *Detector) Snapshot() Snapshot {
	d.mu.Lock()
	defer d.mu.Unlock()
	return Snapshot{Peers: d.view.Peers(d.now()), Counters: d.counters}
}

// Run binds one UDP socket per link on Self's address on that link, sends a
// heartbeat to each peer on each link every Timing.HeartbeatInterval,
// receives heartbeats and keeps the view. Its start is the grace start of
// the view and the Boot of its heartbeats. It blocks until ctx is cancelled,
// then closes its sockets, waits for every goroutine it started and returns
// nil. It returns an error if a socket cannot be bound. Run may be called
// only once.
//
// A state change caused by silence is noticed at the next heartbeat tick, so
// at most HeartbeatInterval late; one caused by a heartbeat, at once.
func (d *Detector) Run(ctx context.Context) error {
	if !d.running.CompareAndSwap(false, true) {
		return errors.New("detect: Run called more than once")
	}
	conns, err := d.listenAll(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	d.begin(d.now())
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Go(func() { d.receive(i, c) })
	}
	wg.Go(func() { d.send(ctx, conns) })
	<-ctx.Done()
	for _, c := range conns {
		c.Close() // unblocks receive; a send racing with it fails harmlessly
	}
	wg.Wait()
	return nil
}

// conn is the part of a UDP socket the Detector uses. *net.UDPConn is one;
// tests use an in-memory twin. Close must make a blocked read return an
// error wrapping net.ErrClosed.
type conn interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
	WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error)
	Close() error
}

func listenUDP(ctx context.Context, a netip.AddrPort) (conn, error) {
	var lc net.ListenConfig
	pc, err := lc.ListenPacket(ctx, "udp", a.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// listenAll binds one socket per link, or none.
func (d *Detector) listenAll(ctx context.Context) ([]conn, error) {
	var conns []conn
	for i, a := range d.self.Addresses {
		c, err := d.listen(ctx, netip.AddrPortFrom(a, d.port))
		if err != nil {
			for _, c := range conns {
				c.Close()
			}
			return nil, fmt.Errorf("detect: listen on link %d: %w", i, err)
		}
		conns = append(conns, c)
	}
	return conns, nil
}

// receive reads heartbeats on link until its socket is closed.
func (d *Detector) receive(link int, c conn) {
	buf := make([]byte, maxPacket+1) // one spare byte, so oversized packets fail to decode
	for {
		n, _, err := c.ReadFromUDPAddrPort(buf)
		if errors.Is(err, net.ErrClosed) {
			return
		}
		if err != nil {
			continue // a transient error (ICMP feedback); the socket still works
		}
		d.handle(link, buf[:n])
	}
}

// handle judges one packet read on link.
func (d *Detector) handle(link int, b []byte) {
	h, err := Decode(d.key, b)
	d.mu.Lock()
	defer d.mu.Unlock()
	now := d.now()
	c := &d.counters
	switch {
	case errors.Is(err, ErrForged):
		c.Forged++
	case err != nil:
		c.Malformed++
	case h.To != d.self.Name || int(h.Link) != link:
		c.WrongReceiver++
	case !d.isPeer[h.From]:
		c.UnknownSender++
	default:
		err := d.guard.Accept(h, now, d.timing.MaxClockSkew)
		switch {
		case errors.Is(err, ErrStale):
			c.Stale++
		case err != nil:
			c.Replayed++
		default:
			c.Received++
			d.view.Heard(h, now)
			if d.lease != nil {
				d.lease.PeerHeld(h.From, h.Held, now)
				if sent, ok := d.sent[h.From][h.Link].find(h.Echo); ok && h.Grant != 0 {
					d.lease.Granted(h.From, h.Grant-1, sent)
				}
			}
			if d.reported[h.From].links[h.Link] != model.NodeOnline {
				d.evaluate(now) // a link came back: report it now, not at the next tick
			}
		}
	}
}

// send sends a round of heartbeats and re-evaluates the view at once and
// then every HeartbeatInterval, until ctx is done.
func (d *Detector) send(ctx context.Context, conns []conn) {
	t := time.NewTicker(d.timing.HeartbeatInterval)
	defer t.Stop()
	for {
		d.beat(conns)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

type packet struct {
	link int
	to   netip.AddrPort
	b    []byte
}

// beat sends one heartbeat to every peer on every link.
func (d *Detector) beat(conns []conn) {
	d.mu.Lock()
	now := d.now()
	pkts := make([]packet, 0, len(conns)*len(d.peers))
	var held uint64
	if d.lease != nil {
		held = d.lease.Held()
	}
	for i := range conns {
		for _, p := range d.peers {
			d.seq[p.Name][i]++
			echo, hold, heardAt := d.view.echo(p.Name, uint8(i), now)
			var grant uint64
			if d.lease != nil && echo != 0 {
				grant = d.lease.Grant(p.Name, heardAt)
			}
			d.sent[p.Name][i].add(now)
			pkts = append(pkts, packet{i, netip.AddrPortFrom(p.Addresses[i], d.port), Encode(d.key, Heartbeat{
				From:   d.self.Name,
				To:     p.Name,
				Link:   uint8(i),
				Boot:   d.boot,
				Seq:    d.seq[p.Name][i],
				SentAt: now.UnixNano(),
				Echo:   echo,
				Hold:   hold,
				Grant:  grant,
				Held:   held,
			})})
		}
	}
	d.evaluate(now)
	d.mu.Unlock()

	var sent, failed uint64
	for _, p := range pkts {
		if _, err := conns[p.link].WriteToUDPAddrPort(p.b, p.to); err != nil {
			failed++ // e.g. network unreachable while this link is cut
		} else {
			sent++
		}
	}
	d.mu.Lock()
	d.counters.Sent += sent
	d.counters.SendErrors += failed
	d.mu.Unlock()
}

// evaluate compares the view at now with the states last reported, and
// logs each difference and signals Changes if a node state changed. It logs
// under mu so that the log shows changes in the order they happened. mu
// must be held.
func (d *Detector) evaluate(now time.Time) {
	notify := false
	for _, p := range d.view.Peers(now) {
		r := d.reported[p.Name]
		for i, l := range p.Links {
			if r.links[i] != l.State {
				r.links[i] = l.State
				d.log.Info("link state changed", "node", p.Name, "link", i, "state", l.State)
			}
		}
		if r.state != p.State {
			r.state = p.State
			d.log.Info("node state changed", "node", p.Name, "state", p.State)
			notify = true
		}
	}
	if notify {
		select {
		case d.changes <- struct{}{}:
		default:
		}
	}
}
