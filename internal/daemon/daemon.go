// Package daemon builds a vigil node from its configuration and owns the
// lifetime of everything it starts: the API listeners, the heartbeat
// detector, the raft store and the coordinator. It is the only package
// that imports all the others.
package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/alert"
	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/coordinator"
	"github.com/vigil-ha/vigil/internal/detect"
	"github.com/vigil-ha/vigil/internal/executor"
	"github.com/vigil-ha/vigil/internal/metrics"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/quorum"
	"github.com/vigil-ha/vigil/internal/scheduler"
	"github.com/vigil-ha/vigil/internal/store"
	"github.com/vigil-ha/vigil/internal/watchdog"
)

// Config is what a node needs to run.
type Config struct {
	Cluster model.Config
	Self    model.NodeID
	Socket  string // the root-only unix socket of the local API
	// Watchdog is the watchdog device to feed ("" for none: then a daemon
	// that hangs or is killed leaves its resources running past its
	// lease, and the daemon says so). WatchdogTimeout is the device's
	// timeout, at most a quarter of the lease.
	Watchdog        string
	WatchdogTimeout time.Duration
	Log             *slog.Logger
}

// Run runs the node until ctx is cancelled (SIGTERM in the CLI), then shuts
// every part down in order and returns. It returns an error only if the node
// could not start or a part failed.
func Run(ctx context.Context, cfg Config) error {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	self, ok := cfg.Cluster.Node(cfg.Self)
	if !ok {
		return fmt.Errorf("node %q is not in the configuration", cfg.Self)
	}
	log := cfg.Log.With("node", string(cfg.Self))
	var wd *watchdog.Device
	switch {
	case self.Witness && cfg.Watchdog != "":
		return fmt.Errorf("node %s is a witness: it holds no lease and runs nothing, so it needs no watchdog", cfg.Self)
	case self.Witness:
		log.Info("witness: this node votes, and may lead, but runs no resources")
	case cfg.Watchdog == "":
		log.Warn("no watchdog: if this daemon hangs or is killed, its resources outlive its lease; give --watchdog")
	default:
		if cfg.WatchdogTimeout <= 0 || cfg.WatchdogTimeout > cfg.Cluster.Timing.Lease/4 {
			return fmt.Errorf("watchdog timeout %s: must be positive and at most a quarter of the lease (%s)", cfg.WatchdogTimeout, cfg.Cluster.Timing.Lease)
		}
		d, err := watchdog.Open(cfg.Watchdog)
		if err != nil {
			return err
		}
		wd = d
		defer wd.Close() // armed, unless shutdown disarmed it
	}
	// Read before anything opens the log: bolt locks its file.
	hadState, err := store.HasState(cfg.Cluster.DataDir)
	if err != nil {
		return err
	}
	n := &node{cfg: cfg, self: self, log: log, hadState: hadState, watchdog: wd,
		token: api.DeriveToken(cfg.Cluster.Cluster, cfg.Cluster.Secret), journal: newJournal(cfg.Self)}
	if cfg.Cluster.Fencing.TwoNode {
		n.pair = newPair(n)
	}
	if n.dial, err = newDialer(cfg.Cluster, cfg.Self, n.token); err != nil {
		return err
	}

	// Leases ride on the heartbeats: every node grants its peers theirs,
	// and a node that runs resources holds its own from their grants.
	leaseCfg := leaseConfig(cfg.Cluster.Timing)
	if n.grants, err = newGrants(n, leaseCfg, cfg.Cluster.DataDir); err != nil {
		return err
	}
	if !self.Witness {
		n.keeper = newLeaseKeeper(n, leaseCfg, log.With("component", "lease"))
	}
	det, err := detect.New(detect.Config{
		Self: cfg.Self, Nodes: cfg.Cluster.Nodes, Port: cfg.Cluster.Ports.Heartbeat,
		Key: detect.NewKey(cfg.Cluster.Cluster, cfg.Cluster.Secret), Timing: cfg.Cluster.Timing,
		Log: log.With("component", "detect"), Lease: n.grants,
	})
	if err != nil {
		return err
	}
	n.det = det
	// Detection layers: heartbeats (det), a TCP probe per link that the
	// peer's daemon itself must answer, and application checks; a peer is
	// offline only when enough of them agree (detect.Judge).
	d := cfg.Cluster.Detection
	judge, err := detect.NewJudge(detect.JudgeConfig{Self: cfg.Self, Nodes: cfg.Cluster.Nodes, Timing: cfg.Cluster.Timing,
		Require: d.Require, Window: d.Window, Damping: detect.Damping{Penalty: d.Damping.Penalty, Suppress: d.Damping.Suppress,
			Reuse: d.Damping.Reuse, HalfLife: d.Damping.HalfLife, MaxHold: d.Damping.MaxHold}}, time.Now())
	if err != nil {
		return err
	}
	live, err := detect.NewLiveness(detect.LivenessConfig{Judge: judge, Heartbeats: det, Log: log.With("component", "detect")})
	if err != nil {
		return err
	}
	prober, err := detect.NewProber(detect.ProberConfig{Self: cfg.Self, Nodes: cfg.Cluster.Nodes, Port: cfg.Cluster.Ports.API,
		Interval: d.ProbeInterval, Timeout: d.ProbeTimeout, Timing: cfg.Cluster.Timing, Ping: api.PingPath, Sink: live,
		Log: log.With("component", "probe")})
	if err != nil {
		return err
	}
	checks := make([]detect.Check, len(d.Checks))
	for i, c := range d.Checks {
		checks[i] = detect.Check{Name: c.Name, Node: c.Node, TCP: c.TCP, HTTP: c.HTTP, Status: c.Status, Interval: c.Interval, Timeout: c.Timeout}
	}
	checker, err := detect.NewChecker(detect.CheckerConfig{Self: cfg.Self, Nodes: cfg.Cluster.Nodes, Checks: checks,
		Timing: cfg.Cluster.Timing, Sink: live, Log: log.With("component", "check")})
	if err != nil {
		return err
	}
	alerts, err := alert.New(alert.Config{Alerts: cfg.Cluster.Alerts, Cluster: cfg.Cluster.Cluster, Self: cfg.Self,
		Log: log.With("component", "alert")})
	if err != nil {
		return err
	}
	n.live = live
	prom, err := n.metrics()
	if err != nil {
		return err
	}

	// The API comes up first: peers that start at the same moment ask it
	// whether this node has raft state before they decide to bootstrap.
	servers, err := n.listen()
	if err != nil {
		return err
	}
	defer func() {
		for _, s := range servers {
			s.Close()
		}
	}()

	g, gctx := errgroup.WithContext(ctx)
	for _, s := range servers {
		g.Go(func() error { return s.serve() })
	}
	g.Go(func() error { return det.Run(gctx) })
	g.Go(func() error { return live.Run(gctx) })
	g.Go(func() error { return prober.Run(gctx) })
	g.Go(func() error { return checker.Run(gctx) })
	g.Go(func() error { return alerts.Run(gctx, n.alertEvents(gctx)) })
	g.Go(func() error { return prom.watcher.Run(gctx) })
	g.Go(func() error {
		n.journal.follow(gctx, n.getStore)
		return nil
	})
	g.Go(func() error {
		(&observer{}).watch(gctx, n.journal, n, pollTick(cfg.Cluster.Timing))
		return nil
	})

	bootstrap, err := n.shouldBootstrap(gctx)
	if err != nil {
		return err
	}
	st, err := store.Open(store.Config{
		Cluster: cfg.Cluster.Cluster, Secret: cfg.Cluster.Secret, Self: cfg.Self,
		Nodes: cfg.Cluster.Nodes, Port: cfg.Cluster.Ports.Raft, DataDir: cfg.Cluster.DataDir,
		Timing: cfg.Cluster.Timing, Bootstrap: bootstrap, Log: log,
	})
	if err != nil {
		return err
	}
	n.setStore(st)
	defer func() {
		if err := st.Close(); err != nil {
			log.Warn("close store", "err", err)
		}
	}()

	g.Go(func() error {
		n.yieldLeadership(gctx, time.Second)
		return nil
	})
	takeovers := newTakeovers(n, leaseCfg, log.With("component", "takeover"))
	g.Go(func() error {
		takeovers.Run(gctx, pollTick(cfg.Cluster.Timing))
		return nil
	})
	coord, err := coordinator.New(coordinator.Config{
		Self: cfg.Self, Store: st, Observe: n.observe, Boots: n.boots, Changed: live.Changes(),
		Tick: pollTick(cfg.Cluster.Timing), Log: log.With("component", "coordinator"),
		Cluster: cfg.Cluster, Schedule: n.schedule, Lease: leaseCfg, Fence: n.fence,
		Ended: takeovers.Ended, EndedChanged: takeovers.Changed(),
	})
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.coordinator = coord // the API reads it
	n.mu.Unlock()
	g.Go(func() error { return coord.Run(gctx) })
	if p := n.getPair(); p != nil {
		g.Go(func() error { return p.Run(gctx, cfg.Cluster.Timing.HeartbeatInterval) })
	}

	reg, err := agents(cfg.Cluster.DataDir, log) // a witness's only check what `config apply` is given
	if err != nil {
		return err
	}
	defer closeAgents(reg, log)
	n.setAgents(reg)
	// A witness holds no lease and has no executor.
	var ex *executor.Executor
	feedCtx, stopFeeding := context.WithCancel(context.Background())
	feeding := make(chan struct{})
	defer func() {
		stopFeeding()
		<-feeding
	}()
	if self.Witness {
		close(feeding)
	} else {
		keeper := n.keeper
		ex, err = executor.New(executor.Config{
			Self: cfg.Self, Cluster: cfg.Cluster, State: st, Agents: reg, Reporter: reporter{n},
			Quorum: func() bool { return n.vote(n.observe()).Quorate }, Boot: det.Boot(), Lease: keeper,
			Tick: executorTick, Log: log.With("component", "executor"), Ops: prom.operations,
		})
		if err != nil {
			close(feeding)
			return err
		}
		g.Go(func() error { return ex.Run(gctx) })
		g.Go(func() error {
			return keeper.Run(gctx, pollTick(cfg.Cluster.Timing), cfg.Cluster.Timing.HeartbeatInterval, func() bool { return holds(ex.Local()) || ex.Busy() })
		})
		// The watchdog is fed outside the group: it must be fed until the
		// shutdown below has stopped every resource.
		go func() {
			defer close(feeding)
			n.feed(feedCtx, keeper, ex)
		}()
	}
	log.Info("node started", "cluster", cfg.Cluster.Cluster, "profile", cfg.Cluster.Timing.Profile,
		"bootstrap", bootstrap, "socket", cfg.Socket)

	// Stop the listeners once the context ends, so that serve returns.
	g.Go(func() error {
		<-gctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range servers {
			_ = s.srv.Shutdown(shutdown)
		}
		return nil
	})
	err = g.Wait()
	log.Info("node stopping", "err", err)
	// Invariant 1: the lease ends with this daemon, so what runs here
	// stops first; only then may the watchdog be disarmed.
	stopCtx, cancel := context.WithTimeout(context.Background(), shutdownStopTimeout)
	defer cancel()
	if ex != nil {
		if serr := ex.StopAll(stopCtx); serr != nil {
			log.Error("shutdown: resources still running; leaving the watchdog armed", "err", serr)
			return errors.Join(err, serr)
		}
	}
	stopFeeding()
	<-feeding
	if wd != nil {
		if derr := wd.Disarm(); derr != nil {
			log.Warn("disarm watchdog", "err", derr)
		}
	}
	return err
}

// shutdownStopTimeout bounds the stops of a clean shutdown; each stop also
// has its own timeout.
const shutdownStopTimeout = 2 * time.Minute

// node is the running system: what the API reads.
type node struct {
	cfg  Config
	self model.Node
	log  *slog.Logger
	det  *detect.Detector
	live *detect.Liveness // the verdicts over every detection layer
	reg  *registry        // metrics
	// hadState: the data directory held raft state when the node started.
	hadState bool
	token    string // the cluster's API token
	dial     dialer // this node's clients of its peers' APIs

	watchdog *watchdog.Device // nil: none

	mu     sync.Mutex
	store  *store.Store   // nil until opened
	agents agent.Registry // nil until built
	// keeper holds this node's lease (nil on a witness); grants are the
	// leases this node grants its peers. Both are set before anything runs.
	keeper *leaseKeeper
	grants *grants
	// coordinator is the leader's loop, for the API (nil until built).
	coordinator *coordinator.Coordinator
	// pair runs a two-node cluster's fence race (nil unless two_node).
	pair *pair
	// journal is the event history (set before anything runs).
	journal *journal
}

// pollTick is how often the loops that events also wake (the coordinator,
// the takeover rounds, the lease keeper, the journal's observer) look
// anyway: the heartbeat interval, but no more than ten times a second.
func pollTick(t model.Timing) time.Duration { return max(t.HeartbeatInterval, 100*time.Millisecond) }

// executorTick is how often the executor reconciles when nothing changes.
// Changes wake it at once; the tick only bounds how late a retry comes.
const executorTick = 500 * time.Millisecond

// schedule places resources for the coordinator. Quorum is this node's
// own count, so that a leader which can no longer see a majority follows
// no-quorum-policy even before raft notices (invariant 4).
func (n *node) schedule(cfg model.Config, st model.ClusterState, now time.Time, held map[model.NodeID]time.Time) model.Plan {
	cfg.Constraints.Locations = append(slices.Clip(cfg.Constraints.Locations), damping(cfg, st, n.damped())...)
	return scheduler.Schedule(scheduler.Input{Config: cfg, State: st, Quorum: n.vote(n.observe()).Quorate, Now: now, Held: held})
}

// damped are the peers the detection layers damp, with why (none when
// the configuration turns damping off).
func (n *node) damped() map[model.NodeID]string {
	out := map[model.NodeID]string{}
	if n.cfg.Cluster.Detection.Damping.Off {
		return out
	}
	for _, v := range n.live.Verdicts() {
		if v.Damped {
			out[v.Peer] = v.Damp.Reason
		}
	}
	return out
}

// dampedScore is the location score that keeps new work off a damped
// node: far below any score an operator writes, yet not -INFINITY, so a
// damped node still runs what no other node can. Under a storm of
// partitions every node may be damped at once, and damping must never
// turn a failover into an outage.
const dampedScore model.Score = -100_000

// damping keeps new work off the damped nodes: a dampedScore location on
// each damped node for every top-level resource and group that does not
// run there now. What runs there stays (moving it would be the very bounce
// damping is for); what does not goes elsewhere if it can, until the
// damping ends. Pure.
func damping(cfg model.Config, st model.ClusterState, damped map[model.NodeID]string) []model.Location {
	if len(damped) == 0 {
		return nil
	}
	units := map[model.ResourceID][]model.ResourceID{} // top-level id -> its resources
	for _, g := range cfg.Groups {
		units[g.ID] = g.Members
	}
	for _, r := range cfg.Resources {
		if r.Group == "" {
			units[r.ID] = []model.ResourceID{r.ID}
		}
	}
	var out []model.Location
	for _, node := range slices.Sorted(maps.Keys(damped)) {
		for _, id := range slices.Sorted(maps.Keys(units)) {
			if slices.ContainsFunc(units[id], func(r model.ResourceID) bool { return st.MayRun(r) == node }) {
				continue
			}
			out = append(out, model.Location{ID: "damped-" + string(node) + "-" + string(id), Resource: id, Node: node, Score: dampedScore})
		}
	}
	return out
}

func (n *node) setStore(s *store.Store) {
	n.mu.Lock()
	n.store = s
	n.mu.Unlock()
}

func (n *node) setAgents(reg agent.Registry) {
	n.mu.Lock()
	n.agents = reg
	n.mu.Unlock()
}

func (n *node) getAgents() agent.Registry {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.agents
}

func (n *node) getPair() *pair {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.pair
}

func (n *node) getStore() *store.Store {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.store
}

// observe is the liveness of every node as this node's detection layers
// judge it.
func (n *node) observe() map[model.NodeID]model.NodeState {
	out := map[model.NodeID]model.NodeState{n.cfg.Self: model.NodeOnline}
	for _, v := range n.live.Verdicts() {
		out[v.Peer] = v.State
	}
	return out
}

// boots is the incarnation of every node as this node's heartbeats see it.
func (n *node) boots() map[model.NodeID]uint64 {
	out := map[model.NodeID]uint64{n.cfg.Self: n.det.Boot()}
	for _, p := range n.det.Snapshot().Peers {
		out[p.Name] = p.Boot
	}
	return out
}

// vote counts quorum from this node's view: a peer that is not offline is
// present. Invariant 4 (no quorum, no action) rests on it.
func (n *node) vote(obs map[model.NodeID]model.NodeState) quorum.Vote {
	var voters []string
	present := map[string]bool{}
	for _, id := range n.voters() {
		voters = append(voters, string(id))
		present[string(id)] = obs[id] != model.NodeOffline && obs[id] != ""
	}
	return quorum.Count(string(n.cfg.Self), voters, present)
}

// voters are the nodes whose votes count: every node of the
// configuration, but in a two-node cluster the voters of raft's
// configuration, which is this node alone once it has fenced its peer
// (pair) and until the peer is back.
func (n *node) voters() []model.NodeID {
	if n.cfg.Cluster.Fencing.TwoNode {
		if st := n.getStore(); st != nil {
			if v, err := st.Voters(); err == nil && len(v) > 0 {
				return v
			}
		}
	}
	ids := make([]model.NodeID, len(n.cfg.Cluster.Nodes))
	for i, nd := range n.cfg.Cluster.Nodes {
		ids[i] = nd.Name
	}
	return ids
}

// shouldBootstrap decides whether this node may bootstrap the cluster. A
// node with raft state never needs to. A node without it bootstraps unless
// a peer answers that it has state: then the cluster exists, this node's
// data was wiped, and it must join (wait for the leader) instead.
func (n *node) shouldBootstrap(ctx context.Context) (bool, error) {
	if n.hadState {
		return false, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	found := make(chan model.NodeID, len(n.cfg.Cluster.Nodes)*n.cfg.Cluster.Links()) // one answer per peer address at most
	for _, peer := range n.cfg.Cluster.Nodes {
		if peer.Name == n.cfg.Self {
			continue
		}
		for _, a := range peer.Addresses {
			wg.Go(func() {
				c, err := n.dial.client(peer.Name, a, time.Second)
				if err != nil {
					return
				}
				defer c.Close()
				if s, err := c.RaftState(ctx); err == nil && s.HasState {
					found <- peer.Name
				}
			})
		}
	}
	wg.Wait()
	close(found)
	if peer, ok := <-found; ok {
		n.log.Info("no local raft state but the cluster exists: joining", "peer", peer)
		return false, nil
	}
	return true, nil
}

// server is one API listener.
type server struct {
	l   net.Listener
	srv *http.Server
}

func (s server) serve() error {
	if err := s.srv.Serve(s.l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("api on %s: %w", s.l.Addr(), err)
	}
	return nil
}

func (s server) Close() { s.srv.Close() }

// listen opens the unix socket (no token: only root can connect) and one
// TCP listener per node address (bearer token).
func (n *node) listen() ([]server, error) {
	var out []server
	fail := func(err error) ([]server, error) {
		for _, s := range out {
			s.l.Close()
		}
		return nil, err
	}
	mk := func(l net.Listener, h *api.Handler, listener string) server {
		srv := &http.Server{Handler: n.reg.requests.Wrap(withDashboard(h), listener), ReadHeaderTimeout: 5 * time.Second}
		srv.RegisterOnShutdown(h.Close) // live streams end with the server
		return server{l: l, srv: srv}
	}
	ul, err := api.ListenUnix(n.cfg.Socket)
	if err != nil {
		return fail(err)
	}
	mh := metrics.Handler(n.reg.reg)
	uh := api.NewHandler(n, "")
	uh.Mount("GET /metrics", mh)
	out = append(out, mk(ul, uh, "unix"))
	// One handler serves every TCP listener, with the cluster token, the
	// configured role tokens and, per the api section, TLS; /metrics is
	// behind it like the rest.
	acc := n.cfg.Cluster.API
	srvTLS, err := api.ServerTLS(acc, string(n.cfg.Self))
	if err != nil {
		return fail(err)
	}
	h, err := api.NewHandlerWith(n, api.Auth{ClusterToken: n.token, Tokens: acc.Tokens, TLSMode: acc.TLSMode})
	if err != nil {
		return fail(err)
	}
	h.Mount("GET /metrics", mh)
	n.reg.requests.Refused("tcp", "unauthenticated", h.Refused.Load)
	n.reg.requests.Refused("tcp", "forbidden", h.Forbidden.Load)
	for _, a := range n.self.Addresses {
		addr := net.JoinHostPort(a.String(), strconv.Itoa(int(n.cfg.Cluster.Ports.API)))
		l, err := net.Listen("tcp", addr)
		if err != nil {
			return fail(fmt.Errorf("api listen: %w", err))
		}
		out = append(out, mk(api.Listen(l, srvTLS), h, addr))
	}
	return out, nil
}
