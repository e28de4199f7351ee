package detect

import "math/bits"

// windowSize is how many sequence numbers a window remembers.
const windowSize = 64

// window is a sliding window over the newest windowSize sequence numbers
// (RFC 4303 section 3.4.3 anti-replay; WireGuard uses the same shape).
// top is the newest sequence number seen; bit k of seen is set when top-k
// was seen; first is the oldest seen, so that a receiver that joins a
// sender's stream late does not count what came before as lost. The zero
// value is an empty window. Sequence numbers start at 1.
type window struct {
	top, seen, first uint64
}

// fresh reports whether seq has not been seen and is inside or ahead of the
// window.
func (w window) fresh(seq uint64) bool {
	switch {
	case seq == 0:
		return false
	case seq > w.top:
		return true
	case w.top-seq >= windowSize:
		return false
	default:
		return w.seen&(1<<(w.top-seq)) == 0
	}
}

// add records seq and reports whether it was fresh; a stale seq changes
// nothing.
func (w *window) add(seq uint64) bool {
	if !w.fresh(seq) {
		return false
	}
	if seq > w.top {
		if d := seq - w.top; d >= windowSize {
			w.seen = 0
		} else {
			w.seen <<= d
		}
		w.top = seq
	}
	w.seen |= 1 << (w.top - seq)
	if w.first == 0 || seq < w.first {
		w.first = seq
	}
	return true
}

// loss is the fraction of the last windowSize sequence numbers up to top,
// but none before first, that were never seen; 0 when empty.
func (w window) loss() float64 {
	if w.top == 0 {
		return 0
	}
	n := min(w.top-w.first+1, windowSize)
	mask := uint64(1)<<n - 1
	if n == windowSize {
		mask = ^uint64(0)
	}
	return float64(n-uint64(bits.OnesCount64(w.seen&mask))) / float64(n)
}
