package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Check is one application check that speaks for a node's liveness: an
// operator-listed service, or (later) a health check of a resource that the
// node runs. Exactly one of TCP and HTTP is set.
type Check struct {
	// Name identifies the check among the node's checks; "" means
	// "tcp ADDR" or "http URL".
	Name string
	Node model.NodeID // whose liveness it speaks for
	TCP  string       // host:port; Up when a connection opens
	HTTP string       // http or https URL; Up when it answers Status
	// Status is the HTTP status wanted; 0 means 200.
	Status int
	// Interval and Timeout; 0 means CheckerConfig's.
	Interval, Timeout time.Duration
}

func (c Check) name() string {
	switch {
	case c.Name != "":
		return c.Name
	case c.TCP != "":
		return "tcp " + c.TCP
	}
	return "http " + c.HTTP
}

// CheckerConfig configures a Checker. Nodes, Timing and Sink are required.
type CheckerConfig struct {
	Self model.NodeID
	// Nodes are all the nodes: a check must name one. Checks of Self are
	// not run (a node does not judge itself); the same list can thus be
	// given to every node.
	Nodes  []model.Node
	Checks []Check
	// Interval and Timeout are the defaults of the checks; 0 means
	// DefaultCheckPeriod for both (200ms for lan, 600ms for wan).
	Interval, Timeout time.Duration
	Timing            model.Timing
	Sink              Sink             // receives one LayerApp Observation per check run
	Log               *slog.Logger     // nil means discard
	Now               func() time.Time // nil means time.Now
}

// Checker is the application layer: it runs each check every Interval and
// reports each result to its Sink, as a LayerApp Observation named by the
// check. Any failure (refused, timeout, a wrong HTTP status) is Down.
// Checks can be replaced while it runs (SetChecks), so that the health
// checks of the resources a peer runs can be added and removed as
// placement changes.
type Checker struct {
	self     model.NodeID
	nodes    map[model.NodeID]bool
	interval time.Duration
	timeout  time.Duration
	sink     Sink
	log      *slog.Logger
	now      func() time.Time
	http     *http.Client
	// dial is for TCP checks; a test's fake replaces it.
	dial func(ctx context.Context, addr string) error

	mu      sync.Mutex
	checks  []Check       // resolved, self excluded
	changed chan struct{} // buffered 1: SetChecks wakes Run
}

// NewChecker validates cfg and returns a Checker that has not started.
func NewChecker(cfg CheckerConfig) (*Checker, error) {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultCheckPeriod(cfg.Timing)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultCheckPeriod(cfg.Timing)
	}
	var errs []error
	if cfg.Interval <= 0 || cfg.Timeout <= 0 {
		errs = append(errs, fmt.Errorf("interval %v and timeout %v: must be positive", cfg.Interval, cfg.Timeout))
	}
	if cfg.Sink == nil {
		errs = append(errs, errors.New("sink: nil"))
	}
	c := &Checker{self: cfg.Self, nodes: map[model.NodeID]bool{}, interval: cfg.Interval, timeout: cfg.Timeout,
		sink: cfg.Sink, log: cfg.Log, now: cfg.Now, changed: make(chan struct{}, 1), dial: dialAddr,
		http: &http.Client{
			// No proxy (vigil reads no proxy settings), no reuse (each check
			// is a fresh connection, as a client's would be), no redirects.
			Transport:     &http.Transport{Proxy: nil, DisableKeepAlives: true},
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		}}
	for _, n := range cfg.Nodes {
		c.nodes[n.Name] = true
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	if len(errs) == 0 {
		errs = append(errs, c.SetChecks(cfg.Checks))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("detect: invalid checker config: %w", err)
	}
	return c, nil
}

// SetChecks replaces the checks. A check that is unchanged keeps running
// on its schedule; a new one starts; a removed one stops (its last result
// expires in the Judge). All problems are reported together and then
// nothing changes. Concurrency-safe; it does not block.
func (c *Checker) SetChecks(checks []Check) error {
	var errs []error
	var out []Check
	seen := map[string]bool{}
	for i, ch := range checks {
		if ch.Interval == 0 {
			ch.Interval = c.interval
		}
		if ch.Timeout == 0 {
			ch.Timeout = c.timeout
		}
		if ch.Status == 0 && ch.HTTP != "" {
			ch.Status = http.StatusOK
		}
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("checks[%d] (%s): %s", i, ch.name(), fmt.Sprintf(format, args...)))
		}
		switch {
		case !c.nodes[ch.Node]:
			bad("node %q: not among nodes", ch.Node)
		case (ch.TCP == "") == (ch.HTTP == ""):
			bad("give exactly one of tcp and http")
		case ch.TCP != "":
			if _, _, err := net.SplitHostPort(ch.TCP); err != nil {
				bad("tcp: %v", err)
			}
		default:
			if u, err := url.Parse(ch.HTTP); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				bad("http: %q is not an http or https URL", ch.HTTP)
			}
		}
		if ch.Interval <= 0 || ch.Timeout <= 0 {
			bad("interval %v and timeout %v: must be positive", ch.Interval, ch.Timeout)
		}
		key := string(ch.Node) + "\x00" + ch.name()
		if seen[key] {
			bad("duplicate name for node %s", ch.Node)
		}
		seen[key] = true
		if ch.Node != c.self {
			out = append(out, ch)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	c.mu.Lock()
	c.checks = out
	c.mu.Unlock()
	select {
	case c.changed <- struct{}{}:
	default:
	}
	return nil
}

// Run runs the checks until ctx is cancelled, then waits for every check
// in flight and returns nil. It may be called once.
func (c *Checker) Run(ctx context.Context) error {
	type running struct {
		stop context.CancelFunc
		done chan struct{}
	}
	live := map[Check]running{}
	stop := func(ch Check) {
		r := live[ch]
		r.stop()
		<-r.done
		delete(live, ch)
	}
	defer func() {
		for ch := range live {
			stop(ch)
		}
	}()
	for {
		c.mu.Lock()
		want := slices.Clone(c.checks)
		c.mu.Unlock()
		for ch := range live {
			if !slices.Contains(want, ch) {
				stop(ch)
			}
		}
		for _, ch := range want {
			if _, ok := live[ch]; ok {
				continue
			}
			cctx, cancel := context.WithCancel(ctx)
			r := running{stop: cancel, done: make(chan struct{})}
			live[ch] = r
			go func() {
				defer close(r.done)
				repeat(cctx, ch.Interval, ch.Timeout, c.now, func(ctx context.Context) error { return c.run(ctx, ch) },
					func(res result) {
						c.sink.Observe(res.observation(Observation{Peer: ch.Node, Layer: LayerApp, Check: ch.name()},
							ch.Interval, ch.Timeout))
					})
			}()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-c.changed:
		}
	}
}

// run runs one check once.
func (c *Checker) run(ctx context.Context, ch Check) error {
	if ch.TCP != "" {
		return c.dial(ctx, ch.TCP)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ch.HTTP, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "vigil-check")
	resp, err := c.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != ch.Status {
		return fmt.Errorf("answered %d, want %d", resp.StatusCode, ch.Status)
	}
	return nil
}

func dialAddr(ctx context.Context, addr string) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return conn.Close()
}

// DefaultCheckPeriod is a check's interval and timeout when it sets none:
// twice the heartbeat interval, but at least 200ms, which an application's
// own answer may need.
func DefaultCheckPeriod(t model.Timing) time.Duration {
	return max(2*t.HeartbeatInterval, 200*time.Millisecond)
}
