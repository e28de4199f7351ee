package scheduler

import (
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Input is everything the scheduler decides from.
type Input struct {
	// Config is validated by the config package: ids are unique, groups
	// hold existing resources, constraints name existing resources, groups
	// and nodes, and mandatory orders form no cycle. Colocation cycles are
	// allowed (and broken deterministically).
	Config model.Config
	// State is the committed cluster state: node records (a node absent
	// from State.Nodes counts as offline), the executors' last reports,
	// fail counts and runtime location constraints.
	State model.ClusterState
	// Quorum reports whether the deciding partition has quorum. Without
	// it, Options.NoQuorumPolicy decides (invariant 4).
	Quorum bool
	// Now is used only to expire fail counts (Meta.FailureTimeout).
	Now time.Time
	// Held are the offline nodes whose lease may still be valid, each with
	// the earliest instant (the deciding node's clock) at which it can be
	// known to have ended. What runs, or failed, on such a node may still run there, so
	// it is left where it is, with what depends on it, and not recovered
	// elsewhere before (invariant 1). The coordinator computes it from the
	// takeover rounds (package lease); nil means no node is held. The zero
	// instant holds a lost node until it is fenced (or confirmed down).
	Held map[model.NodeID]time.Time
}

// Schedule decides where every resource should run, the ordered actions
// that take the cluster there, and why. It is pure and deterministic: it
// does no I/O, reads no clock, starts no goroutines, and its result does
// not depend on map iteration order. It never fails: bad input was
// rejected by the config package, and whatever it does not understand
// (a resource state naming an unknown node, a constraint naming an unknown
// resource) it treats as the doc comment of this package says.
func Schedule(in Input) model.Plan {
	s := newSched(in)
	s.freeze()
	s.place()
	s.settle()
	s.quorum()
	s.actions()
	return s.plan
}
