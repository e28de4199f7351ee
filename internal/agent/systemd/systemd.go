// Package systemd runs resources that are systemd units. Start and Stop
// enqueue systemd jobs over D-Bus and wait for their results; Monitor maps
// the unit's ActiveState to a health.
//
// A resource of kind "systemd" has one parameter, unit: the full unit
// name, e.g. "nginx.service".
//
// Monitor maps ActiveState as follows. "active" and "reloading" (and
// "refreshing") are Running, "inactive" is Stopped, "failed" is Failed
// with the SubState and the unit's Result. A unit in "activating" or
// "deactivating" has no health yet: Monitor reads its state again, up to
// settleReads times settleEvery apart (and never past ctx), and reports
// where it settles; a unit still in transition then is Failed "in
// transition", because vigil never guesses. One transition is not waited
// for: activating/auto-restart means the service died and systemd is
// restarting it behind vigil's back, which is Failed at once, so that the
// failure counts.
package systemd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Config configures an Agent.
type Config struct {
	// Log receives state changes the agent makes on its own (resetting a
	// unit's failed state after a stop). Default: discard.
	Log *slog.Logger
}

// How long Monitor lets a unit in transition settle.
const (
	settleReads = 5
	settleEvery = 200 * time.Millisecond
)

// defaultOpTimeout bounds an operation whose context has no deadline and
// whose resource sets no timeout for it: model.Ops's documented default.
const defaultOpTimeout = 20 * time.Second

// Agent drives systemd units. It implements agent.Agent and is safe for
// concurrent use. It connects to systemd at its first operation, and again
// whenever the connection was lost; Close closes the connection.
type Agent struct {
	log  *slog.Logger
	conn conn
}

// New returns an Agent talking to the system's systemd over D-Bus. It
// does not connect yet: a node without systemd can still validate a
// configuration.
func New(cfg Config) (*Agent, error) {
	return newAgent(cfg, &dbusConn{})
}

// newAgent returns an Agent over c (a fake in tests).
func newAgent(cfg Config, c conn) (*Agent, error) {
	if c == nil {
		return nil, errors.New("systemd agent: no connection")
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{log: log, conn: c}, nil
}

// Close closes the connection to systemd, if any.
func (a *Agent) Close() { a.conn.Close() }

// conn is the part of systemd's D-Bus API the agent uses. Methods are safe
// for concurrent use and block until systemd answers or ctx ends.
type conn interface {
	// StartUnit enqueues a start job for unit in mode "replace". The job's
	// result ("done", "failed", "canceled", "timeout", "dependency",
	// "skipped") is sent once on result, which must have room for it: an
	// abandoned wait must never block the connection. errNoSuchUnit if
	// systemd has no such unit.
	StartUnit(ctx context.Context, unit string, result chan<- string) error
	// StopUnit is StartUnit for a stop job.
	StopUnit(ctx context.Context, unit string, result chan<- string) error
	// ResetFailed returns a failed unit to inactive. Idempotent.
	ResetFailed(ctx context.Context, unit string) error
	// State reads the unit's state. A unit that systemd does not know has
	// LoadState "not-found" and ActiveState "inactive".
	State(ctx context.Context, unit string) (unitState, error)
	// Close closes the connection. Later calls may reconnect.
	Close()
}

// errNoSuchUnit is what a conn returns for a job on a unit systemd does
// not know.
var errNoSuchUnit = errors.New("no such unit")

// unitState is a unit's state as systemd reports it.
type unitState struct {
	LoadState   string // loaded, not-found, masked, error, …
	ActiveState string // active, reloading, inactive, failed, activating, deactivating
	SubState    string // type-specific: running, dead, failed, auto-restart, …
	// Result is the type-specific result of the last run (exit-code,
	// signal, timeout, …); read only when the unit failed or restarts.
	Result string
}

// String renders the state for errors, e.g. "activating/auto-restart,
// result exit-code".
func (s unitState) String() string {
	out := s.ActiveState + "/" + s.SubState
	if s.Result != "" {
		out += ", result " + s.Result
	}
	return out
}

// unitSuffixes are the unit types a resource can be: those that systemd
// starts and stops with jobs (not device or scope units).
const unitSuffixes = ".service .socket .target .mount .automount .swap .timer .path .slice"

// Validate checks that r names one startable unit and nothing else.
func (a *Agent) Validate(r model.Resource) error {
	_, err := unitOf(r)
	return err
}

// unitOf returns r's unit, or every problem with r's parameters.
func unitOf(r model.Resource) (string, error) {
	var errs []error
	var unknown []string
	for k := range r.Params {
		if k != "unit" {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("params.%s: not a parameter of systemd (known: unit)", k))
	}
	unit, ok := r.Params["unit"]
	if !ok {
		errs = append(errs, errors.New("params.unit: required (a unit name with its suffix, e.g. nginx.service)"))
	} else if err := checkUnitName(unit); err != nil {
		errs = append(errs, fmt.Errorf("params.unit: %w", err))
	}
	return unit, errors.Join(errs...)
}

// unitName returns r's unit for Stop and Monitor, which need nothing else:
// a resource whose other parameters became invalid must still stop.
func unitName(r model.Resource) (string, error) {
	unit, ok := r.Params["unit"]
	if !ok {
		return "", errors.New("params.unit: required (a unit name with its suffix, e.g. nginx.service)")
	}
	if err := checkUnitName(unit); err != nil {
		return "", fmt.Errorf("params.unit: %w", err)
	}
	return unit, nil
}

// checkUnitName accepts a full unit name of a startable type, as systemd's
// unit_name_is_valid would (a template needs its instance).
func checkUnitName(u string) error {
	i := strings.LastIndexByte(u, '.')
	if i < 0 {
		return fmt.Errorf("%q has no unit type suffix (%s)", u, unitSuffixes)
	}
	prefix, suffix := u[:i], u[i:]
	if !slices.Contains(strings.Fields(unitSuffixes), suffix) {
		return fmt.Errorf("%q: %q is not a unit type vigil can start (%s)", u, suffix, unitSuffixes)
	}
	if prefix == "" || len(u) > 255 {
		return fmt.Errorf("%q is not a unit name", u)
	}
	for _, c := range prefix {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune(":-_.\\@", c)
		if !ok {
			return fmt.Errorf("%q: %q is not allowed in a unit name", u, c)
		}
	}
	if at := strings.IndexByte(prefix, '@'); at >= 0 && at == len(prefix)-1 {
		return fmt.Errorf("%q is a template; name an instance (e.g. %s)", u, prefix+"main"+suffix)
	}
	return nil
}

// Start enqueues a start job ("replace") and waits for its result: "done"
// is success, any other result an error naming it. Starting an active unit
// is a job that is done at once.
func (a *Agent) Start(ctx context.Context, r model.Resource) error {
	ctx, cancel := opContext(ctx, r.Ops.StartTimeout)
	defer cancel()
	unit, err := unitOf(r)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s (%s): not started: %w", r.ID, unit, err)
	}
	result := make(chan string, 1)
	if err := a.conn.StartUnit(ctx, unit, result); err != nil {
		return fmt.Errorf("start %s (%s): %w", r.ID, unit, err)
	}
	if err := waitJob(ctx, "start", result); err != nil {
		return fmt.Errorf("start %s (%s): %w", r.ID, unit, err)
	}
	return nil
}

// Stop enqueues a stop job ("replace") and waits for its result. It looks
// only at the unit parameter. A unit systemd does not know is stopped. A unit that ends up failed (its
// process died badly on the way down) is reset to inactive, so that
// Monitor reports it stopped and systemd's start rate limit starts afresh;
// the reset is logged with the unit's result.
func (a *Agent) Stop(ctx context.Context, r model.Resource) error {
	ctx, cancel := opContext(ctx, r.Ops.StopTimeout)
	defer cancel()
	unit, err := unitName(r)
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	result := make(chan string, 1)
	err = a.conn.StopUnit(ctx, unit, result)
	if errors.Is(err, errNoSuchUnit) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop %s (%s): %w", r.ID, unit, err)
	}
	if err := waitJob(ctx, "stop", result); err != nil {
		return fmt.Errorf("stop %s (%s): %w", r.ID, unit, err)
	}
	st, err := a.conn.State(ctx, unit)
	if err != nil {
		return fmt.Errorf("stop %s (%s): read state after stop: %w", r.ID, unit, err)
	}
	switch st.ActiveState {
	case "inactive":
		return nil
	case "failed":
		if err := a.conn.ResetFailed(ctx, unit); err != nil {
			return fmt.Errorf("stop %s (%s): reset failed state: %w", r.ID, unit, err)
		}
		a.log.Info("unit failed on stop; reset to inactive", "resource", r.ID, "op", "stop", "unit", unit, "state", st.String())
		return nil
	default:
		// Something started it again at once (a dependency, a socket).
		return fmt.Errorf("stop %s (%s): unit is %s after its stop job", r.ID, unit, st)
	}
}

// Monitor reports the unit's health from its ActiveState (see the package
// documentation). It changes nothing. Like Stop, it looks only at the unit
// parameter.
func (a *Agent) Monitor(ctx context.Context, r model.Resource) (model.Health, error) {
	ctx, cancel := opContext(ctx, r.Ops.MonitorTimeout)
	defer cancel()
	unit, err := unitName(r)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	for i := 1; ; i++ {
		st, err := a.conn.State(ctx, unit)
		if err != nil {
			return model.HealthFailed, fmt.Errorf("monitor %s (%s): %w", r.ID, unit, err)
		}
		h, why, settling := judge(st)
		if !settling || i == settleReads {
			if why != "" {
				return h, fmt.Errorf("monitor %s (%s): %s", r.ID, unit, why)
			}
			return h, nil
		}
		t := time.NewTimer(settleEvery)
		select {
		case <-ctx.Done():
			t.Stop()
			return model.HealthFailed, fmt.Errorf("monitor %s (%s): %s when the monitor ended: %w", r.ID, unit, why, ctx.Err())
		case <-t.C:
		}
	}
}

// judge maps a unit's state to a health, with the reason when it is
// Failed; settling says that the unit is in a transition worth waiting
// for (and Failed is only what it is if it stays there).
func judge(st unitState) (h model.Health, why string, settling bool) {
	switch st.ActiveState {
	case "active", "reloading", "refreshing":
		return model.HealthRunning, "", false
	case "inactive":
		return model.HealthStopped, "", false
	case "failed":
		return model.HealthFailed, "unit failed (" + st.String() + ")", false
	case "activating":
		if strings.HasPrefix(st.SubState, "auto-restart") {
			return model.HealthFailed, "unit died and systemd is restarting it (" + st.String() + ")", false
		}
		return model.HealthFailed, "unit in transition (" + st.String() + ")", true
	case "deactivating":
		return model.HealthFailed, "unit in transition (" + st.String() + ")", true
	default:
		return model.HealthFailed, "unit in unknown state (" + st.String() + ")", false
	}
}

// waitJob waits for a job's result: "done" is nil.
func waitJob(ctx context.Context, job string, result <-chan string) error {
	select {
	case res := <-result:
		if res != "done" {
			return fmt.Errorf("%s job finished with result %q", job, res)
		}
		return nil
	case <-ctx.Done():
		word := "timeout"
		if errors.Is(ctx.Err(), context.Canceled) {
			word = "cancelled"
		}
		// The job stays queued in systemd; a later stop replaces it.
		return fmt.Errorf("%s job: %s waiting for its result: %w", job, word, ctx.Err())
	}
}

// opContext gives ctx a deadline if it has none: the resource's timeout
// for the operation, or defaultOpTimeout. Nothing waits on systemd
// unbounded.
func opContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	if d <= 0 {
		d = defaultOpTimeout
	}
	return context.WithTimeout(ctx, d)
}
