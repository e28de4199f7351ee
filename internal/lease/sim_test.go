package lease

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
)

// The simulation plays a whole lease life in the model of model_test.go: a
// holder that sends a renewal every so often, renewals that are granted,
// committed but unanswered, or lost, applied and answered after their own
// delays and so out of order, daemon restarts, and an executor on the holder
// that polls MustStop and MayStart to stop and start one exclusive resource.
// An observer applies the committed renewals and takes the resource over at
// the first instant it is certain the lease has ended; from then on the store
// refuses the old holder's renewals (the fencing contract of the package
// documentation). The check is invariant 1: the resource has stopped on the
// holder, in real time, by the takeover.

// fate is what becomes of one renewal.
type fate uint8

const (
	granted    fate = iota // committed, and the holder hears so
	unanswered             // committed, but the answer never comes
	failed                 // never committed
)

func (f fate) String() string { return [...]string{"granted", "unanswered", "failed"}[f] }

// plan is one renewal of a scenario.
type plan struct {
	fate    fate
	apply   int64 // real ns from the send to the observer applying it, if committed
	answer  int64 // real ns from the send to the holder hearing of it, if granted
	restart bool  // the holder's daemon restarts (Revoke) just before sending it
}

// scenario is one simulated lease life.
type scenario struct {
	c          Config
	fh, fo     *big.Rat // clock rates 1 + f*ρ of the holder and the observer
	offH, offO *big.Rat // what each clock reads at real time 0
	every      int64    // holder-clock ns between sends
	poll       int64    // holder-clock ns between the executor's checks
	startTakes int64    // holder-clock ns a start takes: at most StartBudget
	stopTakes  int64    // holder-clock ns a stop takes: at most StopBudget - poll, the caller's contract
	judgeFrom  int64    // real ns from which the observer judges
	renewals   []plan
}

func (s scenario) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Duration %v MaxDrift %v start %v stop %v; rates 1%+.3fρ 1%+.3fρ; every %d poll %d; takes %d/%d; judge from %d; renewals",
		s.c.Duration, modelDrift(s.c), s.c.StartBudget, s.c.StopBudget, ratFloat(s.fh), ratFloat(s.fo), s.every, s.poll, s.startTakes, s.stopTakes, s.judgeFrom)
	for _, p := range s.renewals {
		r := ""
		if p.restart {
			r = " after restart"
		}
		fmt.Fprintf(&b, " [%v apply %d answer %d%s]", p.fate, p.apply, p.answer, r)
	}
	return b.String()
}

func ratFloat(r *big.Rat) float64 { f, _ := r.Float64(); return f }

// source turns fuzz bytes into choices; past the end it gives zeros.
type source struct{ b []byte }

func (s *source) byte() byte {
	if len(s.b) == 0 {
		return 0
	}
	v := s.b[0]
	s.b = s.b[1:]
	return v
}

// upTo is a number in [0, n], from three bytes.
func (s *source) upTo(n int64) int64 {
	if n <= 0 {
		return 0
	}
	v := int64(s.byte())<<16 | int64(s.byte())<<8 | int64(s.byte())
	return v % (n + 1)
}

// factor is a rate factor in [-1, 1], hitting both ends exactly.
func (s *source) factor() *big.Rat {
	v := min(max(int64(s.byte())-128, -127), 127)
	return rat(v, 127)
}

// decode builds a valid scenario from any bytes. Every quantity is bounded,
// so that a run takes a bounded number of steps.
func decode(data []byte) scenario {
	s := &source{b: data}
	drifts := []float64{0, 1e-6, 0.01, 0.1, 0.3, 0.49}
	rho := drifts[int(s.byte())%len(drifts)]
	d := 1000 + s.upTo(9_999_000)
	stop := d/16 + s.upTo(d/2-d/16-1)
	start := d/16 + s.upTo(d/3-d/16)
	sc := scenario{c: Config{Duration: time.Duration(d), MaxDrift: rho, StartBudget: time.Duration(start), StopBudget: time.Duration(stop)}}
	sc.fh, sc.fo = s.factor(), s.factor()
	off := func() *big.Rat { return plus(ns(s.upTo(1_000_000_000_000)-500_000_000_000), rat(int64(s.byte()), 256)) }
	sc.offH, sc.offO = off(), off()
	sc.every = d/16 + s.upTo(d+d/4) // sometimes longer than the lease: it lapses between renewals
	sc.poll = stop/2 + s.upTo(stop-stop/2)
	sc.stopTakes = s.upTo(stop - sc.poll)
	if s.byte()%2 == 0 {
		sc.stopTakes = stop - sc.poll // the slowest stop the contract allows
	}
	sc.startTakes = s.upTo(start)
	sc.judgeFrom = s.upTo(20 * d)
	delay := func() int64 {
		switch s.byte() % 3 {
		case 0:
			return s.upTo(d / 8)
		case 1:
			return s.upTo(2 * d)
		default:
			return s.upTo(4 * d)
		}
	}
	n := 1 + int(s.byte())%24
	for range n {
		p := plan{fate: [...]fate{granted, granted, unanswered, failed}[s.byte()%4]}
		p.apply, p.answer = delay(), delay()
		p.restart = s.byte()%16 == 15 // not on zeros: bytes run out as zeros
		sc.renewals = append(sc.renewals, p)
	}
	return sc
}

// certainFunc is an observer's rule; CertainlyExpired, unless a test
// weakens it.
type certainFunc func(appliedAt, now time.Time, c Config) bool

// outcome is what a simulation saw, for the tests' statistics.
type outcome struct {
	violations           []string
	steps, starts, stops int
	grants, staleGrants  int
	refused, lateAnswers int
	margin               *big.Rat // real time from the holder's last stop to the takeover, over Duration; nil: never ran
}

// simulate plays sc and returns what it saw. It never fails the test itself.
func simulate(sc scenario, certain certainFunc) outcome {
	var out outcome
	bad := func(format string, args ...any) {
		if len(out.violations) < 10 {
			out.violations = append(out.violations, fmt.Sprintf(format, args...))
		}
	}
	c := sc.c
	d := int64(c.Duration)
	rho := modelDrift(c)
	h := newClock(rho, sc.fh, sc.offH)
	o := newClock(rho, sc.fo, sc.offO)

	// Sends, on the holder's clock and in real time.
	h0 := h.read(ns(0)) + 1
	n := len(sc.renewals)
	sendR := make([]int64, n)
	sendT := make([]*big.Rat, n)
	for k := range n {
		sendR[k] = h0 + int64(k)*sc.every
		sendT[k] = h.when(sendR[k])
	}

	// The observer: the committed renewals in the order it applies them, and
	// the first instant, from judgeFrom on, at which it is certain.
	type applied struct {
		k int
		t *big.Rat
	}
	var applies []applied
	for k, p := range sc.renewals {
		if p.fate != failed {
			applies = append(applies, applied{k, plus(sendT[k], ns(p.apply))})
		}
	}
	slices.SortStableFunc(applies, func(x, y applied) int { return x.t.Cmp(y.t) })
	var tStar *big.Rat
	{
		from := ns(sc.judgeFrom)
		j := 0
		var a *int64 // reading at the newest apply; nil: none yet
		for j < len(applies) && applies[j].t.Cmp(from) <= 0 {
			r := o.read(applies[j].t)
			a = &r
			j++
		}
		for step := 0; tStar == nil; step++ {
			if step > len(applies)+1 {
				bad("observer search did not end")
				return out
			}
			if a == nil {
				if !certain(time.Time{}, at(o.read(from)), c) {
					bad("observer not certain with no renewal ever committed")
				}
				tStar = from
				break
			}
			first, ok := firstTrue(*a, *a+4*d+8, func(m int64) bool { return certain(at(*a), at(m), c) })
			if !ok {
				bad("observer not certain within 4 Durations of appliedAt")
				return out
			}
			tau := later(o.when(first), from)
			if j == len(applies) || tau.Cmp(applies[j].t) < 0 {
				tStar = tau
				break
			}
			from = applies[j].t
			r := o.read(from)
			a = &r
			j++
		}
	}

	// What the holder hears: a grant only for a renewal the store accepted,
	// one applied before the takeover.
	type grant struct {
		k int
		t *big.Rat
	}
	var grants []grant
	accepted := make([]bool, n)
	for _, ap := range applies {
		accepted[ap.k] = ap.t.Cmp(tStar) < 0
		if !accepted[ap.k] {
			out.refused++
		}
	}
	for k, p := range sc.renewals {
		if p.fate == granted && accepted[k] {
			g := grant{k, plus(sendT[k], ns(p.answer))}
			grants = append(grants, g)
			if g.t.Cmp(tStar) >= 0 {
				out.lateAnswers++
			}
		}
	}
	slices.SortStableFunc(grants, func(x, y grant) int { return x.t.Cmp(y.t) })

	// The holder and its executor, event by event in real time. At equal
	// instants sends come first (an answer cannot precede its send), then
	// grants (the most lease for the holder), completions, polls and the
	// takeover check.
	var holder Holder
	tokens := make([]Renewal, n)
	epochOf := make([]int, n) // restarts before each send
	restarts := 0
	const (
		stopped = iota
		starting
		running
		stopping
	)
	state, doneR := stopped, int64(0)
	var expiryAtStop int64
	var lastHeld int64   // the end of the newest lease held, kept across restarts: the observer still counts it
	var runFrom *big.Rat // real instant the current start began
	nextSend, nextGrant := 0, 0
	pollR := h0
	checked := false
	check := func(now int64, t *big.Rat) { // the lease must be over from the takeover on
		if t.Cmp(tStar) < 0 {
			return
		}
		if holder.Valid(at(now)) || !holder.MustStop(at(now), c) || holder.MayStart(at(now), c) {
			bad("at holder reading %d, at or after the takeover: Valid %v, MustStop %v, MayStart %v",
				now, holder.Valid(at(now)), holder.MustStop(at(now), c), holder.MayStart(at(now), c))
		}
	}
	beginStop := func(now int64) {
		state, doneR = stopping, now+sc.stopTakes
		// After a restart nothing is held, but what runs still ran under the
		// lease held before: the stop must end within that one.
		expiryAtStop = lastHeld
		out.stops++
	}
	const maxSteps = 100_000
	for ; out.steps < maxSteps; out.steps++ {
		kind, t := -1, (*big.Rat)(nil)
		consider := func(k int, when *big.Rat) {
			if when != nil && (t == nil || when.Cmp(t) < 0) {
				kind, t = k, when
			}
		}
		if nextSend < n {
			consider(0, sendT[nextSend])
		}
		if nextGrant < len(grants) {
			consider(1, grants[nextGrant].t)
		}
		if state == starting || state == stopping {
			consider(2, h.when(doneR))
		}
		if !checked {
			consider(4, tStar)
		}
		if nextGrant == len(grants) && nextSend == n && checked && state == stopped {
			break // nothing left that could change the outcome
		}
		consider(3, h.when(pollR))
		now := h.read(t)
		switch kind {
		case 0:
			k := nextSend
			nextSend++
			if sc.renewals[k].restart {
				holder.Revoke()
				restarts++
			}
			epochOf[k] = restarts
			tokens[k] = holder.Sent(at(sendR[k]), c)
		case 1:
			g := grants[nextGrant]
			nextGrant++
			holder.Granted(tokens[g.k])
			if !holder.Expiry().IsZero() {
				lastHeld = max(lastHeld, reading(holder.Expiry()))
			}
			out.grants++
			if epochOf[g.k] != restarts {
				out.staleGrants++
			}
		case 2:
			switch state {
			case starting:
				state = running
				if holder.MustStop(at(doneR), c) {
					beginStop(doneR)
				}
			case stopping:
				if doneR > expiryAtStop {
					bad("a stop ended at holder reading %d, after the lease's end %d when it began", doneR, expiryAtStop)
				}
				end := h.when(doneR)
				if end.Cmp(tStar) > 0 {
					bad("the resource ran on the holder until %s ns of real time, after the takeover at %s",
						end.FloatString(1), tStar.FloatString(1))
				}
				out.margin = new(big.Rat).Quo(new(big.Rat).Sub(tStar, end), ns(d))
				state = stopped
			}
		case 3:
			switch {
			case state == running && holder.MustStop(at(pollR), c):
				beginStop(pollR)
			case state == stopped && holder.MayStart(at(pollR), c):
				state, doneR = starting, pollR+sc.startTakes
				runFrom = h.when(pollR)
				out.starts++
				if runFrom.Cmp(tStar) >= 0 {
					bad("a start began after the takeover")
				}
			}
			pollR += sc.poll
		case 4:
			checked = true
		}
		check(now, t)
	}
	if out.steps == maxSteps {
		bad("no end after %d steps", maxSteps)
	}

	// The lease the holder ends with is the latest end among the renewals it
	// was granted since its last restart.
	// Readings may be negative, so "none" is a flag, not a sentinel.
	want, held := int64(0), false
	for _, g := range grants {
		if epochOf[g.k] == restarts {
			if e := sendR[g.k] + d; !held || e > want {
				want = e
			}
			held = true
		}
	}
	switch {
	case held != !holder.Expiry().IsZero():
		bad("final Expiry %v, want a lease: %v", holder.Expiry(), held)
	case held && reading(holder.Expiry()) != want:
		bad("final Expiry %d, want %d", reading(holder.Expiry()), want)
	}
	return out
}

// randomScenarios returns n byte strings from a fixed seed, for the
// deterministic part of the simulation tests.
func randomScenarios(n int) [][]byte {
	r := rand.New(rand.NewPCG(1, 2))
	out := make([][]byte, n)
	for i := range out {
		b := make([]byte, 40+r.IntN(200))
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		// Every fourth one at the worst rates: holder slowest, observer
		// fastest (bytes 10 and 11 are the rate factors; see decode).
		if i%4 == 0 {
			b[10], b[11] = 0, 255
		}
		out[i] = b
	}
	return out
}

// TestSimulate runs the simulation over seeded random scenarios and checks
// invariant 1 in each. Its statistics show what the scenarios reached.
func TestSimulate(t *testing.T) {
	scenarios := randomScenarios(2000)
	if testing.Short() {
		scenarios = scenarios[:200]
	}
	var total outcome
	failures, ran, tight := 0, 0, 0
	least := rat(1_000_000, 1)
	for i, data := range scenarios {
		sc := decode(data)
		out := simulate(sc, CertainlyExpired)
		if len(out.violations) > 0 {
			if failures++; failures <= 5 {
				t.Errorf("scenario %d: %v\n\t%s", i, sc, strings.Join(out.violations, "\n\t"))
			}
		}
		total.steps += out.steps
		total.starts += out.starts
		total.stops += out.stops
		total.grants += out.grants
		total.staleGrants += out.staleGrants
		total.refused += out.refused
		total.lateAnswers += out.lateAnswers
		if out.margin != nil {
			ran++
			if out.margin.Cmp(rat(1, 20)) < 0 {
				tight++
			}
			if out.margin.Cmp(least) < 0 {
				least = out.margin
			}
		}
	}
	t.Logf("%d scenarios ran the resource; in %d of them it stopped within Duration/20 of the takeover, in the closest %.4f Duration before it",
		ran, tight, ratFloat(least))
	t.Logf("%d scenarios, %d steps: %d starts, %d stops, %d grants (%d stale after a restart, %d answered after the takeover), %d renewals refused after the takeover",
		len(scenarios), total.steps, total.starts, total.stops, total.grants, total.staleGrants, total.lateAnswers, total.refused)
	for name, n := range map[string]int{"starts": total.starts, "stale grants": total.staleGrants, "late answers": total.lateAnswers, "refusals": total.refused} {
		if n == 0 {
			t.Errorf("no scenario reached any %s; the generator has lost its reach", name)
		}
	}
}

// TestSimulateCatchesWeakerRules shows that the simulation has teeth: an
// observer that ignores drift, and an executor whose stops overrun the
// StopBudget by the poll gap, are both caught.
func TestSimulateCatchesWeakerRules(t *testing.T) {
	noDrift := func(appliedAt, now time.Time, c Config) bool {
		return appliedAt.IsZero() || !now.Before(appliedAt.Add(c.Duration+1))
	}
	caught := func(name string, run func(scenario) outcome) {
		for i, data := range randomScenarios(400) {
			if out := run(decode(data)); len(out.violations) > 0 {
				t.Logf("%s: caught by scenario %d: %s", name, i, out.violations[0])
				return
			}
		}
		t.Errorf("%s: no scenario catches it", name)
	}
	caught("observer ignores drift", func(sc scenario) outcome { return simulate(sc, noDrift) })
	caught("stop overruns StopBudget by the poll gap", func(sc scenario) outcome {
		sc.stopTakes = int64(sc.c.StopBudget)
		return simulate(sc, CertainlyExpired)
	})
}

// FuzzLease checks invariant 1 over scenarios decoded from arbitrary bytes.
func FuzzLease(f *testing.F) {
	f.Add([]byte{})
	// Drift 0.01, Duration 1000+0x100000 ns, the worst rates (bytes 10, 11), the rest zeros.
	f.Add([]byte{2, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0, 255})
	// Drift 0.49, the longest lease and budgets, the worst rates, short delays.
	f.Add([]byte{5, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 255, 1, 2, 3})
	for _, data := range randomScenarios(8) {
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		sc := decode(data)
		if err := sc.c.Validate(); err != nil {
			t.Fatalf("decode made an invalid Config: %v", err)
		}
		if out := simulate(sc, CertainlyExpired); len(out.violations) > 0 {
			t.Fatalf("%v\n\t%s", sc, strings.Join(out.violations, "\n\t"))
		}
	})
}
