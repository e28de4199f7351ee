package lease

import (
	"testing"
	"time"
)

func TestCertainlyExpired(t *testing.T) {
	c := good()
	w := int64(c.ObserverWait())
	const a = 1_000
	for _, tc := range []struct {
		name         string
		applied, now int64
		c            Config
		zeroApplied  bool
		want         bool
	}{
		{"just applied", a, a, c, false, false},
		{"a nanosecond short", a, a + w - 1, c, false, false},
		{"at the bound", a, a + w, c, false, true},
		{"after the bound", a, a + w + 1, c, false, true},
		{"now before appliedAt", a, a - 1, c, false, false},
		{"invalid config is never certain", a, a + 1000*w, Config{}, false, false},
		{"never committed", 0, a, c, true, true},
		{"never committed, invalid config", 0, a, Config{}, true, true},
	} {
		applied := at(tc.applied)
		if tc.zeroApplied {
			applied = time.Time{}
		}
		if got := CertainlyExpired(applied, at(tc.now), tc.c); got != tc.want {
			t.Errorf("%s: CertainlyExpired = %v, want %v", tc.name, got, tc.want)
		}
		// CertainlyExpired is "now is not before ExpiresBy", for a valid Config.
		if tc.c.valid() {
			if by := !at(tc.now).Before(ExpiresBy(applied, tc.c)); by != tc.want {
				t.Errorf("%s: ExpiresBy disagrees: now not before it = %v, want %v", tc.name, by, tc.want)
			}
		}
	}
	if got := ExpiresBy(time.Time{}, c); !got.IsZero() {
		t.Errorf("ExpiresBy(zero) = %v, want the zero time", got)
	}
	if got := reading(ExpiresBy(at(a), c)); got != a+w {
		t.Errorf("ExpiresBy(%d) = %d, want %d", a, got, a+w)
	}
	// An invalid Config puts the end centuries ahead.
	if got := ExpiresBy(at(a), Config{}); got.Sub(at(a)) < 200*365*24*time.Hour {
		t.Errorf("ExpiresBy with an invalid Config = %v, want centuries after %v", got, at(a))
	}
}

// TestCertainlyExpiredMonotone checks that once certain, the observer stays
// certain as its clock advances, and that a later appliedAt never makes it
// certain sooner.
func TestCertainlyExpiredMonotone(t *testing.T) {
	c := Config{Duration: 100, MaxDrift: 0.1, StartBudget: 10, StopBudget: 10}
	for applied := int64(0); applied <= 50; applied += 7 {
		prev := false
		for now := int64(0); now <= 300; now++ {
			got := CertainlyExpired(at(applied), at(now), c)
			if prev && !got {
				t.Fatalf("appliedAt %d: certain at %d, not at %d", applied, now-1, now)
			}
			if got && !CertainlyExpired(at(applied-1), at(now), c) {
				t.Fatalf("at %d: certain for appliedAt %d but not for the earlier %d", now, applied, applied-1)
			}
			prev = got
		}
		if !prev {
			t.Errorf("appliedAt %d: never certain within 300 ns of a 100 ns lease", applied)
		}
	}
}
