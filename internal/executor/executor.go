// Package executor runs resource operations on its node. It watches the
// committed cluster state, decides (with the pure decide function) which
// operations bring this node in line with the coordinator's targets, runs
// them through the agents with their timeouts, keeps recurring monitors
// running, carries out the operators' restart requests for this node, and
// reports every result. One goroutine owns all of its state; each
// operation runs in a goroutine of its own and hands its result back.
package executor

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// State is where the executor reads the committed cluster state.
type State interface {
	// State returns the committed state as applied here. Concurrency-safe.
	State() model.ClusterState
	// Changed is closed at the next applied change. Concurrency-safe.
	Changed() <-chan struct{}
}

// Reporter delivers results to the coordinator, which commits them.
type Reporter interface {
	// Report blocks until the report is committed or ctx ends.
	Report(ctx context.Context, r store.Report) error
}

// Config is what New needs.
type Config struct {
	Self     model.NodeID
	Cluster  model.Config // resources, groups, constraints, options
	State    State
	Agents   agent.Registry
	Reporter Reporter
	// Quorum reports whether this node is in the quorate partition now.
	Quorum func() bool
	// Boot is this daemon's incarnation (its heartbeats' Boot). When set,
	// the executor starts and stops nothing until the committed state
	// records this node with this Boot; probes, monitors and the
	// no-quorum-policy stop go on meanwhile. 0 does not wait.
	Boot uint64
	// Lease, if not nil, is this node's lease (invariant 1): nothing starts
	// unless it may, and everything stops when it must.
	Lease Lease
	Tick  time.Duration    // how often to reconcile without a change; required
	Now   func() time.Time // nil: time.Now
	Log   *slog.Logger     // nil: discard
	// Ops, if not nil, is told how long each operation took and how it
	// ended (the daemon's vigil_operation_duration_seconds).
	Ops OpObserver
}

// OpObserver receives each operation's kind (the resource's), name
// (start, stop, monitor, probe, restart, release), result (ok, error,
// timeout) and duration.
type OpObserver interface {
	Observe(kind, op, result string, d time.Duration)
}

// opResult names how an operation ended, for an OpObserver.
func opResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "error"
}

// Lease is this node's lease on its resources, as the executor asks it.
type Lease interface {
	// MayStart reports whether a start begun at now could still be stopped
	// before the lease ends. Concurrency-safe, non-blocking.
	MayStart(now time.Time) bool
	// MustStop reports whether what runs here must stop at now so that it
	// stops before the lease ends. Concurrency-safe, non-blocking.
	MustStop(now time.Time) bool
	// StopAt is when MustStop turns true, as known now (zero if it is
	// true already). Concurrency-safe, non-blocking.
	StopAt() time.Time
}

// FatalFailCount is what a failed start adds to a fail count: as in
// Pacemaker (start-failure-is-fatal), a resource that cannot start on a node
// is banned there until cleanup or its failure-timeout.
const FatalFailCount = int(model.Infinity)

// Executor runs this node's operations.
type Executor struct {
	cfg Config

	mu    sync.Mutex                        // guards local for Local()
	local map[model.ResourceID]model.Health // owned by Run; copied under mu
	out   *outbox
	// ran is the definition each resource running here was started (or
	// found running) with; owned by Run. A configuration applied at run
	// time that removes a resource or changes its parameters is stopped
	// with the definition it runs with, not the new one.
	ran map[model.ResourceID]model.Resource
	// inflight counts the operations in flight, for Busy.
	inflight atomic.Int64
}

// New checks cfg and returns an executor.
func New(cfg Config) (*Executor, error) {
	switch {
	case cfg.Self == "" || cfg.State == nil || cfg.Reporter == nil || cfg.Quorum == nil:
		return nil, errors.New("executor: Self, State, Reporter and Quorum are required")
	case cfg.Tick <= 0:
		return nil, errors.New("executor: Tick must be positive")
	}
	// Resources applied at run time were validated by the daemon that
	// accepted them, against the same agents.
	if err := cfg.Agents.Validate(cfg.Cluster.Resources); err != nil {
		return nil, fmt.Errorf("executor: %w", err)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Executor{cfg: cfg, local: map[model.ResourceID]model.Health{}, out: newOutbox(), ran: map[model.ResourceID]model.Resource{}}, nil
}

// Busy reports whether an operation was in flight when the executor last
// dispatched. Concurrency-safe.
func (e *Executor) Busy() bool { return e.inflight.Load() > 0 }

// Local returns what this node last found for each resource here.
// Concurrency-safe.
func (e *Executor) Local() map[model.ResourceID]model.Health {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[model.ResourceID]model.Health, len(e.local))
	for k, v := range e.local {
		out[k] = v
	}
	return out
}

// awaited is a report the executor waits to see applied, at most until.
type awaited struct {
	state model.ResourceState
	until time.Time
}

// result is what an operation's goroutine hands back.
type result struct {
	op     op
	health model.Health // after the operation
	err    error
}

// Run reconciles until ctx ends, then waits for the operations in flight
// (they see ctx cancelled) and returns nil.
func (e *Executor) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { e.out.deliver(ctx, e.cfg.Reporter, e.cfg.Tick, e.cfg.Log) })
	results := make(chan result)
	busy := map[model.ResourceID]bool{}
	latest := map[model.ResourceID]uint64{} // the seq of the newest op dispatched per resource
	var seq uint64
	nextMonitor := map[model.ResourceID]time.Time{}
	tick := time.NewTicker(e.cfg.Tick)
	defer tick.Stop()
	// awaiting: resources whose newest report the replicated state does not
	// show yet. Deciding on them before it does would act on old news (a
	// second stop after a blocked one, a second recovery after a restart).
	awaiting := map[model.ResourceID]awaited{}
	// seen: the operators' restart counts dealt with; nil until the
	// cluster has committed this incarnation (see restarts).
	var seen map[model.ResourceID]uint64
	for {
		now := e.cfg.Now()
		st := e.cfg.State.State()
		waiting := map[model.ResourceID]bool{}
		for id, a := range awaiting {
			if rec := st.Resources[id]; rec.State == a.state || now.After(a.until) {
				delete(awaiting, id)
			} else {
				waiting[id] = true
			}
		}
		for id := range busy {
			waiting[id] = true
		}
		v := view{self: e.cfg.Self, cfg: st.Effective(e.cfg.Cluster), st: st, local: e.Local(), busy: waiting, quorum: e.cfg.Quorum(), boot: e.cfg.Boot}
		ops := reconfigure(v, e.ran)
		for _, o := range ops {
			v.busy[o.res.ID] = true
		}
		requested, next, lapsed := restarts(v, seen)
		seen = next
		for _, l := range lapsed {
			e.cfg.Log.Info("restart not done", "resource", l.resource, "reason", l.why)
		}
		for _, o := range requested {
			for _, r := range o.chain {
				v.busy[r.ID] = true
			}
		}
		ops = append(ops, requested...)
		ops = append(ops, decide(v)...)
		if !st.Nodes[e.cfg.Self].Maintenance {
			ops = append(ops, e.dueMonitors(v, nextMonitor, now)...)
		}
		var stopAt <-chan time.Time // wakes the loop when the lease must be given up
		var stopTimer *time.Timer
		if e.cfg.Lease != nil {
			ops = leaseGate(v, ops, e.ran, e.cfg.Lease.MayStart(now), e.cfg.Lease.MustStop(now))
			if at := e.cfg.Lease.StopAt(); !at.IsZero() {
				stopTimer = time.NewTimer(at.Sub(now))
				stopAt = stopTimer.C
			}
		}
		for i := range ops {
			seq++
			ops[i].seq = seq
			latest[ops[i].res.ID] = seq
			for _, r := range ops[i].chain {
				latest[r.ID] = seq
			}
		}
		for _, o := range ops {
			busy[o.res.ID] = true
			for _, r := range o.chain {
				busy[r.ID] = true
			}
			switch {
			case o.chain != nil:
				e.cfg.Log.Info("operation", "resource", o.res.ID, "op", o.kind, "reason", o.reason, "chain", chainIDs(o.chain))
			case o.kind != opMonitor:
				e.cfg.Log.Info("operation", "resource", o.res.ID, "op", o.kind, "reason", o.reason)
			}
			wg.Go(func() {
				for _, r := range e.run(ctx, o) {
					select {
					case results <- r:
					case <-ctx.Done():
						return
					}
				}
			})
		}
		e.inflight.Store(int64(len(busy)))
		changed := e.cfg.State.Changed()
		select {
		case <-ctx.Done():
			return nil
		case r := <-results:
			if latest[r.op.res.ID] != r.op.seq {
				if r.op.kind == opMonitor || r.op.kind == opProbe {
					e.cfg.Log.Info("stale monitor result dropped", "resource", r.op.res.ID, "op", r.op.kind, "health", r.health)
					break // a later op on it decides; it is still busy
				}
			} else {
				delete(busy, r.op.res.ID)
			}
			if rep := e.settle(r, nextMonitor); rep != nil {
				awaiting[rep.Resource] = awaited{state: rep.State, until: e.cfg.Now().Add(10 * e.cfg.Tick)}
			} else if errors.Is(r.err, errNotClaimed) {
				// Refused on a view older than the leader's: try again
				// once this node sees another's claim, or after a tick,
				// not at once.
				awaiting[r.op.res.ID] = awaited{state: model.ResourceStarting, until: e.cfg.Now().Add(e.cfg.Tick)}
			}
		case <-changed:
		case <-tick.C:
		case <-stopAt:
		}
		if stopTimer != nil {
			stopTimer.Stop()
		}
	}
}

// dueMonitors returns the monitors whose time has come, for resources that
// run here and are idle, and schedules the next ones.
func (e *Executor) dueMonitors(v view, next map[model.ResourceID]time.Time, now time.Time) []op {
	var out []op
	for _, r := range v.cfg.Resources {
		if v.busy[r.ID] || v.local[r.ID] != model.HealthRunning || r.Ops.MonitorInterval <= 0 {
			continue
		}
		due, ok := next[r.ID]
		if !ok {
			next[r.ID] = now.Add(r.Ops.MonitorInterval)
			continue
		}
		if !now.Before(due) {
			next[r.ID] = now.Add(r.Ops.MonitorInterval)
			out = append(out, op{kind: opMonitor, res: r, reason: "interval " + r.Ops.MonitorInterval.String()})
		}
	}
	return out
}

// run performs one operation with its timeouts and returns its result:
// one for each resource of an operator's restart, one otherwise. It
// touches no executor state.
func (e *Executor) run(ctx context.Context, o op) []result {
	if o.chain != nil {
		return e.restart(ctx, o)
	}
	return []result{e.runOne(ctx, o)}
}

// withTimeout runs f with a context that ends after d.
func withTimeout(ctx context.Context, d time.Duration, f func(context.Context) error) error {
	c, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	return f(c)
}

// restart carries out an operator's restart of o.chain: it stops the
// chain in reverse, then starts it in order, and returns what each
// resource amounts to. If a stop fails, that resource is blocked (as any
// failed stop), what stopped before it stays stopped and the rest is left
// running; if a start fails, that resource failed (as any failed start),
// and what comes after it stays stopped. The restart itself adds no fail
// count.
func (e *Executor) restart(ctx context.Context, o op) []result {
	n := len(o.chain)
	out := make([]result, n)
	as := func(i int, kind opKind, h model.Health, err error) {
		out[i] = result{op: op{kind: kind, res: o.chain[i], reason: o.reason, seq: o.seq}, health: h, err: err}
	}
	step := func(kind opKind, r model.Resource) error {
		e.cfg.Log.Info("restart step", "resource", r.ID, "op", kind, "reason", o.reason)
		a, err := e.cfg.Agents.Lookup(r)
		if err != nil {
			return err
		}
		if kind == opStop {
			return withTimeout(ctx, r.Ops.StopTimeout, func(c context.Context) error { return a.Stop(c, r) })
		}
		if err := e.claim(ctx, r); err != nil {
			return err
		}
		return withTimeout(ctx, r.Ops.StartTimeout, func(c context.Context) error { return a.Start(c, r) })
	}
	for i := n - 1; i >= 0; i-- {
		if err := step(opStop, o.chain[i]); err != nil {
			for j := range i {
				// Never stopped: it runs as before, which a monitor's
				// result says without a report.
				as(j, opMonitor, model.HealthRunning, nil)
			}
			as(i, opStop, model.HealthFailed, err)
			for j := i + 1; j < n; j++ {
				as(j, opStop, model.HealthStopped, nil)
			}
			return out
		}
	}
	for i := range n {
		if err := step(opStart, o.chain[i]); errors.Is(err, errNotClaimed) {
			for j := i; j < n; j++ {
				as(j, opStart, model.HealthStopped, err)
			}
			return out
		} else if err != nil {
			as(i, opStart, model.HealthFailed, err)
			for j := i + 1; j < n; j++ {
				as(j, opStop, model.HealthStopped, nil)
			}
			return out
		}
		as(i, opRestart, model.HealthRunning, nil)
	}
	return out
}

// runOne performs one operation on one resource with its timeout.
func (e *Executor) runOne(ctx context.Context, o op) (r result) {
	if e.cfg.Ops != nil {
		began := e.cfg.Now()
		defer func() { e.cfg.Ops.Observe(o.res.Kind, string(o.kind), opResult(r.err), e.cfg.Now().Sub(began)) }()
	}
	a, err := e.cfg.Agents.Lookup(o.res)
	if err != nil {
		return result{op: o, health: model.HealthFailed, err: err}
	}
	monitor := func() (model.Health, error) {
		var h model.Health
		err := withTimeout(ctx, o.res.Ops.MonitorTimeout, func(c context.Context) error {
			var err error
			h, err = a.Monitor(c, o.res)
			return err
		})
		return h, err
	}
	start := func() error {
		if err := e.claim(ctx, o.res); err != nil {
			return err
		}
		return withTimeout(ctx, o.res.Ops.StartTimeout, func(c context.Context) error { return a.Start(c, o.res) })
	}
	stop := func() error {
		return withTimeout(ctx, o.res.Ops.StopTimeout, func(c context.Context) error { return a.Stop(c, o.res) })
	}
	switch o.kind {
	case opProbe, opMonitor:
		h, err := monitor()
		return result{op: o, health: h, err: err}
	case opRelease:
		return result{op: o, health: model.HealthStopped}
	case opStart:
		if err := start(); errors.Is(err, errNotClaimed) {
			return result{op: o, health: model.HealthStopped, err: err}
		} else if err != nil {
			return result{op: o, health: model.HealthFailed, err: err}
		}
		return result{op: o, health: model.HealthRunning}
	case opStop:
		if err := stop(); err != nil {
			return result{op: o, health: model.HealthFailed, err: err}
		}
		return result{op: o, health: model.HealthStopped}
	case opRestart:
		if err := stop(); err != nil {
			return result{op: o, health: model.HealthFailed, err: fmt.Errorf("%w: %w", errStopFailed, err)}
		}
		if err := start(); errors.Is(err, errNotClaimed) {
			return result{op: o, health: model.HealthStopped, err: err}
		} else if err != nil {
			return result{op: o, health: model.HealthFailed, err: fmt.Errorf("start: %w", err)}
		}
		return result{op: o, health: model.HealthRunning}
	}
	return result{op: o, health: model.HealthFailed, err: fmt.Errorf("unknown operation %q", o.kind)}
}

// settle records a result locally and reports what the cluster must know.
// It returns the report it queued, if any.
func (e *Executor) settle(r result, nextMonitor map[model.ResourceID]time.Time) *store.Report {
	id := r.op.res.ID
	health := r.health
	if r.op.kind == opMonitor && health == model.HealthStopped {
		health = model.HealthFailed // it should run: its absence is a failure
	}
	e.mu.Lock()
	e.local[id] = health
	e.mu.Unlock()
	if r.health == model.HealthRunning {
		nextMonitor[id] = e.cfg.Now().Add(r.op.res.Ops.MonitorInterval)
	}
	switch {
	case health == model.HealthStopped:
		delete(e.ran, id)
	case r.op.kind != opMonitor || e.ran[id].ID == "":
		e.ran[id] = r.op.res // what runs (or failed) here now
	}
	st := e.cfg.State.State()
	if _, ok := st.Effective(e.cfg.Cluster).Resource(id); !ok {
		// Removed from the configuration: the cluster forgot it, so
		// there is no one to tell; only this node's view changes.
		if health == model.HealthStopped {
			e.mu.Lock()
			delete(e.local, id)
			e.mu.Unlock()
		}
		e.cfg.Log.Info("operation done", "resource", id, "op", r.op.kind, "state", health, "reason", r.op.reason)
		return nil
	}
	if errors.Is(r.err, errNotClaimed) {
		e.cfg.Log.Info("start not claimed", "resource", id, "err", r.err)
		if !errors.Is(r.err, errClaimedLate) {
			return nil // the claim did not commit (or its answer was lost: decide releases it)
		}
	}
	rep := store.Report{Resource: id, Node: e.cfg.Self, At: e.cfg.Now().UTC()}
	reason := func() string {
		if r.err != nil {
			return fmt.Sprintf("%s failed: %v", r.op.kind, r.err)
		}
		return ""
	}
	rec := st.Resources[id]
	switch r.op.kind {
	case opProbe:
		switch {
		case r.health == model.HealthRunning && (rec.Node != e.cfg.Self || rec.State != model.ResourceStarted):
			rep.State = model.ResourceStarted
			rep.Reason = "found running by probe"
		case r.health == model.HealthFailed:
			rep.State, rep.Reason, rep.FailBy = model.ResourceFailed, reason(), 1
		case r.health == model.HealthStopped && rec.Node == e.cfg.Self && rec.State != model.ResourceStopped:
			rep.State = model.ResourceStopped
			rep.Reason = "found stopped by probe"
		default:
			return nil
		}
	case opMonitor:
		if r.health == model.HealthRunning {
			if rec.Node == e.cfg.Self && rec.State == model.ResourceStarted {
				return nil
			}
			// The record lost track (a stale report overtook ours): it runs
			// here, and what waits for it must be able to see that.
			rep.State, rep.Reason = model.ResourceStarted, "found running by monitor"
			break
		}
		msg := reason()
		if msg == "" {
			msg = "monitor: " + string(r.health)
		}
		rep.State, rep.Reason, rep.FailBy = model.ResourceFailed, msg, 1
	case opRelease:
		rep.State, rep.Reason = model.ResourceStopped, "claim released: "+r.op.reason
	case opStart, opRestart:
		switch {
		case errors.Is(r.err, errNotClaimed): // claimed, then too late to start
			rep.State, rep.Reason = model.ResourceStopped, r.err.Error()
		case r.err != nil:
			rep.State, rep.Reason, rep.FailBy = model.ResourceFailed, reason(), FatalFailCount
			if r.op.kind == opRestart && errors.Is(r.err, errStopFailed) {
				rep.State = model.ResourceBlocked
			}
		default:
			rep.State = model.ResourceStarted
		}
	case opStop:
		if r.err != nil {
			rep.State, rep.Reason = model.ResourceBlocked, reason()
		} else {
			rep.State = model.ResourceStopped
		}
	}
	if r.err != nil || rep.FailBy > 0 {
		e.cfg.Log.Warn("operation failed", "resource", id, "op", r.op.kind, "state", rep.State, "err", rep.Reason)
	} else if r.op.kind != opMonitor && r.op.kind != opProbe {
		e.cfg.Log.Info("operation done", "resource", id, "op", r.op.kind, "state", rep.State)
	}
	e.out.put(rep)
	return &rep
}

var errStopFailed = errors.New("stop failed")

// errNotClaimed marks a start that did not begin because its claim did not
// commit; errClaimedLate one whose claim committed too late to start
// within the lease, which the cluster must hear was given up.
var (
	errNotClaimed  = errors.New("start not claimed")
	errClaimedLate = fmt.Errorf("%w: the lease ran short meanwhile", errNotClaimed)
)

// claimTimeout bounds a claim's round trip to the leader.
const claimTimeout = 5 * time.Second

// claim commits this node's claim on r before r starts here (invariant 1):
// the store refuses it unless r is placed here and may run nowhere else,
// so that two nodes acting on placements they applied at different times
// never both start r. A start whose claim took so long that it could no
// longer stop within the lease does not begin.
func (e *Executor) claim(ctx context.Context, r model.Resource) error {
	rep := store.Report{Resource: r.ID, Node: e.cfg.Self, State: model.ResourceStarting, At: e.cfg.Now().UTC(), Reason: "claimed to start"}
	if err := withTimeout(ctx, claimTimeout, func(c context.Context) error { return e.cfg.Reporter.Report(c, rep) }); err != nil {
		return fmt.Errorf("%w: %w", errNotClaimed, err)
	}
	if e.cfg.Lease != nil && !e.cfg.Lease.MayStart(e.cfg.Now()) {
		return errClaimedLate
	}
	return nil
}

// outbox holds the newest undelivered report of each resource. Reports go
// out in their own goroutine so that an unreachable leader never stalls
// operations, and are retried until delivered: a report that replaces an
// older one of the same resource supersedes it.
type outbox struct {
	mu      sync.Mutex
	pending map[model.ResourceID]store.Report
	wake    chan struct{}
}

func newOutbox() *outbox {
	return &outbox{pending: map[model.ResourceID]store.Report{}, wake: make(chan struct{}, 1)}
}

func (o *outbox) put(r store.Report) {
	o.mu.Lock()
	if old, ok := o.pending[r.Resource]; ok {
		r.FailBy += old.FailBy // a superseded failure still counts
	}
	o.pending[r.Resource] = r
	o.mu.Unlock()
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// deliver sends pending reports until ctx ends, retrying every retry.
func (o *outbox) deliver(ctx context.Context, to Reporter, retry time.Duration, log *slog.Logger) {
	t := time.NewTicker(retry)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
		o.mu.Lock()
		batch := make([]store.Report, 0, len(o.pending))
		for _, r := range o.pending {
			batch = append(batch, r)
		}
		o.mu.Unlock()
		for _, r := range batch {
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			err := to.Report(rctx, r)
			cancel()
			if err != nil {
				log.Warn("report not delivered; will retry", "resource", r.Resource, "state", r.State, "err", err)
				break
			}
			o.mu.Lock()
			if cur, ok := o.pending[r.Resource]; ok && cur == r {
				delete(o.pending, r.Resource)
			}
			o.mu.Unlock()
		}
	}
}

// StopAll stops, in parallel and each within its stop timeout, everything
// that runs or may run here, as a clean shutdown must: the daemon's lease
// ends with it, and what it leaves running would outlive the lease
// (invariant 1). On a node in maintenance it leaves everything as it is.
// Call it only after Run has returned. It returns what it could not stop.
func (e *Executor) StopAll(ctx context.Context) error {
	st := e.cfg.State.State()
	if st.Nodes[e.cfg.Self].Maintenance {
		e.cfg.Log.Info("shutdown in maintenance: resources left as they are")
		return nil
	}
	defs := maps.Clone(e.ran)
	for _, r := range st.Effective(e.cfg.Cluster).Resources {
		if _, ok := defs[r.ID]; !ok {
			defs[r.ID] = r
		}
	}
	local := e.Local()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	for _, id := range slices.Sorted(maps.Keys(defs)) {
		r := defs[id]
		if h, probed := local[id]; !probed || h == model.HealthStopped {
			if _, ran := e.ran[id]; !ran {
				continue
			}
		}
		a, err := e.cfg.Agents.Lookup(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		wg.Go(func() {
			c, cancel := context.WithTimeout(ctx, r.Ops.StopTimeout)
			defer cancel()
			err := a.Stop(c, r)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("stop %s: %w", id, err))
				return
			}
			e.cfg.Log.Info("stopped for shutdown", "resource", id)
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}
