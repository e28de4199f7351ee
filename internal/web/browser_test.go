package web_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/web"
	"github.com/vigil-ha/vigil/internal/web/webtest"
)

// fakeAPI is the part of a node's API that the dashboard reads, serving a
// status and events that the test sets: GET /v1/status, /v1/events and
// the /v1/stream of server-sent events, and the operator endpoints, which
// it records.
type fakeAPI struct {
	mu       sync.Mutex
	token    string // "" asks none, as on the unix socket
	readOnly bool   // operator changes answer 403
	down     bool   // every request answers 503 and streams end
	closed   bool
	status   api.Status
	events   []model.Event
	changed  chan struct{} // closed and replaced on every change
	posts    []string      // "POST /v1/nodes/n3/standby Bearer tok {}"
}

func newFakeAPI(s api.Status, events []model.Event) *fakeAPI {
	return &fakeAPI{status: s, events: events, changed: make(chan struct{})}
}

// update changes the fake under its lock and wakes the streams.
func (f *fakeAPI) update(change func(f *fakeAPI)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
	close(f.changed)
	f.changed = make(chan struct{})
}

func (f *fakeAPI) close() { f.update(func(f *fakeAPI) { f.closed = true }) }

func (f *fakeAPI) Posts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.posts)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	token, down := f.token, f.down
	f.mu.Unlock()
	if down {
		writeJSON(w, http.StatusServiceUnavailable, api.Error{Status: 503, Message: "node is down"})
		return
	}
	if token != "" && r.Header.Get("Authorization") != "Bearer "+token {
		w.Header().Set("WWW-Authenticate", `Bearer realm="vigil"`)
		writeJSON(w, http.StatusUnauthorized, api.Error{Status: 401, Message: "missing or wrong API token"})
		return
	}
	switch {
	case r.Method == "GET" && r.URL.Path == "/v1/status":
		f.mu.Lock()
		s := f.status
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, s)
	case r.Method == "GET" && r.URL.Path == "/v1/events":
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit <= 0 {
			limit = 100
		}
		f.mu.Lock()
		evs := f.events[max(0, len(f.events)-limit):]
		f.mu.Unlock()
		writeJSON(w, http.StatusOK, map[string][]model.Event{"events": evs})
	case r.Method == "GET" && r.URL.Path == "/v1/stream":
		f.stream(w, r)
	case r.Method == "POST" && (strings.HasPrefix(r.URL.Path, "/v1/nodes/") || strings.HasPrefix(r.URL.Path, "/v1/resources/")):
		body, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.posts = append(f.posts, fmt.Sprintf("%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("Authorization"), body))
		readOnly := f.readOnly
		f.mu.Unlock()
		if readOnly {
			writeJSON(w, http.StatusForbidden, api.Error{Status: 403, Message: "this token may only read"})
			return
		}
		parts := strings.Split(r.URL.Path, "/") // "", "v1", "nodes", "n3", "standby"
		writeJSON(w, http.StatusOK, api.Outcome{
			Message: fmt.Sprintf("%s: %s done", parts[3], parts[4]),
			Changes: []string{fmt.Sprintf("%s %s", parts[4], parts[3])},
			Actions: []api.Action{},
		})
	default:
		writeJSON(w, http.StatusNotFound, api.Error{Status: 404, Message: "no such endpoint: " + r.Method + " " + r.URL.Path})
	}
}

// stream sends the status at once, then the new events and the status on
// every change and at least every second, until the client goes, the fake
// goes down or closes.
func (f *fakeAPI) stream(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	f.mu.Lock()
	sent := len(f.events)
	f.mu.Unlock()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		f.mu.Lock()
		if f.down || f.closed {
			f.mu.Unlock()
			return
		}
		s, news, changed := f.status, f.events[sent:], f.changed
		sent = len(f.events)
		f.mu.Unlock()
		for _, e := range news {
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "event: event\ndata: %s\n\n", b)
		}
		b, _ := json.Marshal(s)
		fmt.Fprintf(w, "event: status\ndata: %s\n\n", b)
		if err := rc.Flush(); err != nil {
			return
		}
		select {
		case <-r.Context().Done():
			return
		case <-changed:
		case <-tick.C:
		}
	}
}

var t0 = time.Date(2026, 12, 2, 3, 21, 0, 0, time.UTC)

func link(i int, addr, state string, loss, rtt float64) api.Link {
	return api.Link{Index: i, Address: addr, State: state, Loss: loss, RTTMillis: rtt}
}

// healthy is three nodes as n2 sees them, web on n1.
func healthy() api.Status {
	node := func(i int, self bool) api.Node {
		name := fmt.Sprintf("n%d", i)
		a0, a1 := fmt.Sprintf("198.18.0.%d", i), fmt.Sprintf("198.18.1.%d", i)
		n := api.Node{Name: name, State: "online", Committed: "online", Addresses: []string{a0, a1}, Self: self, LastHeard: t0}
		if !self {
			n.Links = []api.Link{link(0, a0, "up", 0, 0.3+float64(i)/10), link(1, a1, "up", 0, 0.4+float64(i)/10)}
		}
		return n
	}
	return api.Status{
		Cluster: "lab", Node: "n2", Leader: "n1", Quorum: true, Profile: "lan", Time: t0,
		QuorumDetail: api.Quorum{Voters: 3, Needed: 2, Present: []string{"n1", "n2", "n3"}},
		Nodes:        []api.Node{node(1, false), node(2, true), node(3, false)},
		Resources: []api.Resource{
			{ID: "web-ip", Kind: "vip", Group: "web", State: "started", Node: "n1", Target: "n1"},
			{ID: "web-server", Kind: "exec", Group: "web", State: "started", Node: "n1", Target: "n1"},
			{ID: "report", Kind: "exec", State: "failed", Node: "n3", Target: "n3", FailCount: 2, Reason: "monitor: exit status 7"},
		},
		Raft:  api.Raft{State: "Follower", Term: 3, LastIndex: 40, CommitIndex: 40, AppliedIndex: 40},
		Lease: api.Lease{Held: true, RemainingMillis: 800},
	}
}

// failedOver is the same cluster after n1 lost power: n1 offline, n2
// leads and runs web.
func failedOver() api.Status {
	s := healthy()
	s.Leader, s.Time = "n2", t0.Add(3*time.Second)
	s.Raft.State, s.Raft.Term = "Leader", 4
	s.QuorumDetail.Present = []string{"n2", "n3"}
	n1 := &s.Nodes[0]
	n1.State, n1.Committed = "offline", "offline"
	n1.Links = []api.Link{link(0, "198.18.0.1", "down", 1, 0), link(1, "198.18.1.1", "down", 1, 0)}
	s.Nodes[2].Links[1].Loss = 0.05
	for i := range s.Resources[:2] {
		s.Resources[i].Node, s.Resources[i].Target = "n2", "n2"
	}
	return s
}

func startEvents() []model.Event {
	return []model.Event{
		{Seq: 1, At: t0, Kind: model.EventNodeOnline, Node: "n1", Message: "n1 is online", By: "n1"},
		{Seq: 2, At: t0.Add(10 * time.Millisecond), Kind: model.EventLeader, Node: "n1", Message: "n1 leads (term 3)", By: "n1"},
		{Seq: 3, At: t0.Add(time.Second), Kind: model.EventStarted, Node: "n1", Resource: "web-ip", Message: "web-ip started on n1", By: "n1"},
		{At: t0.Add(2 * time.Second), Kind: model.EventQuorumGained, Node: "n2", Message: "n2 has quorum (3 of 3)", By: "n2", Local: true},
	}
}

func failoverEvents() []model.Event {
	at := t0.Add(3 * time.Second)
	return []model.Event{
		{Seq: 4, At: at, Kind: model.EventNodeOffline, Node: "n1", Message: "n1 is offline (no heartbeat on any link for 700ms)", By: "n2"},
		{Seq: 5, At: at.Add(5 * time.Millisecond), Kind: model.EventLeader, Node: "n2", Message: "n2 leads (term 4)", By: "n2"},
		{Seq: 6, At: at.Add(900 * time.Millisecond), Kind: model.EventMoved, Resource: "web-ip", Message: "web-ip moved from n1 to n2", By: "n2"},
	}
}

// waitFor polls cond every 20 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		<-time.After(20 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestDashboardInBrowser loads the dashboard in a real headless Chromium
// against a fake API and checks what a person would: the cluster, a
// failover arriving on the stream, the token box, the operator buttons,
// a lost connection and a read-only token.
func TestDashboardInBrowser(t *testing.T) {
	fake := newFakeAPI(healthy(), startEvents())
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", web.Handler()))
	mux.Handle("/v1/", fake)
	srv := httptest.NewServer(mux) // on 127.0.0.1
	t.Cleanup(srv.Close)
	t.Cleanup(fake.close) // before srv.Close, which waits for the streams
	page := webtest.Start(t, webtest.Config{Width: 1280, Height: 960})

	// Without a token (as over the unix socket) the page needs none.
	must(t, page.Navigate(srv.URL+"/ui/"))
	for _, n := range []string{"n1", "n2", "n3"} {
		must(t, page.WaitJS(fmt.Sprintf(`document.querySelector('[data-node=%q]').dataset.state === 'online'`, n)))
	}
	must(t, page.WaitText(`[data-resource="web-ip"] .res-node`, "n1"))
	must(t, page.WaitText("#leader", "n1"))
	must(t, page.WaitText("#quorum", "3 of 3"))
	must(t, page.WaitText("#events", "web-ip started on n1"))
	must(t, page.WaitText("#events", "n2 has quorum (3 of 3)"))
	must(t, page.WaitJS(`document.querySelector('#conn').dataset.conn === 'live'`))
	must(t, page.WaitJS(`!document.querySelector('#login').open`))

	// The page's SSE parser, on chunks split anywhere (a CRLF across two).
	var got [][2]string
	must(t, page.Eval(`(() => {
		const out = [];
		const parse = sseParser((ev, data) => out.push([ev, data]));
		for (const c of ['event: sta', 'tus\r', '\ndata: {"a":1}\r\n\r\n: keep-alive\n\n', 'data:x\ndata: y\n', '\nevent: event\nid: 7\ndata\n\n']) parse(c);
		return out;
	})()`, &got))
	want := [][2]string{{"status", `{"a":1}`}, {"message", "x\ny"}, {"event", ""}}
	if !slices.Equal(got, want) {
		t.Errorf("sseParser dispatched %q, want %q", got, want)
	}

	// A 401 asks for a token, with the server's message.
	fake.update(func(f *fakeAPI) { f.token = "tok-operator" })
	must(t, page.Reload())
	must(t, page.WaitJS(`document.querySelector('#login').open`))
	must(t, page.WaitText("#login-message", "missing or wrong API token"))
	page.ScreenshotFor(t, "dashboard-login")
	must(t, page.Type("#token", "tok-operator\r"))
	must(t, page.WaitJS(`!document.querySelector('#login').open && document.querySelector('#conn').dataset.conn === 'live'`))
	must(t, page.WaitText(`[data-resource="web-ip"] .res-node`, "n1"))
	page.ScreenshotFor(t, "dashboard-healthy")

	// n1 fails: the stream brings the new status and the events.
	fake.update(func(f *fakeAPI) {
		f.status = failedOver()
		f.events = append(f.events, failoverEvents()...)
	})
	must(t, page.WaitJS(`document.querySelector('[data-node="n1"]').dataset.state === 'offline'`))
	must(t, page.WaitText(`[data-node="n1"]`, "OFFLINE"))
	must(t, page.WaitText(`[data-resource="web-ip"] .res-node`, "n2"))
	must(t, page.WaitText(`[data-resource="web-server"] .res-node`, "n2"))
	must(t, page.WaitText("#leader", "n2"))
	must(t, page.WaitText("#events", "n1 is offline (no heartbeat on any link for 700ms)"))
	must(t, page.WaitJS(`document.querySelector('#events li').dataset.kind === 'resource.moved'`)) // newest first
	must(t, page.ColorScheme("dark"))
	page.ScreenshotFor(t, "dashboard-dark")
	must(t, page.ColorScheme(""))
	page.ScreenshotFor(t, "dashboard") // last, so that a VIGIL_WEB_SCREENSHOT file holds this one

	// Standby asks first, then POSTs with the token.
	must(t, page.Click(`[data-node="n3"] button[data-op="standby"]`))
	must(t, page.WaitText("#ask", "Put n3 in standby?"))
	must(t, page.Click("#ask-ok"))
	waitFor(t, "the standby POST", func() bool {
		return slices.Contains(fake.Posts(), "POST /v1/nodes/n3/standby Bearer tok-operator {}")
	})
	must(t, page.WaitText("#toasts", "n3: standby done"))

	// Move sends the chosen node.
	must(t, page.Click(`[data-resource="web-ip"] button[data-op="move"]`))
	must(t, page.SetValue("#move-to", "n3"))
	must(t, page.Click("#ask-ok"))
	waitFor(t, "the move POST", func() bool {
		return slices.Contains(fake.Posts(), `POST /v1/resources/web-ip/move Bearer tok-operator {"node":"n3"}`)
	})

	// The node goes away: the page says so, and comes back by itself.
	fake.update(func(f *fakeAPI) { f.down = true })
	must(t, page.WaitJS(`document.querySelector('#conn').dataset.conn === 'disconnected'`))
	must(t, page.WaitText("#banner", "Disconnected from the node's API — retrying"))
	fake.update(func(f *fakeAPI) { f.down = false })
	must(t, page.WaitJS(`document.querySelector('#conn').dataset.conn === 'live' && document.querySelector('#banner').hidden`))

	// A read-only token: a 403 says so and disables the actions.
	fake.update(func(f *fakeAPI) { f.readOnly = true })
	must(t, page.Click(`[data-resource="web-ip"] button[data-op="cleanup"]`))
	waitFor(t, "the cleanup POST", func() bool {
		return slices.Contains(fake.Posts(), "POST /v1/resources/web-ip/cleanup Bearer tok-operator {}")
	})
	must(t, page.WaitText("#toasts", "Your token is read-only"))
	must(t, page.WaitText("#badges", "read-only token"))
	must(t, page.WaitJS(`[...document.querySelectorAll('button.op:not([data-op=explain])')].every(b => b.disabled)`))

	// A token that stops working asks for one again.
	fake.update(func(f *fakeAPI) { f.token, f.down = "rotated", true })
	must(t, page.WaitJS(`document.querySelector('#conn').dataset.conn === 'disconnected'`))
	fake.update(func(f *fakeAPI) { f.down = false })
	must(t, page.WaitJS(`document.querySelector('#login').open`))
	must(t, page.WaitText("#login-message", "missing or wrong API token"))

	if p := page.Problems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
	for _, u := range page.Requests() {
		if !strings.HasPrefix(u, srv.URL+"/") {
			t.Errorf("the page requested %s, outside %s", u, srv.URL)
		}
	}
}
