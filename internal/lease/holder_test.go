package lease

import (
	"fmt"
	"testing"
	"time"
)

func TestZeroHolderHoldsNothing(t *testing.T) {
	var h Holder
	c := good()
	for _, n := range []int64{-int64(time.Hour), 0, 1, int64(time.Hour)} {
		now := at(n)
		if h.Valid(now) || h.Remaining(now) != 0 || h.MayStart(now, c) || !h.MustStop(now, c) {
			t.Errorf("zero Holder at %d: Valid %v, Remaining %v, MayStart %v, MustStop %v; want false, 0, false, true",
				n, h.Valid(now), h.Remaining(now), h.MayStart(now, c), h.MustStop(now, c))
		}
	}
	if !h.Expiry().IsZero() || !h.StopAt(c).IsZero() {
		t.Errorf("zero Holder: Expiry %v, StopAt %v; want zero times", h.Expiry(), h.StopAt(c))
	}
}

func TestHolderGrant(t *testing.T) {
	c := good()
	d := int64(c.Duration)
	var h Holder
	r := h.Sent(at(100), c)
	if got := reading(r.SentAt()); got != 100 {
		t.Errorf("SentAt() = %d, want 100", got)
	}
	if !h.Expiry().IsZero() {
		t.Fatalf("Sent alone set Expiry %v; a renewal counts only once granted", h.Expiry())
	}
	h.Granted(r)
	if got := reading(h.Expiry()); got != 100+d {
		t.Fatalf("Expiry() = %d, want %d", got, 100+d)
	}
	for _, tc := range []struct {
		now       int64
		valid     bool
		remaining time.Duration
	}{
		{99, true, c.Duration + 1}, // a reading before the send: still inside the lease's end
		{100, true, c.Duration},
		{100 + d - 1, true, 1},
		{100 + d, false, 0},
		{100 + d + 1, false, 0},
	} {
		if got := h.Valid(at(tc.now)); got != tc.valid {
			t.Errorf("Valid(%d) = %v, want %v", tc.now, got, tc.valid)
		}
		if got := h.Remaining(at(tc.now)); got != tc.remaining {
			t.Errorf("Remaining(%d) = %v, want %v", tc.now, got, tc.remaining)
		}
	}
	h.Granted(r) // idempotent
	if got := reading(h.Expiry()); got != 100+d {
		t.Errorf("a repeated Granted moved Expiry to %d, want %d", got, 100+d)
	}
}

// TestHolderBudgets pins MayStart, MustStop and StopAt to the nanosecond
// around their thresholds, and checks that MustStop agrees with StopAt.
func TestHolderBudgets(t *testing.T) {
	c := good()
	var h Holder
	h.Granted(h.Sent(at(0), c))
	e := reading(h.Expiry())
	start, stop := int64(c.StartBudget), int64(c.StopBudget)
	for _, tc := range []struct {
		now               int64
		mayStart, mustStp bool
	}{
		{0, true, false},
		{e - start - stop - 1, true, false}, // the last start that can still be stopped in time
		{e - start - stop, false, false},
		{e - stop - 1, false, false},
		{e - stop, false, true}, // the stop, begun now, ends exactly as the lease does
		{e - 1, false, true},
		{e, false, true},
		{e + 1, false, true},
	} {
		if got := h.MayStart(at(tc.now), c); got != tc.mayStart {
			t.Errorf("MayStart(e%+d) = %v, want %v", tc.now-e, got, tc.mayStart)
		}
		if got := h.MustStop(at(tc.now), c); got != tc.mustStp {
			t.Errorf("MustStop(e%+d) = %v, want %v", tc.now-e, got, tc.mustStp)
		}
	}
	if got := reading(h.StopAt(c)); got != e-stop {
		t.Errorf("StopAt() = e%+d, want e-%d", got-e, stop)
	}
	// The same, with budgets of a nanosecond and a lease of three.
	tiny := Config{Duration: 3, StartBudget: 1, StopBudget: 1}
	var g Holder
	g.Granted(g.Sent(at(10), tiny))
	for now, want := range map[int64][3]bool{ // MayStart, MustStop, Valid
		9: {true, false, true}, 10: {true, false, true}, 11: {false, false, true}, 12: {false, true, true}, 13: {false, true, false},
	} {
		got := [3]bool{g.MayStart(at(now), tiny), g.MustStop(at(now), tiny), g.Valid(at(now))}
		if got != want {
			t.Errorf("Duration 3 ns sent at 10, at %d: MayStart, MustStop, Valid = %v, want %v", now, got, want)
		}
	}
}

// TestHolderMonotone checks, reading by reading across the whole lease, that
// time only takes permissions away: Valid and MayStart never come back once
// false, MustStop never goes back once true, and MustStop(now) is exactly
// "now is not before StopAt".
func TestHolderMonotone(t *testing.T) {
	c := Config{Duration: 1000, StartBudget: 100, StopBudget: 250}
	var h Holder
	h.Granted(h.Sent(at(0), c))
	stopAt := h.StopAt(c)
	var valid, may, must [2]int // how often each flipped the wrong way, and the right way
	prev := [3]bool{true, true, false}
	for n := int64(-5); n <= 1005; n++ {
		now := at(n)
		cur := [3]bool{h.Valid(now), h.MayStart(now, c), h.MustStop(now, c)}
		if cur[2] != !now.Before(stopAt) {
			t.Errorf("at %d: MustStop %v disagrees with StopAt %d", n, cur[2], reading(stopAt))
		}
		flip := func(k int, wrong bool, counts *[2]int) {
			if cur[k] != prev[k] {
				if wrong {
					counts[0]++
				} else {
					counts[1]++
				}
			}
		}
		flip(0, cur[0], &valid)
		flip(1, cur[1], &may)
		flip(2, !cur[2], &must)
		prev = cur
	}
	if valid != [2]int{0, 1} || may != [2]int{0, 1} || must != [2]int{0, 1} {
		t.Errorf("(wrong-way, right-way) flips: Valid %v, MayStart %v, MustStop %v; want each [0 1]", valid, may, must)
	}
}

// TestGrantsInAnyOrder sends four renewals (two at the same reading) and,
// for every subset of them granted, in every order, with every grant
// possibly repeated, checks that the lease ends at the latest granted send
// plus Duration, and holds nothing when none is granted.
func TestGrantsInAnyOrder(t *testing.T) {
	c := good()
	d := int64(c.Duration)
	sends := []int64{0, 400, 400, 2_000_000_000}
	orders := 0
	for mask := range 1 << len(sends) {
		var granted []int
		for i := range sends {
			if mask&(1<<i) != 0 {
				granted = append(granted, i)
			}
		}
		want := int64(-1)
		for _, i := range granted {
			want = max(want, sends[i]+d)
		}
		for _, order := range permutations(granted) {
			for _, repeat := range []bool{false, true} {
				var h Holder
				rs := make([]Renewal, len(sends))
				for i, s := range sends {
					rs[i] = h.Sent(at(s), c)
				}
				for _, i := range order {
					h.Granted(rs[i])
					if repeat {
						h.Granted(rs[i])
					}
				}
				got := int64(-1)
				if !h.Expiry().IsZero() {
					got = reading(h.Expiry())
				}
				if got != want {
					t.Errorf("grants %v (repeated %v): Expiry %d, want %d", order, repeat, got, want)
				}
				orders++
			}
		}
	}
	t.Logf("%d grant sequences", orders)
}

// TestRevoke checks that Revoke drops the lease and every renewal in flight
// at every point of a sequence of sends and grants, and that only renewals
// sent after it count.
func TestRevoke(t *testing.T) {
	c := good()
	d := int64(c.Duration)
	// Renewal i is sent at 100*i and granted after renewal i+1 is sent.
	const n = 5
	for revokeAfter := range 2 * n { // step at which Revoke comes
		var h Holder
		rs := make([]Renewal, n)
		want := int64(-1)
		step := 0
		revoked := false
		do := func() {
			if step == revokeAfter {
				h.Revoke()
				revoked = true
				want = -1
			}
			step++
		}
		sentAfterRevoke := make([]bool, n)
		for i := range n {
			rs[i] = h.Sent(at(int64(100*i)), c)
			sentAfterRevoke[i] = revoked
			do()
			if i > 0 {
				h.Granted(rs[i-1])
				if sentAfterRevoke[i-1] || !revoked {
					want = max(want, int64(100*(i-1))+d)
				}
				do()
			}
		}
		got := int64(-1)
		if !h.Expiry().IsZero() {
			got = reading(h.Expiry())
		}
		if got != want {
			t.Errorf("Revoke at step %d: Expiry %d, want %d", revokeAfter, got, want)
		}
	}
	var h Holder
	h.Granted(h.Sent(at(0), c))
	h.Revoke()
	if h.Valid(at(1)) || !h.MustStop(at(1), c) || !h.Expiry().IsZero() {
		t.Errorf("after Revoke: Valid %v, MustStop %v, Expiry %v; want false, true, zero", h.Valid(at(1)), h.MustStop(at(1), c), h.Expiry())
	}
}

// TestHolderSafeSide checks that what cannot extend a lease does not: the
// zero Renewal, a renewal sent with an invalid Config, and questions asked
// with an invalid Config.
func TestHolderSafeSide(t *testing.T) {
	c := good()
	var h Holder
	h.Granted(Renewal{})
	h.Granted(h.Sent(time.Time{}, c))
	h.Granted(h.Sent(at(0), Config{Duration: time.Second})) // no budgets: invalid
	if !h.Expiry().IsZero() {
		t.Fatalf("Expiry() = %v after grants that extend nothing, want zero", h.Expiry())
	}
	h.Granted(h.Sent(at(0), c))
	for _, bad := range []Config{{}, {Duration: c.Duration, MaxDrift: 0.7, StartBudget: 1, StopBudget: 1}, {Duration: c.Duration, StartBudget: 1}} {
		if h.MayStart(at(1), bad) || !h.MustStop(at(1), bad) || !h.StopAt(bad).IsZero() {
			t.Errorf("invalid %+v: MayStart %v, MustStop %v, StopAt %v; want false, true, zero",
				bad, h.MayStart(at(1), bad), h.MustStop(at(1), bad), h.StopAt(bad))
		}
	}
	if !h.Valid(at(1)) {
		t.Error("Valid(1) = false for a granted lease; an invalid Config in a question must not drop it")
	}
}

// permutations returns every ordering of xs (len(xs)! of them).
func permutations(xs []int) [][]int {
	if len(xs) <= 1 {
		return [][]int{append([]int(nil), xs...)}
	}
	var out [][]int
	for i := range xs {
		rest := append(append([]int(nil), xs[:i]...), xs[i+1:]...)
		for _, p := range permutations(rest) {
			out = append(out, append([]int{xs[i]}, p...))
		}
	}
	return out
}

func ExampleHolder() {
	c := Config{Duration: 10 * time.Second, StartBudget: 2 * time.Second, StopBudget: 3 * time.Second}
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC) // in a daemon: time.Now()
	var h Holder
	r := h.Sent(t0, c) // just before proposing the renewal to the store
	// ... the store reports that the renewal committed:
	h.Granted(r)
	for _, s := range []time.Duration{0, 4 * time.Second, 5 * time.Second, 7 * time.Second, 10 * time.Second} {
		now := t0.Add(s)
		fmt.Printf("%v: valid %v, may start %v, must stop %v\n", s, h.Valid(now), h.MayStart(now, c), h.MustStop(now, c))
	}
	// Output:
	// 0s: valid true, may start true, must stop false
	// 4s: valid true, may start true, must stop false
	// 5s: valid true, may start false, must stop false
	// 7s: valid true, may start false, must stop true
	// 10s: valid false, may start false, must stop true
}
