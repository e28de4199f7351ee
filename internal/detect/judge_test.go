package detect

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/vigil-ha/vigil/internal/model"
)

// TestJudge runs the scripts in testdata/judge. Commands:
//
//	judge self=n1 nodes=(n1,n2) links=2 hb=100ms suspect=300ms offline=700ms [require=2] [window=500ms] [single=700ms]
//	      [penalty=1000 suppress=2000 reuse=750 halflife=1m maxhold=5m]
//	heard peer=n2 link=(0,1) at=10ms      the peer's heartbeats on those links were last heard at 10ms
//	obs peer=n2 layer=tcp link=(0,1) status=down at=10ms [expires=1s] [detail=refused]
//	obs peer=n2 layer=app check=web status=up at=10ms
//	verdicts at=800ms [peer=n2]           feed the heartbeats, judge, print every verdict
//	sim from=1s every=100ms [timeout=200ms] [quiet]
//	n2 udp 0: ....xxxx....
//	n2 tcp 0: ....xx-x....
//	n2 app web: ....xxxx....
//
// sim steps time: at step k (time from+k*every), '.' is a heartbeat heard
// (udp) or a probe or check answered at once (tcp, app); 'x' is a lost
// heartbeat, or a probe started then that fails, observed timeout later
// (Down, At the step); '-' is nothing. After each step it judges and
// prints each Change, prefixed by the time; then the final verdicts unless
// quiet. Times are offsets from the judge's start; node k (from 0) has
// address 127.0.L.k+1 on link L. Rewrite with go test -run TestJudge -rewrite.
func TestJudge(t *testing.T) {
	datadriven.Walk(t, "testdata/judge", func(t *testing.T, path string) {
		s := &judgeScript{start: time.Unix(1_700_000_000, 0)}
		datadriven.RunTest(t, path, s.run)
	})
}

// judgeScript is the state of one script of TestJudge.
type judgeScript struct {
	start time.Time
	j     *Judge
	nodes []model.Node
	heard map[model.NodeID][]time.Time // last heard, per peer and link
	prev  []Verdict
	last  time.Duration // the time of the newest judgement
}

// judge feeds the heartbeats heard so far and judges at now.
func (s *judgeScript) judge(now time.Duration) []Verdict {
	var peers []Peer
	for _, n := range s.nodes {
		if hs, ok := s.heard[n.Name]; ok {
			p := Peer{Name: n.Name}
			for i, h := range hs {
				p.Links = append(p.Links, Link{Index: i, LastHeard: h})
			}
			peers = append(peers, p)
		}
	}
	s.j.Heartbeats(peers, s.start.Add(now))
	s.last = now
	return s.j.Verdicts(s.start.Add(now))
}

// changes judges at now and renders the changes since the last judgement.
func (s *judgeScript) changes(b *strings.Builder, now time.Duration) {
	vs := s.judge(now)
	for _, c := range Diff(s.prev, vs) {
		fmt.Fprintf(b, "%v %v\n", now, c)
	}
	s.prev = vs
}

func (s *judgeScript) run(t *testing.T, td *datadriven.TestData) string {
	if td.Cmd != "judge" && s.j == nil {
		td.Fatalf(t, "%s before judge", td.Cmd)
	}
	switch td.Cmd {
	case "judge":
		var self string
		var names []string
		var links int
		td.ScanArgs(t, "self", &self)
		td.ScanArgs(t, "nodes", &names)
		td.ScanArgs(t, "links", &links)
		s.nodes = nil
		s.heard = map[model.NodeID][]time.Time{}
		for k, name := range names {
			n := model.Node{Name: model.NodeID(name)}
			for l := range links {
				n.Addresses = append(n.Addresses, netip.AddrFrom4([4]byte{127, 0, byte(l), byte(k + 1)}))
			}
			s.nodes = append(s.nodes, n)
			if name != self {
				s.heard[n.Name] = make([]time.Time, links)
			}
		}
		cfg := JudgeConfig{Self: model.NodeID(self), Nodes: s.nodes, Timing: model.Timing{
			HeartbeatInterval: durArg(t, td, "hb"), SuspectAfter: durArg(t, td, "suspect"), OfflineAfter: durArg(t, td, "offline")}}
		td.MaybeScanArgs(t, "require", &cfg.Require)
		cfg.Window = maybeDur(t, td, "window")
		cfg.SingleWindow = maybeDur(t, td, "single")
		td.MaybeScanArgs(t, "penalty", &cfg.Damping.Penalty)
		td.MaybeScanArgs(t, "suppress", &cfg.Damping.Suppress)
		td.MaybeScanArgs(t, "reuse", &cfg.Damping.Reuse)
		cfg.Damping.HalfLife = maybeDur(t, td, "halflife")
		cfg.Damping.MaxHold = maybeDur(t, td, "maxhold")
		j, err := NewJudge(cfg, s.start)
		if err != nil {
			s.j = nil
			return err.Error()
		}
		s.j, s.prev, s.last = j, nil, 0
		return ""
	case "heard":
		var peer string
		var links []int
		td.ScanArgs(t, "peer", &peer)
		td.ScanArgs(t, "link", &links)
		for _, l := range links {
			s.heard[model.NodeID(peer)][l] = s.start.Add(durArg(t, td, "at"))
		}
		return ""
	case "obs":
		var peer, layer, status, check, detail string
		links := []int{0}
		td.ScanArgs(t, "peer", &peer)
		td.ScanArgs(t, "layer", &layer)
		td.ScanArgs(t, "status", &status)
		td.MaybeScanArgs(t, "link", &links)
		td.MaybeScanArgs(t, "check", &check)
		td.MaybeScanArgs(t, "detail", &detail)
		o := Observation{Peer: model.NodeID(peer), Layer: parseLayer(t, td, layer), Status: parseStatus(t, td, status),
			Check: check, At: s.start.Add(durArg(t, td, "at")), Detail: detail}
		if e := maybeDur(t, td, "expires"); e != 0 {
			o.Expires = s.start.Add(e)
		}
		for _, l := range links {
			o.Link = l
			s.j.Observe(o)
		}
		return ""
	case "verdicts":
		var b strings.Builder
		s.changes(&b, durArg(t, td, "at"))
		var peer string
		td.MaybeScanArgs(t, "peer", &peer)
		for _, v := range s.prev {
			if peer == "" || string(v.Peer) == peer {
				b.WriteString(formatVerdict(v, s.start))
			}
		}
		return b.String()
	case "sim":
		return s.sim(t, td)
	}
	td.Fatalf(t, "unknown command %s", td.Cmd)
	return ""
}

// simTrack is one line of a sim script.
type simTrack struct {
	peer  model.NodeID
	layer Layer
	link  int
	check string
	steps string
}

func (s *judgeScript) sim(t *testing.T, td *datadriven.TestData) string {
	t.Helper()
	from, every := durArg(t, td, "from"), durArg(t, td, "every")
	timeout := maybeDur(t, td, "timeout")
	if timeout == 0 {
		timeout = 2 * every
	}
	if from < s.last {
		td.Fatalf(t, "sim from=%v is before the last judgement at %v", from, s.last)
	}
	var tracks []simTrack
	steps := 0
	for line := range strings.SplitSeq(strings.TrimSpace(td.Input), "\n") {
		head, pat, ok := strings.Cut(line, ":")
		f := strings.Fields(head)
		if !ok || len(f) != 3 {
			td.Fatalf(t, "bad sim line %q: want \"n2 udp 0: ..xx..\"", line)
		}
		tr := simTrack{peer: model.NodeID(f[0]), layer: parseLayer(t, td, f[1]), steps: strings.TrimSpace(pat)}
		if tr.layer == LayerApp {
			tr.check = f[2]
		} else if _, err := fmt.Sscan(f[2], &tr.link); err != nil {
			td.Fatalf(t, "bad link in %q", line)
		}
		tracks = append(tracks, tr)
		steps = max(steps, len(tr.steps))
	}
	type pending struct {
		due time.Duration
		o   Observation
	}
	var queue []pending // failures, in the order they are observed
	var b strings.Builder
	for k := range steps {
		now := from + time.Duration(k)*every
		for len(queue) > 0 && queue[0].due <= now {
			s.j.Observe(queue[0].o)
			queue = queue[1:]
		}
		for _, tr := range tracks {
			if k >= len(tr.steps) {
				continue
			}
			o := Observation{Peer: tr.peer, Layer: tr.layer, Link: tr.link, Check: tr.check, At: s.start.Add(now)}
			switch c := tr.steps[k]; {
			case c == '-' || (c == 'x' && tr.layer == LayerUDP):
			case c == '.' && tr.layer == LayerUDP:
				s.heard[tr.peer][tr.link] = s.start.Add(now)
			case c == '.':
				o.Status = Up
				s.j.Observe(o)
			case c == 'x':
				o.Status, o.Detail = Down, "timeout"
				queue = append(queue, pending{now + timeout, o})
			default:
				td.Fatalf(t, "bad step %q", c)
			}
		}
		slices.SortStableFunc(queue, func(a, b pending) int { return cmp.Compare(a.due, b.due) })
		s.changes(&b, now)
	}
	if !td.HasArg("quiet") {
		for _, v := range s.prev {
			b.WriteString(formatVerdict(v, s.start))
		}
	}
	return b.String()
}

func formatVerdict(v Verdict, start time.Time) string {
	var b strings.Builder
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.Sub(start).String()
	}
	fmt.Fprintf(&b, "%s %s since=%s K=%d N=%d window=%v\n", v.Peer, v.State, at(v.Since), v.Require, v.Of, v.Window)
	fmt.Fprintf(&b, "  %s\n", v.Reason)
	for _, l := range v.Layers {
		if l.Status == Unknown && len(l.Signals) == 0 {
			continue
		}
		fmt.Fprintf(&b, "  %s %s since=%s failed=%t\n", l.Layer, l.Status, at(l.Since), l.Failed)
	}
	for _, l := range v.Links {
		fmt.Fprintf(&b, "  link %d %s %s since=%s udp=%s tcp=%s\n", l.Index, l.Address, l.Status, at(l.Since), l.UDP, l.TCP)
	}
	if v.Flaps.Count > 0 {
		fmt.Fprintf(&b, "  flaps=%d penalty=%.0f damped=%t\n", v.Flaps.Count, v.Damp.Penalty, v.Damped)
	}
	if v.Damped {
		fmt.Fprintf(&b, "  %s (until %s)\n", v.Damp.Reason, at(v.Damp.Until))
	}
	return b.String()
}

func parseLayer(t *testing.T, td *datadriven.TestData, s string) Layer {
	t.Helper()
	for l := range numLayers {
		if l.String() == s {
			return l
		}
	}
	td.Fatalf(t, "unknown layer %q", s)
	return 0
}

func parseStatus(t *testing.T, td *datadriven.TestData, s string) Status {
	t.Helper()
	for _, st := range []Status{Unknown, Up, Down} {
		if st.String() == s {
			return st
		}
	}
	td.Fatalf(t, "unknown status %q", s)
	return 0
}

func maybeDur(t *testing.T, td *datadriven.TestData, key string) time.Duration {
	t.Helper()
	if !td.HasArg(key) {
		return 0
	}
	return durArg(t, td, key)
}
