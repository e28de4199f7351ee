// Package lease decides, on injected time, whether a node may hold its
// exclusive resources (a floating IP, a primary) and when a survivor may
// take them over. It is the arithmetic behind invariant 1 of DESIGN.md,
// one holder: an exclusive resource never runs on two nodes at once. It is
// pure: it does no I/O, starts no goroutines, reads no clock and keeps no
// global state, and it imports the standard library only.
//
// # The model
//
// A holder's peers grant its lease on their heartbeats (see grant.go and
// the daemon). The holder reads its own clock at S before a heartbeat can
// leave the node ([Holder.Sent]); a peer that hears it may grant on its
// next heartbeat, echoing it; once a quorum of peers granted on heartbeats
// sent at S or later ([Quorum]), the holder holds the lease until
// S+Duration on its own clock ([Holder.Granted]). A heartbeat that was
// lost, or a grant that never came, extends nothing; grants may arrive out
// of order, and the latest end among the granted ones counts.
//
// Each granting peer is an observer: it reads its own clock at A when it
// hears the heartbeat it grants on. S was read before that heartbeat was
// sent and A after it arrived, so S happened before A in real time. If
// every clock runs at a rate within [1-MaxDrift, 1+MaxDrift] of real time,
// the lease lasts at most Duration/(1-MaxDrift) of real time after S, and
// an interval E on the observer's clock spans at least E/(1+MaxDrift) of
// real time. So once Duration*(1+MaxDrift)/(1-MaxDrift) has passed on the
// observer's clock since A ([Config.ObserverWait], [ExpiresBy]), that
// grant has certainly ended ([CertainlyExpired]), whatever the two clocks'
// offsets and rates. No node compares its clock with another's: each
// subtracts readings of its own. A takeover waits until enough peers have
// stopped granting and seen their last grant end ([Granter.Retire]).
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
//   - The holder calls Sent before the heartbeat can leave the node, and
//     Granted only with the send time that a quorum of its peers granted
//     ([Quorum.Add]), and only for grants of its current generation.
//   - The holder acts on MustStop in time: StopBudget covers the longest stop
//     of all its exclusive resources, timeouts included, plus the longest gap
//     between two MustStop checks (or the timer latency, when it arms a timer
//     at [Holder.StopAt]). A holder that cannot act, because its daemon is
//     frozen, crashed or restarting, or its machine suspended, is not
//     covered by this package: the watchdog resets such a node. A restarted
//     daemon starts from the zero Holder, which holds nothing, and so stops
//     whatever exclusive resource it finds running.
//   - A granting peer records, as its promise, the time it heard each
//     heartbeat it grants on ([Granter.Grant]) before the grant can leave,
//     and a restarted peer counts its promises from its start, since it
//     cannot know what its previous process granted.
//   - A takeover needs the agreement of [AgreementsNeeded] peers, each of
//     which has retired the generation first, so that it never grants it
//     again, kept that on disk, and waited out its promises
//     ([Granter.Retire]); the peers that did not agree are fewer than a
//     quorum, so no quorum of grants can remain. The takeover is committed
//     and raises the holder's generation, and a holder counts only grants
//     of the generation it has applied.
//   - Every node uses the same Duration and MaxDrift. An observer that uses a
//     longer Duration or a larger MaxDrift than the holders only waits
//     longer; a shorter or smaller one breaks the bound.
//   - MaxDrift bounds the rate of every node's monotonic clock, NTP slewing
//     included. A clock that stops, as the monotonic clock does while a
//     machine is suspended, breaks that bound; again, the watchdog covers it.
package lease
