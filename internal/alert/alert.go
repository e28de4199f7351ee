// Package alert runs the configured alert hooks for cluster events, as
// Pacemaker's alerts and Keepalived's notify scripts do: a script, run
// without a shell with the event in its environment and on its stdin, or a
// webhook, to which the event is POSTed as JSON.
//
// Each alert has its own bounded queue and its own worker, which delivers
// the alert's events in order, each with retries and exponential backoff.
// A slow or broken hook delays only its own alert; when its queue is full
// the oldest event is dropped and counted, and the caller is never made
// to wait.
//
// A script gets a minimal environment (PATH, LANG=C) and these variables:
//
//	VIGIL_EVENT_KIND      node.offline, fence.ok, … (model.EventKind)
//	VIGIL_EVENT_SEQ       the event's number; empty for a local event
//	VIGIL_EVENT_AT        when it happened, RFC 3339 with nanoseconds, UTC
//	VIGIL_EVENT_NODE      the node it is about, if any
//	VIGIL_EVENT_RESOURCE  the resource it is about, if any
//	VIGIL_EVENT_MESSAGE   what happened, in words
//	VIGIL_EVENT_BY        who made the change or saw it: a node, or the operator
//	VIGIL_EVENT_LOCAL     1 for this node's own observation (quorum, links), else 0
//	VIGIL_CLUSTER         the cluster's name
//	VIGIL_NODE            this node, which runs the script
//	VIGIL_ALERT_ID        the alert's id
//	VIGIL_ALERT_ATTEMPT   1 for the first attempt, 2 for the first retry, …
//
// and on stdin, as a webhook in its body, one JSON document:
//
//	{"cluster": "web", "node": "n2", "alert": "page",
//	 "event": {"seq": 42, "at": "2026-01-02T03:04:05.123456789Z", "kind": "node.offline",
//	           "node": "n1", "message": "n1 is offline", "by": "n2"}}
//
// where event is a model.Event as JSON. A script succeeds when it exits 0
// within the alert's timeout; on timeout its whole process group is
// killed. A webhook succeeds on a 2xx answer; a network error, a 5xx or a
// 429 is retried, any other answer is not. Webhooks use no proxy and
// follow no redirect. Logs name a webhook by scheme://host/path only,
// never its userinfo or query, and never show a header.
package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Config configures a Runner. Alerts come from model.Config.Alerts, which
// the config package has validated; New checks them again.
type Config struct {
	Alerts  []model.Alert
	Cluster string       // VIGIL_CLUSTER, and "cluster" in the JSON
	Self    model.NodeID // VIGIL_NODE, and "node" in the JSON
	Log     *slog.Logger // nil means discard
	// QueueSize bounds each alert's queue of events waiting for delivery;
	// 0 means 256.
	QueueSize int
	// Backoff is the wait before retry n (1 for the first retry); nil
	// means 1s, 2s, 4s, … capped at 30s.
	Backoff func(retry int) time.Duration
}

// Defaults.
const (
	DefaultQueueSize = 256
	defaultTimeout   = 10 * time.Second
	maxBackoff       = 30 * time.Second
	// maxOutput bounds the output of a script kept for the log.
	maxOutput = 4 << 10
)

// DefaultBackoff is the wait before retry n: 1s, 2s, 4s, … up to 30s.
func DefaultBackoff(retry int) time.Duration {
	if retry < 1 {
		retry = 1
	}
	if retry > 6 { // 2^5 s > 30s already
		return maxBackoff
	}
	return min(time.Second<<(retry-1), maxBackoff)
}

// Counters count one alert's events. They only grow; read them at any
// time, from any goroutine.
type Counters struct {
	Delivered atomic.Uint64 // an attempt succeeded
	Failed    atomic.Uint64 // every attempt failed, or one that may not be retried
	Dropped   atomic.Uint64 // dropped, oldest first, from a full queue
}

// Runner delivers events to the alerts whose kinds match them.
type Runner struct {
	cluster string
	self    model.NodeID
	log     *slog.Logger
	backoff func(int) time.Duration
	alerts  []*worker
	client  *http.Client
	// send makes one attempt to deliver ev to a; tests replace it.
	send    func(ctx context.Context, w *worker, ev model.Event, attempt int) error
	started atomic.Bool
}

// worker is one alert: its queue and counters.
type worker struct {
	alert  model.Alert
	target string // for logs: the script, or the webhook's scheme://host/path
	counts Counters
	queue  queue
}

// New checks cfg and returns a Runner that has not started.
func New(cfg Config) (*Runner, error) {
	if cfg.QueueSize == 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if cfg.QueueSize < 1 {
		errs = append(errs, fmt.Errorf("queue size %d: must be positive", cfg.QueueSize))
	}
	r := &Runner{cluster: cfg.Cluster, self: cfg.Self, log: cfg.Log, backoff: cfg.Backoff,
		client: &http.Client{
			// No proxy (vigil reads no proxy settings) and no redirect,
			// which would take the headers elsewhere.
			Transport:     &http.Transport{Proxy: nil, ForceAttemptHTTP2: true, MaxIdleConnsPerHost: 1},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	r.send = r.attempt
	seen := map[string]bool{}
	for i, a := range cfg.Alerts {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("alerts[%d] (%s): %s", i, a.ID, fmt.Sprintf(format, args...)))
		}
		if a.Timeout == 0 {
			a.Timeout = defaultTimeout
		}
		w := &worker{alert: a, target: a.Script, queue: queue{max: cfg.QueueSize, ready: make(chan struct{}, 1)}}
		switch {
		case a.ID == "" || seen[a.ID]:
			bad("id: empty or duplicate")
		case (a.Script == "") == (a.Webhook == ""):
			bad("give exactly one of script and webhook")
		case a.Script != "" && !filepath.IsAbs(a.Script):
			bad("script: not an absolute path")
		case a.Script != "" && len(a.Headers) > 0:
			bad("headers: only for a webhook")
		case a.Webhook != "":
			u, err := url.Parse(a.Webhook)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("webhook: not an http or https URL") // the URL is not shown: it may hold a token
				break
			}
			w.target = redact(u)
		}
		if a.Timeout < 0 || a.Retries < 0 {
			bad("timeout %v and retries %d: must not be negative", a.Timeout, a.Retries)
		}
		seen[a.ID] = true
		w.alert.Kinds = slices.Clone(a.Kinds)
		r.alerts = append(r.alerts, w)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("alert: invalid config: %w", err)
	}
	return r, nil
}

// redact returns u as scheme://host/path, without userinfo, query or
// fragment, any of which may hold a token.
func redact(u *url.URL) string {
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path, RawPath: u.RawPath}).String()
}

// Counters returns each alert's counters, by alert id. The map is new on
// each call; the counters are the live ones.
func (r *Runner) Counters() map[string]*Counters {
	out := make(map[string]*Counters, len(r.alerts))
	for _, w := range r.alerts {
		out[w.alert.ID] = &w.counts
	}
	return out
}

// Run hands each event from events to the queue of every alert that
// matches its kind, and delivers them, one worker per alert, until ctx is
// cancelled (deliveries in flight are abandoned: a script is killed) or
// events is closed (then every queued event is delivered first). It never
// blocks on a hook. It returns nil once every worker has stopped; it may
// be called once.
func (r *Runner) Run(ctx context.Context, events <-chan model.Event) error {
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("alert: Run called twice")
	}
	closed := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range r.alerts {
		wg.Go(func() { r.work(ctx, w, closed) })
	}
	defer wg.Wait()
	defer close(closed)
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			for _, w := range r.alerts {
				if !w.alert.Matches(ev.Kind) {
					continue
				}
				if n, dropped := w.queue.push(ev); dropped {
					w.counts.Dropped.Add(1)
					if n&(n-1) == 0 { // the 1st, 2nd, 4th, … drop of this queue
						r.log.Warn("alert queue full: dropped the oldest event", "alert", w.alert.ID, "dropped", n)
					}
				}
			}
		}
	}
}

// work delivers w's events in order until ctx ends, or closed is closed
// and the queue is empty.
func (r *Runner) work(ctx context.Context, w *worker, closed <-chan struct{}) {
	for ctx.Err() == nil {
		if ev, ok := w.queue.pop(); ok {
			r.deliver(ctx, w, ev)
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-w.queue.ready:
		case <-closed:
			if w.queue.empty() {
				return
			}
		}
	}
}

// deliver makes up to 1+Retries attempts to deliver ev, with backoff
// between them, and counts the outcome. An attempt cut short by ctx is
// neither delivered nor failed.
func (r *Runner) deliver(ctx context.Context, w *worker, ev model.Event) {
	a := w.alert
	for attempt := 1; ; attempt++ {
		err := r.send(ctx, w, ev, attempt)
		if err == nil {
			w.counts.Delivered.Add(1)
			if attempt > 1 {
				r.log.Info("alert delivered after retries", "alert", a.ID, "kind", ev.Kind, "seq", ev.Seq, "attempt", attempt)
			}
			return
		}
		if ctx.Err() != nil {
			return
		}
		var perm *permanentError
		final := errors.As(err, &perm) || attempt > a.Retries
		if final {
			w.counts.Failed.Add(1)
			r.log.Error("alert failed", "alert", a.ID, "target", w.target, "kind", ev.Kind, "seq", ev.Seq,
				"attempt", attempt, "err", err)
			return
		}
		wait := r.backoff(attempt)
		r.log.Warn("alert attempt failed; retrying", "alert", a.ID, "target", w.target, "kind", ev.Kind, "seq", ev.Seq,
			"attempt", attempt, "retry_in", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// permanentError is a failed attempt that a retry would not mend (a 4xx
// answer).
type permanentError struct{ err error }

func (e *permanentError) Error() string { return e.err.Error() }
func (e *permanentError) Unwrap() error { return e.err }

// attempt makes one attempt to deliver ev to w's hook, within its timeout.
func (r *Runner) attempt(ctx context.Context, w *worker, ev model.Event, attempt int) error {
	body, err := json.Marshal(payload{Cluster: r.cluster, Node: r.self, Alert: w.alert.ID, Event: ev})
	if err != nil {
		return &permanentError{fmt.Errorf("encode event: %w", err)}
	}
	actx, cancel := context.WithTimeout(ctx, w.alert.Timeout)
	defer cancel()
	if w.alert.Script != "" {
		return r.runScript(actx, w, ev, attempt, body)
	}
	return r.post(actx, w, body)
}

// payload is the JSON a hook gets: on a script's stdin, in a webhook's
// body.
type payload struct {
	Cluster string       `json:"cluster"`
	Node    model.NodeID `json:"node"`
	Alert   string       `json:"alert"`
	Event   model.Event  `json:"event"`
}

// queue is a bounded FIFO of events that drops its oldest when full.
type queue struct {
	max   int
	ready chan struct{} // buffered 1: signalled on each push

	mu      sync.Mutex
	events  []model.Event
	dropped uint64
}

// push appends ev, dropping the oldest event if the queue is full; it
// returns the number of events this queue has dropped, and whether it
// dropped one now. It never blocks.
func (q *queue) push(ev model.Event) (uint64, bool) {
	q.mu.Lock()
	dropped := len(q.events) >= q.max
	if dropped {
		q.events = slices.Delete(q.events, 0, 1)
		q.dropped++
	}
	q.events = append(q.events, ev)
	n := q.dropped
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return n, dropped
}

func (q *queue) pop() (model.Event, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.events) == 0 {
		return model.Event{}, false
	}
	ev := q.events[0]
	q.events = slices.Delete(q.events, 0, 1)
	return ev, true
}

func (q *queue) empty() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.events) == 0
}
