package api

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/pki"
)

// ServerTLS returns the TLS configuration of node self's API listeners
// for access, or nil when its TLS mode is off ("" too). With
// model.TLSRequired every client must present a certificate of the
// cluster CA (pki.ServerConfig); with model.TLSOptional one that is
// presented must be the CA's, but a client may present none and show a
// token instead (the dashboard in a browser, Prometheus). Either way the
// listener is made by Listen, which also takes plain HTTP (see Auth.TLSMode
// for what a Handler does with it).
//
// A missing file is an error that names it and the command that makes it.
func ServerTLS(access model.APIAccess, self string) (*tls.Config, error) {
	switch access.TLSMode {
	case "", model.TLSOff:
		return nil, nil
	case model.TLSOptional, model.TLSRequired:
	default:
		return nil, fmt.Errorf("api tls mode %q: want %s, %s or %s", access.TLSMode, model.TLSOff, model.TLSOptional, model.TLSRequired)
	}
	if err := tlsFiles(access.TLSDir, self); err != nil {
		return nil, err
	}
	cfg, err := pki.ServerConfig(access.TLSDir, self)
	if err != nil {
		return nil, fmt.Errorf("api tls: %w", err)
	}
	if access.TLSMode == model.TLSOptional {
		cfg.ClientAuth = tls.VerifyClientCertIfGiven
		// pki's check refuses a connection without a certificate; here
		// only a certificate that is presented must be one of ours.
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return nil
			}
			_, err := pki.Peer(cs)
			return err
		}
	}
	return cfg, nil
}

// ClientTLS returns the TLS configuration with which node self calls node
// peer's API (reports, renewals, forwarded changes, bootstrap probes), or
// nil when access's TLS mode is off. self presents its node certificate,
// so that the peer authenticates it even when TLS is required, and peer
// must present a node certificate of the cluster CA that names peer. A
// missing file is an error that names it.
func ClientTLS(access model.APIAccess, self, peer string) (*tls.Config, error) {
	switch access.TLSMode {
	case "", model.TLSOff:
		return nil, nil
	case model.TLSOptional, model.TLSRequired:
	default:
		return nil, fmt.Errorf("api tls mode %q: want %s, %s or %s", access.TLSMode, model.TLSOff, model.TLSOptional, model.TLSRequired)
	}
	if err := tlsFiles(access.TLSDir, self); err != nil {
		return nil, err
	}
	cfg, err := pki.ClientConfig(access.TLSDir, self, peer)
	if err != nil {
		return nil, fmt.Errorf("api tls: %w", err)
	}
	return cfg, nil
}

// tlsFiles checks that dir has the files node self's TLS needs, so that a
// missing one is named with the command that makes it.
func tlsFiles(dir, self string) error {
	if dir == "" {
		return errors.New("api tls: no tls dir")
	}
	for _, f := range []struct{ name, fix string }{
		{pki.CAFile, "copy ca.crt from the host that holds the CA (made by 'vigil tls init')"},
		{self + ".crt", fmt.Sprintf("run 'vigil tls issue %s' on the host that holds the CA and copy %s.crt and %s.key here", self, self, self)},
		{self + ".key", fmt.Sprintf("run 'vigil tls issue %s' on the host that holds the CA and copy %s.crt and %s.key here", self, self, self)},
	} {
		p := filepath.Join(dir, f.name)
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("api tls: %s is missing: %s", p, f.fix)
		}
	}
	return nil
}

// sniffTimeout bounds how long Listen waits for a connection's first byte.
const sniffTimeout = 5 * time.Second

// Listen returns a listener over l that serves TLS under cfg to each
// connection whose first byte begins a TLS handshake, and plain HTTP to
// the others, on one port: plain is what the other nodes' TCP probes send
// (GET /v1/ping), and what a token-only client may use with
// model.TLSOptional; the Handler refuses the rest with
// model.TLSRequired (Auth.TLSMode). A nil cfg returns l itself.
//
// Accept never waits for a slow client: each connection's first byte is
// read in a goroutine of its own, for at most 5s. Close closes l and every
// connection not yet accepted, and waits for those goroutines.
func Listen(l net.Listener, cfg *tls.Config) net.Listener {
	if cfg == nil {
		return l
	}
	m := &mixed{Listener: l, cfg: cfg, conns: make(chan net.Conn), errs: make(chan error),
		done: make(chan struct{}), pending: map[net.Conn]bool{}}
	m.wg.Go(m.accept)
	return m
}

// mixed is the listener of Listen.
type mixed struct {
	net.Listener
	cfg   *tls.Config
	conns chan net.Conn // sniffed connections, to Accept
	errs  chan error    // l's accept errors, to Accept
	done  chan struct{} // closed by Close
	once  sync.Once
	wg    sync.WaitGroup

	mu      sync.Mutex
	pending map[net.Conn]bool // being sniffed; Close closes them
}

func (m *mixed) Accept() (net.Conn, error) {
	select {
	case c := <-m.conns:
		return c, nil
	case err := <-m.errs:
		return nil, err
	case <-m.done:
		return nil, net.ErrClosed
	}
}

func (m *mixed) Close() error {
	var err error
	m.once.Do(func() {
		close(m.done)
		err = m.Listener.Close()
		m.mu.Lock()
		for c := range m.pending {
			c.Close()
		}
		m.mu.Unlock()
		m.wg.Wait()
	})
	return err
}

// accept hands each connection of l to a sniffing goroutine, and l's
// errors to Accept, until l is closed. After any other error it waits a
// moment, as http.Server does, so that running out of descriptors does
// not spin.
func (m *mixed) accept() {
	for {
		c, err := m.Listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			select {
			case m.errs <- err:
			case <-m.done:
				return
			}
			select {
			case <-time.After(10 * time.Millisecond):
			case <-m.done:
				return
			}
			continue
		}
		m.mu.Lock()
		select {
		case <-m.done:
			m.mu.Unlock()
			c.Close()
			return
		default:
		}
		m.pending[c] = true
		m.mu.Unlock()
		m.wg.Go(func() { m.sniff(c) })
	}
}

// sniff reads c's first byte and passes c on to Accept, as TLS if that
// byte begins a handshake record (22), as plain otherwise.
func (m *mixed) sniff(c net.Conn) {
	var first [1]byte
	_ = c.SetReadDeadline(time.Now().Add(sniffTimeout))
	_, err := c.Read(first[:])
	_ = c.SetReadDeadline(time.Time{})
	m.mu.Lock()
	delete(m.pending, c)
	m.mu.Unlock()
	if err != nil {
		c.Close()
		return
	}
	var out net.Conn = &peeked{Conn: c, first: first[:]}
	if first[0] == 22 {
		out = tls.Server(out, m.cfg)
	}
	select {
	case m.conns <- out:
	case <-m.done:
		c.Close()
	}
}

// peeked is a connection whose first bytes were read already.
type peeked struct {
	net.Conn
	first []byte
}

func (p *peeked) Read(b []byte) (int, error) {
	if len(p.first) > 0 {
		n := copy(b, p.first)
		p.first = p.first[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}
