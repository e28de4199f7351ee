// Package agent defines how vigil drives a resource: the Agent interface
// that every kind (vip, exec, ocf, systemd, script) implements, and the
// Registry that maps a resource's kind to its agent. Package agenttest
// holds the conformance suite every kind must pass.
package agent

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/vigil-ha/vigil/internal/model"
)

// Agent runs the resources of one kind on this node. One Agent serves every
// resource of its kind; its methods are safe for concurrent use on
// different resources. The executor never calls two operations on the same
// resource at once.
type Agent interface {
	// Validate checks r's parameters without side effects, naming every
	// problem (e.g. `params.address: "10.0.0.300" is not an IP address`).
	Validate(r model.Resource) error
	// Start makes r run here and returns when it runs (or ctx ends, which is
	// the start timeout). Idempotent: starting a running resource is nil.
	Start(ctx context.Context, r model.Resource) error
	// Stop makes r not run here and returns when it is stopped. Idempotent:
	// stopping a stopped resource is nil. An error means vigil cannot know
	// that r is stopped (the resource becomes blocked).
	Stop(ctx context.Context, r model.Resource) error
	// Monitor reports r's health here. It never changes anything. A non-nil
	// error comes with HealthFailed and says why the agent could not tell.
	Monitor(ctx context.Context, r model.Resource) (model.Health, error)
}

// Registry maps a kind ("vip", "exec", …) to its agent. The daemon builds it
// explicitly; nothing registers itself.
type Registry map[string]Agent

// ErrUnknownKind is returned for a resource whose kind has no agent.
var ErrUnknownKind = errors.New("unknown resource kind")

// Lookup returns the agent of r's kind.
func (reg Registry) Lookup(r model.Resource) (Agent, error) {
	a, ok := reg[r.Kind]
	if !ok {
		return nil, fmt.Errorf("resource %s: %w %q (known: %v)", r.ID, ErrUnknownKind, r.Kind, reg.Kinds())
	}
	return a, nil
}

// Kinds returns the registered kinds, sorted.
func (reg Registry) Kinds() []string {
	var out []string
	for k := range reg {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Validate checks every resource of cfg against its kind's agent and joins
// every problem.
func (reg Registry) Validate(rs []model.Resource) error {
	var errs []error
	for _, r := range rs {
		a, err := reg.Lookup(r)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if err := a.Validate(r); err != nil {
			errs = append(errs, fmt.Errorf("resource %s (%s): %w", r.ID, r.Kind, err))
		}
	}
	return errors.Join(errs...)
}

// OutputTail is how agents quote a program's output in an error: its last
// three non-empty lines, joined with " | ", at most 400 bytes from the end.
func OutputTail(b []byte) string {
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > 3 {
		lines = lines[len(lines)-3:]
	}
	s := strings.Join(lines, " | ")
	if len(s) > 400 {
		s = "…" + s[len(s)-400:]
	}
	return s
}
