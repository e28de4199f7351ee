package detect

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
)

// fakeNet is an in-memory UDP network for Detectors under testing/synctest.
// Every operation is a channel operation, so goroutines blocked on it are
// durably blocked and the bubble's clock can move.
type fakeNet struct {
	mu    sync.Mutex
	conns map[netip.AddrPort]*fakeConn
	cut   map[netip.Addr]bool
}

func newFakeNet() *fakeNet {
	return &fakeNet{conns: map[netip.AddrPort]*fakeConn{}, cut: map[netip.Addr]bool{}}
}

// setCut makes every send from or to a fail with ENETUNREACH, as when the
// cable of that link is pulled, or undoes it.
func (n *fakeNet) setCut(a netip.Addr, cut bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.cut[a] = cut
}

func (n *fakeNet) listen(_ context.Context, a netip.AddrPort) (conn, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.conns[a] != nil {
		return nil, fmt.Errorf("listen udp %s: %w", a, syscall.EADDRINUSE)
	}
	c := &fakeConn{net: n, addr: a, in: make(chan fakePacket, 64), closed: make(chan struct{})}
	n.conns[a] = c
	return c, nil
}

type fakePacket struct {
	b    []byte
	from netip.AddrPort
}

type fakeConn struct {
	net    *fakeNet
	addr   netip.AddrPort
	in     chan fakePacket
	closed chan struct{}
	once   sync.Once
}

func (c *fakeConn) ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error) {
	select {
	case p := <-c.in:
		return copy(b, p.b), p.from, nil
	case <-c.closed:
		return 0, netip.AddrPort{}, net.ErrClosed
	}
}

func (c *fakeConn) WriteToUDPAddrPort(b []byte, to netip.AddrPort) (int, error) {
	c.net.mu.Lock()
	cut := c.net.cut[c.addr.Addr()] || c.net.cut[to.Addr()]
	dst := c.net.conns[to]
	c.net.mu.Unlock()
	if cut {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: syscall.ENETUNREACH}
	}
	if dst != nil {
		select {
		case dst.in <- fakePacket{bytes.Clone(b), c.addr}:
		default: // a full queue drops, as UDP does
		}
	}
	return len(b), nil
}

func (c *fakeConn) Close() error {
	c.once.Do(func() {
		c.net.mu.Lock()
		delete(c.net.conns, c.addr)
		c.net.mu.Unlock()
		close(c.closed)
	})
	return nil
}

// run starts a Detector for cfg on n inside the test's synctest bubble and
// returns it with a stop that cancels it and returns Run's error; Run must
// be done at once, with no time passing.
func (n *fakeNet) run(t *testing.T, cfg Config) (*Detector, func() error) {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	d.listen = n.listen
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	synctest.Wait()
	return d, func() error {
		cancel()
		synctest.Wait()
		select {
		case err := <-done:
			return err
		default:
			t.Fatalf("%s: Run still running after cancel", cfg.Self)
			return nil
		}
	}
}
