package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/netip"
	"slices"
	"time"

	"github.com/vigil-ha/vigil/internal/lab"
)

// System is an HA stack that keeps the floating IP and the service behind
// it on one of the lab's nodes: vigil's daemons, or Keepalived. Run drives
// it; its methods are called from one goroutine and may block.
type System interface {
	// Name is the system's name in the results: vigil, keepalived, ….
	Name() string
	// Ready waits until the system has settled, with every node up and
	// one holding the floating IP, and returns that node.
	Ready(ctx context.Context) (string, error)
	// Inject does f to node and returns once it is done.
	Inject(ctx context.Context, f Fault, node string) error
	// Recover undoes f on node after a trial (a reboot, a restart), so
	// that the next trial starts from a whole cluster.
	Recover(ctx context.Context, f Fault, node string) error
	// Moves reports whether f's outage ends only when another node
	// answers, rather than the same one again.
	Moves(f Fault) bool
	// Logs is the tail of every node's logs, for an error.
	Logs() string
}

// Config configures Run. A zero field means its documented default.
type Config struct {
	Lab    *lab.Lab       // required
	VIP    netip.AddrPort // the floating IP and the service's port; default 198.18.0.100:8080
	Trials int            // per fault in Faults; 0 runs none (a soak only)
	Faults []Fault        // trial faults, in order
	Soak   SoakConfig     // no soak if Soak.Duration is 0

	ProbeEvery   time.Duration // between probes; default 10ms
	ProbeTimeout time.Duration // one probe; default 500ms
	SampleEvery  time.Duration // between readings of every node's addresses; default 10ms, at most 10ms
	// Observe is how long a trial goes on after its outage ended, to see
	// a double holding that follows it; default 2s.
	Observe time.Duration
	// Jitter bounds a random wait before each fault, so that faults do
	// not keep one phase against the systems' periodic work; default 1s.
	// A negative Jitter means none.
	Jitter time.Duration
	// TrialLimit bounds the time from a fault to the end of its outage;
	// default 60s.
	TrialLimit time.Duration
	// Progress, if not nil, gets a line per trial.
	Progress io.Writer
}

// SoakConfig is a run under random packet loss with no fault injected.
type SoakConfig struct {
	Loss     int           // percent of received packets dropped, 1..100
	On       LossOn        // default holder
	Duration time.Duration // 0: no soak
	// Threshold: a client outage longer than this with no move of the
	// floating IP counts as a false failover too; default 1s.
	Threshold time.Duration
}

// DefaultVIP is the lab demo's floating IP and web port.
var DefaultVIP = netip.MustParseAddrPort("198.18.0.100:8080")

const (
	steadyProbes = 5                // good replies in a row from one node before a fault
	steadyLimit  = 30 * time.Second // for them
	pollEvery    = 20 * time.Millisecond
)

func (c *Config) fill() error {
	if !c.VIP.IsValid() {
		c.VIP = DefaultVIP
	}
	if c.ProbeEvery == 0 {
		c.ProbeEvery = 10 * time.Millisecond
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = 500 * time.Millisecond
	}
	if c.SampleEvery == 0 {
		c.SampleEvery = 10 * time.Millisecond
	}
	if c.Observe == 0 {
		c.Observe = 2 * time.Second
	}
	if c.Jitter == 0 {
		c.Jitter = time.Second
	}
	if c.TrialLimit == 0 {
		c.TrialLimit = 60 * time.Second
	}
	if c.Soak.On == "" {
		c.Soak.On = LossOnHolder
	}
	if c.Soak.Threshold == 0 {
		c.Soak.Threshold = time.Second
	}
	var errs []error
	if c.Lab == nil {
		errs = append(errs, errors.New("lab: required"))
	}
	if c.Trials < 0 || c.Trials > 10000 {
		errs = append(errs, fmt.Errorf("trials %d: want 0..10000", c.Trials))
	}
	if c.Trials > 0 && len(c.Faults) == 0 {
		errs = append(errs, errors.New("faults: none given"))
	}
	for _, f := range c.Faults {
		if !slices.Contains(TrialFaults, f) {
			errs = append(errs, fmt.Errorf("fault %q: want %s", f, faultNames(TrialFaults)))
		}
	}
	if c.Soak.Duration < 0 {
		errs = append(errs, fmt.Errorf("soak duration %s: want >= 0", c.Soak.Duration))
	}
	if c.Soak.Duration > 0 && (c.Soak.Loss < 1 || c.Soak.Loss > 100) {
		errs = append(errs, fmt.Errorf("soak loss %d%%: want 1..100", c.Soak.Loss))
	}
	if _, err := ParseLossOn(string(c.Soak.On)); err != nil {
		errs = append(errs, err)
	}
	if c.Trials == 0 && c.Soak.Duration == 0 {
		errs = append(errs, errors.New("nothing to run: no trials and no soak"))
	}
	return errors.Join(errs...)
}

// Run runs cfg.Trials trials of every fault in cfg.Faults against sys,
// then the soak if there is one, and returns a Result per fault. The
// system must be up (sys.Ready settles it). Every wait is bounded: a trial
// by TrialLimit, a settle by the system's own limit.
func Run(ctx context.Context, cfg Config, sys System) ([]Result, error) {
	if err := cfg.fill(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	var nodes []SampleNode
	for _, n := range cfg.Lab.Nodes {
		nodes = append(nodes, SampleNode{Name: n.Name, Netns: n.Netns})
	}
	s, err := StartSampler(SamplerConfig{Nodes: nodes, VIP: cfg.VIP.Addr(), Every: cfg.SampleEvery})
	if err != nil {
		return nil, fmt.Errorf("bench %s: %w", sys.Name(), err)
	}
	defer s.Stop()
	r := &runner{cfg: cfg, sys: sys, sampler: s}
	var out []Result
	for _, f := range cfg.Faults {
		if cfg.Trials == 0 {
			break
		}
		res, err := r.fault(ctx, f)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	if cfg.Soak.Duration > 0 {
		res, err := r.soak(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, res)
	}
	return out, nil
}

type runner struct {
	cfg     Config
	sys     System
	sampler *Sampler
}

func (r *runner) progress(format string, args ...any) {
	if r.cfg.Progress != nil {
		fmt.Fprintf(r.cfg.Progress, format+"\n", args...)
	}
}

func (r *runner) fault(ctx context.Context, f Fault) (Result, error) {
	res := Result{System: r.sys.Name(), Fault: f}
	var outages []time.Duration
	var double time.Duration
	for i := 1; i <= r.cfg.Trials; i++ {
		o, err := r.trial(ctx, f)
		if err != nil {
			return res, fmt.Errorf("%s %s trial %d: %w", r.sys.Name(), f, i, err)
		}
		t := o.trial
		r.progress("%s %s trial %d/%d: %s -> %s outage %.1f ms (fault to first failure %.1f ms, %d/%d probes failed, gap %.1f ms), double holder %.1f ms",
			r.sys.Name(), f, i, r.cfg.Trials, t.From, t.To, t.OutageMS, t.FaultToFailMS, t.Failed, t.Sent, t.GapMS, t.DoubleHolderMS)
		res.TrialLog = append(res.TrialLog, t)
		outages = append(outages, o.outage)
		double += o.double
		if o.unresolved {
			res.Unresolved++
		}
	}
	res.Trials = len(res.TrialLog)
	res.summarize(outages)
	res.DoubleHolderMS = Millis(double)
	_, _, gap := r.sampler.Timeline()
	res.SamplerGapMS = Millis(gap)
	return res, nil
}

// trialOut is what one trial saw.
type trialOut struct {
	trial      Trial
	outage     time.Duration
	double     time.Duration // two nodes held the floating IP, in the trial's window
	unresolved bool          // and still did when it closed
}

// trial runs one fault: settle, probe until the holder answers steadily,
// wait a random while, inject, wait for the outage to end and for
// Observe more, then recover.
func (r *runner) trial(ctx context.Context, f Fault) (trialOut, error) {
	holder, err := r.sys.Ready(ctx)
	if err != nil {
		return trialOut{}, err
	}
	p, err := r.startProber(ctx, r.cfg.TrialLimit+steadyLimit+time.Minute)
	if err != nil {
		return trialOut{}, err
	}
	defer p.Stop()
	answers, err := waitSteady(ctx, p, steadyLimit)
	if err != nil {
		return trialOut{}, fmt.Errorf("%w\n%s", err, r.sys.Logs())
	}
	if answers != holder {
		return trialOut{}, fmt.Errorf("%s holds the floating IP but %s answers it", holder, answers)
	}
	if r.cfg.Jitter > 0 {
		if err := sleep(ctx, rand.N(r.cfg.Jitter)); err != nil {
			return trialOut{}, err
		}
	}
	fault := time.Now()
	if f == NodeKill {
		r.sampler.Ignore(holder) // powered off: it holds nothing a client can reach
	}
	defer r.sampler.Watch(holder)
	if err := r.sys.Inject(ctx, f, holder); err != nil {
		return trialOut{}, fmt.Errorf("inject %s on %s: %w", f, holder, err)
	}
	w, err := r.await(ctx, p, Target{Fault: fault, From: holder, Move: r.sys.Moves(f)})
	if err != nil {
		return trialOut{}, err
	}
	end := w.FirstGood.Done.Add(r.cfg.Observe)
	if err := sleep(ctx, time.Until(end)); err != nil {
		return trialOut{}, err
	}
	tl, _, _ := r.sampler.Timeline()
	double := tl.DoubleHeld(fault, end)
	unresolved := tl.DoubleAt(end)
	if err := r.sys.Recover(ctx, f, holder); err != nil {
		return trialOut{}, fmt.Errorf("recover %s from %s: %w\n%s", holder, f, err, r.sys.Logs())
	}
	return trialOut{trial: NewTrial(w, fault, double), outage: w.Outage(), double: double, unresolved: unresolved}, nil
}

// await polls the probes until the outage of t has ended, then lets every
// probe in flight end (one sent before the reply may yet fail), stops the
// prober and reads the outage from every shot.
func (r *runner) await(ctx context.Context, p *Prober, t Target) (Window, error) {
	deadline := t.Fault.Add(r.cfg.TrialLimit)
	for time.Now().Before(deadline) {
		if _, found := FindOutage(p.Shots(), t); found {
			if err := sleep(ctx, r.cfg.ProbeTimeout+50*time.Millisecond); err != nil {
				return Window{}, err
			}
			p.Stop()
			w, found := FindOutage(p.Shots(), t)
			if !found {
				return Window{}, errors.New("the outage window vanished when the prober stopped")
			}
			return w, nil
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return Window{}, err
		}
	}
	p.Stop()
	shots := p.Shots()
	last := "no probe"
	if len(shots) > 0 {
		s := shots[len(shots)-1]
		last = fmt.Sprintf("ok %v node %q err %q", s.OK, s.Node, s.Err)
	}
	return Window{}, fmt.Errorf("after the fault on %s: no good reply that ends the outage within %s (%d probes; last: %s; prober: %v)\n%s",
		t.From, r.cfg.TrialLimit, len(shots), last, p.Err(), r.sys.Logs())
}

// soak runs the cluster under packet loss for Soak.Duration and counts
// what moved.
func (r *runner) soak(ctx context.Context) (Result, error) {
	sc := r.cfg.Soak
	res := Result{System: r.sys.Name(), Fault: Soak, Trials: 1}
	holder, err := r.sys.Ready(ctx)
	if err != nil {
		return res, fmt.Errorf("%s soak: %w", r.sys.Name(), err)
	}
	p, err := r.startProber(ctx, sc.Duration+steadyLimit+time.Minute)
	if err != nil {
		return res, err
	}
	defer p.Stop()
	if _, err := waitSteady(ctx, p, steadyLimit); err != nil {
		return res, fmt.Errorf("%s soak: %w\n%s", r.sys.Name(), err, r.sys.Logs())
	}
	lossy := []string{holder}
	if sc.On == LossOnAll {
		lossy = lossy[:0]
		for _, n := range r.cfg.Lab.Nodes {
			lossy = append(lossy, n.Name)
		}
	}
	clear := func() error {
		var errs []error
		for _, n := range lossy {
			errs = append(errs, r.cfg.Lab.Loss(n, 0))
		}
		return errors.Join(errs...)
	}
	for _, n := range lossy {
		if err := r.cfg.Lab.Loss(n, sc.Loss); err != nil {
			return res, errors.Join(err, clear())
		}
	}
	r.progress("%s soak: %d%% loss on %v for %s", r.sys.Name(), sc.Loss, lossy, sc.Duration)
	start := time.Now()
	serr := sleep(ctx, sc.Duration)
	end := time.Now()
	if err := errors.Join(serr, clear()); err != nil {
		return res, fmt.Errorf("%s soak: %w", r.sys.Name(), err)
	}
	if err := sleep(ctx, r.cfg.ProbeTimeout+50*time.Millisecond); err != nil {
		return res, err
	}
	p.Stop()
	shots := p.Shots()
	tl, _, gap := r.sampler.Timeline()
	outs := Outages(shots, start, end)
	moves := tl.Moves(start, end)
	run := &SoakRun{LossPercent: sc.Loss, LossOn: sc.On, Holder: holder, DurationS: math.Round(end.Sub(start).Seconds()*10) / 10,
		ThresholdMS: Millis(sc.Threshold), Moves: len(moves), Outages: len(outs)}
	for _, s := range shots {
		if s.Sent.Before(start) || !s.Sent.Before(end) {
			continue
		}
		run.Probes++
		if s.failed() {
			run.Failed++
		}
	}
	ds := make([]time.Duration, len(outs))
	for i, w := range outs {
		ds[i] = w.Outage()
	}
	res.summarize(ds)
	res.Soak = run
	res.FalseFailovers = FalseFailovers(moves, outs, sc.Threshold)
	res.DoubleHolderMS = Millis(tl.DoubleHeld(start, end))
	if tl.DoubleAt(end) {
		res.Unresolved = 1
	}
	res.SamplerGapMS = Millis(gap)
	r.progress("%s soak: %d probes, %d failed, %d outages (longest %.1f ms), %d moves, %d false failovers, double holder %.1f ms",
		r.sys.Name(), run.Probes, run.Failed, run.Outages, res.Outage.Max, run.Moves, res.FalseFailovers, res.DoubleHolderMS)
	return res, nil
}

func (r *runner) startProber(_ context.Context, lifetime time.Duration) (*Prober, error) {
	return StartProber(ProberConfig{Netns: r.cfg.Lab.Client.Netns, Addr: r.cfg.VIP, Every: r.cfg.ProbeEvery,
		Timeout: r.cfg.ProbeTimeout, Lifetime: lifetime})
}

// waitSteady waits until steadyProbes probes in a row got a good reply
// from one node, and returns it.
func waitSteady(ctx context.Context, p *Prober, limit time.Duration) (string, error) {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		if n, ok := Steady(p.Shots(), steadyProbes); ok {
			return n, nil
		}
		if err := sleep(ctx, pollEvery); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("the floating IP does not answer steadily from one node within %s (prober: %v)", limit, p.Err())
}

// sleep waits d or until ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
