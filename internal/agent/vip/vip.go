// Package vip runs floating IP addresses: a resource of kind "vip" puts an
// address on a local interface through netlink and announces it to the
// link with gratuitous ARP (IPv4) or unsolicited neighbour advertisements
// (IPv6), in a burst when it starts and then periodically for as long as it
// holds the address.
//
// The periodic re-announcement (refresh_interval, on by default, unlike
// keepalived's garp_master_refresh) is there because neighbours that kept
// a stale MAC through a split brain only learn the right one when the
// holder speaks again (keepalived issue #166).
//
// The refresh lives in the Agent, not in the kernel: an Agent that finds
// an address already held (after a daemon restart) reports it Running but
// does not announce it until Start is called for it again, which is
// idempotent and restarts the burst and the refresh.
//
// Parameters:
//
//	address           required  "198.18.0.100/24", or bare "198.18.0.100": the
//	                            prefix length of the interface subnet containing it
//	interface         optional  default: the interface with the longest subnet
//	                            containing the address (error if none, or a tie)
//	arp_count         5         announcements per start, 1..100
//	arp_interval      200ms     between them, 1ms..10s
//	refresh_interval  10s       re-announcement while held, 1s..24h; 0 disables
package vip

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sync"

	"github.com/vigil-ha/vigil/internal/model"
)

// Config configures an Agent. Zero fields take the documented defaults.
type Config struct {
	// Netns is the network namespace the agent manages addresses in, by its
	// name under /run/netns (as `ip netns` makes them). "" is the
	// namespace of the process.
	Netns string
	// Log receives address changes and announcement failures. Default:
	// discard.
	Log *slog.Logger
}

// Agent runs vip resources. It implements agent.Agent and is safe for
// concurrent use. It owns one goroutine per held address (the rest of the
// start burst, then the refresh); Stop and Close end them.
type Agent struct {
	ops      netOps
	closeOps func() error
	log      *slog.Logger

	// life is cancelled by Close; every announcer runs under it.
	life   context.Context
	cancel context.CancelFunc

	mu        sync.Mutex
	closed    bool
	announcer map[model.ResourceID]*announcer
}

// announcer is the goroutine that keeps announcing one held address.
type announcer struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// New returns an Agent for cfg, or an error if the namespace does not
// exist or netlink cannot be opened. Close releases it.
func New(cfg Config) (*Agent, error) {
	if cfg.Netns != "" {
		if err := checkNetns(cfg.Netns); err != nil {
			return nil, fmt.Errorf("vip config: Netns: %w", err)
		}
	}
	ops, err := newNetlinkOps(cfg.Netns)
	if err != nil {
		return nil, fmt.Errorf("vip config: %w", err)
	}
	return newAgent(ops, ops.Close, cfg.Log), nil
}

// newAgent returns an Agent over ops; closeOps (may be nil) is called by
// Close.
func newAgent(ops netOps, closeOps func() error, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	life, cancel := context.WithCancel(context.Background())
	return &Agent{
		ops:       ops,
		closeOps:  closeOps,
		log:       log,
		life:      life,
		cancel:    cancel,
		announcer: make(map[model.ResourceID]*announcer),
	}
}

// Validate checks r's parameters, naming every problem. It does not look
// at the node: an interface that does not exist here is Start's error.
func (a *Agent) Validate(r model.Resource) error {
	_, err := parse(r.Params)
	return err
}

// Start puts the address on its interface (replacing it if present),
// announces it once and returns; the other arp_count-1 announcements of the
// burst, arp_interval apart, and then one every refresh_interval follow in
// the background until Stop or Close. Starting a held address is nil and
// restarts the burst: a re-asserted VIP is announced again.
func (a *Agent) Start(ctx context.Context, r model.Resource) error {
	s, err := parse(r.Params)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s: not started: %w", r.ID, err)
	}
	links, err := a.ops.Addrs()
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	ifc, p, err := resolve(links, s)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	a.stopAnnouncer(r.ID)
	if err := a.ops.AddrAdd(ifc, p); err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	a.log.Info("vip added", "resource", r.ID, "address", p, "interface", ifc)
	if err := a.ops.Announce(ifc, p.Addr()); err != nil {
		// The address is here but the link may not know: say so, and let
		// recovery stop and start it (Stop removes the address).
		return fmt.Errorf("start %s: %s is on %s but was not announced: %w", r.ID, p, ifc, err)
	}
	if err := a.startAnnouncer(r.ID, ifc, p, s); err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	return nil
}

// Stop ends the announcements and removes the address. Stopping an address
// that is not there (or whose interface or subnet is not on this node) is
// nil. An error means the address may still be held.
func (a *Agent) Stop(ctx context.Context, r model.Resource) error {
	a.stopAnnouncer(r.ID)
	s, err := parse(r.Params)
	if err != nil {
		return fmt.Errorf("stop %s: cannot tell which address to remove: %w", r.ID, err)
	}
	links, err := a.ops.Addrs()
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	ifc, p, err := resolve(links, s)
	if errors.Is(err, errNoInterface) || errors.Is(err, errNoSubnet) {
		return nil // then the address cannot be here
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	if !has(links[ifc], p) {
		return nil
	}
	if err := a.ops.AddrDel(ifc, p); err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	a.log.Info("vip removed", "resource", r.ID, "address", p, "interface", ifc)
	return nil
}

// Monitor reports Running if the address, with its prefix length, is on
// its interface, and Stopped if not (including when the interface or a
// subnet for a bare address is missing here). It reports Failed when the
// parameters are bad, the interface is ambiguous, or netlink fails. It
// only reads; it does not check that announcements go out.
func (a *Agent) Monitor(ctx context.Context, r model.Resource) (model.Health, error) {
	s, err := parse(r.Params)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	links, err := a.ops.Addrs()
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	ifc, p, err := resolve(links, s)
	if errors.Is(err, errNoInterface) || errors.Is(err, errNoSubnet) {
		return model.HealthStopped, nil
	}
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	if has(links[ifc], p) {
		return model.HealthRunning, nil
	}
	return model.HealthStopped, nil
}

// Close stops every announcer, waits for them and releases netlink. The
// addresses stay where they are. Start fails after Close.
func (a *Agent) Close() error {
	a.mu.Lock()
	a.closed = true
	ids := make([]model.ResourceID, 0, len(a.announcer))
	for id := range a.announcer {
		ids = append(ids, id)
	}
	a.mu.Unlock()
	a.cancel()
	for _, id := range ids {
		a.stopAnnouncer(id)
	}
	if a.closeOps != nil {
		return a.closeOps()
	}
	return nil
}

func has(ps []netip.Prefix, p netip.Prefix) bool {
	for _, q := range ps {
		if q == p {
			return true
		}
	}
	return false
}
