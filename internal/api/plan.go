package api

import (
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Plan is GET /v1/plan and POST /v1/simulate: what the scheduler decides
// from one node's committed state (with, for a simulation, hypothetical
// changes applied to a copy of it first). Computing it changes nothing.
// Scores are integers; 1000000 is INFINITY and -1000000 is -INFINITY, as
// in Pacemaker.
type Plan struct {
	Node   string `json:"node"`   // the node that computed it
	Quorum bool   `json:"quorum"` // as that node counts (after the simulated changes)
	// Epoch is the committed state's change counter the plan starts from.
	Epoch uint64    `json:"epoch"`
	Time  time.Time `json:"time"` // the time fail counts were expired against
	// Simulated lists the hypothetical changes, in the order applied,
	// e.g. "node n1 down"; empty for the plan now.
	Simulated []string `json:"simulated"`
	// Resources are every resource and group, in configuration order, a
	// group just before its first member.
	Resources []PlannedResource `json:"resources"`
	// Actions are the scheduler's ordered actions; Action.After indexes
	// this list.
	Actions []Action `json:"actions"`
}

// PlannedResource is one resource or group: where it is, where the
// scheduler places it, why, and the inputs that explain the score.
type PlannedResource struct {
	ID      string   `json:"id"`
	Kind    string   `json:"kind"`              // the agent kind, or "group"
	Group   string   `json:"group,omitempty"`   // the group it belongs to
	Members []string `json:"members,omitempty"` // a group's members, in order
	// State and Node are the committed state and where it is ("" when
	// stopped), as in status; a group has neither.
	State string `json:"state,omitempty"`
	Node  string `json:"node,omitempty"`
	// Target is the committed placement; Placement is where the scheduler
	// places it now ("" means stopped). A group's is its first member's.
	Target    string `json:"target"`
	Placement string `json:"placement"`
	// Why says why it will not run or cannot be touched, if so.
	Why string `json:"why,omitempty"`
	// Scores are every node's score, best first.
	Scores []NodeScore `json:"scores"`
	// FailCounts are its failures by node, in node order.
	FailCounts []FailCount `json:"fail_counts"`
	// Constraints are the location constraints naming it: the configured
	// ones, then the runtime ones (move, ban; IDs start with "cli-").
	Constraints []Location `json:"constraints"`
}

// NodeScore is a node's score for a resource and the terms it adds up
// from, in the order the scheduler added them.
type NodeScore struct {
	Node  string      `json:"node"`
	Score model.Score `json:"score"`
	Terms []ScoreTerm `json:"terms"`
}

// ScoreTerm is one contribution to a score, e.g. {-1000000, "node in
// standby"}.
type ScoreTerm struct {
	Score  model.Score `json:"score"`
	Reason string      `json:"reason"`
}

// Action is one step of a plan.
type Action struct {
	Index    int    `json:"index"` // its place in Plan.Actions
	Kind     string `json:"kind"`  // start, stop, restart, move
	Resource string `json:"resource"`
	Node     string `json:"node"`           // where it starts (start, restart, move) or stops (stop)
	From     string `json:"from,omitempty"` // move: where it stops
	After    []int  `json:"after,omitempty"`
	Reason   string `json:"reason"`
}

// FailCount is a resource's failures on one node.
type FailCount struct {
	Node  string    `json:"node"`
	Count int       `json:"count"`
	Last  time.Time `json:"last"`
}

// Location is a location constraint. Exactly one of Node or Attribute
// is set.
type Location struct {
	ID        string      `json:"id"`
	Node      string      `json:"node,omitempty"`
	Attribute string      `json:"attribute,omitempty"`
	Value     string      `json:"value,omitempty"`
	Score     model.Score `json:"score"`
	// Runtime: added by an operator (move, ban) rather than configured;
	// `vigil resource clear` removes it.
	Runtime bool `json:"runtime,omitempty"`
}

// Explanation is GET /v1/explain/{id}: one resource (or group) of the
// plan now, and the plan's actions on it (a group's: on its members).
type Explanation struct {
	Node     string          `json:"node"`
	Quorum   bool            `json:"quorum"`
	Time     time.Time       `json:"time"`
	Resource PlannedResource `json:"resource"`
	Actions  []Action        `json:"actions"`
}

// Simulation is the body of POST /v1/simulate: hypothetical changes,
// applied in this order to a copy of the committed state. Every name must
// be a node or resource of the configuration.
type Simulation struct {
	// NodeDown: these nodes are offline (and no longer count for quorum).
	NodeDown []string `json:"node_down,omitempty"`
	// ResourceFail: each of these resources fails where it runs, as a
	// failed monitor would report it (its fail count there rises by one).
	ResourceFail []string `json:"resource_fail,omitempty"`
}

// Explain returns the explanation of resource or group id in p, and
// whether p has it.
func (p Plan) Explain(id string) (Explanation, bool) {
	var res PlannedResource
	found := false
	for _, r := range p.Resources {
		if r.ID == id {
			res, found = r, true
		}
	}
	if !found {
		return Explanation{}, false
	}
	touches := map[string]bool{id: true}
	for _, m := range res.Members {
		touches[m] = true
	}
	out := Explanation{Node: p.Node, Quorum: p.Quorum, Time: p.Time, Resource: res, Actions: []Action{}}
	for _, a := range p.Actions {
		if touches[a.Resource] {
			out.Actions = append(out.Actions, a)
		}
	}
	return out, true
}
