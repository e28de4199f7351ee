package lease

import "time"

// ExpiresBy reports the instant on the observer's clock after which the
// lease granted by a holder's renewals has certainly ended: appliedAt plus
// c.ObserverWait. appliedAt is the observer's own clock reading when it
// applied the holder's newest committed renewal (see the package
// documentation for why that suffices after a leader change or a restart).
// A zero appliedAt means that no renewal of the holder was ever committed,
// and ExpiresBy returns the zero time: the lease ended before any instant.
// For an invalid c the result lies centuries ahead: never, in practice.
func ExpiresBy(appliedAt time.Time, c Config) time.Time {
	if appliedAt.IsZero() {
		return time.Time{}
	}
	return appliedAt.Add(c.ObserverWait())
}

// CertainlyExpired reports whether, at now on the observer's clock, the
// holder's lease has certainly ended, whatever the holder's clock did within
// MaxDrift, so that its exclusive resources may be recovered elsewhere
// (invariant 1: one holder). appliedAt is as for ExpiresBy; a zero appliedAt
// is certainly expired, since that holder never held the lease. For a
// non-zero appliedAt, it is true exactly when now is not before
// ExpiresBy(appliedAt, c), and never for an invalid c.
//
// Acting on it is safe only under the contracts in the package
// documentation: the observer has applied every committed entry, and the
// takeover it commits refuses the old holder's later renewals.
func CertainlyExpired(appliedAt, now time.Time, c Config) bool {
	if appliedAt.IsZero() {
		return true
	}
	if !c.valid() {
		return false
	}
	return !now.Before(appliedAt.Add(c.ObserverWait()))
}
