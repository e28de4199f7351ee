package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// OpKind is what an operator's change does.
type OpKind string

// The operator changes, as pcs names them. Node changes name a Node;
// resource changes name a Resource (a resource or, where it makes sense, a
// group) and, some of them, a Node.
const (
	OpStandby       OpKind = "standby"       // the node runs no resources
	OpUnstandby     OpKind = "unstandby"     // the node may run resources again
	OpMaintenance   OpKind = "maintenance"   // vigil starts, stops and monitors nothing on the node
	OpUnmaintenance OpKind = "unmaintenance" // vigil manages the node again
	// OpFence powers the node off with its fencing levels and records the
	// outcome; on success its resources are recovered at once.
	OpFence OpKind = "fence"
	// OpConfirmDown records an offline node as fenced on the operator's
	// word that it is powered off, so that its resources are recovered
	// when fencing cannot do it.
	OpConfirmDown OpKind = "confirm-down"
	// OpMove with a Node adds location cli-prefer-ID (INFINITY on Node)
	// and removes a ban from Node; without one it bans the resource from
	// where it runs, as OpBan does.
	OpMove OpKind = "move"
	// OpBan adds location cli-ban-ID-on-NODE (-INFINITY), on Node or, if
	// that is "", where the resource runs.
	OpBan OpKind = "ban"
	// OpClear removes the runtime constraints that move and ban added for the resource: all of them, or with a Node those on it.
	OpClear OpKind = "clear"
	// OpCleanup forgets the resource's failures (on Node, or everywhere)
	// and unblocks it; a group's members are all cleaned up.
	OpCleanup OpKind = "cleanup"
	// OpRestart stops the resource (and what depends on it) and starts it
	// again on the node where it runs, then returns.
	OpRestart OpKind = "restart"
)

// NodeOps returns the node changes, in the order the CLI lists them.
func NodeOps() []OpKind {
	return []OpKind{OpStandby, OpUnstandby, OpMaintenance, OpUnmaintenance, OpFence, OpConfirmDown}
}

// ResourceOps returns the resource changes.
func ResourceOps() []OpKind { return []OpKind{OpMove, OpBan, OpClear, OpCleanup, OpRestart} }

// Operation is an operator's change as the handlers pass it to the
// Backend: the endpoint's verb, the node or resource of its path, and its
// body.
type Operation struct {
	Kind     OpKind
	Node     string
	Resource string
	// Timeout bounds a restart; 0 means the backend's default.
	Timeout time.Duration
}

// TargetRequest is the body of POST /v1/resources/{id}/move, /ban, /clear
// and /cleanup. An empty body means no node.
type TargetRequest struct {
	Node string `json:"node,omitempty"`
}

// RestartRequest is the body of POST /v1/resources/{id}/restart. An empty
// body means the default timeout.
type RestartRequest struct {
	// Timeout is a Go duration ("90s"): how long to wait for the resource
	// to run again before answering 504 (the request stays committed).
	Timeout string `json:"timeout,omitempty"`
}

// Outcome is the answer to every operator change: what was committed and
// what the cluster will do about it.
type Outcome struct {
	// Message is one line for an operator, e.g. "web is banned from n1".
	Message string `json:"message"`
	// Changes are the committed changes, in order, e.g. "add location
	// cli-ban-web-on-n1: web -INFINITY on n1"; empty when nothing needed
	// to change.
	Changes []string `json:"changes"`
	// Actions are what the scheduler plans once the changes are applied,
	// computed by the answering node (for a restart: after it finished).
	Actions []Action `json:"actions"`
}

// routeOperator registers the operator endpoints: plan, explain and
// simulate (reads any node can answer), the node and resource changes
// (committed through the leader), and the leader's internal command
// endpoint that followers forward those changes to.
func (h *Handler) routeOperator(b Backend) {
	h.handle("GET /v1/plan", func(w http.ResponseWriter, r *http.Request) error {
		p, err := b.Plan(Simulation{})
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, p)
		return nil
	})
	h.handle("GET /v1/explain/{id}", func(w http.ResponseWriter, r *http.Request) error {
		id := r.PathValue("id")
		p, err := b.Plan(Simulation{})
		if err != nil {
			return err
		}
		x, ok := p.Explain(id)
		if !ok {
			return &Error{Status: http.StatusNotFound, Field: "resource", Message: fmt.Sprintf("no resource or group %q", id)}
		}
		writeJSON(w, http.StatusOK, x)
		return nil
	})
	h.handle("POST /v1/simulate", func(w http.ResponseWriter, r *http.Request) error {
		var sim Simulation
		if err := decodeOptionalBody(r, &sim); err != nil {
			return err
		}
		p, err := b.Plan(sim)
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, p)
		return nil
	})
	for _, op := range NodeOps() {
		h.handle("POST /v1/nodes/{node}/"+string(op), func(w http.ResponseWriter, r *http.Request) error {
			var none struct{}
			if err := decodeOptionalBody(r, &none); err != nil {
				return err
			}
			return operate(w, r, b, Operation{Kind: op, Node: r.PathValue("node")})
		})
	}
	for _, op := range []OpKind{OpMove, OpBan, OpClear, OpCleanup} {
		h.handle("POST /v1/resources/{id}/"+string(op), func(w http.ResponseWriter, r *http.Request) error {
			var req TargetRequest
			if err := decodeOptionalBody(r, &req); err != nil {
				return err
			}
			return operate(w, r, b, Operation{Kind: op, Resource: r.PathValue("id"), Node: req.Node})
		})
	}
	h.handle("POST /v1/resources/{id}/restart", func(w http.ResponseWriter, r *http.Request) error {
		var req RestartRequest
		if err := decodeOptionalBody(r, &req); err != nil {
			return err
		}
		op := Operation{Kind: OpRestart, Resource: r.PathValue("id")}
		if req.Timeout != "" {
			d, err := time.ParseDuration(req.Timeout)
			if err != nil || d <= 0 {
				return &Error{Status: http.StatusBadRequest, Field: "timeout", Message: fmt.Sprintf("want a positive duration such as 90s, not %q", req.Timeout)}
			}
			op.Timeout = d
		}
		return operate(w, r, b, op)
	})
	h.handle("POST /v1/internal/command", commitEndpoint(b.Commit))
}

// commitEndpoint serves a leader's internal endpoint: the raw body (what
// a follower forwards) goes to commit, and success is {"ok": true}.
func commitEndpoint(commit func(context.Context, []byte) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		body, err := readBody(r)
		if err != nil {
			return err
		}
		if err := commit(r.Context(), body); err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
		return nil
	}
}

func operate(w http.ResponseWriter, r *http.Request, b Backend, op Operation) error {
	out, err := b.Operate(r.Context(), op)
	if err != nil {
		return err
	}
	if out.Changes == nil {
		out.Changes = []string{}
	}
	if out.Actions == nil {
		out.Actions = []Action{}
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// readBody reads a whole body of at most maxBody bytes; a longer one is a
// 413.
func readBody(r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, &Error{Status: http.StatusBadRequest, Message: "read request body: " + err.Error()}
	}
	if len(b) > maxBody {
		return nil, &Error{Status: http.StatusRequestEntityTooLarge, Message: fmt.Sprintf("request body over %d bytes", maxBody)}
	}
	return b, nil
}

// decodeOptionalBody decodes a JSON body as strictly as decodeBody does,
// but an empty body (or only white space) leaves v as it is: the
// endpoints whose fields are all optional need none.
func decodeOptionalBody(r *http.Request, v any) error {
	b, err := readBody(r)
	if err != nil {
		return err
	}
	return DecodeStrict(b, v)
}

// DecodeStrict decodes b into v as every request body is decoded: one
// JSON value with no unknown fields (at any depth) and nothing after it.
// An empty b (or only white space) leaves v as it is. Errors are a 400
// that names the problem.
func DecodeStrict(b []byte, v any) error {
	if len(bytes.TrimSpace(b)) == 0 {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &Error{Status: http.StatusBadRequest, Message: "bad request body: " + err.Error()}
	}
	if _, err := dec.Token(); err != io.EOF {
		return &Error{Status: http.StatusBadRequest, Message: "bad request body: trailing data"}
	}
	return nil
}
