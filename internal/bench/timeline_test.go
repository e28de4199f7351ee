package bench

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// timeline builds a Timeline from readings "ms:holders", holders joined by
// + ("-" for none).
func timeline(readings ...string) *Timeline {
	var tl Timeline
	for _, r := range readings {
		var msv int
		var hs string
		if _, err := fmt.Sscanf(r, "%d:%s", &msv, &hs); err != nil {
			panic(r)
		}
		var holders []string
		if hs != "-" {
			holders = strings.Split(hs, "+")
		}
		tl.Add(at(msv), holders)
	}
	return &tl
}

func TestTimelineDoubleHeld(t *testing.T) {
	// n1 alone, then both from the reading at 30 (counted from 20), then n2.
	tl := timeline("0:n1", "10:n1", "20:n1", "30:n2+n1", "40:n1+n2", "50:n2", "60:n2")
	if got, want := tl.DoubleHeld(at(0), at(100)), 20*time.Millisecond; got != want {
		t.Errorf("DoubleHeld(all) = %v, want %v", got, want)
	}
	if got, want := tl.DoubleHeld(at(35), at(100)), 5*time.Millisecond; got != want {
		t.Errorf("DoubleHeld(from 35) = %v, want %v", got, want)
	}
	if got := tl.DoubleHeld(at(45), at(100)); got != 0 {
		t.Errorf("DoubleHeld(from 45) = %v, want 0", got)
	}
	if !tl.DoubleAt(at(35)) || tl.DoubleAt(at(55)) {
		t.Errorf("DoubleAt(35), DoubleAt(55) = %v, %v; want true, false", tl.DoubleAt(at(35)), tl.DoubleAt(at(55)))
	}
	spans := tl.Spans()
	if len(spans) != 3 {
		t.Errorf("Spans = %v, want 3 (n1, n1+n2, n2)", spans)
	}
}

func TestTimelineMoves(t *testing.T) {
	cases := []struct {
		name     string
		readings []string
		want     string // ms of each move
	}{
		{"no change", []string{"0:n1", "10:n1", "20:n1"}, "[]"},
		{"dropped and taken again is no move", []string{"0:n1", "10:-", "20:-", "30:n1"}, "[]"},
		{"a failover through no holder", []string{"0:n1", "10:-", "20:n2", "30:n2"}, "[10]"},
		{"a handover through a double holding", []string{"0:n1", "10:n1+n2", "20:n2"}, "[10]"},
		{"there and back", []string{"0:n1", "10:n2", "20:n1"}, "[0 10]"},
		{"a first holder is no move", []string{"0:-", "10:n3"}, "[]"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var got []int
			for _, m := range timeline(c.readings...).Moves(at(0), at(100)) {
				got = append(got, int(m.Sub(t0)/time.Millisecond))
			}
			if g := fmt.Sprint(nilEmpty(got)); g != c.want {
				t.Errorf("Moves = %s, want %s", g, c.want)
			}
		})
	}
}

func nilEmpty(v []int) []int {
	if v == nil {
		return []int{}
	}
	return v
}

func TestTimelineIgnoresReadingsOutOfOrder(t *testing.T) {
	tl := timeline("0:n1", "20:n1", "10:n1+n2")
	if got := tl.DoubleHeld(at(0), at(100)); got != 0 {
		t.Errorf("DoubleHeld = %v after a reading out of order, want 0", got)
	}
}

func TestFalseFailovers(t *testing.T) {
	outage := func(from, to int) Window {
		return Window{FirstFail: Shot{Sent: at(from)}, FirstGood: Shot{Done: at(to)}}
	}
	moves := []time.Time{at(5000)}
	outs := []Window{
		outage(100, 150),    // short: loss, not a failover
		outage(1000, 2500),  // long, and nothing moved: false
		outage(4500, 5600),  // long, and the move explains it: counted once, as the move
		outage(8000, 8900),  // under the threshold
		outage(9000, 10001), // just over
	}
	if got, want := FalseFailovers(moves, outs, time.Second), 3; got != want {
		t.Errorf("FalseFailovers = %d, want %d (1 move, 2 unexplained outages)", got, want)
	}
	if got := FalseFailovers(nil, nil, time.Second); got != 0 {
		t.Errorf("FalseFailovers of nothing = %d", got)
	}
}
