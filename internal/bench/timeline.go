package bench

import (
	"slices"
	"time"
)

// Span is a stretch of time during which the holder sampler saw the same
// nodes holding the floating IP.
type Span struct {
	From, To time.Time
	Holders  []string // sorted; empty when no node held it
}

// Timeline is the history of who held the floating IP, built from the
// sampler's readings. The time between two readings is counted with the
// later one: a reading that sees two holders counts the whole interval
// since the one before as double holding, so that the figure errs on the
// side of reporting. The zero Timeline is empty and ready to use; it is
// not safe for concurrent use.
type Timeline struct {
	spans []Span
}

// Add records that at time at the nodes holders held the floating IP.
// Readings must come in time order; one earlier than the last is dropped.
func (tl *Timeline) Add(at time.Time, holders []string) {
	h := slices.Sorted(slices.Values(holders))
	if len(tl.spans) == 0 {
		tl.spans = append(tl.spans, Span{From: at, To: at, Holders: h})
		return
	}
	last := &tl.spans[len(tl.spans)-1]
	switch {
	case at.Before(last.To):
		return
	case slices.Equal(last.Holders, h):
		last.To = at
	default:
		tl.spans = append(tl.spans, Span{From: last.To, To: at, Holders: h})
	}
}

// Spans returns a copy of the timeline's spans, in time order.
func (tl *Timeline) Spans() []Span {
	out := make([]Span, len(tl.spans))
	for i, s := range tl.spans {
		s.Holders = slices.Clone(s.Holders)
		out[i] = s
	}
	return out
}

// DoubleHeld is the time in [from, to] during which two or more nodes
// held the floating IP (DESIGN.md invariant 1: it should be 0).
func (tl *Timeline) DoubleHeld(from, to time.Time) time.Duration {
	var d time.Duration
	for _, s := range tl.spans {
		if len(s.Holders) < 2 {
			continue
		}
		a, b := s.From, s.To
		if from.After(a) {
			a = from
		}
		if to.Before(b) {
			b = to
		}
		if b.After(a) {
			d += b.Sub(a)
		}
	}
	return d
}

// DoubleAt reports whether two or more nodes held the floating IP in the
// span that covers at (or the last span before it).
func (tl *Timeline) DoubleAt(at time.Time) bool {
	for i := len(tl.spans) - 1; i >= 0; i-- {
		if !tl.spans[i].From.After(at) {
			return len(tl.spans[i].Holders) >= 2
		}
	}
	return false
}

// Moves returns the times in [from, to] at which the floating IP moved: a
// node other than the last sole holder became the sole holder. Stretches
// with no holder, or with several, are passed over, so a holder that drops
// the address and takes it again has not moved, and one that hands it to
// another through a double holding has.
func (tl *Timeline) Moves(from, to time.Time) []time.Time {
	var out []time.Time
	sole := ""
	for _, s := range tl.spans {
		if len(s.Holders) != 1 {
			continue
		}
		if h := s.Holders[0]; h != sole {
			if sole != "" && !s.From.Before(from) && !s.From.After(to) {
				out = append(out, s.From)
			}
			sole = h
		}
	}
	return out
}

// FalseFailovers counts what a soak should not have seen: every move of
// the floating IP, and every client outage longer than threshold that no
// move explains (none happened between its start and its end).
func FalseFailovers(moves []time.Time, outages []Window, threshold time.Duration) int {
	n := len(moves)
	for _, w := range outages {
		if w.Outage() <= threshold {
			continue
		}
		start, end := w.FirstFail.Sent, w.FirstGood.Done
		if !slices.ContainsFunc(moves, func(m time.Time) bool { return !m.Before(start) && !m.After(end) }) {
			n++
		}
	}
	return n
}
