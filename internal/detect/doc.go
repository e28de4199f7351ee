// Package detect tells which peers are alive. It has three layers of
// detection, each a separate signal per peer, and a pure judge over them:
//
//   - Heartbeats (LayerUDP): every node sends an authenticated UDP
//     heartbeat to every peer on every link each Timing.HeartbeatInterval
//     and keeps, from what it receives, a View of each peer and each of its
//     links (online, suspect or offline; last heard; loss; round-trip time).
//   - TCP probes (LayerTCP): a Prober connects to each peer's API port on
//     each link.
//   - Application checks (LayerApp): a Checker runs operator-listed TCP and
//     HTTP checks that speak for a node.
//
// The Judge declares a peer offline only when K of its N available layers
// (two of three by default) have failed together for the detection
// window; one dead link is reported but is no node failure while another
// link lives; a peer that keeps going offline and returning is damped
// (Damping, after BGP's route flap damping). Liveness is where the layers
// meet for the daemon.
//
// The package is split so that decisions stay pure and testable:
//
//   - Encode and Decode are the packet codec (HMAC-SHA256 with a Key derived
//     from the cluster secret and bound to the cluster name); Decode is fuzzed.
//   - Guard drops replayed and stale heartbeats (a per-sender, per-link
//     anti-replay window, as in IPsec and WireGuard).
//   - View turns accepted heartbeats and a time into peer states; Judge
//     turns observations of every layer and a time into Verdicts; Damping
//     turns flaps and a time into damping. None does I/O or reads the
//     clock.
//   - Detector owns the heartbeat sockets and goroutines; Prober and
//     Checker own theirs and report Observations to a Sink; Liveness wraps
//     a Judge for concurrent use and logs its changes.
//
// A forged, malformed, replayed or stale packet changes nothing but a drop
// counter (invariant 5 of DESIGN.md: bad input changes nothing).
package detect
