package lease

import "time"

// Holder is one node's view of its own lease, on its own clock. It is a
// plain value: it starts no goroutines, takes no locks and reads no clock,
// so its owner serializes calls and passes time.Now readings of the node's
// own clock. The zero Holder holds nothing, which is also the state a
// restarted daemon must start from: what a previous process held, and the
// renewals it had in flight, are not carried over (invariant 1).
type Holder struct {
	expiry time.Time // when the lease ends on the holder's clock; zero: nothing held
	epoch  uint64    // counts Revoke calls, so that renewals sent before one extend nothing
}

// Renewal is the token of one renewal a holder sent. Pass it to Granted if,
// and only if, the commit of that renewal succeeded. The zero Renewal
// extends nothing.
type Renewal struct {
	sent  time.Time     // the holder's clock when it sent the renewal
	term  time.Duration // Config.Duration then; 0 if the Config was invalid
	epoch uint64        // the Holder's epoch then
}

// SentAt reports when, on the holder's clock, the renewal was sent.
func (r Renewal) SentAt() time.Time { return r.sent }

// Sent records that the holder is about to send a renewal, at its clock
// reading at. Call it before the renewal can reach the store: at must not be
// later than the moment the renewal leaves the node, or the lease could
// outlast what the observer allows. The returned token asks for a lease of
// c.Duration from at; with an invalid c it asks for nothing. Sent does not
// change h: a renewal counts only once granted.
func (h *Holder) Sent(at time.Time, c Config) Renewal {
	r := Renewal{sent: at, epoch: h.epoch}
	if c.valid() {
		r.term = c.Duration
	}
	return r
}

// Granted records that the commit of r succeeded, which extends the lease to
// r's send time plus its Duration unless the lease already ends later:
// renewals may be granted in any order, and the latest end counts. It
// ignores the zero Renewal and a renewal sent before the last Revoke.
// Granted is idempotent.
func (h *Holder) Granted(r Renewal) {
	if r.sent.IsZero() || r.term <= 0 || r.epoch != h.epoch {
		return
	}
	if end := r.sent.Add(r.term); h.expiry.IsZero() || end.After(h.expiry) {
		h.expiry = end
	}
}

// Revoke forgets the lease and every renewal in flight: nothing is held
// until a renewal sent after Revoke is granted. Use it when the node gives up
// the lease (it learned of a takeover, or it is leaving the cluster);
// forgetting is always safe, since the observer still counts what was
// committed.
func (h *Holder) Revoke() {
	h.expiry = time.Time{}
	h.epoch++
}

// Expiry reports when the lease ends on the holder's clock; the lease is
// valid strictly before it. It is the zero time if no renewal was granted
// since the Holder was made or last revoked.
func (h *Holder) Expiry() time.Time { return h.expiry }

// Valid reports whether the lease is held at now. It is false once now
// reaches Expiry, and for the zero Holder.
func (h *Holder) Valid(now time.Time) bool {
	return !h.expiry.IsZero() && now.Before(h.expiry)
}

// Remaining reports how long the lease still lasts at now: Expiry minus now,
// or zero if it is not valid.
func (h *Holder) Remaining(now time.Time) time.Duration {
	if !h.Valid(now) {
		return 0
	}
	return h.expiry.Sub(now)
}

// MayStart reports whether the holder may start an exclusive resource at
// now: only while now + StartBudget + StopBudget is before Expiry, so that
// what it starts can also be stopped before the lease ends (invariant 1). It
// is false without a lease and for an invalid c.
func (h *Holder) MayStart(now time.Time, c Config) bool {
	if h.expiry.IsZero() || !c.valid() {
		return false
	}
	// valid() bounds both budgets by Duration <= MaxDuration: no overflow.
	return now.Add(c.StartBudget + c.StopBudget).Before(h.expiry)
}

// MustStop reports whether the holder must stop its exclusive resources at
// now: once now + StopBudget reaches Expiry, so that the stop finishes before
// the lease ends and before any observer can recover them elsewhere
// (invariant 1). It is true without a lease and for an invalid c.
// MustStop(now, c) is true exactly when now is not before StopAt(c).
func (h *Holder) MustStop(now time.Time, c Config) bool {
	if h.expiry.IsZero() || !c.valid() {
		return true
	}
	return !now.Add(c.StopBudget).Before(h.expiry)
}

// StopAt reports the instant on the holder's clock from which MustStop is
// true: Expiry minus StopBudget. A holder can arm a timer for it instead of
// polling MustStop; it must arm it again after each grant. It is the zero
// time (stop now) without a lease and for an invalid c.
func (h *Holder) StopAt(c Config) time.Time {
	if h.expiry.IsZero() || !c.valid() {
		return time.Time{}
	}
	return h.expiry.Add(-c.StopBudget)
}
