package detect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// ProberConfig configures a Prober. Self, Nodes, Port, Timing and Sink are
// required; a zero Interval or Timeout means its default.
type ProberConfig struct {
	Self model.NodeID
	// Nodes are all the nodes, self included: each peer is probed on each
	// of its addresses, from Self's address on the same link.
	Nodes []model.Node
	// Port is the TCP port probed: the API port, on which every daemon
	// listens on each of its addresses.
	Port uint16
	// Interval is how often each peer is probed on each link; 0 means
	// DefaultProbeInterval. Probes overlap when Timeout is longer.
	Interval time.Duration
	// Timeout bounds one probe; 0 means 2*Interval (100ms for lan, under
	// the 1s SYN retransmission of Linux: a lost SYN or
	// SYN-ACK fails the probe rather than delaying it).
	Timeout time.Duration
	Timing  model.Timing
	// Ping, if set, is an HTTP path the peer's daemon must answer with 200
	// on the connection: a frozen daemon's kernel still completes the TCP
	// handshake, so a connection alone cannot tell a hung daemon from a
	// live one. "" probes the connection only.
	Ping string
	Sink Sink             // receives one Observation per probe
	Log  *slog.Logger     // nil means discard
	Now  func() time.Time // nil means time.Now
}

// Prober is the TCP layer: it connects to every peer's Port on every link,
// every Interval, and reports each result to its Sink as a LayerTCP
// Observation. A connection that opens is Up (and is closed at once). A
// timeout, or any other error, is Down.
//
// A refused connection (RST) is Down too, with Detail "refused": the
// peer's host is up but no daemon listens there, and a node without its
// daemon sends no heartbeats, renews no lease and can hold nothing, which
// is what a peer failure means here. Refusal is not taken as a faster or
// surer failure than a timeout: a firewall's reject rule, or a forged RST,
// looks the same.
type Prober struct {
	self     model.Node
	targets  []probeTarget
	interval time.Duration
	timeout  time.Duration
	sink     Sink
	log      *slog.Logger
	now      func() time.Time
	// dial connects from local (port 0) to remote and closes; a test's
	// fake replaces it.
	dial func(ctx context.Context, local, remote netip.AddrPort) error
}

type probeTarget struct {
	peer   model.NodeID
	link   int
	local  netip.Addr // self's address on the link
	remote netip.AddrPort
}

// NewProber validates cfg and returns a Prober that has not started.
func NewProber(cfg ProberConfig) (*Prober, error) {
	if cfg.Interval == 0 {
		cfg.Interval = DefaultProbeInterval(cfg.Timing)
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 2 * cfg.Interval
	}
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if cfg.Port == 0 {
		bad("port: must not be 0")
	}
	if cfg.Interval <= 0 {
		bad("interval: %v, must be positive", cfg.Interval)
	}
	if cfg.Timeout <= 0 {
		bad("timeout: %v, must be positive", cfg.Timeout)
	}
	if cfg.Sink == nil {
		bad("sink: nil")
	}
	p := &Prober{interval: cfg.Interval, timeout: cfg.Timeout, sink: cfg.Sink, log: cfg.Log, now: cfg.Now, dial: dialTCP}
	if cfg.Ping != "" {
		if !strings.HasPrefix(cfg.Ping, "/") || strings.ContainsAny(cfg.Ping, " \r\n") {
			bad("ping: %q, want an HTTP path", cfg.Ping)
		}
		path := cfg.Ping
		p.dial = func(ctx context.Context, local, remote netip.AddrPort) error {
			return pingHTTP(ctx, local, remote, path)
		}
	}
	found := false
	for _, n := range cfg.Nodes {
		if n.Name == cfg.Self {
			p.self, found = n, true
		}
	}
	if !found {
		bad("self %q: not among nodes", cfg.Self)
	}
	for _, n := range cfg.Nodes {
		if n.Name == cfg.Self || !found {
			continue
		}
		for i, a := range n.Addresses {
			if i >= len(p.self.Addresses) {
				bad("node %s: link %d: self has no address there", n.Name, i)
				continue
			}
			p.targets = append(p.targets, probeTarget{peer: n.Name, link: i, local: p.self.Addresses[i],
				remote: netip.AddrPortFrom(a, cfg.Port)})
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("detect: invalid prober config: %w", err)
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// Run probes every target until ctx is cancelled, then waits for every
// probe in flight and returns nil. It may be called once.
func (p *Prober) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, t := range p.targets {
		wg.Go(func() {
			repeat(ctx, p.interval, p.timeout, p.now, func(ctx context.Context) error {
				return p.dial(ctx, netip.AddrPortFrom(t.local, 0), t.remote)
			}, func(r result) {
				p.sink.Observe(r.observation(Observation{Peer: t.peer, Layer: LayerTCP, Link: t.link}, p.interval, p.timeout))
			})
		})
	}
	wg.Wait()
	return nil
}

func dialTCP(ctx context.Context, local, remote netip.AddrPort) error {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(local)}
	c, err := d.DialContext(ctx, "tcp", remote.String())
	if err != nil {
		return err
	}
	return c.Close()
}

// pingHTTP connects from local to remote, asks for path and wants a 200
// before ctx ends.
func pingHTTP(ctx context.Context, local, remote netip.AddrPort, path string) error {
	d := net.Dialer{LocalAddr: net.TCPAddrFromAddrPort(local)}
	c, err := d.DialContext(ctx, "tcp", remote.String())
	if err != nil {
		return err
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.0\r\nHost: %s\r\n\r\n", path, remote); err != nil {
		return err
	}
	var line [12]byte // "HTTP/1.x 200"
	if _, err := io.ReadFull(c, line[:]); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	if string(line[:5]) != "HTTP/" || string(line[9:12]) != "200" {
		return fmt.Errorf("answered %q", line[:])
	}
	return nil
}

// result is one attempt of a repeated probe or check.
type result struct {
	start, end time.Time
	err        error
}

// observation fills o from r: Up at the answer, or Down from the start of
// the attempt that got none. It expires when two more attempts should have
// reported, so that a feeder that stops leaves the signal Unknown rather
// than stuck.
func (r result) observation(o Observation, interval, timeout time.Duration) Observation {
	o.Status, o.At = Up, r.end
	if r.err != nil {
		o.Status, o.At, o.Detail = Down, r.start, describe(r.err)
	}
	o.Expires = o.At.Add(2 * (interval + timeout))
	return o
}

// describe shortens a probe's or check's error to its cause.
func describe(err error) string {
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded):
		return "timeout"
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var se *os.SyscallError
	if errors.As(err, &se) {
		err = se.Err
	}
	return err.Error()
}

// maxInFlight bounds the attempts of one repeat running at once.
const maxInFlight = 8

// repeat starts try every interval, each bounded by timeout, until ctx
// ends; then it waits for the attempts in flight. Attempts overlap when
// timeout exceeds interval, up to maxInFlight; a tick that finds that many
// running is skipped. report gets every attempt that ended before ctx did,
// in no particular order across attempts (the Judge orders them by At).
func repeat(ctx context.Context, interval, timeout time.Duration, now func() time.Time,
	try func(ctx context.Context) error, report func(result)) {
	var wg sync.WaitGroup
	defer wg.Wait()
	slots := make(chan struct{}, maxInFlight)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case slots <- struct{}{}:
			wg.Go(func() {
				defer func() { <-slots }()
				actx, cancel := context.WithTimeout(ctx, timeout)
				defer cancel()
				r := result{start: now()}
				r.err = try(actx)
				r.end = now()
				if ctx.Err() == nil {
					report(r)
				}
			})
		default: // all slots busy: skip this tick
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// DefaultProbeInterval is how often a peer is probed on each link by
// default: every heartbeat interval, but at most 20 times a second, since
// each probe is a TCP connection and an HTTP request on both ends.
func DefaultProbeInterval(t model.Timing) time.Duration {
	if t.HeartbeatInterval <= 0 {
		return t.HeartbeatInterval // invalid: New says so
	}
	return max(t.HeartbeatInterval, 50*time.Millisecond)
}
