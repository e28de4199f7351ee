// Package lease decides, on injected time, whether a node may hold its
// exclusive resources (a floating IP, a primary) and when a survivor may
// take them over. It is the arithmetic behind invariant 1 of DESIGN.md,
// one holder: an exclusive resource never runs on two nodes at once. It is
// pure: it does no I/O, starts no goroutines, reads no clock and keeps no
// global state, and it imports the standard library only.
//
// # The model
//
// A holder renews its lease by committing a renewal through Raft. It reads
// its own clock at S before the renewal can leave the node ([Holder.Sent])
// and, if and only if the commit succeeds ([Holder.Granted]), holds the
// lease until S+Duration on its own clock. A renewal whose commit failed or
// whose answer never came extends nothing; renewals may be granted out of
// order, and the latest end among the granted ones counts.
//
// The observer (the Raft leader, which decides recoveries) reads its own
// clock at A when it applies the committed renewal. S was read before the
// renewal was sent and A after it was committed, so S happened before A in
// real time. If every clock runs at a rate within [1-MaxDrift, 1+MaxDrift]
// of real time, the lease lasts at most Duration/(1-MaxDrift) of real time
// after S, and an interval E on the observer's clock spans at least
// E/(1+MaxDrift) of real time. So once Duration*(1+MaxDrift)/(1-MaxDrift)
// has passed on the observer's clock since A ([Config.ObserverWait],
// [ExpiresBy]), the lease has certainly ended ([CertainlyExpired]), whatever
// the two clocks' offsets and rates. No node compares its clock with
// another's: each subtracts readings of its own.
//
// Within its lease a holder may start an exclusive resource only while
// [Holder.MayStart] reports true, so that the start and the stop after it
// both finish before the lease ends, and it stops its exclusive resources
// as soon as [Holder.MustStop] reports true, StopBudget before the lease
// ends.
//
// # What callers must do
//
// The arithmetic is only as safe as what it is given. Invariant 1 also rests
// on these contracts, which the callers keep:
//
//   - Times are time.Now readings taken in the process that uses them, so
//     that they carry Go's monotonic clock reading. A time that came from
//     another node, the Raft log, a decoder or Round(0) has lost it, and
//     comparing it would use the wall clock, which may jump. This package
//     only adds, subtracts and compares times.
//   - The holder calls Sent before the renewal can reach the store, and
//     Granted only for a renewal whose commit it saw succeed. It drops a
//     renewal that failed, timed out or went unanswered: that renewal may
//     still have committed, which only makes the observer wait longer.
//   - The holder acts on MustStop in time: StopBudget covers the longest stop
//     of all its exclusive resources, timeouts included, plus the longest gap
//     between two MustStop checks (or the timer latency, when it arms a timer
//     at [Holder.StopAt]). A holder that cannot act, because its daemon is
//     frozen, crashed or restarting, or its machine suspended, is not
//     covered by this package: the watchdog resets such a node. A restarted
//     daemon starts from the zero Holder, which holds nothing, and so stops
//     whatever exclusive resource it finds running.
//   - The observer passes as appliedAt the time at which it applied the
//     newest renewal of that holder (the last in log order), and it judges
//     only once it has applied every entry committed before it became leader
//     (with hashicorp/raft: after a Barrier that follows winning the
//     election), so that no committed renewal is missing from what it knows.
//     A node that restarts, or restores a snapshot, applies the renewals
//     again and uses the time it did so, which is later than any send and so
//     safe. A zero appliedAt says that no renewal of that holder was ever
//     committed, so the holder never held the lease.
//   - A takeover is itself committed, and it fences renewals: once the
//     observer acts on CertainlyExpired, the store refuses (never grants) any
//     renewal of the old holder that is applied after the takeover, or a
//     renewal still in flight could extend the old lease beyond it.
//   - Every node uses the same Duration and MaxDrift. An observer that uses a
//     longer Duration or a larger MaxDrift than the holders only waits
//     longer; a shorter or smaller one breaks the bound.
//   - MaxDrift bounds the rate of every node's monotonic clock, NTP slewing
//     included. A clock that stops, as the monotonic clock does while a
//     machine is suspended, breaks that bound; again, the watchdog covers it.
package lease
