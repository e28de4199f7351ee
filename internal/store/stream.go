package store

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vigil-ha/vigil/internal/model"
)

// The handshake that opens every raft connection. The dialler sends
// magic, its nonce and its name; the listener answers with its nonce and a
// proof; the dialler answers with its proof. A proof is
// HMAC(key, role | dialler nonce | listener nonce | own name | peer name),
// so each side shows it holds the cluster key without revealing it, and a
// recorded handshake cannot be replayed (the other side's nonce is fresh).
const (
	handshakeMagic   = "VGRAFT1\n"
	nonceSize        = 32
	maxNameLen       = 64
	handshakeTimeout = 3 * time.Second
)

// ErrUnauthenticated is returned when a peer fails the handshake.
var ErrUnauthenticated = errors.New("raft peer failed authentication")

func raftKey(cluster string, secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("vigil raft v1\x00" + cluster))
	return m.Sum(nil)
}

func proof(key []byte, role string, nc, ns []byte, own, peer string) []byte {
	m := hmac.New(sha256.New, key)
	for _, part := range [][]byte{[]byte(role), nc, ns, []byte(own), {0}, []byte(peer)} {
		m.Write(part)
	}
	return m.Sum(nil)
}

func writeName(w io.Writer, name string) error {
	if len(name) == 0 || len(name) > maxNameLen {
		return fmt.Errorf("name length %d out of range", len(name))
	}
	_, err := w.Write(append([]byte{byte(len(name))}, name...))
	return err
}

func readName(r io.Reader) (string, error) {
	var n [1]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return "", err
	}
	if n[0] == 0 || int(n[0]) > maxNameLen {
		return "", fmt.Errorf("name length %d out of range", n[0])
	}
	b := make([]byte, n[0])
	_, err := io.ReadFull(r, b)
	return string(b), err
}

// dialHandshake runs the dialler's side on conn.
func dialHandshake(conn net.Conn, key []byte, self, peer string) error {
	nc := make([]byte, nonceSize)
	_, _ = rand.Read(nc)
	if _, err := conn.Write(append([]byte(handshakeMagic), nc...)); err != nil {
		return err
	}
	if err := writeName(conn, self); err != nil {
		return err
	}
	buf := make([]byte, nonceSize+sha256.Size)
	if _, err := io.ReadFull(conn, buf); err != nil {
		return err
	}
	ns, theirs := buf[:nonceSize], buf[nonceSize:]
	if !hmac.Equal(theirs, proof(key, "listener", nc, ns, peer, self)) {
		return fmt.Errorf("%w: %s did not prove the cluster secret", ErrUnauthenticated, peer)
	}
	_, err := conn.Write(proof(key, "dialler", nc, ns, self, peer))
	return err
}

// acceptHandshake runs the listener's side on conn and returns the peer's
// name, which must be one of the cluster's nodes.
func acceptHandshake(conn net.Conn, key []byte, self string, known func(string) bool) (string, error) {
	head := make([]byte, len(handshakeMagic)+nonceSize)
	if _, err := io.ReadFull(conn, head); err != nil {
		return "", err
	}
	if string(head[:len(handshakeMagic)]) != handshakeMagic {
		return "", fmt.Errorf("%w: bad magic", ErrUnauthenticated)
	}
	nc := head[len(handshakeMagic):]
	peer, err := readName(conn)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrUnauthenticated, err)
	}
	if !known(peer) {
		return "", fmt.Errorf("%w: unknown node %q", ErrUnauthenticated, peer)
	}
	ns := make([]byte, nonceSize)
	_, _ = rand.Read(ns)
	if _, err := conn.Write(append(ns, proof(key, "listener", nc, ns, self, peer)...)); err != nil {
		return "", err
	}
	theirs := make([]byte, sha256.Size)
	if _, err := io.ReadFull(conn, theirs); err != nil {
		return "", err
	}
	if !hmac.Equal(theirs, proof(key, "dialler", nc, ns, peer, self)) {
		return "", fmt.Errorf("%w: %s did not prove the cluster secret", ErrUnauthenticated, peer)
	}
	return peer, nil
}

// nodeAddr is a raft server address: a node's name.
type nodeAddr string

func (a nodeAddr) Network() string { return "vigil" }
func (a nodeAddr) String() string  { return string(a) }

// streamLayer implements raft.StreamLayer over every link of every node.
type streamLayer struct {
	self    model.NodeID
	key     []byte
	port    uint16
	peers   map[model.NodeID][]netip.Addr
	log     *slog.Logger
	refused atomic.Uint64

	listeners []net.Listener
	conns     chan net.Conn
	done      chan struct{}
	ctx       context.Context // cancelled by Close, with the dials under it
	cancel    context.CancelFunc
	// live are the connections handed to raft, closed by Close: raft's
	// shutdown waits for RPCs blocked on a peer that is gone.
	mu        sync.Mutex
	live      map[*liveConn]struct{}
	closeOnce sync.Once
	wg        sync.WaitGroup
}

func newStreamLayer(cfg Config) (*streamLayer, error) {
	s := &streamLayer{
		self:  cfg.Self,
		key:   raftKey(cfg.Cluster, cfg.Secret),
		port:  cfg.Port,
		peers: map[model.NodeID][]netip.Addr{},
		log:   cfg.Log,
		conns: make(chan net.Conn),
		done:  make(chan struct{}),
		live:  map[*liveConn]struct{}{},
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for _, n := range cfg.Nodes {
		s.peers[n.Name] = n.Addresses
	}
	for _, a := range s.peers[cfg.Self] {
		l, err := net.Listen("tcp", netip.AddrPortFrom(a, cfg.Port).String())
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("raft listen on %s: %w", a, err)
		}
		s.listeners = append(s.listeners, l)
	}
	for _, l := range s.listeners {
		s.wg.Add(1)
		go s.acceptLoop(l)
	}
	return s, nil
}

func (s *streamLayer) acceptLoop(l net.Listener) {
	defer s.wg.Done()
	for {
		c, err := l.Accept()
		if err != nil {
			return // closed
		}
		s.wg.Add(1)
		go s.admit(c)
	}
}

// admit authenticates c and hands it to Accept, or closes it.
func (s *streamLayer) admit(c net.Conn) {
	defer s.wg.Done()
	_ = c.SetDeadline(time.Now().Add(handshakeTimeout))
	_, err := acceptHandshake(c, s.key, string(s.self), func(n string) bool { _, ok := s.peers[model.NodeID(n)]; return ok && n != string(s.self) })
	if err != nil {
		s.refused.Add(1)
		s.log.Warn("raft connection refused", "remote", c.RemoteAddr().String(), "err", err)
		c.Close()
		return
	}
	_ = c.SetDeadline(time.Time{})
	tc, ok := s.track(c)
	if !ok {
		return
	}
	select {
	case s.conns <- tc:
	case <-s.done:
		tc.Close()
	}
}

// liveConn is a connection handed to raft; Close forgets it.
type liveConn struct {
	net.Conn
	s    *streamLayer
	once sync.Once
}

func (c *liveConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.live, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}

// track records c as live, or closes it if the layer is closed.
func (s *streamLayer) track(c net.Conn) (*liveConn, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		c.Close()
		return nil, false
	}
	tc := &liveConn{Conn: c, s: s}
	s.live[tc] = struct{}{}
	return tc, true
}

// Accept implements net.Listener: it returns authenticated connections.
func (s *streamLayer) Accept() (net.Conn, error) {
	select {
	case c := <-s.conns:
		return c, nil
	case <-s.done:
		return nil, net.ErrClosed
	}
}

// Close implements net.Listener. It is idempotent and waits for the accept
// goroutines.
func (s *streamLayer) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.cancel()
		live := s.live
		s.live = map[*liveConn]struct{}{}
		s.mu.Unlock()
		for c := range live {
			c.Conn.Close()
		}
		close(s.done)
		for _, l := range s.listeners {
			l.Close()
		}
	})
	s.wg.Wait()
	return nil
}

// Addr implements net.Listener: this node's raft address is its name.
func (s *streamLayer) Addr() net.Addr { return nodeAddr(s.self) }

// Dial implements raft.StreamLayer. It dials the node on all its links at
// once and keeps the first connection that authenticates, so that raft
// survives the loss of any link but one.
func (s *streamLayer) Dial(address raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	addrs, ok := s.peers[model.NodeID(address)]
	if !ok {
		return nil, fmt.Errorf("raft dial %s: not a node of this cluster", address)
	}
	// Closing the layer cancels its dials: raft's shutdown waits for them.
	ctx, cancel := context.WithTimeout(s.ctx, timeout)
	type result struct {
		c   net.Conn
		err error
	}
	results := make(chan result, len(addrs))
	for _, a := range addrs {
		go func() {
			var d net.Dialer
			target := net.JoinHostPort(a.String(), strconv.Itoa(int(s.port)))
			c, err := d.DialContext(ctx, "tcp", target)
			if err == nil {
				deadline, _ := ctx.Deadline()
				_ = c.SetDeadline(deadline)
				if err = dialHandshake(c, s.key, string(s.self), string(address)); err != nil {
					c.Close()
					c = nil
				} else {
					_ = c.SetDeadline(time.Time{})
				}
			}
			results <- result{c, err}
		}()
	}
	var errs []error
	for i := range addrs {
		r := <-results
		if r.err != nil {
			errs = append(errs, r.err)
			continue
		}
		// The first link wins. Stop the slower dials and close what they
		// still bring, without waiting for them.
		cancel() // a dial that has connected is not affected
		go func(left int) {
			for range left {
				if r := <-results; r.c != nil {
					r.c.Close()
				}
			}
		}(len(addrs) - i - 1)
		tc, ok := s.track(r.c)
		if !ok {
			return nil, net.ErrClosed
		}
		return tc, nil
	}
	cancel()
	return nil, fmt.Errorf("raft dial %s: %w", address, errors.Join(errs...))
}
