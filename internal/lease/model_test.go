package lease

import (
	"math/big"
	"time"
)

// The tests judge the arithmetic against a model of real time. Real time is
// an exact rational number of nanoseconds. Each node's clock is a line,
// local(t) = off + rate*t, with rate within [1-ρ, 1+ρ] for the ρ of the
// Config under test (taken exactly from its float64), and a reading of the
// clock is floor(local(t)) nanoseconds after epoch(): a monotonic clock of
// one-nanosecond resolution. Exact arithmetic matters, because the bound
// under test is tight: at the worst rates it is off from the true limit by a
// nanosecond or two.

// modelDrift is the ρ that c documents, read independently of the code
// under test: MaxDrift, or 0.01 for zero.
func modelDrift(c Config) float64 {
	if c.MaxDrift == 0 {
		return 0.01
	}
	return c.MaxDrift
}

// epoch is the time that clock reading 0 stands for. It is far from the zero
// time, which the package reads as "never".
func epoch() time.Time { return time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) }

// at is clock reading n as a time.Time.
func at(n int64) time.Time { return epoch().Add(time.Duration(n)) }

// reading is the inverse of at.
func reading(t time.Time) int64 { return int64(t.Sub(epoch())) }

// clock is one node's clock in the model.
type clock struct {
	rate, off *big.Rat
}

// newClock returns the clock whose rate is 1 + f*ρ (f in [-1, 1]) and which
// reads off at real time 0.
func newClock(rho float64, f, off *big.Rat) clock {
	r := new(big.Rat).Mul(f, new(big.Rat).SetFloat64(rho))
	return clock{rate: r.Add(r, big.NewRat(1, 1)), off: off}
}

// local is the exact value of the clock at real time t.
func (c clock) local(t *big.Rat) *big.Rat {
	v := new(big.Rat).Mul(c.rate, t)
	return v.Add(v, c.off)
}

// read is the clock's reading at real time t.
func (c clock) read(t *big.Rat) int64 { return floor(c.local(t)) }

// when is the first real instant at which the clock reads n.
func (c clock) when(n int64) *big.Rat {
	v := new(big.Rat).Sub(new(big.Rat).SetInt64(n), c.off)
	return v.Quo(v, c.rate)
}

// floor rounds r down to an integer.
func floor(r *big.Rat) int64 {
	return new(big.Int).Div(r.Num(), r.Denom()).Int64() // Euclidean: floor for a positive denominator
}

// rat is n/d.
func rat(n, d int64) *big.Rat { return big.NewRat(n, d) }

// ns is n nanoseconds of real time.
func ns(n int64) *big.Rat { return new(big.Rat).SetInt64(n) }

// plus is a+b.
func plus(a, b *big.Rat) *big.Rat { return new(big.Rat).Add(a, b) }

// later is the later of a and b.
func later(a, b *big.Rat) *big.Rat {
	if a.Cmp(b) >= 0 {
		return a
	}
	return b
}

// firstTrue returns the least n in [lo, hi] for which pred is true, given
// that pred is monotone (false, then true), and whether there is one. It
// calls pred about log2(hi-lo) times.
func firstTrue(lo, hi int64, pred func(int64) bool) (int64, bool) {
	if lo > hi || !pred(hi) {
		return 0, false
	}
	for lo < hi { // invariant: pred(hi)
		mid := lo + (hi-lo)/2
		if pred(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return hi, true
}
