package api

import (
	"context"
	"net/http"
)

// LeaseBackend serves the lease's two internal calls (package lease): a
// takeover round's request that a node retire a peer's lease generation,
// and a node's reset of its own generation, committed by the leader. A
// Backend that implements it (the daemon does) also serves POST
// /v1/internal/lease/retire and /v1/internal/lease/reset.
type LeaseBackend interface {
	// RetireLease makes this node grant generation Gen of Node's lease,
	// and every earlier one, never again, and returns once every grant it
	// made of them has certainly ended (or ctx ends). Concurrency-safe.
	RetireLease(ctx context.Context, r LeaseGen) error
	// ResetLease commits a node's reset of its generation Gen; only the
	// leader can (else a 409), and only while Gen is the node's
	// generation (else a 409). It blocks until committed.
	// Concurrency-safe.
	ResetLease(ctx context.Context, r LeaseGen) error
}

// LeaseGen is the body of both lease calls: a node and one generation of
// its lease.
type LeaseGen struct {
	Node string `json:"node"`
	Gen  uint64 `json:"gen"`
}

// routeLease registers the lease endpoints if b serves them.
func (h *Handler) routeLease(b Backend) {
	lb, ok := b.(LeaseBackend)
	if !ok {
		return
	}
	for path, call := range map[string]func(context.Context, LeaseGen) error{
		"POST /v1/internal/lease/retire": lb.RetireLease,
		"POST /v1/internal/lease/reset":  lb.ResetLease,
	} {
		h.handle(path, func(w http.ResponseWriter, r *http.Request) error {
			var req LeaseGen
			if err := decodeBody(r, &req); err != nil {
				return err
			}
			if err := call(r.Context(), req); err != nil {
				return err
			}
			writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
			return nil
		})
	}
}
