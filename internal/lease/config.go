package lease

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"time"
)

// DefaultMaxDrift is the clock-rate bound used when Config.MaxDrift is zero:
// 1%, twenty times the 500 ppm by which NTP may slew a clock and far above
// the drift of a crystal oscillator. It lengthens recoveries by about 2% of
// Duration. The margin matters: the observer's bound is tight when the
// holder's clock runs slowest and the observer's fastest, so a clock that
// drifts beyond MaxDrift can break invariant 1.
const DefaultMaxDrift = 0.01

// MaxDuration is the longest lease Validate accepts. A longer one would
// delay every recovery by more than a day, which is a mistake in units
// rather than a choice.
const MaxDuration = 24 * time.Hour

// driftLimit is the bound MaxDrift must stay below. At 0.5 the observer
// already waits three times Duration.
const driftLimit = 0.5

// never is what ObserverWait returns for an invalid Config: no wait is long
// enough.
const never = time.Duration(math.MaxInt64)

// Config is the lease arithmetic's configuration. Its Duration and MaxDrift
// must be the same on every node (see the package documentation); the
// budgets are the holder's own. It must be valid: the methods and functions
// that take a Config answer on the safe side for an invalid one (no start,
// stop now, never certainly expired).
type Config struct {
	// Duration is how long a granted renewal lets its holder keep the lease,
	// on the holder's clock, from the time the holder sent it. Required.
	Duration time.Duration
	// MaxDrift bounds how much faster or slower than real time any node's
	// clock may run, as a fraction: 0.01 means within 1%. It must be below
	// 0.5. Zero means DefaultMaxDrift: no real clock is exact, so zero drift
	// is never the right bound.
	MaxDrift float64
	// StartBudget is the longest that starting an exclusive resource may
	// take, its start timeout included. Required.
	StartBudget time.Duration
	// StopBudget is the longest that stopping all of the holder's exclusive
	// resources may take once MustStop reports true: their stop timeouts
	// (added up, if they stop one after another) plus the longest gap between
	// two MustStop checks. Required.
	StopBudget time.Duration
}

// Validate reports every problem with c, joined with errors.Join, each
// naming its field; nil means c is valid. StartBudget+StopBudget must be
// less than Duration, or no start could ever be allowed.
func (c Config) Validate() error { return errors.Join(c.problems()...) }

// valid is Validate() == nil, without building the errors.
func (c Config) valid() bool { return len(c.problems()) == 0 }

// problems lists c's problems in field order; it allocates only when there
// are some.
func (c Config) problems() []error {
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf("lease: "+format, args...)) }
	switch {
	case c.Duration <= 0:
		bad("Duration %v: must be positive", c.Duration)
	case c.Duration > MaxDuration:
		bad("Duration %v: must be at most %v", c.Duration, MaxDuration)
	}
	if math.IsNaN(c.MaxDrift) || c.MaxDrift < 0 || c.MaxDrift >= driftLimit {
		bad("MaxDrift %v: must be at least 0 and below %v (0 means %v)", c.MaxDrift, driftLimit, DefaultMaxDrift)
	}
	if c.StartBudget <= 0 {
		bad("StartBudget %v: must be positive: no start is instantaneous", c.StartBudget)
	}
	if c.StopBudget <= 0 {
		bad("StopBudget %v: must be positive: no stop is instantaneous", c.StopBudget)
	}
	// Each term is checked first so that the sum cannot overflow.
	if c.Duration > 0 && c.StartBudget > 0 && c.StopBudget > 0 &&
		(c.StartBudget >= c.Duration || c.StopBudget >= c.Duration || c.StartBudget+c.StopBudget >= c.Duration) {
		bad("StartBudget %v + StopBudget %v: must be less than Duration %v, or no start could ever be allowed",
			c.StartBudget, c.StopBudget, c.Duration)
	}
	return errs
}

// drift is the MaxDrift in force: DefaultMaxDrift for zero.
func (c Config) drift() float64 {
	if c.MaxDrift == 0 {
		return DefaultMaxDrift
	}
	return c.MaxDrift
}

// ObserverWait is how long an observer waits, on its own clock, after it
// applied a holder's newest renewal, before the holder's lease has certainly
// ended: Duration*(1+MaxDrift)/(1-MaxDrift), computed exactly and rounded up,
// plus one nanosecond because a clock reading may trail the instant it was
// taken by up to the clock's resolution, a nanosecond for Go's monotonic
// clock. It is the lease term of invariant 3's recovery bound. For an
// invalid c it is the longest time.Duration: never, in practice.
func (c Config) ObserverWait() time.Duration {
	if !c.valid() {
		return never
	}
	// Exact rational arithmetic: a float64 product may round below the true
	// bound, and being short by even a nanosecond is unsafe in the worst case.
	// SetFloat64 is exact for the finite drift that valid() guarantees.
	rho := new(big.Rat).SetFloat64(c.drift())
	one := big.NewRat(1, 1)
	q := new(big.Rat).Add(one, rho)
	q.Mul(q, new(big.Rat).SetInt64(int64(c.Duration)))
	q.Quo(q, new(big.Rat).Sub(one, rho))
	n := new(big.Int).Div(q.Num(), q.Denom()) // floor: the denominator is positive
	if !q.IsInt() {
		n.Add(n, big.NewInt(1))
	}
	// At most 3*MaxDuration+1, far inside int64.
	return time.Duration(n.Int64()) + 1
}
