package detect

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestDampingValidate(t *testing.T) {
	for _, tc := range []struct {
		d    Damping
		want string // a substring of the error; "" for none
	}{
		{Damping{}, ""},
		{Damping{Reuse: 3000}, "reuse (3000) must be below suppress (2000)"},
		{Damping{Penalty: -1}, "penalty is -1"},
		{Damping{Suppress: math.Inf(1)}, "suppress is +Inf"},
		{Damping{HalfLife: -time.Second}, "half life is -1s"},
		{Damping{MaxHold: -time.Second}, "max hold is -1s"},
		{Damping{MaxHold: time.Minute}, "too short"}, // 750*2^1 = 1500 <= 2000
	} {
		err := tc.d.Validate()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.d, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.d, err, tc.want)
		}
	}
}

// TestDampingSteps follows one subject through flaps and decay with the
// defaults: +1000 a flap, half-life 1m, suppress above 2000, reuse below
// 750, held at most 5m after the last flap.
func TestDampingSteps(t *testing.T) {
	var d Damping
	t0 := time.Unix(1_700_000_000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	var f Flaps
	check := func(when float64, damped bool, penalty float64) {
		t.Helper()
		s := d.Status(f, at(when))
		if s.Damped != damped || math.Abs(s.Penalty-penalty) > 0.5 {
			t.Errorf("at %vs: damped %t penalty %.1f, want %t %.1f", when, s.Damped, s.Penalty, damped, penalty)
		}
		if s.Damped != (s.Reason != "") || s.Damped != !s.Until.IsZero() {
			t.Errorf("at %vs: reason %q until %v for damped %t", when, s.Reason, s.Until, s.Damped)
		}
	}
	check(0, false, 0)
	f = d.Flap(f, at(0))
	check(0, false, 1000)
	check(60, false, 500)
	f = d.Flap(f, at(60)) // 500 + 1000
	check(60, false, 1500)
	f = d.Flap(f, at(60)) // 2500 > 2000
	check(60, true, 2500)
	// 2500 -> 750 takes log2(2500/750) = 1.737 half-lives = 104.2s.
	check(60+104, true, 750*math.Exp2(0.2/60))
	check(60+104.3, false, 750*math.Exp2(-0.1/60))
	if got, want := d.Status(f, at(100)).Until, at(60).Add(time.Duration(60*math.Log2(2500.0/750)*float64(time.Second))); got.Sub(want).Abs() > time.Millisecond {
		t.Errorf("until %v, want %v", got, want)
	}
	// Between reuse and suppress, a flap after the damping ended does not
	// damp again unless it crosses suppress.
	f = d.Flap(f, at(60+104.3)) // ~750 + 1000 = 1750
	check(60+104.3, false, 2500*math.Exp2(-104.3/60)+1000)
	// Time running backwards counts as the last flap's time.
	f2 := d.Flap(f, at(0))
	if !f2.At.Equal(f.At) || f2.Count != f.Count+1 {
		t.Errorf("backwards flap: %+v from %+v", f2, f)
	}
}

// TestDampingBounds drives random flap sequences and checks the
// invariants: damped only if the penalty crossed suppress at a flap, never
// for longer than MaxHold after the last flap, undamped once the penalty
// is below reuse, and the penalty never above the ceiling.
func TestDampingBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, d := range []Damping{{}, {HalfLife: 10 * time.Second, MaxHold: 30 * time.Second}, {Penalty: 500, Suppress: 1200, Reuse: 300, HalfLife: time.Second, MaxHold: 7 * time.Second}} {
		dd := d.resolved()
		for range 200 {
			var f Flaps
			now := time.Unix(1_700_000_000, 0)
			crossed := false
			for range 50 {
				now = now.Add(time.Duration(r.Int64N(int64(2 * dd.HalfLife))))
				f = d.Flap(f, now)
				crossed = crossed || f.Penalty > dd.Suppress
				if f.Penalty > dd.ceiling()*(1+1e-9) {
					t.Fatalf("%+v: penalty %v above ceiling %v", d, f.Penalty, dd.ceiling())
				}
				if f.Damped && !crossed {
					t.Fatalf("%+v: damped without crossing suppress: %+v", d, f)
				}
				probe := now.Add(time.Duration(r.Int64N(int64(2 * dd.MaxHold))))
				s := d.Status(f, probe)
				if s.Damped && probe.Sub(f.At) >= dd.MaxHold {
					t.Fatalf("%+v: damped %v after the last flap, max hold %v", d, probe.Sub(f.At), dd.MaxHold)
				}
				if s.Damped && s.Penalty < dd.Reuse*(1-1e-9) {
					t.Fatalf("%+v: damped with penalty %v below reuse", d, s.Penalty)
				}
				if f.Damped && !s.Damped && s.Penalty > dd.Reuse*(1+1e-9) {
					t.Fatalf("%+v: undamped with penalty %v above reuse at %v", d, s.Penalty, probe.Sub(f.At))
				}
			}
		}
	}
}
