package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Event is one entry of the event history (GET /v1/events, the stream,
// alert hooks). Seq numbers the cluster's events, the same on every node;
// a node's own observations (quorum, links, the leader it follows) are
// Local and have no Seq.
type Event struct {
	Seq      uint64    `json:"seq,omitempty"`
	At       time.Time `json:"at"`
	Kind     string    `json:"kind"` // e.g. node.offline, resource.moved, fence.ok
	Node     string    `json:"node,omitempty"`
	Resource string    `json:"resource,omitempty"`
	Message  string    `json:"message"`
	By       string    `json:"by,omitempty"`
	Local    bool      `json:"local,omitempty"`
}

// Events is GET /v1/events: oldest first.
type Events struct {
	Events []Event `json:"events"`
}

// EventQuery selects events: numbered after After (0: any), at or after
// Since (zero: any), the newest Limit of those.
type EventQuery struct {
	After uint64
	Since time.Time
	Limit int
}

// MaxEventLimit bounds one answer of GET /v1/events.
const MaxEventLimit = 5000

// EventBackend is the part of a Backend that keeps events; the daemon
// implements it. Both methods are concurrency-safe and non-blocking.
type EventBackend interface {
	// Events returns the events q selects, oldest first.
	Events(q EventQuery) []Event
	// Subscribe returns a channel of every event from now on, and a
	// function that ends the subscription. A subscriber that falls behind
	// loses events rather than holding the cluster up.
	Subscribe() (<-chan Event, func())
}

// routeEvents serves the history and the live stream.
func (h *Handler) routeEvents(b Backend, eb EventBackend) {
	h.handle("GET /v1/events", func(w http.ResponseWriter, r *http.Request) error {
		q, err := parseEventQuery(r, time.Now())
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, Events{Events: nonNil(eb.Events(q))})
		return nil
	})
	h.handle("GET /v1/stream", func(w http.ResponseWriter, r *http.Request) error {
		return h.stream(w, r, b, eb)
	})
}

func nonNil(e []Event) []Event {
	if e == nil {
		return []Event{}
	}
	return e
}

// parseEventQuery reads after=SEQ, since=(RFC 3339 time | duration
// before now, like 10m) and limit=N (default 100).
func parseEventQuery(r *http.Request, now time.Time) (EventQuery, error) {
	q := EventQuery{Limit: 100}
	bad := func(field, format string, args ...any) error {
		return &Error{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	v := r.URL.Query()
	if s := v.Get("after"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			return q, bad("after", "after=%q: want an event number", s)
		}
		q.After = n
	}
	if s := v.Get("since"); s != "" {
		t, err := ParseSince(s, now)
		if err != nil {
			return q, bad("since", "%v", err)
		}
		q.Since = t
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxEventLimit {
			return q, bad("limit", "limit=%q: want 1 to %d", s, MaxEventLimit)
		}
		q.Limit = n
	}
	return q, nil
}

// ParseSince reads a point in time as an RFC 3339 time or as a duration
// before now ("10m", "2h").
func ParseSince(s string, now time.Time) (time.Time, error) {
	if d, err := time.ParseDuration(s); err == nil {
		if d < 0 {
			return time.Time{}, fmt.Errorf("since=%q: a duration before now must not be negative", s)
		}
		return now.Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("since=%q: want a duration before now (10m) or a time (2026-12-02T03:00:00Z)", s)
	}
	return t, nil
}

// Stream timing: the status is checked every streamPoll and sent when it
// changed, and at least every streamBeat, which also keeps proxies from
// closing an idle stream.
const (
	streamPoll = 250 * time.Millisecond
	streamBeat = time.Second
)

// stream is GET /v1/stream, server-sent events: "status" with the Status
// JSON when it changes (and every streamBeat), "event" with each new
// Event. It ends when the client goes or the handler is closed.
func (h *Handler) stream(w http.ResponseWriter, r *http.Request, b Backend, eb EventBackend) error {
	fl, ok := w.(http.Flusher)
	if !ok {
		return Errorf(http.StatusInternalServerError, "this connection cannot stream")
	}
	events, cancel := eb.Subscribe()
	defer cancel()
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	send := func(kind string, v any) bool {
		data, err := json.Marshal(v)
		if err != nil {
			return false
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s\n\n", kind, data); err != nil {
			return false
		}
		fl.Flush()
		return true
	}
	if _, err := fmt.Fprint(w, "retry: 2000\n\n"); err != nil {
		return nil
	}
	var last []byte
	var sent time.Time
	status := func() bool {
		s := b.Status()
		s.Time = time.Time{} // changes every call; not a change of the cluster
		data, _ := json.Marshal(s)
		if bytes.Equal(data, last) && time.Since(sent) < streamBeat {
			return true
		}
		last, sent = data, time.Now()
		return send("status", b.Status())
	}
	if !status() {
		return nil
	}
	tick := time.NewTicker(streamPoll)
	defer tick.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-h.closed:
			return nil
		case e, ok := <-events:
			if !ok || !send("event", e) {
				return nil
			}
		case <-tick.C:
			if !status() {
				return nil
			}
		}
	}
}
