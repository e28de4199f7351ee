package detect

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Damping is flap damping after BGP's (RFC 2439): each flap of a subject (a
// node returning after it was offline, a resource recovering after it
// failed) adds Penalty; the penalty halves every HalfLife; once it exceeds
// Suppress the subject is damped, and stays damped until it decays below
// Reuse. The penalty is capped so that a subject is never damped longer
// than MaxHold after its last flap. A lossy link or a partition attack that
// makes a node come and go therefore cannot keep pulling the VIP back and
// forth: the node is held back while it keeps flapping.
//
// The zero value means the defaults. Damping is pure: its methods take the
// time and keep no state; the state of a subject is a Flaps value that the
// caller keeps wherever it likes (the Judge keeps one per peer).
type Damping struct {
	Penalty  float64       // added per flap; 0 means 1000
	Suppress float64       // damped above it; 0 means 2000 (the third quick flap damps)
	Reuse    float64       // undamped below it; 0 means 750
	HalfLife time.Duration // 0 means 1 minute
	MaxHold  time.Duration // the longest a subject stays damped after its last flap; 0 means 5 minutes
}

// Damping defaults.
const (
	defaultPenalty  = 1000
	defaultSuppress = 2000
	defaultReuse    = 750
	defaultHalfLife = time.Minute
	defaultMaxHold  = 5 * time.Minute
)

// resolved returns d with its defaults applied.
func (d Damping) resolved() Damping {
	if d.Penalty == 0 {
		d.Penalty = defaultPenalty
	}
	if d.Suppress == 0 {
		d.Suppress = defaultSuppress
	}
	if d.Reuse == 0 {
		d.Reuse = defaultReuse
	}
	if d.HalfLife == 0 {
		d.HalfLife = defaultHalfLife
	}
	if d.MaxHold == 0 {
		d.MaxHold = defaultMaxHold
	}
	return d
}

// Validate reports every problem with d (after its defaults), joined.
func (d Damping) Validate() error {
	d = d.resolved()
	var errs []error
	for _, v := range []struct {
		name string
		v    float64
	}{{"penalty", d.Penalty}, {"suppress", d.Suppress}, {"reuse", d.Reuse}} {
		if !(v.v > 0) || math.IsInf(v.v, 0) {
			errs = append(errs, fmt.Errorf("damping: %s is %v, must be positive and finite", v.name, v.v))
		}
	}
	if d.Reuse >= d.Suppress {
		errs = append(errs, fmt.Errorf("damping: reuse (%v) must be below suppress (%v)", d.Reuse, d.Suppress))
	}
	if d.HalfLife <= 0 {
		errs = append(errs, fmt.Errorf("damping: half life is %v, must be positive", d.HalfLife))
	}
	if d.MaxHold <= 0 {
		errs = append(errs, fmt.Errorf("damping: max hold is %v, must be positive", d.MaxHold))
	}
	if len(errs) == 0 && d.ceiling() <= d.Suppress {
		errs = append(errs, fmt.Errorf("damping: max hold %v is too short for a penalty to ever exceed suppress: "+
			"reuse * 2^(max hold / half life) = %.0f <= %v", d.MaxHold, d.ceiling(), d.Suppress))
	}
	return errors.Join(errs...)
}

// ceiling is the largest penalty: the one that decays to Reuse in exactly
// MaxHold. d must be resolved.
func (d Damping) ceiling() float64 {
	return d.Reuse * math.Exp2(float64(d.MaxHold)/float64(d.HalfLife))
}

// Flaps is the damping state of one subject: plain data, comparable, so
// that it can be kept in a map or in replicated state. The zero value is a
// subject that never flapped.
type Flaps struct {
	Penalty float64   // as of At
	At      time.Time // the last flap; zero if none
	Count   int       // flaps ever recorded
	Damped  bool      // as of At
}

// DampStatus is a subject's damping at one moment.
type DampStatus struct {
	Damped  bool
	Penalty float64 // decayed to the moment asked
	// Until is when the subject stops being damped if it does not flap
	// again; zero when not damped.
	Until time.Time
	// Reason is one line for status and events, "" when not damped:
	// "3 flaps, penalty 2650, reuse below 750; reusable in 1m32s".
	Reason string
}

// decayed is f's penalty at now (never grown by time running backwards).
func (d Damping) decayed(f Flaps, now time.Time) float64 {
	if f.Penalty == 0 {
		return 0
	}
	return f.Penalty * math.Exp2(-float64(max(0, now.Sub(f.At)))/float64(d.HalfLife))
}

// until is when a damped f decays below Reuse: never later than MaxHold
// after the last flap. d must be resolved.
func (d Damping) until(f Flaps) time.Time {
	hold := time.Duration(float64(d.HalfLife) * math.Log2(f.Penalty/d.Reuse))
	return f.At.Add(min(max(0, hold), d.MaxHold))
}

// Flap records one flap of a subject in state f at now and returns the new
// state. Calls must come in time order; an earlier now counts as the last
// flap's time.
func (d Damping) Flap(f Flaps, now time.Time) Flaps {
	d = d.resolved()
	if now.Before(f.At) {
		now = f.At
	}
	damped := f.Damped && now.Before(d.until(f))
	p := min(d.decayed(f, now)+d.Penalty, d.ceiling())
	return Flaps{Penalty: p, At: now, Count: f.Count + 1, Damped: damped || p > d.Suppress}
}

// Status returns the damping of a subject in state f at now.
func (d Damping) Status(f Flaps, now time.Time) DampStatus {
	d = d.resolved()
	s := DampStatus{Penalty: d.decayed(f, now)}
	if !f.Damped {
		return s
	}
	if u := d.until(f); now.Before(u) {
		s.Damped, s.Until = true, u
		s.Reason = fmt.Sprintf("%d flaps, penalty %.0f, reuse below %.0f; reusable in %v",
			f.Count, s.Penalty, d.Reuse, u.Sub(now).Round(time.Second))
	}
	return s
}
