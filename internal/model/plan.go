package model

// ActionKind is what an action does.
type ActionKind string

// The action kinds.
const (
	ActionStart   ActionKind = "start"   // start Resource on Node
	ActionStop    ActionKind = "stop"    // stop Resource on Node
	ActionRestart ActionKind = "restart" // stop then start Resource on Node (recovery in place)
	ActionMove    ActionKind = "move"    // stop on From, then start on Node
)

// Action is one step of a plan.
type Action struct {
	Kind     ActionKind `json:"kind"`
	Resource ResourceID `json:"resource"`
	Node     NodeID     `json:"node"`           // where it starts (start, restart, move) or stops (stop)
	From     NodeID     `json:"from,omitempty"` // move: where it stops
	// After lists the indexes (in Plan.Actions) of the actions that must
	// complete before this one may begin: order constraints and groups.
	After  []int  `json:"after,omitempty"`
	Reason string `json:"reason"`
}

// ScoreTerm is one contribution to a node's score for a resource.
type ScoreTerm struct {
	Score  Score  `json:"score"`
	Reason string `json:"reason"` // e.g. "location prefer-n1", "stickiness", "failcount 3 >= migration-threshold 3"
}

// NodeScore is a node's total score for a resource and the terms it is
// made of.
type NodeScore struct {
	Node  NodeID      `json:"node"`
	Score Score       `json:"score"`
	Terms []ScoreTerm `json:"terms"`
}

// Plan is the scheduler's output: where everything should be, the ordered
// actions that get it there, and why.
type Plan struct {
	// Placement is the target node of every resource; "" means stopped.
	Placement map[ResourceID]NodeID `json:"placement"`
	Actions   []Action              `json:"actions"`
	// Scores holds, for every resource, every node's score, best first.
	Scores map[ResourceID][]NodeScore `json:"scores"`
	// Why says, for resources that will not run or cannot be touched
	// (unrunnable, blocked, maintenance, no quorum), why.
	Why map[ResourceID]string `json:"why,omitempty"`
}
