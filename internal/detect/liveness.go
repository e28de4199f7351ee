package detect

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"
)

// Heartbeats is the source of the UDP layer. *Detector is one.
type Heartbeats interface {
	// Snapshot returns every peer as its heartbeats show it now.
	// Concurrency-safe.
	Snapshot() Snapshot
}

// LivenessConfig configures a Liveness. Judge and Heartbeats are required.
type LivenessConfig struct {
	Judge      *Judge // owned by the Liveness from now on
	Heartbeats Heartbeats
	// Tick is how often Run judges, logs changes and signals Changes; 0
	// means the Judge's Timing.HeartbeatInterval.
	Tick time.Duration
	Log  *slog.Logger     // nil means discard
	Now  func() time.Time // nil means time.Now
}

// Liveness is where the layers meet, for the daemon: Prober and Checker
// send their observations to it (it is their Sink), it reads the heartbeat
// layer from a Detector, and it asks its Judge for verdicts. It is safe for
// concurrent use.
type Liveness struct {
	hb      Heartbeats
	tick    time.Duration
	log     *slog.Logger
	now     func() time.Time
	changes chan struct{}

	mu    sync.Mutex
	judge *Judge
	last  []Verdict // what Run last logged
}

// NewLiveness returns a Liveness over cfg.Judge.
func NewLiveness(cfg LivenessConfig) (*Liveness, error) {
	if cfg.Judge == nil || cfg.Heartbeats == nil {
		return nil, errors.New("detect: invalid liveness config: judge and heartbeats are required")
	}
	l := &Liveness{hb: cfg.Heartbeats, tick: cfg.Tick, log: cfg.Log, now: cfg.Now, judge: cfg.Judge,
		changes: make(chan struct{}, 1)}
	if l.tick == 0 {
		l.tick = cfg.Judge.cfg.Timing.HeartbeatInterval
	}
	if l.tick <= 0 {
		return nil, errors.New("detect: invalid liveness config: tick must be positive")
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if l.now == nil {
		l.now = time.Now
	}
	return l, nil
}

// Observe records o (see Judge.Observe). Concurrency-safe, non-blocking
// but for a short lock: it is the Sink of a Prober and a Checker.
func (l *Liveness) Observe(o Observation) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.judge.Observe(o)
}

// Verdicts returns the verdict on every peer now, sorted by name, with the
// heartbeat layer read from the Detector at this moment. Concurrency-safe.
func (l *Liveness) Verdicts() []Verdict {
	snap := l.hb.Snapshot() // outside our lock: the Detector has its own
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now() // read under the lock, so that the Judge sees time in order
	l.judge.Heartbeats(snap.Peers, now)
	return l.judge.Verdicts(now)
}

// Changes returns a channel that receives a value whenever Run sees a
// peer's State or damping change. It holds one value; a slow reader sees
// one value for many changes and should then call Verdicts.
func (l *Liveness) Changes() <-chan struct{} { return l.changes }

// Run judges every Tick until ctx is cancelled, logs each Change (a node's
// state, a link, damping) and signals Changes when a node's state or
// damping changed. It returns nil when ctx ends.
func (l *Liveness) Run(ctx context.Context) error {
	t := time.NewTicker(l.tick)
	defer t.Stop()
	for {
		vs := l.Verdicts()
		notify := false
		for _, c := range Diff(l.swapLast(vs), vs) {
			switch c.Kind {
			case ChangeLink:
				l.log.Info("link state changed", "node", c.Peer, "link", c.Link, "state", c.To, "reason", c.Reason)
			case ChangeDamping:
				notify = true
				l.log.Info("node damping changed", "node", c.Peer, "state", c.To, "reason", c.Reason)
			default:
				notify = true
				l.log.Info("node state changed", "node", c.Peer, "state", c.To, "reason", c.Reason)
			}
		}
		if notify {
			select {
			case l.changes <- struct{}{}:
			default:
			}
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (l *Liveness) swapLast(vs []Verdict) []Verdict {
	l.mu.Lock()
	defer l.mu.Unlock()
	prev := l.last
	l.last = vs
	return prev
}
