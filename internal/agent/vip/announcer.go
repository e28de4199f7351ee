package vip

import (
	"context"
	"errors"
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// errClosed is returned by Start after Close.
var errClosed = errors.New("vip agent closed")

// startAnnouncer starts the goroutine that finishes the start burst for p
// on ifc (the first announcement was Start's) and then refreshes it.
func (a *Agent) startAnnouncer(id model.ResourceID, ifc string, p netip.Prefix, s spec) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errClosed
	}
	ctx, cancel := context.WithCancel(a.life)
	an := &announcer{cancel: cancel, done: make(chan struct{})}
	a.announcer[id] = an
	go func() {
		defer close(an.done)
		a.announce(ctx, id, ifc, p, s)
	}()
	return nil
}

// stopAnnouncer ends id's announcer, if any, and waits for it, so that no
// announcement goes out after it returns.
func (a *Agent) stopAnnouncer(id model.ResourceID) {
	a.mu.Lock()
	an := a.announcer[id]
	delete(a.announcer, id)
	a.mu.Unlock()
	if an != nil {
		an.cancel()
		<-an.done
	}
}

// announce sends the rest of the burst (arpCount-1 announcements,
// arpInterval apart), then one announcement every refresh interval until
// ctx ends. A refresh first checks that p is still on ifc: an address
// removed behind vigil's back is not announced (Monitor reports it
// stopped, and recovery is the coordinator's decision).
func (a *Agent) announce(ctx context.Context, id model.ResourceID, ifc string, p netip.Prefix, s spec) {
	log := a.log.With("resource", id, "address", p, "interface", ifc)
	failed := false // log a failing announcement once, not every time
	send := func() {
		err := a.ops.Announce(ifc, p.Addr())
		switch {
		case err != nil && !failed:
			log.Warn("vip announcement failed", "err", err)
		case err == nil && failed:
			log.Info("vip announcement works again")
		}
		failed = err != nil
	}
	wait := func(d time.Duration) bool {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	for range s.arpCount - 1 {
		if !wait(s.arpInterval) {
			return
		}
		send()
	}
	if s.refresh == 0 {
		return
	}
	gone := false
	for wait(s.refresh) {
		links, err := a.ops.Addrs()
		if err != nil {
			log.Warn("vip refresh: cannot list addresses", "err", err)
			continue
		}
		if !has(links[ifc], p) {
			if !gone {
				log.Warn("vip refresh: address is gone; not announcing it")
			}
			gone = true
			continue
		}
		gone = false
		send()
	}
}
