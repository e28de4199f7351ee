package lease

import (
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

// good is a valid Config the tests start from.
func good() Config {
	return Config{Duration: 10 * time.Second, StartBudget: 2 * time.Second, StopBudget: 3 * time.Second}
}

func TestValidate(t *testing.T) {
	with := func(f func(*Config)) Config { c := good(); f(&c); return c }
	for _, tc := range []struct {
		name string
		c    Config
		want []string // one substring per problem, in order; none: valid
	}{
		{"good", good(), nil},
		{"explicit drift", with(func(c *Config) { c.MaxDrift = 0.001 }), nil},
		{"drift just below the limit", with(func(c *Config) { c.MaxDrift = math.Nextafter(0.5, 0) }), nil},
		{"longest duration", with(func(c *Config) { c.Duration = MaxDuration }), nil},
		{"budgets just fit", with(func(c *Config) { c.StartBudget, c.StopBudget = 4*time.Second, 6*time.Second-1 }), nil},
		{"smallest", Config{Duration: 3, StartBudget: 1, StopBudget: 1}, nil},
		{"zero", Config{}, []string{"Duration 0s: must be positive", "StartBudget 0s: must be positive", "StopBudget 0s: must be positive"}},
		{"negative duration", with(func(c *Config) { c.Duration = -time.Second }), []string{"Duration -1s: must be positive"}},
		{"too long", with(func(c *Config) { c.Duration = MaxDuration + 1 }), []string{"Duration 24h0m0.000000001s: must be at most 24h0m0s"}},
		{"negative drift", with(func(c *Config) { c.MaxDrift = -0.01 }), []string{"MaxDrift -0.01: must be at least 0 and below 0.5"}},
		{"drift at the limit", with(func(c *Config) { c.MaxDrift = 0.5 }), []string{"MaxDrift 0.5:"}},
		{"drift NaN", with(func(c *Config) { c.MaxDrift = math.NaN() }), []string{"MaxDrift NaN:"}},
		{"drift infinite", with(func(c *Config) { c.MaxDrift = math.Inf(1) }), []string{"MaxDrift +Inf:"}},
		{"negative budgets", with(func(c *Config) { c.StartBudget, c.StopBudget = -1, -1 }), []string{"StartBudget -1ns: must be positive", "StopBudget -1ns: must be positive"}},
		{"budgets fill the lease", with(func(c *Config) { c.StartBudget, c.StopBudget = 4*time.Second, 6*time.Second }),
			[]string{"StartBudget 4s + StopBudget 6s: must be less than Duration 10s"}},
		{"stop budget alone too long", with(func(c *Config) { c.StopBudget = 10 * time.Second }), []string{"StopBudget 10s: must be less than Duration"}},
		{"budgets that would overflow", with(func(c *Config) { c.StartBudget, c.StopBudget = math.MaxInt64, math.MaxInt64 }),
			[]string{"must be less than Duration 10s"}},
		{"all at once", Config{Duration: -1, MaxDrift: 2, StartBudget: -1, StopBudget: 0},
			[]string{"Duration", "MaxDrift", "StartBudget", "StopBudget"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.c.Validate()
			if tc.c.valid() != (err == nil) {
				t.Errorf("valid() = %v, but Validate() = %v", tc.c.valid(), err)
			}
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %d problems", len(tc.want))
			}
			var joined interface{ Unwrap() []error }
			if !errors.As(err, &joined) {
				t.Fatalf("Validate() = %v: not joined with errors.Join", err)
			}
			got := joined.Unwrap()
			if len(got) != len(tc.want) {
				t.Fatalf("Validate() has %d problems, want %d:\n%v", len(got), len(tc.want), err)
			}
			for i, e := range got {
				if !strings.HasPrefix(e.Error(), "lease: ") || !strings.Contains(e.Error(), tc.want[i]) {
					t.Errorf("problem %d = %q, want it to start \"lease: \" and contain %q", i, e, tc.want[i])
				}
			}
		})
	}
}

func TestObserverWait(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    Config
		want time.Duration
	}{
		// Drifts that are exact in binary give exact factors: 1.25/0.75 = 5/3, 1.125/0.875 = 9/7.
		{"exact factor", Config{Duration: 3 * time.Second, MaxDrift: 0.25, StartBudget: 1, StopBudget: 1}, 5*time.Second + 1},
		{"exact factor, 9/7", Config{Duration: 7 * time.Second, MaxDrift: 0.125, StartBudget: 1, StopBudget: 1}, 9*time.Second + 1},
		{"rounds up", Config{Duration: 3, MaxDrift: 0.25, StartBudget: 1, StopBudget: 1}, 5 + 1},
		{"rounds up a fraction", Config{Duration: 4, MaxDrift: 0.25, StartBudget: 1, StopBudget: 1}, 7 + 1}, // 20/3 = 6.67
		// 10 s * 1.01/0.99 = 10.20202020202… s; the float64 0.01 is a hair above 0.01, which cannot cross an integer here.
		{"default drift", good(), 10_202_020_203 + 1},
		{"explicit default", func() Config { c := good(); c.MaxDrift = DefaultMaxDrift; return c }(), 10_202_020_203 + 1},
		{"invalid", Config{}, never},
		{"invalid drift", func() Config { c := good(); c.MaxDrift = math.NaN(); return c }(), never},
	} {
		if got := tc.c.ObserverWait(); got != tc.want {
			t.Errorf("%s: ObserverWait() = %v (%d ns), want %v (%d ns)", tc.name, got, int64(got), tc.want, int64(tc.want))
		}
	}
}

// TestObserverWaitRoundsUpOnce checks, in exact arithmetic, that
// ObserverWait is the smallest whole nanosecond count at or above
// Duration*(1+ρ)/(1-ρ), plus the resolution nanosecond, and that it grows
// with Duration and with MaxDrift (so that a larger setting on the observer
// is only safer).
func TestObserverWaitRoundsUpOnce(t *testing.T) {
	durations := []time.Duration{3, 4, 7, 10, 999, 1_000_003, time.Second, 10*time.Second + 7, time.Hour, MaxDuration - 1, MaxDuration}
	drifts := []float64{1e-9, 1e-6, 0.001, 0.01, 0.1, 0.125, 0.3, 0.333, 0.49, math.Nextafter(0.5, 0)}
	checked := 0
	for i, d := range durations {
		for j, rho := range drifts {
			c := Config{Duration: d, MaxDrift: rho, StartBudget: 1, StopBudget: 1}
			w := c.ObserverWait()
			// Want (w-1)(1-ρ) >= d(1+ρ) > (w-2)(1-ρ), i.e. w-1 = ceil(d(1+ρ)/(1-ρ)).
			r := new(big.Rat).SetFloat64(rho)
			oneMinus := new(big.Rat).Sub(rat(1, 1), r)
			need := new(big.Rat).Mul(new(big.Rat).Add(rat(1, 1), r), ns(int64(d)))
			if new(big.Rat).Mul(ns(int64(w-1)), oneMinus).Cmp(need) < 0 {
				t.Errorf("Duration %v, MaxDrift %v: ObserverWait %d ns is short of the bound", d, rho, int64(w))
			}
			if new(big.Rat).Mul(ns(int64(w-2)), oneMinus).Cmp(need) >= 0 {
				t.Errorf("Duration %v, MaxDrift %v: ObserverWait %d ns rounds up more than needed", d, rho, int64(w))
			}
			if i > 0 {
				prev := Config{Duration: durations[i-1], MaxDrift: rho, StartBudget: 1, StopBudget: 1}.ObserverWait()
				if w < prev {
					t.Errorf("ObserverWait shrinks as Duration grows to %v at MaxDrift %v: %v < %v", d, rho, w, prev)
				}
			}
			if j > 0 {
				prev := Config{Duration: d, MaxDrift: drifts[j-1], StartBudget: 1, StopBudget: 1}.ObserverWait()
				if w < prev {
					t.Errorf("ObserverWait shrinks as MaxDrift grows to %v at Duration %v: %v < %v", rho, d, w, prev)
				}
			}
			checked++
		}
	}
	t.Logf("%d configurations", checked)
}
