package metrics

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// WatcherConfig is what NewWatcher needs.
type WatcherConfig struct {
	Registry *prometheus.Registry // required
	Source   Source               // required
	// Interval is how often the Source is polled; zero means 250ms. It is
	// the resolution of the failover durations.
	Interval time.Duration
}

// DefaultInterval is the Watcher's poll interval when none is given.
const DefaultInterval = 250 * time.Millisecond

// Watcher polls a Source and counts what changes between snapshots:
// leader changes, node transitions, resource moves, failovers and fence
// actions. Tracker.Step decides; the Watcher only polls and counts.
type Watcher struct {
	src      Source
	interval time.Duration
	tracker  Tracker

	leaderChanges prometheus.Counter
	transitions   *prometheus.CounterVec
	moves         *prometheus.CounterVec
	failover      *prometheus.HistogramVec
	fences        *prometheus.CounterVec
}

// NewWatcher returns a Watcher whose metrics are registered on
// cfg.Registry. It polls nothing until Run.
func NewWatcher(cfg WatcherConfig) (*Watcher, error) {
	if cfg.Registry == nil || cfg.Source == nil {
		return nil, fmt.Errorf("metrics watcher: registry and source are required")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("metrics watcher: negative interval %s", cfg.Interval)
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultInterval
	}
	w := &Watcher{
		src:      cfg.Source,
		interval: cfg.Interval,
		leaderChanges: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "vigil_leader_changes_total",
			Help: "Times this node saw a raft leader other than the last one it knew.",
		}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_node_transitions_total",
			Help: "Changes of a member's state as this node's heartbeats see it, by the state entered.",
		}, []string{"node", "to"}),
		moves: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_resource_moves_total",
			Help: "Times a resource started on a node other than the one it last ran on.",
		}, []string{"resource"}),
		failover: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_failover_duration_seconds",
			Help: "Outages of placed resources: from the last poll that saw a resource started to the first that sees it started again, on any node.",
			// From a tenth of a second to a minute: detection, lease and
			// start times of a LAN or WAN profile, and cloud VIP moves.
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2, 3, 5, 7.5, 10, 15, 20, 30, 45, 60},
		}, []string{"resource"}),
		fences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_fence_actions_total",
			Help: "Fencings of a node that ended, by outcome, as this node's status shows them.",
		}, []string{"node", "ok"}),
	}
	for _, c := range []prometheus.Collector{w.leaderChanges, w.transitions, w.moves, w.failover, w.fences} {
		if err := cfg.Registry.Register(c); err != nil {
			return nil, fmt.Errorf("metrics watcher: %w", err)
		}
	}
	return w, nil
}

// Run polls the Source every interval until ctx ends, then returns nil.
// Call it once, from the goroutine that owns the Watcher.
func (w *Watcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	w.observe(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case now := <-t.C:
			w.observe(now)
		}
	}
}

// observe takes one snapshot at now and counts what changed.
func (w *Watcher) observe(now time.Time) {
	s := w.src.Status()
	// Every series a node or resource can have starts at 0, so that the
	// first increase shows in rate() and increase().
	for _, n := range s.Nodes {
		for _, st := range nodeStates {
			w.transitions.WithLabelValues(n.Name, st)
		}
		w.fences.WithLabelValues(n.Name, "true")
		w.fences.WithLabelValues(n.Name, "false")
	}
	for _, r := range s.Resources {
		w.moves.WithLabelValues(r.ID)
		w.failover.WithLabelValues(r.ID)
	}
	for _, u := range w.tracker.Step(s, now) {
		switch u.Kind {
		case LeaderChange:
			w.leaderChanges.Inc()
		case NodeTransition:
			w.transitions.WithLabelValues(u.Node, u.To).Inc()
		case ResourceMove:
			w.moves.WithLabelValues(u.Resource).Inc()
		case Failover:
			w.failover.WithLabelValues(u.Resource).Observe(u.Duration.Seconds())
		case FenceAction:
			w.fences.WithLabelValues(u.Node, strconv.FormatBool(u.OK)).Inc()
		}
	}
}
