package api

import (
	"context"
	"net/http"
)

// LeaseBackend commits lease renewals that followers send to the leader.
// A Backend that implements it (the daemon does) also serves POST
// /v1/internal/renew.
type LeaseBackend interface {
	// Renew commits a node's lease renewal; only the leader can (else a
	// 409). A renewal sent before a takeover of the node's lease is a 409
	// too, and extends nothing. It blocks until committed.
	// Concurrency-safe.
	Renew(ctx context.Context, r Renew) error
}

// Renew is the body of POST /v1/internal/renew.
type Renew struct {
	Node string `json:"node"`
	// Gen is the node's lease generation as it has applied it.
	Gen uint64 `json:"gen"`
}

// routeLease registers the renewal endpoint if b serves it.
func (h *Handler) routeLease(b Backend) {
	lb, ok := b.(LeaseBackend)
	if !ok {
		return
	}
	h.handle("POST /v1/internal/renew", func(w http.ResponseWriter, r *http.Request) error {
		var req Renew
		if err := decodeBody(r, &req); err != nil {
			return err
		}
		if err := lb.Renew(r.Context(), req); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	})
}
