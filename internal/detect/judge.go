package detect

import (
	"cmp"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// JudgeConfig configures a Judge. Timing is required; any other zero field
// means its documented default.
type JudgeConfig struct {
	Self model.NodeID
	// Nodes are all the nodes, self included; link i of a peer is its
	// Addresses[i].
	Nodes []model.Node
	// Timing gives SuspectAfter (the silence after which a heartbeat link
	// is down) and the defaults of the windows.
	Timing model.Timing
	// Require is K: how many of a peer's available layers must have failed
	// for the window in force before the peer is offline. 0 means 2; it may
	// be 1 to 3, and is capped at the number of available layers.
	Require int
	// Window is how long K layers must have been failed together when the
	// verdict rests on two layers or more (K in force >= 2). 0 means
	// max(SuspectAfter, OfflineAfter - 2*HeartbeatInterval): 125ms for
	// the lan profile, 2.4s for wan.
	Window time.Duration
	// SingleWindow is the window when the verdict rests on one layer (K in
	// force is 1: only heartbeats are available, or Require is 1). 0 means
	// OfflineAfter, so that a cluster with heartbeats alone behaves exactly
	// as the View does.
	SingleWindow time.Duration
	// Damping damps peers that keep going offline and coming back. The
	// zero value means its defaults.
	Damping Damping
}

// defaultRequire is K when JudgeConfig.Require is 0: two of three.
const defaultRequire = 2

// DefaultWindow is the Window a JudgeConfig with a zero Window uses.
func DefaultWindow(t model.Timing) time.Duration {
	return max(t.SuspectAfter, t.OfflineAfter-2*t.HeartbeatInterval)
}

func (c JudgeConfig) resolved() JudgeConfig {
	if c.Require == 0 {
		c.Require = defaultRequire
	}
	if c.Window == 0 {
		c.Window = DefaultWindow(c.Timing)
	}
	if c.SingleWindow == 0 {
		c.SingleWindow = c.Timing.OfflineAfter
	}
	c.Damping = c.Damping.resolved()
	return c
}

func (c JudgeConfig) validate() error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if c.Self == "" {
		bad("self: empty")
	}
	seen := map[model.NodeID]bool{}
	for i, n := range c.Nodes {
		if n.Name == "" || seen[n.Name] {
			bad("nodes[%d].name %q: empty or duplicate", i, n.Name)
		}
		seen[n.Name] = true
	}
	if c.Self != "" && !seen[c.Self] {
		bad("self %q: not among nodes", c.Self)
	}
	if c.Timing.SuspectAfter <= 0 {
		bad("timing: suspect after is %v, must be positive", c.Timing.SuspectAfter)
	}
	if c.Require < 1 || c.Require > int(numLayers) {
		bad("require: %d, must be 1 to %d", c.Require, numLayers)
	}
	if c.Window <= 0 {
		bad("window: %v, must be positive", c.Window)
	}
	if c.SingleWindow <= 0 {
		bad("single window: %v, must be positive", c.SingleWindow)
	}
	if err := c.Damping.Validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Judge decides, from per-layer observations of each peer, whether the peer
// is online, suspect or offline. It is pure: it does no I/O, starts no
// goroutine and never reads the clock; time comes in with every
// observation and every question. A Judge is not safe for concurrent use
// (Liveness wraps one for that).
//
// The rule: a layer is Up if any of its signals is Up, Down if none is Up
// and one is Down, and Unknown (not available) otherwise. A layer that is
// Down has been failing since the latest moment one of its signals was not
// Down, and has failed once that is longer ago than the window in force. A
// peer is offline when at least K of its N available layers have failed,
// where K is Require capped at N; suspect when any layer is Down (or no
// layer is available); online otherwise. So a layer with nothing
// configured (no application checks) does not count, heartbeats alone
// behave as the View does, and one dead link is reported on the link but
// is no node failure while another link lives.
type Judge struct {
	cfg    JudgeConfig // resolved
	start  time.Time
	peers  []*judged // sorted by name
	byName map[model.NodeID]*judged
}

// judged is what a Judge holds about one peer.
type judged struct {
	name     model.NodeID
	addrs    []netip.Addr
	udp, tcp []signal // per link
	app      map[string]*signal
	state    model.NodeState // the last verdict; "" before the first
	since    time.Time       // when the last verdict's state was first given
	flaps    Flaps
}

// signal is the newest evidence about one signal.
type signal struct {
	seen    bool
	status  Status
	since   time.Time // start of the current run of status
	at      time.Time // At of the newest observation
	expires time.Time
	detail  string
}

// at returns the signal's status at t, and since when it has held.
func (s *signal) statusAt(t time.Time) (Status, time.Time) {
	switch {
	case !s.seen:
		return Unknown, time.Time{}
	case !s.expires.IsZero() && !t.Before(s.expires):
		return Unknown, s.expires
	}
	return s.status, s.since
}

func (s *signal) observe(o Observation) {
	if s.seen && o.At.Before(s.at) {
		return // older than what we know
	}
	if cur, since := s.statusAt(o.At); s.seen && cur == o.Status && !since.IsZero() {
		s.since = since
	} else {
		s.since = o.At
	}
	s.seen, s.status, s.at, s.expires, s.detail = true, o.Status, o.At, o.Expires, o.Detail
}

// NewJudge validates cfg and returns a Judge of every peer of cfg.Self
// that knows nothing yet; start is when it started, the time from which a
// link never heard is silent.
func NewJudge(cfg JudgeConfig, start time.Time) (*Judge, error) {
	cfg = cfg.resolved()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("detect: invalid judge config: %w", err)
	}
	j := &Judge{cfg: cfg, start: start, byName: map[model.NodeID]*judged{}}
	for _, n := range cfg.Nodes {
		if n.Name == cfg.Self {
			continue
		}
		p := &judged{name: n.Name, addrs: slices.Clone(n.Addresses), udp: make([]signal, len(n.Addresses)),
			tcp: make([]signal, len(n.Addresses)), app: map[string]*signal{}}
		j.peers = append(j.peers, p)
		j.byName[n.Name] = p
	}
	j.cfg.Nodes = nil // not kept: the peers hold what is needed
	slices.SortFunc(j.peers, func(a, b *judged) int { return cmp.Compare(a.name, b.name) })
	return j, nil
}

// Observe records o. An observation of self, of an unknown peer, of a link
// the peer does not have, of an app check with no name, or older than the
// newest one of the same signal, changes nothing.
func (j *Judge) Observe(o Observation) {
	p := j.byName[o.Peer]
	if p == nil || o.Status > Down {
		return
	}
	switch o.Layer {
	case LayerUDP, LayerTCP:
		sigs := p.udp
		if o.Layer == LayerTCP {
			sigs = p.tcp
		}
		if o.Link >= 0 && o.Link < len(sigs) {
			sigs[o.Link].observe(o)
		}
	case LayerApp:
		if o.Check == "" {
			return
		}
		s := p.app[o.Check]
		if s == nil {
			s = &signal{}
			p.app[o.Check] = s
		}
		s.observe(o)
	}
}

// Heartbeats records the heartbeat layer from peers, as a View (or a
// Detector's Snapshot) gives it at now: a link heard within SuspectAfter of
// now is Up at its last heard time; any other is Down since it was last
// heard, or since the Judge's start if never.
func (j *Judge) Heartbeats(peers []Peer, now time.Time) {
	for _, p := range peers {
		for _, l := range p.Links {
			o := Observation{Peer: p.Name, Layer: LayerUDP, Link: l.Index, Status: Down, At: l.LastHeard}
			switch {
			case l.LastHeard.IsZero():
				o.At, o.Detail = j.start, "never heard"
			case now.Sub(l.LastHeard) <= j.cfg.Timing.SuspectAfter:
				o.Status = Up
			}
			j.Observe(o)
		}
	}
}

// Verdict is the Judge's judgement of one peer at one moment.
type Verdict struct {
	Peer  model.NodeID
	State model.NodeState
	// Since is when this Judge first gave State in a row of verdicts; it is
	// as precise as the calls to Verdicts are frequent.
	Since time.Time
	// Require is K in force (Require capped at Of), Of is N: the layers
	// available. Window is the window in force.
	Require, Of int
	Window      time.Duration
	Layers      []LayerVerdict // one per layer: udp, tcp, app
	Links       []LinkVerdict  // one per link
	// Reason is one line for status:
	// "udp: all 2 links silent 720ms; tcp: 2/2 probes failing 650ms; app: no checks".
	Reason string
	// Damped says the peer keeps going offline and coming back: whatever
	// its State, it should be kept out of placement until the damping ends
	// (Damp.Until). Damp.Reason says why.
	Damped bool
	Damp   DampStatus
	Flaps  Flaps
}

// LayerVerdict is one layer's part in a verdict.
type LayerVerdict struct {
	Layer  Layer
	Status Status
	// Since is, for a layer that is Down, when it began failing; zero
	// otherwise.
	Since time.Time
	// Failed says the layer has been Down for longer than the window in
	// force: it counts towards K.
	Failed bool
	// Signals are the signals seen so far: links in index order, or checks
	// by name.
	Signals []SignalVerdict
}

// SignalVerdict is one signal's part in a verdict.
type SignalVerdict struct {
	Link   int    // the link index; -1 for an app check
	Check  string // the check's name; "" for a link
	Status Status
	Since  time.Time // when the current status began
	Detail string
}

// LinkVerdict is one link of a peer: Up if heartbeats or probes pass on it,
// Down if neither does and one of them fails there. A link Down while
// another is Up is reported, never a node failure.
type LinkVerdict struct {
	Index   int
	Address netip.Addr
	Status  Status
	Since   time.Time // for Down: when it began failing; zero otherwise
	// UDP and TCP are the link's heartbeat and probe status.
	UDP, TCP Status
}

// Verdicts returns the verdict on every peer at now, sorted by name. It
// also records, for Since and for damping, each peer's state: a peer whose
// verdict leaves offline has flapped. Calls must come with non-decreasing
// now; the result is the caller's to keep.
func (j *Judge) Verdicts(now time.Time) []Verdict {
	out := make([]Verdict, 0, len(j.peers))
	for _, p := range j.peers {
		out = append(out, j.verdict(p, now))
	}
	return out
}

func (j *Judge) verdict(p *judged, now time.Time) Verdict {
	v := Verdict{Peer: p.name, Layers: []LayerVerdict{
		layerOf(LayerUDP, linkSignals(p.udp, now)),
		layerOf(LayerTCP, linkSignals(p.tcp, now)),
		layerOf(LayerApp, checkSignals(p.app, now)),
	}}
	for _, l := range v.Layers {
		if l.Status != Unknown {
			v.Of++
		}
	}
	v.Require = min(j.cfg.Require, v.Of)
	v.Window = j.cfg.Window
	if v.Require <= 1 {
		v.Window = j.cfg.SingleWindow
	}
	failed, failing := 0, false
	for i := range v.Layers {
		l := &v.Layers[i]
		if l.Status == Down {
			failing = true
			l.Failed = now.Sub(l.Since) > v.Window
			if l.Failed {
				failed++
			}
		}
	}
	switch {
	case v.Of == 0 || (failing && failed < v.Require):
		v.State = model.NodeSuspect
	case failing:
		v.State = model.NodeOffline
	default:
		v.State = model.NodeOnline
	}
	for i, a := range p.addrs {
		u, _ := p.udp[i].statusAt(now)
		t, _ := p.tcp[i].statusAt(now)
		lv := LinkVerdict{Index: i, Address: a, UDP: u, TCP: t}
		lv.Status, lv.Since = aggregate([]*signal{&p.udp[i], &p.tcp[i]}, now)
		v.Links = append(v.Links, lv)
	}
	v.Reason = reason(v.Layers, now)

	if p.state != v.State {
		if p.state == model.NodeOffline {
			p.flaps = j.cfg.Damping.Flap(p.flaps, now)
		}
		p.state, p.since = v.State, now
	}
	v.Since, v.Flaps = p.since, p.flaps
	v.Damp = j.cfg.Damping.Status(p.flaps, now)
	v.Damped = v.Damp.Damped
	return v
}

// aggregate applies the layer rule to sigs at now: Up if any is Up; Down,
// failing since the latest start of a run that is not Up, if any is Down;
// Unknown otherwise.
func aggregate(sigs []*signal, now time.Time) (Status, time.Time) {
	st, since := Unknown, time.Time{}
	for _, s := range sigs {
		ss, from := s.statusAt(now)
		switch {
		case ss == Up:
			return Up, time.Time{}
		case ss == Down:
			st = Down
		}
		if from.After(since) {
			since = from
		}
	}
	if st != Down {
		since = time.Time{}
	}
	return st, since
}

func linkSignals(sigs []signal, now time.Time) []SignalVerdict {
	var out []SignalVerdict
	for i := range sigs {
		if s := &sigs[i]; s.seen {
			st, since := s.statusAt(now)
			out = append(out, SignalVerdict{Link: i, Status: st, Since: since, Detail: s.detail})
		}
	}
	return out
}

func checkSignals(sigs map[string]*signal, now time.Time) []SignalVerdict {
	var out []SignalVerdict
	for _, name := range slices.Sorted(maps.Keys(sigs)) {
		st, since := sigs[name].statusAt(now)
		out = append(out, SignalVerdict{Link: -1, Check: name, Status: st, Since: since, Detail: sigs[name].detail})
	}
	return out
}

// layerOf builds a layer's verdict from its signals (Failed is set later).
func layerOf(l Layer, sigs []SignalVerdict) LayerVerdict {
	lv := LayerVerdict{Layer: l, Signals: sigs}
	for _, s := range sigs {
		switch {
		case s.Status == Up:
			lv.Status = Up
		case s.Status == Down && lv.Status != Up:
			lv.Status = Down
		}
	}
	if lv.Status == Down {
		for _, s := range sigs {
			if s.Since.After(lv.Since) {
				lv.Since = s.Since
			}
		}
	}
	return lv
}

// reason renders the layers of a verdict on one line.
func reason(layers []LayerVerdict, now time.Time) string {
	parts := make([]string, 0, len(layers))
	for _, l := range layers {
		parts = append(parts, l.Layer.String()+": "+layerReason(l, now))
	}
	return strings.Join(parts, "; ")
}

// layerWords are how a layer's reason names its signals and their failure.
func layerWords(l Layer) (noun, failing string) {
	switch l {
	case LayerUDP:
		return "links", "silent"
	case LayerTCP:
		return "probes", "failing"
	}
	return "checks", "failing"
}

func layerReason(l LayerVerdict, now time.Time) string {
	noun, failing := layerWords(l.Layer)
	total, up, down := len(l.Signals), 0, 0
	for _, s := range l.Signals {
		switch s.Status {
		case Up:
			up++
		case Down:
			down++
		}
	}
	switch {
	case total == 0 && l.Layer == LayerUDP:
		return "no heartbeats"
	case total == 0:
		return "no " + noun
	case l.Status == Unknown:
		return fmt.Sprintf("no recent result from %d %s", total, plural(total, noun))
	case l.Status == Down && l.Layer == LayerUDP && down == total && total > 1:
		return fmt.Sprintf("all %d %s %s %s", total, noun, failing, dur(now.Sub(l.Since)))
	case l.Status == Down:
		s := fmt.Sprintf("%d/%d %s %s %s", down, total, noun, failing, dur(now.Sub(l.Since)))
		if d := commonDetail(l.Signals); d != "" {
			s += " (" + d + ")"
		}
		return s
	}
	s := fmt.Sprintf("%d/%d %s up", up, total, noun)
	var others []string
	for _, sg := range l.Signals {
		if sg.Status == Up {
			continue
		}
		name := sg.Check
		if sg.Link >= 0 {
			name = fmt.Sprintf("link %d", sg.Link)
		}
		switch {
		case sg.Status == Unknown:
			others = append(others, name+" unknown")
		case sg.Detail != "" && l.Layer != LayerUDP:
			others = append(others, fmt.Sprintf("%s %s %s: %s", name, failing, dur(now.Sub(sg.Since)), sg.Detail))
		default:
			others = append(others, fmt.Sprintf("%s %s %s", name, failing, dur(now.Sub(sg.Since))))
		}
	}
	if len(others) > 0 {
		s += " (" + strings.Join(others, ", ") + ")"
	}
	return s
}

// plural returns noun (a plural) for n != 1, and its singular for 1.
func plural(n int, noun string) string {
	if n == 1 {
		return strings.TrimSuffix(noun, "s")
	}
	return noun
}

// commonDetail is the detail every failing signal shares, or "".
func commonDetail(sigs []SignalVerdict) string {
	d := ""
	for _, s := range sigs {
		if s.Status != Down {
			continue
		}
		if s.Detail == "" || (d != "" && s.Detail != d) {
			return ""
		}
		d = s.Detail
	}
	return d
}

// dur renders a duration to the millisecond.
func dur(d time.Duration) string { return d.Round(time.Millisecond).String() }

// ChangeKind says what a Change is about.
type ChangeKind uint8

const (
	ChangeState   ChangeKind = iota // a peer's State
	ChangeLink                      // a link's Status
	ChangeDamping                   // a peer became damped or undamped
)

// Change is one difference between two rounds of verdicts: what the daemon
// logs, counts and publishes as an event.
type Change struct {
	Kind ChangeKind
	Peer model.NodeID
	Link int // for ChangeLink; -1 otherwise
	// From and To are states (online, suspect, offline), link statuses (up,
	// down, unknown) or damped and undamped.
	From, To string
	Reason   string // the verdict's Reason, or its damping reason
}

func (c Change) String() string {
	switch c.Kind {
	case ChangeLink:
		return fmt.Sprintf("%s link %d %s -> %s: %s", c.Peer, c.Link, c.From, c.To, c.Reason)
	case ChangeDamping:
		return fmt.Sprintf("%s %s (%s)", c.Peer, c.To, c.Reason)
	}
	return fmt.Sprintf("%s %s -> %s: %s", c.Peer, c.From, c.To, c.Reason)
}

// Diff returns the changes from prev to next, two results of Verdicts, in
// peer order and, for each peer, state, then links, then damping. A peer
// in only one of them has no changes.
func Diff(prev, next []Verdict) []Change {
	old := map[model.NodeID]*Verdict{}
	for i := range prev {
		old[prev[i].Peer] = &prev[i]
	}
	var out []Change
	for _, v := range next {
		o := old[v.Peer]
		if o == nil {
			continue
		}
		if o.State != v.State {
			out = append(out, Change{Kind: ChangeState, Peer: v.Peer, Link: -1,
				From: string(o.State), To: string(v.State), Reason: v.Reason})
		}
		for i, l := range v.Links {
			if i < len(o.Links) && o.Links[i].Status != l.Status {
				out = append(out, Change{Kind: ChangeLink, Peer: v.Peer, Link: i,
					From: o.Links[i].Status.String(), To: l.Status.String(), Reason: v.Reason})
			}
		}
		if o.Damped != v.Damped {
			c := Change{Kind: ChangeDamping, Peer: v.Peer, Link: -1, From: "damped", To: "undamped", Reason: "penalty decayed"}
			if v.Damped {
				c.From, c.To, c.Reason = "undamped", "damped", v.Damp.Reason
			}
			out = append(out, c)
		}
	}
	return out
}
