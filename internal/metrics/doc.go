// Package metrics exports a node's view of the cluster to Prometheus.
//
// Everything here registers on a *prometheus.Registry that the caller
// passes in; nothing touches the default global registry, and nothing is
// registered in init. The parts:
//
//   - Collector reads the node's api.Status at each scrape and exports it as
//     gauges and counters: node and link states, quorum, raft, resources,
//     fail counts, heartbeat counters, lease, watchdog and the newest fence.
//   - Watcher polls the same Status on a short interval and derives what a
//     scrape cannot see: leader changes, node transitions, resource moves,
//     failover durations and fence actions. Its decisions are made by
//     Tracker.Step, a pure function of the snapshots and the time.
//   - Operations times agent operations (the executor calls Observe).
//   - Requests counts API requests per listener, method, route and code,
//     and API requests refused for want of a token.
//   - Handler serves a registry at /metrics.
//
// docs/metrics.md lists every metric, and the alert rules and Grafana
// dashboard under docs/ are checked against the registry by this
// package's tests, so a renamed metric fails them.
package metrics
