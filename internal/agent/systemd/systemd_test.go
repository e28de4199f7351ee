package systemd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/godbus/dbus/v5"
	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

var _ agent.Agent = (*Agent)(nil)

// fakeConn is an in-memory systemd: units it knows start and stop at once.
// It records every job it is asked for as text, one line each.
type fakeConn struct {
	mu    sync.Mutex
	units map[string]*unitState // the units systemd knows
	// next is the result of the next job on a unit instead of "done";
	// "hold" accepts the job and never finishes it.
	next map[string]string
	// reads are scripted answers of State, consumed in order before the
	// unit's own state is used.
	reads map[string][]unitState
	// failOnStop units end up failed (signal) when stopped.
	failOnStop map[string]bool
	effects    strings.Builder
	nreads     int
}

func newFake(units ...string) *fakeConn {
	f := &fakeConn{
		units:      map[string]*unitState{},
		next:       map[string]string{},
		reads:      map[string][]unitState{},
		failOnStop: map[string]bool{},
	}
	for _, u := range units {
		f.units[u] = &unitState{LoadState: "loaded", ActiveState: "inactive", SubState: "dead"}
	}
	return f
}

func (f *fakeConn) job(kind, unit string, result chan<- string, apply func(*unitState)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.effects, "%s %s\n", kind, unit)
	st, ok := f.units[unit]
	if !ok {
		return fmt.Errorf("%w (fake: Unit %s not found.)", errNoSuchUnit, unit)
	}
	res := f.next[unit]
	delete(f.next, unit)
	switch res {
	case "hold":
		return nil
	case "":
		res = "done"
		apply(st)
	}
	select {
	case result <- res:
	default:
		fmt.Fprintf(&f.effects, "BLOCKED sending the %s result\n", kind)
	}
	return nil
}

func (f *fakeConn) StartUnit(ctx context.Context, unit string, result chan<- string) error {
	return f.job("start", unit, result, func(st *unitState) {
		*st = unitState{LoadState: st.LoadState, ActiveState: "active", SubState: "running"}
	})
}

func (f *fakeConn) StopUnit(ctx context.Context, unit string, result chan<- string) error {
	return f.job("stop", unit, result, func(st *unitState) {
		if f.failOnStop[unit] && st.ActiveState == "active" {
			*st = unitState{LoadState: st.LoadState, ActiveState: "failed", SubState: "failed", Result: "signal"}
			return
		}
		if st.ActiveState != "failed" {
			*st = unitState{LoadState: st.LoadState, ActiveState: "inactive", SubState: "dead"}
		}
	})
}

func (f *fakeConn) ResetFailed(ctx context.Context, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.effects, "reset-failed %s\n", unit)
	if st, ok := f.units[unit]; ok && st.ActiveState == "failed" {
		*st = unitState{LoadState: st.LoadState, ActiveState: "inactive", SubState: "dead"}
	}
	return nil
}

func (f *fakeConn) State(ctx context.Context, unit string) (unitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nreads++
	if rs := f.reads[unit]; len(rs) > 0 {
		f.reads[unit] = rs[1:]
		return rs[0], nil
	}
	if st, ok := f.units[unit]; ok {
		return *st, nil
	}
	return unitState{LoadState: "not-found", ActiveState: "inactive", SubState: "dead"}, nil
}

func (f *fakeConn) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.effects.WriteString("close\n")
}

// kill makes unit fail behind the agent's back.
func (f *fakeConn) kill(unit string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	*f.units[unit] = unitState{LoadState: "loaded", ActiveState: "failed", SubState: "failed", Result: "signal"}
}

func (f *fakeConn) active(unit string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.units[unit].ActiveState == "active"
}

func (f *fakeConn) recorded() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.effects.String()
}

func fakeAgent(t *testing.T, f *fakeConn) *Agent {
	t.Helper()
	a, err := newAgent(Config{}, f)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func unitResource(unit string) model.Resource {
	return model.Resource{ID: "web", Kind: "systemd", Params: map[string]string{"unit": unit}}
}

func TestNew(t *testing.T) {
	if _, err := newAgent(Config{}, nil); err == nil {
		t.Error("newAgent(nil conn) = nil error")
	}
	a, err := New(Config{})
	if err != nil || a.log == nil {
		t.Fatalf("New = %v, %v", a, err)
	}
	a.Close() // never connected: nothing to close, no panic
}

func TestValidate(t *testing.T) {
	a := fakeAgent(t, newFake())
	tests := []struct {
		params map[string]string
		want   []string
	}{
		{params: map[string]string{"unit": "nginx.service"}},
		{params: map[string]string{"unit": "getty@tty1.service"}},
		{params: map[string]string{"unit": "srv-data.mount"}},
		{params: map[string]string{"unit": `dev-disk-by\x2duuid.swap`}},
		{params: map[string]string{"unit": "backup.timer"}},
		{params: map[string]string{}, want: []string{"params.unit: required (a unit name with its suffix, e.g. nginx.service)"}},
		{params: map[string]string{"unit": "nginx"},
			want: []string{`params.unit: "nginx" has no unit type suffix (.service .socket .target .mount .automount .swap .timer .path .slice)`}},
		{params: map[string]string{"unit": "sda.device"},
			want: []string{`params.unit: "sda.device": ".device" is not a unit type vigil can start (.service .socket .target .mount .automount .swap .timer .path .slice)`}},
		{params: map[string]string{"unit": "session-1.scope"},
			want: []string{`params.unit: "session-1.scope": ".scope" is not a unit type vigil can start (.service .socket .target .mount .automount .swap .timer .path .slice)`}},
		{params: map[string]string{"unit": ".service"}, want: []string{`params.unit: ".service" is not a unit name`}},
		{params: map[string]string{"unit": "a b.service"}, want: []string{`params.unit: "a b.service": ' ' is not allowed in a unit name`}},
		{params: map[string]string{"unit": "../x.service"}, want: []string{`params.unit: "../x.service": '/' is not allowed in a unit name`}},
		{params: map[string]string{"unit": "getty@.service"},
			want: []string{`params.unit: "getty@.service" is a template; name an instance (e.g. getty@main.service)`}},
		{params: map[string]string{"unit": "x.service", "mode": "fail", "user": "1"}, want: []string{
			"params.mode: not a parameter of systemd (known: unit)",
			"params.user: not a parameter of systemd (known: unit)",
		}},
	}
	for _, tc := range tests {
		err := a.Validate(model.Resource{ID: "r", Kind: "systemd", Params: tc.params})
		var got []string
		if err != nil {
			got = strings.Split(err.Error(), "\n")
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("Validate(%v) (-want +got):\n%s", tc.params, d)
		}
	}
}

func TestJudge(t *testing.T) {
	tests := []struct {
		st       unitState
		want     model.Health
		why      string
		settling bool
	}{
		{unitState{"loaded", "active", "running", ""}, model.HealthRunning, "", false},
		{unitState{"loaded", "active", "exited", ""}, model.HealthRunning, "", false},
		{unitState{"loaded", "reloading", "reload", ""}, model.HealthRunning, "", false},
		{unitState{"loaded", "inactive", "dead", ""}, model.HealthStopped, "", false},
		{unitState{"not-found", "inactive", "dead", ""}, model.HealthStopped, "", false},
		{unitState{"masked", "inactive", "dead", ""}, model.HealthStopped, "", false},
		{unitState{"loaded", "failed", "failed", "exit-code"}, model.HealthFailed, "unit failed (failed/failed, result exit-code)", false},
		{unitState{"loaded", "activating", "auto-restart", "signal"}, model.HealthFailed,
			"unit died and systemd is restarting it (activating/auto-restart, result signal)", false},
		{unitState{"loaded", "activating", "auto-restart-queued", "exit-code"}, model.HealthFailed,
			"unit died and systemd is restarting it (activating/auto-restart-queued, result exit-code)", false},
		{unitState{"loaded", "activating", "start", ""}, model.HealthFailed, "unit in transition (activating/start)", true},
		{unitState{"loaded", "deactivating", "stop-sigterm", ""}, model.HealthFailed, "unit in transition (deactivating/stop-sigterm)", true},
		{unitState{"loaded", "maintenance", "cleaning", ""}, model.HealthFailed, "unit in unknown state (maintenance/cleaning)", false},
	}
	for _, tc := range tests {
		h, why, settling := judge(tc.st)
		if h != tc.want || why != tc.why || settling != tc.settling {
			t.Errorf("judge(%+v) = %s, %q, %v; want %s, %q, %v", tc.st, h, why, settling, tc.want, tc.why, tc.settling)
		}
	}
}

func TestMonitor(t *testing.T) {
	const u = "web.service"
	transition := func(sub string) unitState {
		return unitState{LoadState: "loaded", ActiveState: "activating", SubState: sub}
	}
	tests := []struct {
		name      string
		reads     []unitState
		timeout   time.Duration
		want      model.Health
		wantErr   string // "" for nil
		wantReads int
	}{
		{name: "active", reads: []unitState{{"loaded", "active", "running", ""}},
			want: model.HealthRunning, wantReads: 1},
		{name: "failed", reads: []unitState{{"loaded", "failed", "failed", "exit-code"}},
			want: model.HealthFailed, wantErr: "monitor web (web.service): unit failed (failed/failed, result exit-code)", wantReads: 1},
		{name: "settles to active", reads: []unitState{transition("start-pre"), transition("start"), {"loaded", "active", "running", ""}},
			want: model.HealthRunning, wantReads: 3},
		{name: "settles to failed", reads: []unitState{transition("start"), {"loaded", "failed", "failed", "timeout"}},
			want: model.HealthFailed, wantErr: "unit failed (failed/failed, result timeout)", wantReads: 2},
		{name: "auto-restart is not waited for", reads: []unitState{transition("auto-restart"), {"loaded", "active", "running", ""}},
			want: model.HealthFailed, wantErr: "unit died and systemd is restarting it (activating/auto-restart)", wantReads: 1},
		{name: "stuck", reads: []unitState{transition("start"), transition("start"), transition("start"), transition("start"), transition("start"), transition("start")},
			want: model.HealthFailed, wantErr: "monitor web (web.service): unit in transition (activating/start)", wantReads: settleReads},
		{name: "monitor ends first", timeout: settleEvery + settleEvery/2,
			reads: []unitState{transition("start"), transition("start"), transition("start"), transition("start"), transition("start")},
			want:  model.HealthFailed, wantErr: "unit in transition (activating/start) when the monitor ended: context deadline exceeded", wantReads: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newFake(u)
				f.reads[u] = tc.reads
				a := fakeAgent(t, f)
				ctx := t.Context()
				if tc.timeout > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.timeout)
					defer cancel()
				}
				h, err := a.Monitor(ctx, unitResource(u))
				if h != tc.want {
					t.Errorf("Monitor = %s, want %s", h, tc.want)
				}
				switch {
				case tc.wantErr == "" && err != nil:
					t.Errorf("Monitor error = %v, want nil", err)
				case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
					t.Errorf("Monitor error = %v, want it to contain %q", err, tc.wantErr)
				}
				if f.nreads != tc.wantReads {
					t.Errorf("Monitor read the state %d times, want %d", f.nreads, tc.wantReads)
				}
				if got := f.recorded(); got != "" {
					t.Errorf("Monitor changed something:\n%s", got)
				}
			})
		})
	}
}

func TestStartJobResults(t *testing.T) {
	const u = "web.service"
	for _, res := range []string{"", "failed", "canceled", "timeout", "dependency", "skipped"} {
		t.Run("result "+res, func(t *testing.T) {
			f := newFake(u)
			f.next[u] = res
			err := fakeAgent(t, f).Start(t.Context(), unitResource(u))
			if res == "" {
				if err != nil {
					t.Fatalf("Start (done) = %v", err)
				}
				return
			}
			want := fmt.Sprintf("start web (web.service): start job finished with result %q", res)
			if err == nil || err.Error() != want {
				t.Errorf("Start = %v, want %s", err, want)
			}
		})
	}

	t.Run("no such unit", func(t *testing.T) {
		err := fakeAgent(t, newFake()).Start(t.Context(), unitResource(u))
		if !errors.Is(err, errNoSuchUnit) || !strings.HasPrefix(err.Error(), "start web (web.service): no such unit") {
			t.Errorf("Start(unknown unit) = %v", err)
		}
	})

	t.Run("job never finishes", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFake(u)
			f.next[u] = "hold"
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			err := fakeAgent(t, f).Start(ctx, unitResource(u))
			want := "start web (web.service): start job: timeout waiting for its result: context deadline exceeded"
			if err == nil || err.Error() != want || !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Start = %v, want %s", err, want)
			}
		})
	})

	t.Run("no deadline gets the resource's start timeout", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			f := newFake(u)
			f.next[u] = "hold"
			r := unitResource(u)
			r.Ops.StartTimeout = 90 * time.Second
			start := time.Now()
			err := fakeAgent(t, f).Start(context.Background(), r)
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("Start = %v", err)
			}
			if d := time.Since(start); d != r.Ops.StartTimeout {
				t.Errorf("Start gave up after %s, want %s", d, r.Ops.StartTimeout)
			}
		})
	})

	t.Run("invalid starts nothing", func(t *testing.T) {
		f := newFake(u)
		if err := fakeAgent(t, f).Start(t.Context(), unitResource("web")); err == nil {
			t.Error("Start(unit without suffix) = nil")
		}
		if got := f.recorded(); got != "" {
			t.Errorf("effects = %q, want none", got)
		}
	})
}

func TestStop(t *testing.T) {
	const u = "web.service"
	t.Run("unknown unit is stopped", func(t *testing.T) {
		f := newFake()
		if err := fakeAgent(t, f).Stop(t.Context(), unitResource(u)); err != nil {
			t.Errorf("Stop(unknown unit) = %v", err)
		}
	})
	t.Run("failed on the way down is reset", func(t *testing.T) {
		f := newFake(u)
		f.failOnStop[u] = true
		a := fakeAgent(t, f)
		if err := a.Start(t.Context(), unitResource(u)); err != nil {
			t.Fatal(err)
		}
		if err := a.Stop(t.Context(), unitResource(u)); err != nil {
			t.Fatalf("Stop = %v", err)
		}
		if h, err := a.Monitor(t.Context(), unitResource(u)); h != model.HealthStopped {
			t.Errorf("Monitor after stop = %s, %v", h, err)
		}
		want := "start web.service\nstop web.service\nreset-failed web.service\n"
		if d := cmp.Diff(want, f.recorded()); d != "" {
			t.Errorf("effects (-want +got):\n%s", d)
		}
	})
	t.Run("extra parameters do not block a stop", func(t *testing.T) {
		f := newFake(u)
		r := unitResource(u)
		r.Params["retired"] = "1"
		if err := fakeAgent(t, f).Stop(t.Context(), r); err != nil {
			t.Errorf("Stop = %v", err)
		}
		if got := f.recorded(); got != "stop web.service\n" {
			t.Errorf("effects = %q", got)
		}
	})
	t.Run("job result", func(t *testing.T) {
		f := newFake(u)
		f.next[u] = "timeout"
		err := fakeAgent(t, f).Stop(t.Context(), unitResource(u))
		want := `stop web (web.service): stop job finished with result "timeout"`
		if err == nil || err.Error() != want {
			t.Errorf("Stop = %v, want %s", err, want)
		}
	})
	t.Run("active again after stop", func(t *testing.T) {
		f := newFake(u)
		f.reads[u] = []unitState{{"loaded", "active", "running", ""}}
		err := fakeAgent(t, f).Stop(t.Context(), unitResource(u))
		want := "stop web (web.service): unit is active/running after its stop job"
		if err == nil || err.Error() != want {
			t.Errorf("Stop = %v, want %s", err, want)
		}
	})
}

func TestIdempotentEffects(t *testing.T) {
	const u = "web.service"
	f := newFake(u)
	a := fakeAgent(t, f)
	r := unitResource(u)
	for _, op := range []func(context.Context, model.Resource) error{a.Start, a.Start, a.Stop, a.Stop} {
		if err := op(t.Context(), r); err != nil {
			t.Fatal(err)
		}
	}
	a.Close()
	want := "start web.service\nstart web.service\nstop web.service\nstop web.service\nclose\n"
	if d := cmp.Diff(want, f.recorded()); d != "" {
		t.Errorf("effects (-want +got):\n%s", d)
	}
}

func TestFakeConformance(t *testing.T) {
	const u = "web.service"
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		f := newFake(u)
		return agenttest.Subject{
			Agent:    fakeAgent(t, f),
			Resource: unitResource(u),
			Invalid:  unitResource("web"),
			Running:  func(t *testing.T) bool { return f.active(u) },
			Kill:     func(t *testing.T) { f.kill(u) },
		}
	})
}

func TestJobError(t *testing.T) {
	noSuch := dbus.Error{Name: "org.freedesktop.systemd1.NoSuchUnit", Body: []any{"Unit x.service not loaded."}}
	for _, err := range []error{noSuch, &noSuch, fmt.Errorf("call: %w", noSuch)} {
		got := jobError(err)
		if !errors.Is(got, errNoSuchUnit) {
			t.Errorf("jobError(%#v) = %v, want errNoSuchUnit", err, got)
		}
	}
	other := dbus.Error{Name: "org.freedesktop.systemd1.UnitMasked", Body: []any{"Unit x.service is masked."}}
	if got := jobError(other); errors.Is(got, errNoSuchUnit) || got.Error() != "systemd: Unit x.service is masked." {
		t.Errorf("jobError(masked) = %v", got)
	}
	if jobError(nil) != nil {
		t.Error("jobError(nil) != nil")
	}
}
