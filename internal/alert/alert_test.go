package alert

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

var at = time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.UTC)

func event(seq uint64, kind model.EventKind) model.Event {
	return model.Event{Seq: seq, At: at, Kind: kind, Node: "n1", Message: fmt.Sprintf("event %d", seq), By: "n2"}
}

func newRunner(t *testing.T, log *slog.Logger, alerts ...model.Alert) *Runner {
	t.Helper()
	r, err := New(Config{Alerts: alerts, Cluster: "demo", Self: "n2", Log: log,
		Backoff: func(int) time.Duration { return time.Millisecond }})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// deliverAll runs r over evs, closes the channel and waits for Run, which
// then returns once every queued event was delivered, within a bound.
func deliverAll(t *testing.T, r *Runner, evs ...model.Event) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	ch := make(chan model.Event, len(evs))
	for _, ev := range evs {
		ch <- ev
	}
	close(ch)
	if err := r.Run(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if ctx.Err() != nil {
		t.Fatal("Run did not finish within 30s")
	}
}

func counts(r *Runner, id string) [3]uint64 {
	c := r.Counters()[id]
	return [3]uint64{c.Delivered.Load(), c.Failed.Load(), c.Dropped.Load()}
}

// writeScript writes an executable shell script and returns its path.
func writeScript(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "hook.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestScriptEnvAndStdin(t *testing.T) {
	t.Setenv("VIGIL_TEST_LEAK", "from the parent") // must not reach the script
	dir := t.TempDir()
	script := writeScript(t, dir, fmt.Sprintf("env > %s/env\ncat > %s/stdin\n", dir, dir))
	r := newRunner(t, nil, model.Alert{ID: "page", Script: script, Timeout: 10 * time.Second})
	ev := model.Event{Seq: 42, At: at, Kind: model.EventFenceOK, Node: "n1", Resource: "web",
		Message: "fenced n1: it was \"lost\"\nreally", By: "n2"}
	deliverAll(t, r, ev)
	if got := counts(r, "page"); got != [3]uint64{1, 0, 0} {
		t.Fatalf("delivered, failed, dropped = %v", got)
	}

	envText, err := os.ReadFile(filepath.Join(dir, "env"))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	var key string
	for _, line := range strings.Split(strings.TrimSuffix(string(envText), "\n"), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.ContainsAny(k, " \"") {
			key, got[k] = k, v
		} else { // the second line of a value
			got[key] += "\n" + line
		}
	}
	for _, k := range []string{"PWD", "SHLVL", "_", "OLDPWD"} { // the shell's own
		delete(got, k)
	}
	want := map[string]string{
		"PATH":                 "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"LANG":                 "C",
		"VIGIL_EVENT_KIND":     "fence.ok",
		"VIGIL_EVENT_SEQ":      "42",
		"VIGIL_EVENT_AT":       "2026-01-02T03:04:05.123456789Z",
		"VIGIL_EVENT_NODE":     "n1",
		"VIGIL_EVENT_RESOURCE": "web",
		"VIGIL_EVENT_MESSAGE":  "fenced n1: it was \"lost\"\nreally",
		"VIGIL_EVENT_BY":       "n2",
		"VIGIL_EVENT_LOCAL":    "0",
		"VIGIL_CLUSTER":        "demo",
		"VIGIL_NODE":           "n2",
		"VIGIL_ALERT_ID":       "page",
		"VIGIL_ALERT_ATTEMPT":  "1",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("environment (-want +got):\n%s", d)
	}

	stdin, err := os.ReadFile(filepath.Join(dir, "stdin"))
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Cluster, Node, Alert string
		Event                model.Event
	}
	if err := json.Unmarshal(stdin, &p); err != nil {
		t.Fatalf("stdin %q: %v", stdin, err)
	}
	if d := cmp.Diff(struct {
		Cluster, Node, Alert string
		Event                model.Event
	}{"demo", "n2", "page", ev}, p); d != "" {
		t.Errorf("stdin (-want +got):\n%s", d)
	}
}

// TestScriptLocalEvent checks the variables of an event without a number.
func TestScriptLocalEvent(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, fmt.Sprintf("echo \"[$VIGIL_EVENT_SEQ] $VIGIL_EVENT_LOCAL\" > %s/out\n", dir))
	r := newRunner(t, nil, model.Alert{ID: "a", Script: script, Timeout: 10 * time.Second})
	deliverAll(t, r, model.Event{At: at, Kind: model.EventQuorumLost, Local: true})
	if b, err := os.ReadFile(filepath.Join(dir, "out")); err != nil || string(b) != "[] 1\n" {
		t.Errorf("out = %q, %v; want \"[] 1\\n\"", b, err)
	}
}

func TestScriptTimeoutKillsGroup(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, fmt.Sprintf("sleep 60 &\necho $! > %s/child\necho started\nwait\n", dir))
	var logs bytes.Buffer
	r := newRunner(t, slog.New(slog.NewTextHandler(&logs, nil)),
		model.Alert{ID: "slow", Script: script, Timeout: 500 * time.Millisecond, Retries: 0})
	deliverAll(t, r, event(1, model.EventNodeOffline))
	if got := counts(r, "slow"); got != [3]uint64{0, 1, 0} {
		t.Fatalf("delivered, failed, dropped = %v", got)
	}
	if !strings.Contains(logs.String(), "timed out after 500ms; killed its process group") ||
		!strings.Contains(logs.String(), "output: started") {
		t.Errorf("log:\n%s", logs.String())
	}
	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// SIGKILL went to the whole group with the script's; the child is
	// gone, or a zombie until init reaps it, within a bounded wait.
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for range 500 {
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil || strings.Contains(string(stat), ") Z ") || strings.Contains(string(stat), ") X ") {
			return
		}
		<-tick.C
	}
	t.Errorf("the script's child %d still runs", pid)
}

func TestScriptRetriesThenSucceeds(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, fmt.Sprintf(`echo "$VIGIL_ALERT_ATTEMPT" >> %[1]s/attempts
if [ ! -e %[1]s/failed-once ]; then touch %[1]s/failed-once; echo boom >&2; exit 1; fi
`, dir))
	var logs bytes.Buffer
	r := newRunner(t, slog.New(slog.NewTextHandler(&logs, nil)), model.Alert{ID: "a", Script: script, Timeout: 10 * time.Second, Retries: 3})
	deliverAll(t, r, event(1, model.EventNodeOffline))
	if got := counts(r, "a"); got != [3]uint64{1, 0, 0} {
		t.Fatalf("delivered, failed, dropped = %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "attempts")); string(b) != "1\n2\n" {
		t.Errorf("attempts %q, want 1 then 2", b)
	}
	if !strings.Contains(logs.String(), "exit status 1; output: boom") {
		t.Errorf("log:\n%s", logs.String())
	}
}

func TestScriptFailsAfterRetries(t *testing.T) {
	dir := t.TempDir()
	script := writeScript(t, dir, fmt.Sprintf("echo x >> %s/attempts\nexit 3\n", dir))
	r := newRunner(t, nil, model.Alert{ID: "a", Script: script, Timeout: 10 * time.Second, Retries: 2})
	deliverAll(t, r, event(1, model.EventNodeOffline), event(2, model.EventNodeOnline))
	if got := counts(r, "a"); got != [3]uint64{0, 2, 0} {
		t.Fatalf("delivered, failed, dropped = %v", got)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "attempts")); string(b) != strings.Repeat("x\n", 6) {
		t.Errorf("attempts %q, want 3 per event", b)
	}
}

// hook is an httptest server that answers with the codes given, in turn
// (the last one from then on), and records what it got.
type hook struct {
	srv *httptest.Server

	mu      sync.Mutex
	codes   []int
	bodies  [][]byte
	headers []http.Header
	paths   []string
}

func newHook(t *testing.T, codes ...int) *hook {
	h := &hook{codes: codes}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		b, _ := io.ReadAll(req.Body)
		h.mu.Lock()
		h.bodies = append(h.bodies, b)
		h.headers = append(h.headers, req.Header.Clone())
		h.paths = append(h.paths, req.Method+" "+req.URL.RequestURI())
		code := h.codes[min(len(h.bodies), len(h.codes))-1]
		h.mu.Unlock()
		w.WriteHeader(code)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) requests() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func TestWebhook(t *testing.T) {
	h := newHook(t, http.StatusNoContent)
	r := newRunner(t, nil, model.Alert{ID: "hook", Webhook: h.srv.URL + "/vigil?token=q", Timeout: 10 * time.Second,
		Headers: map[string]string{"Authorization": "Bearer abc", "X-Team": "ops"}})
	ev := event(7, model.EventFailed)
	deliverAll(t, r, ev)
	if got := counts(r, "hook"); got != [3]uint64{1, 0, 0} {
		t.Fatalf("delivered, failed, dropped = %v", got)
	}
	if h.requests() != 1 {
		t.Fatalf("%d requests, want 1", h.requests())
	}
	if got := h.paths[0]; got != "POST /vigil?token=q" {
		t.Errorf("request %q", got)
	}
	for k, want := range map[string]string{"Authorization": "Bearer abc", "X-Team": "ops", "Content-Type": "application/json"} {
		if got := h.headers[0].Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	want, _ := json.Marshal(map[string]any{"cluster": "demo", "node": "n2", "alert": "hook", "event": ev})
	var gotBody, wantBody any
	_ = json.Unmarshal(h.bodies[0], &gotBody)
	_ = json.Unmarshal(want, &wantBody)
	if d := cmp.Diff(wantBody, gotBody); d != "" {
		t.Errorf("body (-want +got):\n%s", d)
	}
}

func TestWebhookRetries(t *testing.T) {
	tests := []struct {
		name     string
		codes    []int
		retries  int
		requests int
		counts   [3]uint64
	}{
		{"500 then 200", []int{500, 200}, 3, 2, [3]uint64{1, 0, 0}},
		{"429 then 200", []int{429, 503, 201}, 3, 3, [3]uint64{1, 0, 0}},
		{"400 not retried", []int{400, 200}, 3, 1, [3]uint64{0, 1, 0}},
		{"404 not retried", []int{404}, 3, 1, [3]uint64{0, 1, 0}},
		{"redirect not followed", []int{302}, 3, 1, [3]uint64{0, 1, 0}},
		{"500 until retries end", []int{500}, 2, 3, [3]uint64{0, 1, 0}},
		{"no retries", []int{500, 200}, 0, 1, [3]uint64{0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHook(t, tt.codes...)
			r := newRunner(t, nil, model.Alert{ID: "hook", Webhook: h.srv.URL, Timeout: 10 * time.Second, Retries: tt.retries})
			deliverAll(t, r, event(1, model.EventNodeOffline))
			if got := h.requests(); got != tt.requests {
				t.Errorf("%d requests, want %d", got, tt.requests)
			}
			if got := counts(r, "hook"); got != tt.counts {
				t.Errorf("delivered, failed, dropped = %v, want %v", got, tt.counts)
			}
		})
	}
}

// TestWebhookLogsNoSecrets checks that failures are logged with the URL's
// scheme, host and path only, and never a header value.
func TestWebhookLogsNoSecrets(t *testing.T) {
	h := newHook(t, 500)
	var logs bytes.Buffer
	u := strings.Replace(h.srv.URL, "http://", "http://user:pw-secret@", 1) + "/hook/path?token=query-secret#frag-secret"
	r := newRunner(t, slog.New(slog.NewJSONHandler(&logs, nil)),
		model.Alert{ID: "hook", Webhook: u, Timeout: 10 * time.Second, Retries: 1, Headers: map[string]string{"Authorization": "Bearer hdr-secret"}})
	// And a network error: nothing listens there.
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	r2 := newRunner(t, slog.New(slog.NewJSONHandler(&logs, nil)),
		model.Alert{ID: "gone", Webhook: closed.URL + "/x?token=query-secret", Timeout: 10 * time.Second, Retries: 1})
	deliverAll(t, r, event(1, model.EventNodeOffline))
	deliverAll(t, r2, event(1, model.EventNodeOffline))
	if h.headers[0].Get("Authorization") != "Bearer hdr-secret" {
		t.Errorf("the header was not sent")
	}
	out := logs.String()
	if strings.Contains(out, "secret") {
		t.Errorf("the log shows a secret:\n%s", out)
	}
	for _, want := range []string{h.srv.URL + "/hook/path", "500 Internal Server Error", closed.URL + "/x", "connection refused"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if got := counts(r, "hook"); got != [3]uint64{0, 1, 0} {
		t.Errorf("delivered, failed, dropped = %v", got)
	}
}

// fake records deliveries in place of the hooks.
type fake struct {
	mu   sync.Mutex
	got  []string                     // "alert seq attempt"
	fail func(id string, n int) error // the nth attempt for id (from 1); nil: succeed
	gate map[string]chan struct{}     // an alert whose attempts wait for its gate
	n    map[string]int
}

func (f *fake) send(ctx context.Context, w *worker, ev model.Event, attempt int) error {
	if g := f.gate[w.alert.ID]; g != nil {
		select {
		case <-g:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, fmt.Sprintf("%s %d %d", w.alert.ID, ev.Seq, attempt))
	if f.n == nil {
		f.n = map[string]int{}
	}
	f.n[w.alert.ID]++
	if f.fail != nil {
		return f.fail(w.alert.ID, f.n[w.alert.ID])
	}
	return nil
}

func (f *fake) deliveries() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.got)
}

func TestKinds(t *testing.T) {
	r := newRunner(t, nil,
		model.Alert{ID: "all", Script: "/x"},
		model.Alert{ID: "fence", Script: "/x", Kinds: []string{"fence."}},
		model.Alert{ID: "some", Script: "/x", Kinds: []string{"node.offline", "resource."}},
	)
	f := &fake{} // in place of the scripts
	r.send = f.send
	deliverAll(t, r, event(1, model.EventNodeOffline), event(2, model.EventFenceOK), event(3, model.EventNodeOnline),
		event(4, model.EventFailed), event(5, model.EventFenceFailed))
	got := f.deliveries()
	slices.Sort(got)
	want := []string{"all 1 1", "all 2 1", "all 3 1", "all 4 1", "all 5 1", "fence 2 1", "fence 5 1", "some 1 1", "some 4 1"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("deliveries (-want +got):\n%s", d)
	}
}

// TestSlowAlert checks that an alert whose hook hangs holds up neither Run
// nor another alert, and that cancelling ctx stops it.
func TestSlowAlert(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r := newRunner(t, nil, model.Alert{ID: "slow", Script: "/x"}, model.Alert{ID: "fast", Script: "/x"})
		f := &fake{gate: map[string]chan struct{}{"slow": make(chan struct{})}}
		r.send = f.send
		ctx, cancel := context.WithCancel(t.Context())
		events := make(chan model.Event) // unbuffered: each send waits for Run
		done := make(chan error)
		go func() { done <- r.Run(ctx, events) }()
		for i := range 10 {
			events <- event(uint64(i+1), model.EventNodeOffline)
		}
		synctest.Wait()
		if got := counts(r, "fast"); got != [3]uint64{10, 0, 0} {
			t.Errorf("fast: delivered, failed, dropped = %v", got)
		}
		if got := counts(r, "slow"); got != [3]uint64{0, 0, 0} {
			t.Errorf("slow: delivered, failed, dropped = %v", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := counts(r, "slow"); got != [3]uint64{0, 0, 0} { // abandoned, not failed
			t.Errorf("slow after cancel: %v", got)
		}
	})
}

// TestQueueOverflow checks that a full queue drops its oldest events,
// counts them, and delivers the rest in order.
func TestQueueOverflow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var logs bytes.Buffer
		r, err := New(Config{Alerts: []model.Alert{{ID: "a", Script: "/x"}}, QueueSize: 4,
			Log: slog.New(slog.NewTextHandler(&logs, nil))})
		if err != nil {
			t.Fatal(err)
		}
		gate := make(chan struct{})
		f := &fake{gate: map[string]chan struct{}{"a": gate}}
		r.send = f.send
		events := make(chan model.Event)
		done := make(chan error)
		go func() { done <- r.Run(t.Context(), events) }()
		events <- event(1, model.EventNodeOffline)
		synctest.Wait() // the worker holds 1, waiting at the gate
		for i := 2; i <= 10; i++ {
			events <- event(uint64(i), model.EventNodeOffline)
		}
		synctest.Wait()
		if got := counts(r, "a"); got != [3]uint64{0, 0, 5} {
			t.Errorf("delivered, failed, dropped = %v, want 5 dropped", got)
		}
		close(gate)
		close(events)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := []string{"a 1 1", "a 7 1", "a 8 1", "a 9 1", "a 10 1"}
		if d := cmp.Diff(want, f.deliveries()); d != "" {
			t.Errorf("deliveries (-want +got):\n%s", d)
		}
		if got := counts(r, "a"); got != [3]uint64{5, 0, 5} {
			t.Errorf("delivered, failed, dropped = %v", got)
		}
		// Drops 1, 2 and 4 are logged; 3 and 5 are not.
		if n := strings.Count(logs.String(), "dropped the oldest event"); n != 3 {
			t.Errorf("%d drop logs, want 3:\n%s", n, logs.String())
		}
	})
}

// TestBackoff checks the default backoff between attempts, on the bubble's
// clock, and that cancelling ctx ends a wait.
func TestBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		r, err := New(Config{Alerts: []model.Alert{{ID: "a", Script: "/x", Retries: 6}}})
		if err != nil {
			t.Fatal(err)
		}
		var times []time.Duration
		start := time.Now()
		r.send = func(context.Context, *worker, model.Event, int) error {
			times = append(times, time.Since(start))
			return errors.New("no")
		}
		ch := make(chan model.Event, 1)
		ch <- event(1, model.EventNodeOffline)
		close(ch)
		if err := r.Run(t.Context(), ch); err != nil {
			t.Fatal(err)
		}
		s := time.Second
		want := []time.Duration{0, 1 * s, 3 * s, 7 * s, 15 * s, 31 * s, 61 * s} // waits 1, 2, 4, 8, 16, 30
		if d := cmp.Diff(want, times); d != "" {
			t.Errorf("attempt times (-want +got):\n%s", d)
		}
		if got := counts(r, "a"); got != [3]uint64{0, 1, 0} {
			t.Errorf("delivered, failed, dropped = %v", got)
		}

		// Cancelled during a backoff: Run returns at once.
		r, _ = New(Config{Alerts: []model.Alert{{ID: "a", Script: "/x", Retries: 10}}})
		second := make(chan struct{})
		r.send = func(_ context.Context, _ *worker, _ model.Event, attempt int) error {
			if attempt == 2 {
				close(second)
			}
			return errors.New("no")
		}
		ctx, cancel := context.WithCancel(t.Context())
		events := make(chan model.Event, 1)
		events <- event(1, model.EventNodeOffline)
		done := make(chan error)
		go func() { done <- r.Run(ctx, events) }()
		<-second
		synctest.Wait() // the worker waits 2s before the third attempt
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := counts(r, "a"); got != [3]uint64{0, 0, 0} {
			t.Errorf("after cancel: %v", got)
		}
	})
	if got := DefaultBackoff(100); got != 30*time.Second {
		t.Errorf("DefaultBackoff(100) = %v", got)
	}
}

func TestNewRefuses(t *testing.T) {
	_, err := New(Config{Alerts: []model.Alert{
		{ID: "a", Script: "/x"},
		{ID: "a", Script: "/y"},
		{ID: "b", Script: "rel"},
		{ID: "c", Script: "/x", Webhook: "http://h/"},
		{ID: "d", Webhook: "ftp://user:pw-secret@h/"},
		{ID: "e", Script: "/x", Headers: map[string]string{"A": "b"}},
		{ID: "f", Script: "/x", Retries: -1},
	}})
	if err == nil {
		t.Fatal("New accepted it")
	}
	for _, want := range []string{"alerts[1] (a): id", "alerts[2] (b): script", "alerts[3] (c): give exactly one",
		"alerts[4] (d): webhook", "alerts[5] (e): headers", "alerts[6] (f): timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "secret") {
		t.Errorf("error shows the URL: %v", err)
	}
}

func TestRunTwice(t *testing.T) {
	r := newRunner(t, nil)
	ch := make(chan model.Event)
	close(ch)
	if err := r.Run(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(t.Context(), ch); err == nil {
		t.Error("a second Run returned nil")
	}
}
