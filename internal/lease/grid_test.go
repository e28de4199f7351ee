package lease

import (
	"fmt"
	"math"
	"math/big"
	"testing"
	"time"
)

// rules is what the grid checks: the observer's first certain reading for a
// given appliedAt reading, and, for a holder whose lease ends at reading e,
// its first MustStop reading and its last MayStart reading. implemented
// takes them from the package; the mutants in TestGridCatchesWeakerRules
// replace one each, to show that the grid would notice.
type rules struct {
	observerFirst func(c Config, a int64) int64
	stopAt        func(c Config, h *Holder) int64
	lastStart     func(c Config, h *Holder) int64
}

// implemented reads the thresholds off the package and pins each one to the
// nanosecond with the predicate it stands for, reporting a mismatch through
// fail. Since the predicates are monotone (see TestHolderMonotone and
// TestCertainlyExpiredMonotone), a threshold pinned this way is the whole
// truth about the predicate.
func implemented(fail func(string)) rules {
	return rules{
		observerFirst: func(c Config, a int64) int64 {
			n := reading(ExpiresBy(at(a), c))
			if !CertainlyExpired(at(a), at(n), c) || CertainlyExpired(at(a), at(n-1), c) {
				fail(fmt.Sprintf("CertainlyExpired does not switch at ExpiresBy = appliedAt%+d", n-a))
			}
			return n
		},
		stopAt: func(c Config, h *Holder) int64 {
			n := reading(h.StopAt(c))
			if !h.MustStop(at(n), c) || h.MustStop(at(n-1), c) {
				fail(fmt.Sprintf("MustStop does not switch at StopAt = expiry%+d", n-reading(h.Expiry())))
			}
			return n
		},
		lastStart: func(c Config, h *Holder) int64 {
			e := reading(h.Expiry())
			n, ok := firstTrue(e-int64(c.Duration)-1, e, func(n int64) bool { return !h.MayStart(at(n), c) })
			if !ok || !h.MayStart(at(n-1), c) {
				fail("MayStart is never true within the lease")
			}
			return n - 1
		},
	}
}

// gridCase is one point of the grid: one renewal, sent at real time sendAt
// by a holder whose clock reads a whole number plus phaseH then, and applied
// delay later by an observer whose clock reads a whole number plus phaseO
// at the send.
type gridCase struct {
	c              Config
	fh, fo         *big.Rat // clock rates 1 + f*ρ
	phaseH, phaseO *big.Rat // fractional part of each clock at the send
	delay          int64    // real ns from the send to the observer's apply
}

func (k gridCase) String() string {
	rate := func(f *big.Rat) string {
		if f.Sign() < 0 {
			return "1-" + new(big.Rat).Neg(f).RatString() + "ρ"
		}
		return "1+" + f.RatString() + "ρ"
	}
	return fmt.Sprintf("Duration %v MaxDrift %v start %v stop %v; rates %s (holder) %s (observer); phases %s %s; apply after %d ns",
		k.c.Duration, modelDrift(k.c), k.c.StartBudget, k.c.StopBudget, rate(k.fh), rate(k.fo), k.phaseH.RatString(), k.phaseO.RatString(), k.delay)
}

// sendAt is the real time of every grid case's send: not a round number,
// so that clock lines cross it at odd phases.
const sendAt = 5_000_000_003

// clockAt returns the clock of rate 1+f*ρ that reads whole + phase at real
// time sendAt.
func clockAt(rho float64, f *big.Rat, whole int64, phase *big.Rat) clock {
	c := newClock(rho, f, rat(0, 1))
	want := plus(ns(whole), phase)
	c.off = new(big.Rat).Sub(want, c.local(ns(sendAt)))
	return c
}

// checkOne plays one grid case and returns the violations of invariant 1 it
// finds, and the slack: the real time from the end of the holder's lease to
// the observer's first certain instant.
func checkOne(k gridCase, r rules) (violations []string, slack *big.Rat) {
	rho := modelDrift(k.c)
	h := clockAt(rho, k.fh, 700_000_000_000, k.phaseH)
	o := clockAt(rho, k.fo, 300_000_000_000, k.phaseO)
	tS := ns(sendAt)
	bad := func(format string, args ...any) { violations = append(violations, fmt.Sprintf(format, args...)) }

	var holder Holder
	s := h.read(tS)
	holder.Granted(holder.Sent(at(s), k.c))
	e := reading(holder.Expiry())
	if e != s+int64(k.c.Duration) {
		bad("Expiry = send%+d, want send+Duration", e-s)
	}
	tEnd := h.when(e) // the first real instant at which the lease is over

	tA := plus(tS, ns(k.delay))
	a := o.read(tA)
	n := r.observerFirst(k.c, a)
	tStar := later(o.when(n), tA) // the observer's first certain instant: it may recover the resource from here on
	if hr := h.read(tStar); holder.Valid(at(hr)) {
		bad("holder's lease still valid (reading expiry%+d) when the observer is certain", hr-e)
	}
	if tEnd.Cmp(tStar) > 0 {
		bad("lease ends %s ns after the observer is certain", new(big.Rat).Sub(tEnd, tStar).FloatString(3))
	}

	// A stop begun at the first MustStop reading ends within the lease, and
	// before the observer can start the resource elsewhere.
	stopAt := r.stopAt(k.c, &holder)
	if done := stopAt + int64(k.c.StopBudget); done > e {
		bad("a stop begun when MustStop turns true ends at expiry%+d", done-e)
	} else if h.when(done).Cmp(tStar) > 0 {
		bad("a stop begun when MustStop turns true ends after the observer is certain")
	}
	// So does a start begun at the last MayStart reading, and the stop after it.
	last := r.lastStart(k.c, &holder)
	if done := last + int64(k.c.StartBudget+k.c.StopBudget); done >= e {
		bad("a start begun at the last MayStart, and its stop, end at expiry%+d", done-e)
	} else if h.when(done).Cmp(tStar) > 0 {
		bad("a start begun at the last MayStart, and its stop, end after the observer is certain")
	}
	return violations, new(big.Rat).Sub(tStar, tEnd)
}

// gridConfigs are the configurations of the grid: drifts from tiny to the
// limit (0.3 is a float64 a hair below 3/10, and 0 is the default), and
// durations from 3 ns to the longest allowed.
func gridConfigs() []Config {
	var cs []Config
	for _, rho := range []float64{0, 1e-6, 0.01, 0.1, 0.3, 0.49, math.Nextafter(0.5, 0)} {
		for _, d := range []time.Duration{3, 10, 1_000_007, 10 * time.Second, MaxDuration} {
			cs = append(cs, Config{Duration: d, MaxDrift: rho, StartBudget: max(1, d/5), StopBudget: max(1, d/4)})
		}
	}
	return cs
}

// rateFactors place a clock's rate at 1 + f*ρ: both extremes, the middle,
// and between.
func rateFactors() []*big.Rat {
	return []*big.Rat{rat(-1, 1), rat(-1, 2), rat(0, 1), rat(1, 3), rat(1, 1)}
}

// phases are where between two readings a clock is at the send.
func phases() []*big.Rat { return []*big.Rat{rat(0, 1), rat(1, 2), rat(999_999, 1_000_000)} }

// forGrid calls f for every grid case, until f returns false.
func forGrid(f func(gridCase) bool) {
	for _, c := range gridConfigs() {
		d := int64(c.Duration)
		for _, fh := range rateFactors() {
			for _, fo := range rateFactors() {
				for _, ph := range phases() {
					for _, po := range phases() {
						for _, delay := range []int64{0, 1, d / 2, d, 3 * d} {
							if !f(gridCase{c: c, fh: fh, fo: fo, phaseH: ph, phaseO: po, delay: delay}) {
								return
							}
						}
					}
				}
			}
		}
	}
}

// TestOneHolderGrid is invariant 1 over the grid: for every configuration,
// pair of clock rates within MaxDrift, clock phases and apply delay, the
// holder's lease has ended by the time the observer is certain, and what
// MustStop and MayStart allow finishes before then. It also checks that the
// bound is tight: at the worst rates, it wastes under 4 ns.
func TestOneHolderGrid(t *testing.T) {
	cases, failures := 0, 0
	worst := map[time.Duration]*big.Rat{} // least slack at the worst rates, by Duration
	forGrid(func(k gridCase) bool {
		cases++
		var pinned []string
		violations, slack := checkOne(k, implemented(func(s string) { pinned = append(pinned, s) }))
		if vs := append(pinned, violations...); len(vs) > 0 {
			if failures++; failures <= 20 {
				t.Errorf("%v:\n\t%v", k, vs)
			}
		}
		if k.fh.Cmp(rat(-1, 1)) == 0 && k.fo.Cmp(rat(1, 1)) == 0 && k.delay == 0 {
			if w, ok := worst[k.c.Duration]; !ok || slack.Cmp(w) < 0 {
				worst[k.c.Duration] = slack
			}
		}
		return true
	})
	if failures > 0 {
		t.Errorf("%d of %d cases violate invariant 1", failures, cases)
	}
	for d, s := range worst {
		if s.Cmp(ns(4)) >= 0 {
			t.Errorf("Duration %v: at the worst rates the observer waits %s ns longer than needed; want under 4", d, s.FloatString(3))
		}
	}
	t.Logf("%d cases", cases)
}

// TestGridCatchesWeakerRules shows that TestOneHolderGrid has teeth: each
// rule a little weaker than the package's is caught by some case.
func TestGridCatchesWeakerRules(t *testing.T) {
	ceilRat := func(r *big.Rat) int64 {
		n := floor(r)
		if !r.IsInt() {
			n++
		}
		return n
	}
	waitWith := func(c Config, num, den *big.Rat) int64 { // ceil(Duration*num/den) + 1
		q := new(big.Rat).Mul(ns(int64(c.Duration)), num)
		return ceilRat(q.Quo(q, den)) + 1
	}
	rhoOf := func(c Config) *big.Rat { return new(big.Rat).SetFloat64(modelDrift(c)) }
	one := rat(1, 1)
	observerWait := func(wait func(Config) int64) rules {
		r := implemented(func(string) {})
		r.observerFirst = func(c Config, a int64) int64 { return a + wait(c) }
		return r
	}
	for _, tc := range []struct {
		name string
		r    rules
	}{
		{"observer forgets the resolution nanosecond", observerWait(func(c Config) int64 { return int64(c.ObserverWait()) - 1 })},
		{"observer forgets its own clock may run fast", observerWait(func(c Config) int64 {
			return waitWith(c, one, new(big.Rat).Sub(one, rhoOf(c)))
		})},
		{"observer forgets the holder's clock may run slow", observerWait(func(c Config) int64 {
			return waitWith(c, new(big.Rat).Add(one, rhoOf(c)), one)
		})},
		{"observer ignores drift", observerWait(func(c Config) int64 { return int64(c.Duration) + 1 })},
		{"MustStop a nanosecond late", func() rules {
			r := implemented(func(string) {})
			r.stopAt = func(c Config, h *Holder) int64 { return reading(h.StopAt(c)) + 1 }
			return r
		}()},
		{"MayStart a nanosecond late", func() rules {
			r := implemented(func(string) {})
			last := r.lastStart
			r.lastStart = func(c Config, h *Holder) int64 { return last(c, h) + 1 }
			return r
		}()},
	} {
		var caught string
		forGrid(func(k gridCase) bool {
			if vs, _ := checkOne(k, tc.r); len(vs) > 0 {
				caught = fmt.Sprintf("%v: %s", k, vs[0])
			}
			return caught == ""
		})
		if caught == "" {
			t.Errorf("%s: no grid case catches it", tc.name)
		} else {
			t.Logf("%s: caught by %s", tc.name, caught)
		}
	}
}
