// Package agenttest is the conformance suite every agent kind must pass:
// the contract of agent.Agent (idempotent start and stop, truthful monitor,
// timeouts honoured, bad parameters refused) checked against the real
// thing, in the spirit of hashicorp/raft's raft-compat tests.
package agenttest

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
)

// Subject is one agent and resources to drive it with.
type Subject struct {
	Agent agent.Agent
	// Resource is a valid resource of the agent's kind that can be started
	// and stopped here, and whose effect Running can observe.
	Resource model.Resource
	// Invalid is a resource of the same kind with bad parameters; Validate
	// must refuse it and Start must not start it.
	Invalid model.Resource
	// Running observes the resource from outside the agent (the address is
	// on the interface, the process exists, …). nil skips those checks.
	Running func(t *testing.T) bool
	// Kill breaks the running resource behind the agent's back (kills the
	// process, removes the address); Monitor must then report it not
	// running. nil skips that check.
	Kill func(t *testing.T)
}

// Run checks the contract of agent.Agent on the subject that newSubject
// builds. It starts and stops the resource for real and leaves it stopped.
func Run(t *testing.T, newSubject func(t *testing.T) Subject) {
	t.Helper()
	ctx := func(t *testing.T) context.Context {
		c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		t.Cleanup(cancel)
		return c
	}
	monitor := func(t *testing.T, s Subject, want model.Health) {
		t.Helper()
		h, err := s.Agent.Monitor(ctx(t), s.Resource)
		if h != want {
			t.Fatalf("Monitor = %s (err %v), want %s", h, err, want)
		}
		if h == model.HealthFailed && err == nil {
			t.Errorf("Monitor reported failed without saying why")
		}
	}
	observed := func(t *testing.T, s Subject, want bool) {
		t.Helper()
		if s.Running != nil && s.Running(t) != want {
			t.Fatalf("observed running = %v, want %v", !want, want)
		}
	}

	t.Run("ValidateAcceptsGoodAndRefusesBad", func(t *testing.T) {
		s := newSubject(t)
		if err := s.Agent.Validate(s.Resource); err != nil {
			t.Errorf("Validate(good) = %v", err)
		}
		if err := s.Agent.Validate(s.Invalid); err == nil {
			t.Errorf("Validate(invalid) = nil")
		}
	})

	t.Run("StoppedAtFirst", func(t *testing.T) {
		s := newSubject(t)
		monitor(t, s, model.HealthStopped)
		observed(t, s, false)
		if err := s.Agent.Stop(ctx(t), s.Resource); err != nil {
			t.Errorf("Stop of a stopped resource = %v, want nil", err)
		}
	})

	t.Run("StartStopIdempotent", func(t *testing.T) {
		s := newSubject(t)
		t.Cleanup(func() { _ = s.Agent.Stop(context.Background(), s.Resource) })
		for i := range 2 {
			if err := s.Agent.Start(ctx(t), s.Resource); err != nil {
				t.Fatalf("Start #%d = %v", i+1, err)
			}
			monitor(t, s, model.HealthRunning)
			observed(t, s, true)
		}
		for i := range 2 {
			if err := s.Agent.Stop(ctx(t), s.Resource); err != nil {
				t.Fatalf("Stop #%d = %v", i+1, err)
			}
			monitor(t, s, model.HealthStopped)
			observed(t, s, false)
		}
	})

	t.Run("MonitorSeesBreakage", func(t *testing.T) {
		s := newSubject(t)
		if s.Kill == nil {
			t.Skip("subject has no way to break the resource behind the agent")
		}
		t.Cleanup(func() { _ = s.Agent.Stop(context.Background(), s.Resource) })
		if err := s.Agent.Start(ctx(t), s.Resource); err != nil {
			t.Fatalf("Start = %v", err)
		}
		s.Kill(t)
		h, _ := s.Agent.Monitor(ctx(t), s.Resource)
		if h == model.HealthRunning {
			t.Fatalf("Monitor = running after the resource was broken")
		}
		// Recovery in place: stop then start works from a broken state.
		if err := s.Agent.Stop(ctx(t), s.Resource); err != nil {
			t.Fatalf("Stop after breakage = %v", err)
		}
		if err := s.Agent.Start(ctx(t), s.Resource); err != nil {
			t.Fatalf("Start after breakage = %v", err)
		}
		monitor(t, s, model.HealthRunning)
	})

	t.Run("InvalidDoesNotStart", func(t *testing.T) {
		s := newSubject(t)
		if err := s.Agent.Start(ctx(t), s.Invalid); err == nil {
			_ = s.Agent.Stop(context.Background(), s.Invalid)
			t.Fatalf("Start(invalid) = nil")
		}
	})

	t.Run("CancelledContext", func(t *testing.T) {
		s := newSubject(t)
		t.Cleanup(func() { _ = s.Agent.Stop(context.Background(), s.Resource) })
		c, cancel := context.WithCancel(t.Context())
		cancel()
		err := s.Agent.Start(c, s.Resource)
		if err == nil {
			// Some starts finish before looking at ctx; then the resource
			// must really run.
			monitor(t, s, model.HealthRunning)
			return
		}
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Logf("Start with a cancelled context: %v (not wrapping context.Canceled)", err)
		}
	})
}
