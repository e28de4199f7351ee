// Package api is vigil's HTTP API: the wire types (kept stable: scripts
// and tests read them), one error shape, the handlers, and the token that
// protects the API on a node's network addresses. The same handler serves
// the root-only unix socket, where the kernel vouches for the caller, and
// the TCP listeners, where a bearer token must be shown.
//
// Package api/client is the Go client the CLI uses.
package api
