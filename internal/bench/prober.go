package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ProberConfig configures StartProber. A zero field means its default.
type ProberConfig struct {
	Netns   string         // the client's namespace, by name under /run/netns (required)
	Addr    netip.AddrPort // the floating IP and the service's port (required)
	Every   time.Duration  // between probe sends; default 10ms
	Timeout time.Duration  // how long one probe may take; default 500ms
	Max     int            // probes in flight at once; default 64
	// Lifetime bounds the prober if Stop is never called; default 10m.
	Lifetime time.Duration
}

// Prober asks the floating IP from the client's namespace every Every: one
// HTTP GET / on a new TCP connection, whatever the earlier probes are
// doing, skipping a tick only when Max are in flight. The service answers
// with its node's name. The probes run in this process, their sockets
// opened by a thread that has joined the client's namespace, so no process
// start-up is measured. Its methods are safe for concurrent use.
type Prober struct {
	cfg    ProberConfig
	ns     string // /run/netns/NAME
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once

	mu    sync.Mutex
	shots []Shot
	fatal error // a thread could not return to its own namespace
}

// StartProber starts probing. One probe is tried first, so that a
// namespace that cannot be entered is an error here rather than a stream
// of failed probes.
func StartProber(cfg ProberConfig) (*Prober, error) {
	if cfg.Every == 0 {
		cfg.Every = 10 * time.Millisecond
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 500 * time.Millisecond
	}
	if cfg.Max == 0 {
		cfg.Max = 64
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 10 * time.Minute
	}
	var errs []error
	if cfg.Netns == "" {
		errs = append(errs, errors.New("netns: required"))
	}
	if !cfg.Addr.IsValid() {
		errs = append(errs, errors.New("addr: required"))
	}
	if cfg.Every < time.Millisecond || cfg.Timeout <= 0 || cfg.Max < 1 || cfg.Lifetime <= 0 {
		errs = append(errs, fmt.Errorf("every %s, timeout %s, max %d, lifetime %s: want every >= 1ms and the others > 0", cfg.Every, cfg.Timeout, cfg.Max, cfg.Lifetime))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("prober: %w", err)
	}
	p := &Prober{cfg: cfg, ns: filepath.Join("/run/netns", cfg.Netns)}
	if _, err := os.Stat(p.ns); err != nil {
		return nil, fmt.Errorf("prober: client namespace: %w", err)
	}
	if _, err := p.shoot(context.Background()); err != nil {
		return nil, fmt.Errorf("prober: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Lifetime)
	p.cancel = cancel
	p.wg.Add(1)
	go p.run(ctx)
	return p, nil
}

func (p *Prober) run(ctx context.Context) {
	defer p.wg.Done()
	inflight := make(chan struct{}, p.cfg.Max)
	t := time.NewTicker(p.cfg.Every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			continue // the gap shows in the window's Gap
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-inflight }()
			s, err := p.shoot(ctx)
			p.mu.Lock()
			defer p.mu.Unlock()
			if err != nil {
				p.fatal = errors.Join(p.fatal, err)
				return
			}
			// One cut short by Stop is neither a good reply nor a
			// failure, but it was sent.
			s.Cut = !s.OK && ctx.Err() != nil
			p.shots = append(p.shots, s)
		}()
	}
}

// Stop stops probing and waits until every probe in flight has ended. It
// is idempotent.
func (p *Prober) Stop() {
	p.stop.Do(func() {
		p.cancel()
		p.wg.Wait()
	})
}

// Shots returns the probes that have ended so far, in the order they did.
func (p *Prober) Shots() []Shot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.shots)
}

// Err returns the error of a probe thread that could not return to its
// own namespace, if any.
func (p *Prober) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.fatal
}

// Steady returns the node that answered the last n probes by send time,
// all good; false if they were not.
func Steady(shots []Shot, n int) (string, bool) {
	shots = slices.Clone(shots)
	slices.SortFunc(shots, func(a, b Shot) int { return a.Sent.Compare(b.Sent) })
	if n < 1 || len(shots) < n {
		return "", false
	}
	tail := shots[len(shots)-n:]
	if slices.ContainsFunc(tail, func(s Shot) bool { return !s.OK || s.Node != tail[0].Node }) {
		return "", false
	}
	return tail[0].Node, true
}

// shoot sends one probe. It returns an error only when the thread that
// opened the probe's socket cannot return to its own namespace; that
// thread then stays locked and ends with its goroutine.
func (p *Prober) shoot(ctx context.Context) (Shot, error) {
	s := Shot{Sent: time.Now()}
	ctx, cancel := context.WithDeadline(ctx, s.Sent.Add(p.cfg.Timeout))
	defer cancel()
	c, err := p.dial(ctx)
	if errors.Is(err, errNetns) {
		return s, err
	}
	if err == nil {
		s.Node, err = get(ctx, c, p.cfg.Addr.String())
	}
	s.Done = time.Now()
	s.OK = err == nil
	if err != nil {
		s.Err = err.Error()
	}
	return s, nil
}

var errNetns = errors.New("cannot switch network namespace")

// dial connects to the floating IP from the client's namespace. The socket
// is opened, and connected, by this goroutine's thread while it is in
// that namespace; it returns to its own before dial returns. While the
// thread is away only this goroutine runs on it.
func (p *Prober) dial(ctx context.Context) (net.Conn, error) {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("%w: %v", errNetns, err)
	}
	defer self.Close()
	target, err := os.Open(p.ns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("%w: %v", errNetns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("%w: setns %s: %v", errNetns, p.ns, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.cfg.Addr.String())
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("%w: setns back: %v", errNetns, serr)
	}
	runtime.UnlockOSThread()
	return c, err
}

// get asks GET / on c and returns the body, the answering node's name.
func get(ctx context.Context, c net.Conn, host string) (string, error) {
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			return "", err
		}
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+host+"\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answer %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}
