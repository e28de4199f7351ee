package api

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
)

// Backend is what the handlers read and change. The daemon implements it;
// it has more methods than our interfaces usually do because it is the
// whole API surface of a node, with one implementation and test fakes.
// The ctx of a method called by a handler is the request's: PrincipalFrom
// tells who asked.
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

// Handler serves the API for one listener (or several that share their
// Auth, such as a node's TCP listeners).
type Handler struct {
	mux  *http.ServeMux
	auth authenticator
	// Refused counts the requests refused before anyone was
	// authenticated: no, wrong or unknown credentials (a 401), and plain
	// HTTP where HTTPS is required (a 403).
	Refused atomic.Uint64
	// Forbidden counts the requests of an authenticated principal that
	// lacked the right (a 403 naming the principal and the right).
	Forbidden atomic.Uint64
	// closed ends the streams (GET /v1/stream) when the server shuts down.
	closed    chan struct{}
	closeOnce sync.Once
}

// Close ends the handler's live streams, so that a server's graceful
// shutdown need not wait for them. Register it with
// http.Server.RegisterOnShutdown.
func (h *Handler) Close() { h.closeOnce.Do(func() { close(h.closed) }) }

// NewHandler returns the API over b. With a non-empty token (the cluster
// token), every request must carry "Authorization: Bearer <token>" and may
// do everything; with an empty one, none is asked and every request is
// root's (use it only on the root-only unix socket). NewHandlerWith takes
// the configured tokens and certificates as well.
func NewHandler(b Backend, token string) *Handler {
	a := Auth{Socket: true}
	if token != "" {
		a = Auth{ClusterToken: token}
	}
	auth, err := newAuthenticator(a)
	if err != nil {
		panic("api: " + err.Error()) // unreachable: either Auth is valid
	}
	return newHandler(b, auth)
}

// NewHandlerWith returns the API over b, which authenticates and
// authorises every request as a says (see Auth). An Auth that cannot work
// (a token without a name, role or secret, two tokens with one name or
// secret, a socket with tokens, no way in at all) is an error naming every
// problem, and tokens by name only.
func NewHandlerWith(b Backend, a Auth) (*Handler, error) {
	auth, err := newAuthenticator(a)
	if err != nil {
		return nil, fmt.Errorf("api auth: %w", err)
	}
	return newHandler(b, auth), nil
}

func newHandler(b Backend, auth authenticator) *Handler {
	h := &Handler{mux: http.NewServeMux(), auth: auth, closed: make(chan struct{})}
	h.handle("GET /v1/whoami", func(w http.ResponseWriter, r *http.Request) error {
		p, _ := PrincipalFrom(r.Context())
		writeJSON(w, http.StatusOK, Whoami{Principal: p.Name, Role: p.Role, MayOperate: p.Role.may() >= rightOperate})
		return nil
	})
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

// ServeHTTP answers GET /v1/ping to anyone; authenticates every other
// request (a 401, counted in Refused, if it cannot) and authorises it (a
// 403, counted in Forbidden, if its principal lacks the right); then
// routes it, with its Principal in the context (PrincipalFrom).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == PingPath && (r.Method == http.MethodGet || r.Method == http.MethodHead) {
		w.WriteHeader(http.StatusOK)
		return
	}
	p, e := h.auth.authenticate(r)
	if e != nil {
		h.Refused.Add(1)
		if e.Status == http.StatusUnauthorized {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		}
		writeError(w, e)
		return
	}
	if e := authorise(p, r); e != nil {
		h.Forbidden.Add(1)
		writeError(w, e)
		return
	}
	r2 := r.WithContext(context.WithValue(r.Context(), principalKey{}, p))
	h.mux.ServeHTTP(w, r2)
	// ServeMux records the route it chose in the request it was given;
	// pass it on to the caller's request, as a ServeMux in our place
	// would, for the middleware that counts requests by route.
	r.Pattern = r2.Pattern
}

// maxBody bounds every request body.
const maxBody = 1 << 20

// decodeBody decodes a JSON body that is required, as strictly as
// DecodeStrict: unknown fields and trailing data (even a lone "]", which
// json.Decoder.More lets pass) are a 400 that names the problem, an empty
// body is a 400 too, and an oversized one a 413.
func decodeBody(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return &Error{Status: http.StatusBadRequest, Message: "bad request body: empty, want a JSON object"}
	}
	return DecodeStrict(b, v)
}
