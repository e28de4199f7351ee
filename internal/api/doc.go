// Package api is vigil's HTTP API: the wire types (kept stable: scripts
// and tests read them), one error shape, the handlers, and who may use
// them. The same handler serves the root-only unix socket, where the
// kernel vouches for the caller (root), and the TCP listeners, where a
// caller shows a bearer token (the cluster token, or a configured token
// with a role) or a client certificate of the cluster CA (mutual TLS: a
// node, or an operator). Auth has the rules; ServerTLS, ClientTLS and
// Listen make the TLS side. A request without acceptable credentials is
// a 401, one whose principal lacks the right a 403 that names both;
// Handler counts each (Refused, Forbidden). No secret appears in an
// answer or an error.
//
// The endpoints:
//
//	GET  /v1/ping                    200 to anyone: the other nodes' probes
//	GET  /v1/whoami                  Whoami: the caller's principal and role
//	GET  /v1/status                  Status: this node's view of the cluster
//	GET  /v1/raft/state              RaftState: whether this node has raft state
//	GET  /v1/plan                    Plan: what the scheduler decides now
//	GET  /v1/explain/{id}            Explanation: one resource or group of the plan
//	POST /v1/simulate                Simulation -> Plan, changing nothing
//	POST /v1/nodes/{node}/standby    (and unstandby, maintenance, unmaintenance) -> Outcome
//	POST /v1/resources/{id}/move     TargetRequest -> Outcome (also ban, clear, cleanup)
//	POST /v1/resources/{id}/restart  RestartRequest -> Outcome
//	GET  /v1/events, /v1/stream      Events, and server-sent events live
//	GET  /v1/config                  ConfigInfo (a summary, naming no secret)
//	POST /v1/config                  ConfigApply -> ConfigApplied
//	POST /v1/internal/report         Report: an executor's result, to the leader
//	POST /v1/internal/lease/retire   RetireLease: retire a peer's lease generation, for a takeover
//	POST /v1/internal/lease/reset    ResetLease: a node's reset of its own generation, to the leader
//	POST /v1/internal/command        a store command forwarded to the leader
//	POST /v1/internal/config         a config change forwarded to the leader
//
// GET and HEAD need any principal; other methods an operator (an operator
// token, a client certificate), and /v1/internal/* a node (a node
// certificate, the cluster token, or root).
//
// Request bodies are decoded strictly (DecodeStrict); where every field is
// optional the body may be empty. Changes block until committed; on a
// follower they are forwarded to the leader, and without quorum or leader
// they fail with a 503 that says so. Every error is an Error.
//
// Package api/client is the Go client the CLI uses.
package api
