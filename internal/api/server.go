package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// Backend is what the handlers read and change. The daemon implements it;
// it has more methods than our interfaces usually do because it is the
// whole API surface of a node, with one implementation and test fakes.
type Backend interface {
	// Status returns this node's view now. Concurrency-safe, non-blocking.
	Status() Status
	// RaftState reports whether this node holds raft state.
	// Concurrency-safe, non-blocking.
	RaftState() RaftState
	// Report commits an executor's report; only the leader can. It blocks
	// until committed. Concurrency-safe.
	Report(ctx context.Context, r Report) error
	// Plan runs the scheduler on this node's committed state, after
	// applying sim's hypothetical changes to a copy of it (the zero
	// Simulation: none, the plan now). It changes nothing, needs no
	// leader, and fails only for a name sim does not know (a 400 naming
	// the field) or a store not yet open. Concurrency-safe, non-blocking.
	Plan(sim Simulation) (Plan, error)
	// Operate validates an operator's change against the configuration
	// (an unknown node or resource is an *Error naming the field, and
	// nothing changes) and commits it through the leader: directly on
	// the leader, forwarded to it from a follower. It blocks until
	// committed, or for a restart until the resource runs again, and
	// reports no quorum or no leader as a 503. Concurrency-safe.
	Operate(ctx context.Context, op Operation) (Outcome, error)
	// Commit validates and commits a store command that a follower
	// forwarded: its JSON, as the raft log holds it. Only operator
	// commands are accepted, only by the leader (else a 409). It blocks
	// until committed. Concurrency-safe.
	Commit(ctx context.Context, command []byte) error
}

// DeriveToken returns the API token of a cluster: a hex HMAC of the cluster
// name under the cluster secret, so every node derives the same token and
// the secret itself never crosses the wire.
func DeriveToken(cluster string, secret []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vigil api token v1\x00" + cluster))
	return hex.EncodeToString(m.Sum(nil))
}

// Handler serves the API for one listener.
type Handler struct {
	mux     *http.ServeMux
	token   string // "" means the listener itself authenticates (unix socket)
	Refused atomic.Uint64
	// closed ends the streams (GET /v1/stream) when the server shuts down.
	closed    chan struct{}
	closeOnce sync.Once
}

// Close ends the handler's live streams, so that a server's graceful
// shutdown need not wait for them. Register it with
// http.Server.RegisterOnShutdown.
func (h *Handler) Close() { h.closeOnce.Do(func() { close(h.closed) }) }

// NewHandler returns the API over b. With a non-empty token, every request
// must carry "Authorization: Bearer <token>"; with an empty one, none is
// asked (use it only on the root-only unix socket).
func NewHandler(b Backend, token string) *Handler {
	h := &Handler{mux: http.NewServeMux(), token: token, closed: make(chan struct{})}
	h.handle("GET /v1/status", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, b.Status())
		return nil
	})
	h.handle("GET /v1/raft/state", func(w http.ResponseWriter, r *http.Request) error {
		writeJSON(w, http.StatusOK, b.RaftState())
		return nil
	})
	h.handle("POST /v1/internal/report", func(w http.ResponseWriter, r *http.Request) error {
		var rep Report
		if err := decodeBody(r, &rep); err != nil {
			return err
		}
		if err := b.Report(r.Context(), rep); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	})
	h.routeOperator(b)
	h.routeConfig(b)
	h.routeLease(b)
	if eb, ok := b.(EventBackend); ok {
		h.routeEvents(b, eb)
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, Errorf(http.StatusNotFound, "no such endpoint: %s %s", r.Method, r.URL.Path))
	})
	return h
}

// handle registers a handler that returns its error instead of writing it.
func (h *Handler) handle(pattern string, f func(http.ResponseWriter, *http.Request) error) {
	h.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if err := f(w, r); err != nil {
			writeError(w, err)
		}
	})
}

// PingPath answers 200 to anyone, with nothing: the other nodes' TCP
// probes ask it, because only a live daemon answers (a frozen one's kernel
// still accepts the connection).
const PingPath = "/v1/ping"

// ServeHTTP checks the token, then routes.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PingPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.WriteHeader(http.StatusOK)
		return
	}
	if h.token != "" {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) != 1 {
			h.Refused.Add(1)
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
			writeError(w, Errorf(http.StatusUnauthorized, "missing or wrong API token"))
			return
		}
	}
	h.mux.ServeHTTP(w, r)
}

// maxBody bounds every request body.
const maxBody = 1 << 20

// decodeBody decodes a JSON body strictly: unknown fields, trailing data
// and oversized bodies are a 400 that names the problem.
func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(io.LimitReader(r.Body, maxBody))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Message: "bad request body: " + err.Error()}
	}
	if dec.More() {
		return &Error{Status: http.StatusBadRequest, Message: "bad request body: trailing data"}
	}
	return nil
}
