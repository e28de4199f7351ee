// Package api is vigil's HTTP API: the wire types (kept stable: scripts
// and tests read them), one error shape, the handlers, and the token that
// protects the API on a node's network addresses. The same handler serves
// the root-only unix socket, where the kernel vouches for the caller, and
// the TCP listeners, where a bearer token must be shown.
//
// The endpoints:
//
//	GET  /v1/status                  Status: this node's view of the cluster
//	GET  /v1/raft/state              RaftState: whether this node has raft state
//	GET  /v1/plan                    Plan: what the scheduler decides now
//	GET  /v1/explain/{id}            Explanation: one resource or group of the plan
//	POST /v1/simulate                Simulation -> Plan, changing nothing
//	POST /v1/nodes/{node}/standby    (and unstandby, maintenance, unmaintenance) -> Outcome
//	POST /v1/resources/{id}/move     TargetRequest -> Outcome (also ban, clear, cleanup)
//	POST /v1/resources/{id}/restart  RestartRequest -> Outcome
//	POST /v1/internal/report         Report: an executor's result, to the leader
//	POST /v1/internal/command        a store command forwarded to the leader
//
// Request bodies are decoded strictly (DecodeStrict); where every field is
// optional the body may be empty. Changes block until committed; on a
// follower they are forwarded to the leader, and without quorum or leader
// they fail with a 503 that says so. Every error is an Error.
//
// Package api/client is the Go client the CLI uses.
package api
