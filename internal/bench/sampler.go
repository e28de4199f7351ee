package bench

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// SampleNode is a node whose addresses the Sampler reads.
type SampleNode struct {
	Name  string
	Netns string // name under /run/netns
}

// SamplerConfig configures StartSampler. A zero field means its default.
type SamplerConfig struct {
	Nodes []SampleNode
	VIP   netip.Addr
	Every time.Duration // between readings; default 10ms, at most 10ms
	// Lifetime bounds the sampler if Stop is never called; default 2h.
	Lifetime time.Duration
}

// Sampler reads every node's addresses through netlink, inside each node's
// namespace, every Every, and records in a Timeline who held the floating
// IP. Its methods are safe for concurrent use.
type Sampler struct {
	vip    net.IP
	cancel context.CancelFunc
	done   chan struct{}
	stop   sync.Once

	mu      sync.Mutex
	tl      Timeline
	ignored map[string]bool
	gap     time.Duration // the longest interval between two readings
	n       int           // readings
}

type nsHandle struct {
	name string
	h    *netlink.Handle
}

// StartSampler opens a netlink socket in every node's namespace and starts
// reading.
func StartSampler(cfg SamplerConfig) (*Sampler, error) {
	if cfg.Every == 0 {
		cfg.Every = 10 * time.Millisecond
	}
	if cfg.Lifetime == 0 {
		cfg.Lifetime = 2 * time.Hour
	}
	if cfg.Every < 0 || cfg.Every > 10*time.Millisecond {
		return nil, fmt.Errorf("holder sampler: every %s: want up to 10ms", cfg.Every)
	}
	if !cfg.VIP.Is4() {
		return nil, fmt.Errorf("holder sampler: VIP %s: want an IPv4 address", cfg.VIP)
	}
	var hs []nsHandle
	closeAll := func() {
		for _, h := range hs {
			h.h.Close()
		}
	}
	for _, n := range cfg.Nodes {
		ns, err := netns.GetFromPath(filepath.Join("/run/netns", n.Netns))
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("holder sampler: namespace of %s: %w", n.Name, err)
		}
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		ns.Close()
		if err != nil {
			closeAll()
			return nil, fmt.Errorf("holder sampler: netlink in %s: %w", n.Name, err)
		}
		hs = append(hs, nsHandle{n.Name, h})
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.Lifetime)
	s := &Sampler{vip: net.IP(cfg.VIP.AsSlice()), cancel: cancel, done: make(chan struct{}), ignored: map[string]bool{}}
	go func() {
		defer close(s.done)
		defer closeAll()
		s.run(ctx, hs, cfg.Every)
	}()
	return s, nil
}

func (s *Sampler) run(ctx context.Context, hs []nsHandle, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		var holding []string
		for _, h := range hs {
			if s.isIgnored(h.name) {
				continue
			}
			if s.holds(h.h) {
				holding = append(holding, h.name)
			}
		}
		now := time.Now()
		s.mu.Lock()
		s.n++
		s.gap = max(s.gap, now.Sub(last))
		s.tl.Add(now, holding)
		s.mu.Unlock()
		last = now
	}
}

// holds reports whether the namespace of h holds the floating IP. A node
// whose addresses cannot be read (being revived) holds nothing.
func (s *Sampler) holds(h *netlink.Handle) bool {
	addrs, err := h.AddrList(nil, netlink.FAMILY_V4)
	if err != nil {
		return false
	}
	for _, a := range addrs {
		if a.IP.Equal(s.vip) {
			return true
		}
	}
	return false
}

func (s *Sampler) isIgnored(node string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ignored[node]
}

// Ignore stops counting node as a holder: it is powered off (a node kill
// leaves the address on a frozen machine with its cables cut, which holds
// nothing a client can reach). Watch undoes it.
func (s *Sampler) Ignore(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ignored[node] = true
}

// Watch counts node as a holder again.
func (s *Sampler) Watch(node string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.ignored, node)
}

// Timeline returns a copy of what the sampler has seen so far, with the
// number of readings and the longest interval between two of them.
func (s *Sampler) Timeline() (tl Timeline, readings int, gap time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Timeline{spans: s.tl.Spans()}, s.n, s.gap
}

// Stop ends the sampler and waits for it. It is idempotent.
func (s *Sampler) Stop() {
	s.stop.Do(func() {
		s.cancel()
		<-s.done
	})
}
