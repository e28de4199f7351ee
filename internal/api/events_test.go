package api_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
)

// eventBackend is a fakeBackend that keeps events and feeds subscribers.
type eventBackend struct {
	fakeBackend
	mu     sync.Mutex
	events []api.Event
	subs   []chan api.Event
	asked  api.EventQuery
}

func (b *eventBackend) Events(q api.EventQuery) []api.Event {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.asked = q
	var out []api.Event
	for _, e := range b.events {
		if e.Seq > q.After && !e.At.Before(q.Since) {
			out = append(out, e)
		}
	}
	return out
}

func (b *eventBackend) Subscribe() (<-chan api.Event, func()) {
	ch := make(chan api.Event, 8)
	b.mu.Lock()
	b.subs = append(b.subs, ch)
	b.mu.Unlock()
	return ch, func() {}
}

func (b *eventBackend) push(e api.Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.events = append(b.events, e)
	for _, ch := range b.subs {
		ch <- e
	}
}

func (b *eventBackend) subscribers() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs)
}

func TestEventsEndpoint(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	b := &eventBackend{fakeBackend: fakeBackend{s: testStatus()}, events: []api.Event{
		{Seq: 1, At: t0, Kind: "node.offline", Node: "n3", Message: "n3 is offline", By: "n1"},
		{Seq: 2, At: t0.Add(time.Second), Kind: "fence.ok", Node: "n3", Message: "n3 fenced (level 1 (ipmi))"},
	}}
	srv := httptest.NewServer(api.NewHandler(b, ""))
	defer srv.Close()
	resp, body := do(t, srv, "GET", "/v1/events?after=1&since=2026-12-02T03:00:00Z&limit=10", "")
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"fence.ok"`) || strings.Contains(string(body), "node.offline") {
		t.Fatalf("events after 1: %d %s", resp.StatusCode, body)
	}
	if b.asked.After != 1 || b.asked.Limit != 10 || !b.asked.Since.Equal(t0) {
		t.Errorf("backend asked %+v", b.asked)
	}
	for _, bad := range []struct{ query, field string }{
		{"after=x", "after"}, {"since=yesterday", "since"}, {"since=-5m", "since"}, {"limit=0", "limit"}, {"limit=99999", "limit"},
	} {
		resp, body := do(t, srv, "GET", "/v1/events?"+bad.query, "")
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), `"`+bad.field+`"`) {
			t.Errorf("%s: %d %s, want 400 naming %s", bad.query, resp.StatusCode, body, bad.field)
		}
	}
	// A backend without events has no such endpoint.
	plain := httptest.NewServer(api.NewHandler(fakeBackend{s: testStatus()}, ""))
	defer plain.Close()
	if resp, _ := do(t, plain, "GET", "/v1/events", ""); resp.StatusCode != http.StatusNotFound {
		t.Errorf("events without an event backend: %d, want 404", resp.StatusCode)
	}
}

// The stream sends the status at once, then each new event; the client
// reads both, and Close ends the stream.
func TestStream(t *testing.T) {
	b := &eventBackend{fakeBackend: fakeBackend{s: testStatus()}}
	h := api.NewHandler(b, "tok")
	srv := httptest.NewServer(h)
	defer srv.Close()
	cl, err := client.New(client.Config{URL: srv.URL, Token: "tok"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	statuses, events := make(chan api.Status, 16), make(chan api.Event, 16)
	done := make(chan error, 1)
	go func() {
		done <- cl.Stream(ctx, func(e api.Event) { events <- e }, func(s api.Status) {
			select {
			case statuses <- s:
			default:
			}
		})
	}()
	select {
	case s := <-statuses:
		if s.Cluster != "demo" {
			t.Errorf("streamed status %+v", s)
		}
	case <-ctx.Done():
		t.Fatal("no status on the stream")
	}
	for i := 0; b.subscribers() == 0; i++ {
		if i > 500 {
			t.Fatal("the stream never subscribed")
		}
		time.Sleep(10 * time.Millisecond)
	}
	b.push(api.Event{Seq: 7, Kind: "resource.moved", Resource: "web", Message: "web moves from n1 to n2"})
	select {
	case e := <-events:
		if e.Seq != 7 || e.Kind != "resource.moved" {
			t.Errorf("streamed event %+v", e)
		}
	case <-ctx.Done():
		t.Fatal("no event on the stream")
	}
	h.Close()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stream ended") {
			t.Errorf("after Close the stream returned %v, want it ended", err)
		}
	case <-ctx.Done():
		t.Fatal("Close did not end the stream")
	}
	// Without the token: refused like every request.
	bad, _ := client.New(client.Config{URL: srv.URL})
	if err := bad.Stream(ctx, nil, nil); err == nil || !strings.Contains(err.Error(), "token") {
		t.Errorf("stream without token: %v", err)
	}
}
