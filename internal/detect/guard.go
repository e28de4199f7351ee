package detect

import (
	"errors"
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Sentinel errors of Guard.Accept, for errors.Is.
var (
	// ErrStale means the heartbeat's send time is further from the
	// receiver's clock than the allowed skew.
	ErrStale = errors.New("stale heartbeat")
	// ErrReplay means the heartbeat, or a newer one that supersedes it, was
	// already accepted: an old Boot, a repeated Seq, or a Seq too far behind.
	ErrReplay = errors.New("replayed heartbeat")
)

// Guard drops replayed and stale heartbeats. For each (sender, link) it
// remembers the newest Boot and a 64-entry sliding window of the sequence
// numbers accepted in it. A Guard grows by one entry per (sender, link) it
// accepts, so callers should feed it authenticated packets from known nodes
// only. The zero value is ready to use. A Guard is not safe for concurrent
// use.
type Guard struct {
	seen map[guardKey]*guardEntry
}

type guardKey struct {
	from model.NodeID
	link uint8
}

type guardEntry struct {
	boot uint64
	win  window
}

// Accept decides whether to accept h, received at now. It returns an error
// wrapping ErrStale if |now-SentAt| > maxSkew, or ErrReplay if h.Boot is
// older than the newest Boot accepted from that sender on that link, or its
// Seq was already accepted or is 64 or more behind the newest. A newer Boot
// starts a fresh window. Only an accepted heartbeat changes the Guard.
func (g *Guard) Accept(h Heartbeat, now time.Time, maxSkew time.Duration) error {
	if off := now.Sub(time.Unix(0, h.SentAt)); off > maxSkew || off < -maxSkew {
		return fmt.Errorf("heartbeat from %s link %d: send time %v off the local clock, beyond %v: %w", h.From, h.Link, off.Abs(), maxSkew, ErrStale)
	}
	k := guardKey{h.From, h.Link}
	e := g.seen[k]
	switch {
	case e == nil || h.Boot > e.boot:
		w := window{}
		if !w.add(h.Seq) {
			return fmt.Errorf("heartbeat from %s link %d: seq %d: %w", h.From, h.Link, h.Seq, ErrReplay)
		}
		if g.seen == nil {
			g.seen = make(map[guardKey]*guardEntry)
		}
		g.seen[k] = &guardEntry{boot: h.Boot, win: w}
		return nil
	case h.Boot < e.boot:
		return fmt.Errorf("heartbeat from %s link %d: boot %d older than %d: %w", h.From, h.Link, h.Boot, e.boot, ErrReplay)
	case !e.win.add(h.Seq):
		return fmt.Errorf("heartbeat from %s link %d: seq %d seen or behind window at %d: %w", h.From, h.Link, h.Seq, e.win.top, ErrReplay)
	}
	return nil
}
