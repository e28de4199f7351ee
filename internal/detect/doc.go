// Package detect tells which peers are alive. So far it holds one layer of
// detection, heartbeats: every node sends an authenticated UDP heartbeat to
// every peer on every link each Timing.HeartbeatInterval and keeps, from
// what it receives, a view of each peer and each of its links (online,
// suspect or offline; last heard; loss; round-trip time). Later layers (TCP
// probes, application checks) and the K-of-N judgement over them will sit
// beside it.
//
// The package is split so that decisions stay pure and testable:
//
//   - Encode and Decode are the packet codec (HMAC-SHA256 with a Key derived
//     from the cluster secret and bound to the cluster name); Decode is fuzzed.
//   - Guard drops replayed and stale heartbeats (a per-sender, per-link
//     anti-replay window, as in IPsec and WireGuard).
//   - View turns accepted heartbeats and a time into peer states. It does no
//     I/O and never reads the clock.
//   - Detector owns the sockets and goroutines and glues the three together.
//
// A forged, malformed, replayed or stale packet changes nothing but a drop
// counter (invariant 5 of DESIGN.md: bad input changes nothing).
package detect
