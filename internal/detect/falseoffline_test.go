package detect

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// The false-offline arithmetic. A peer is healthy but its packets are lost
// at random, independently, with probability p in each direction. Time
// runs in slots of one heartbeat interval H (100ms for lan; probes go at
// the same rate), 36000 slots an hour.
//
//   - Heartbeats: a slot is silent when the heartbeat is lost on every one
//     of the L links: a = p^L. The layer has failed for a window W once
//     W/H heartbeats in a row are lost (silence > W).
//   - Probes: a probe fails when its SYN or its SYN-ACK is lost (with a
//     200ms timeout, under Linux's 1s SYN retransmission): 1-(1-p)^2, 36%
//     at 20%; on every link, b = (1-(1-p)^2)^L. The layer has failed for W
//     once W/H+1 probes in a row fail: it fails from the start of the first
//     failed probe, and the probe that starts as W ends answers at once.
//
// With heartbeats alone (the single window, 700ms), false offlines come
// at about 36000 * (1-a) * a^(W/H) an hour. Requiring both layers over the
// 500ms window they come at most at 36000 * a^(W/H) * b^(W/H+1) an hour:
//
//	p = 20%            heartbeats alone, 700ms   heartbeats + probes, 500ms
//	1 link             0.37 an hour              0.025 an hour (one in 40h)
//	2 links            5.7e-6 an hour            1.8e-8 an hour
//
// and a dead node is offline 500-600ms after it died (the first probe
// after its death starts within 100ms; the window runs from then), against
// 600-700ms with heartbeats alone. Loss that hits only the peer's incoming
// packets (`vigil lab loss n2 20`) spares its heartbeats and SYN-ACKs: n2's
// view of the others sees heartbeats lost at 20% and probes failing at 20%.
// TestFalseOffline checks the formulas against the Judge itself.

// falseOfflinesPerHour is the formula above; tcp false means heartbeats alone.
func falseOfflinesPerHour(p float64, links int, window, slot time.Duration, tcp bool) float64 {
	const slotsPerHour = float64(time.Hour / (100 * time.Millisecond))
	n := float64(window / slot)
	a := math.Pow(p, float64(links))
	if !tcp {
		return slotsPerHour * (1 - a) * math.Pow(a, n)
	}
	b := math.Pow(1-(1-p)*(1-p), float64(links))
	return slotsPerHour * math.Pow(a, n) * math.Pow(b, n+1)
}

func TestFalseOfflineTable(t *testing.T) {
	const slot = 100 * time.Millisecond
	for _, tc := range []struct {
		links  int
		window time.Duration
		tcp    bool
		want   float64
	}{
		{1, 700 * time.Millisecond, false, 0.369},
		{2, 700 * time.Millisecond, false, 5.66e-6},
		{1, 500 * time.Millisecond, false, 9.22}, // why heartbeats alone keep 700ms
		{1, 500 * time.Millisecond, true, 0.0251},
		{2, 500 * time.Millisecond, true, 1.75e-8},
	} {
		got := falseOfflinesPerHour(0.2, tc.links, tc.window, slot, tc.tcp)
		t.Logf("20%% loss, %d links, window %v, probes %t: %.3g false offlines an hour", tc.links, tc.window, tc.tcp, got)
		if math.Abs(got-tc.want)/tc.want > 0.01 {
			t.Errorf("%d links, window %v, probes %t: %.4g an hour, want %.4g", tc.links, tc.window, tc.tcp, got, tc.want)
		}
	}
}

// TestFalseOffline drives a Judge with seeded random loss for hours of
// simulated time and counts its false offlines, against the formula. The
// windows are shortened so that there are enough of them to count.
// Heartbeats arrive 1ms into each slot, probes start 50ms into it and
// answer after 1ms or fail after 200ms, and verdicts are asked 25ms in.
func TestFalseOffline(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates hours")
	}
	const slot = 100 * time.Millisecond
	for _, tc := range []struct {
		name   string
		window time.Duration
		hours  int
		tcp    bool
	}{
		{"heartbeats alone, 500ms", 500 * time.Millisecond, 2, false},
		{"heartbeats and probes, 300ms", 300 * time.Millisecond, 5, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const p = 0.2
			r := rand.New(rand.NewPCG(5, 7))
			start := time.Unix(1_700_000_000, 0)
			nodes := []model.Node{{Name: "n1", Addresses: addrs("127.0.0.1")}, {Name: "n2", Addresses: addrs("127.0.0.2")}}
			j, err := NewJudge(JudgeConfig{Self: "n1", Nodes: nodes, Window: tc.window, SingleWindow: tc.window,
				Timing: model.Timing{HeartbeatInterval: slot, SuspectAfter: 300 * time.Millisecond, OfflineAfter: 700 * time.Millisecond}}, start)
			if err != nil {
				t.Fatal(err)
			}
			type failure struct {
				due time.Time
				o   Observation
			}
			var pending []failure
			heard := start
			offline, prev := 0, model.NodeOnline
			slots := tc.hours * int(time.Hour/slot)
			for k := range slots {
				base := start.Add(time.Duration(k) * slot)
				if r.Float64() >= p {
					heard = base.Add(time.Millisecond)
				}
				now := base.Add(25 * time.Millisecond)
				for len(pending) > 0 && !pending[0].due.After(now) {
					j.Observe(pending[0].o)
					pending = pending[1:]
				}
				j.Heartbeats([]Peer{{Name: "n2", Links: []Link{{LastHeard: heard}}}}, now)
				if st := j.Verdicts(now)[0].State; st != prev {
					if st == model.NodeOffline {
						offline++
					}
					prev = st
				}
				if tc.tcp { // the probe of this slot, observed in a later slot
					ps := base.Add(50 * time.Millisecond)
					o := Observation{Peer: "n2", Layer: LayerTCP, Status: Up, At: ps.Add(time.Millisecond)}
					due := o.At
					if r.Float64() < p || r.Float64() < p {
						o.Status, o.At, due = Down, ps, ps.Add(200*time.Millisecond)
					}
					i := len(pending) // keep pending in order of due
					for i > 0 && pending[i-1].due.After(due) {
						i--
					}
					pending = slices.Insert(pending, i, failure{due, o})
				}
			}
			want := falseOfflinesPerHour(p, 1, tc.window, slot, tc.tcp) * float64(tc.hours)
			t.Logf("%d false offlines in %dh of 20%% loss; the formula says %.1f", offline, tc.hours, want)
			if float64(offline) < want/2 || float64(offline) > want*2 {
				t.Errorf("%d false offlines, the formula says %.1f", offline, want)
			}
		})
	}
}
