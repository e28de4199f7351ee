package metrics

import (
	"fmt"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// UpdateKind says what an Update records.
type UpdateKind int

// The kinds of Update.
const (
	// LeaderChange: a leader other than the last one known.
	LeaderChange UpdateKind = iota + 1
	// NodeTransition: a member's state, as this node sees it, changed.
	NodeTransition
	// ResourceMove: a resource started on a node other than the one it
	// last ran on.
	ResourceMove
	// Failover: a resource that stopped running while it was placed runs
	// again (on another node, or on the same after a restart).
	Failover
	// FenceAction: a fencing of a node ended, ok or failed.
	FenceAction
)

// Update is one thing that happened between two snapshots.
type Update struct {
	Kind     UpdateKind
	Node     string // NodeTransition, FenceAction: the member
	Resource string // ResourceMove, Failover
	From, To string // LeaderChange: leaders; NodeTransition: states; ResourceMove, Failover: nodes
	OK       bool   // FenceAction: it succeeded
	// Duration is a Failover's outage, from the last snapshot that showed
	// the resource started to the first that shows it started again: an
	// upper bound, at most one poll interval above the true outage.
	Duration time.Duration
}

// String is the update as tests read it: "leader n1 -> n2", "node n2
// online -> offline", "move web n1 -> n2", "failover web n1 -> n2 in
// 1.2s", "fence n2 ok".
func (u Update) String() string {
	switch u.Kind {
	case LeaderChange:
		return fmt.Sprintf("leader %s -> %s", u.From, u.To)
	case NodeTransition:
		return fmt.Sprintf("node %s %s -> %s", u.Node, u.From, u.To)
	case ResourceMove:
		return fmt.Sprintf("move %s %s -> %s", u.Resource, u.From, u.To)
	case Failover:
		return fmt.Sprintf("failover %s %s -> %s in %s", u.Resource, u.From, u.To, u.Duration)
	case FenceAction:
		if u.OK {
			return "fence " + u.Node + " ok"
		}
		return "fence " + u.Node + " failed"
	}
	return fmt.Sprintf("update kind %d", u.Kind)
}

// Tracker remembers what Step needs from earlier snapshots. Its zero value
// is ready: the first snapshot it is given is the baseline, and yields no
// updates (what happened before the watcher started is not counted). A
// Tracker is not concurrency-safe; the Watcher's one goroutine owns it.
//
// Step needs more than the previous snapshot because an outage spans
// several: the time a resource was last seen started is kept until it runs
// again.
type Tracker struct {
	seen   bool
	prev   api.Status
	prevAt time.Time
	leader string                // the last leader known ("" before any)
	ranOn  map[string]string     // resource → the node it last ran on
	down   map[string]time.Time  // resource → last seen started, while it is out
	fence  map[string]fenceEvent // node → its newest ended fencing
}

// fenceEvent is a fencing that ended, as a status's fence line tells it.
type fenceEvent struct {
	ok bool
	at string // "15:04:05", "" if the line does not say
}

// Step compares cur, taken at now, with the snapshots before it and returns
// what changed, in a fixed order: the leader, then the nodes and the
// resources in cur's order. It does no I/O and reads no clock.
func (t *Tracker) Step(cur api.Status, now time.Time) []Update {
	if !t.seen {
		t.seen = true
		t.leader = cur.Leader
		t.ranOn, t.down, t.fence = map[string]string{}, map[string]time.Time{}, map[string]fenceEvent{}
		for _, n := range cur.Nodes {
			if ev, ok := parseFence(n.Fence); ok {
				t.fence[n.Name] = ev
			}
		}
		for _, r := range cur.Resources {
			if r.State == "started" {
				t.ranOn[r.ID] = r.Node
			}
		}
		t.prev, t.prevAt = cur, now
		return nil
	}
	var out []Update
	if cur.Leader != "" && cur.Leader != t.leader {
		if t.leader != "" {
			out = append(out, Update{Kind: LeaderChange, From: t.leader, To: cur.Leader})
		}
		t.leader = cur.Leader
	}

	prevNodes := map[string]api.Node{}
	for _, n := range t.prev.Nodes {
		prevNodes[n.Name] = n
	}
	for _, n := range cur.Nodes {
		if p, ok := prevNodes[n.Name]; ok && p.State != "" && n.State != "" && p.State != n.State {
			out = append(out, Update{Kind: NodeTransition, Node: n.Name, From: p.State, To: n.State})
		}
		ev, final := parseFence(n.Fence)
		if !final {
			continue // never fenced, or a fence under way: nothing ended
		}
		last, known := t.fence[n.Name]
		if !known || last.ok != ev.ok || (last.at != "" && ev.at != "" && last.at != ev.at) {
			out = append(out, Update{Kind: FenceAction, Node: n.Name, OK: ev.ok})
		}
		t.fence[n.Name] = ev
	}

	prevRes := map[string]api.Resource{}
	for _, r := range t.prev.Resources {
		prevRes[r.ID] = r
	}
	live := map[string]bool{}
	for _, r := range cur.Resources {
		live[r.ID] = true
		p, known := prevRes[r.ID]
		wasUp := known && p.State == "started"
		if r.State != "started" {
			// An outage begins when a resource stops running while it is
			// placed, or fails; a clean stop the coordinator meant (placed
			// nowhere) is none.
			if wasUp && (r.Target != "" || r.State == "failed" || r.State == "blocked") {
				t.down[r.ID] = t.prevAt
			}
			continue
		}
		from := t.ranOn[r.ID]
		since, out0 := t.down[r.ID]
		if !out0 && wasUp && p.Node != r.Node {
			since, out0 = t.prevAt, true // it moved between two polls
		}
		if out0 {
			out = append(out, Update{Kind: Failover, Resource: r.ID, From: from, To: r.Node, Duration: now.Sub(since)})
			delete(t.down, r.ID)
		}
		if from != "" && from != r.Node {
			out = append(out, Update{Kind: ResourceMove, Resource: r.ID, From: from, To: r.Node})
		}
		t.ranOn[r.ID] = r.Node
	}
	for id := range t.ranOn {
		if !live[id] {
			delete(t.ranOn, id)
		}
	}
	for id := range t.down {
		if !live[id] {
			delete(t.down, id)
		}
	}
	t.prev, t.prevAt = cur, now
	return out
}

// parseFence reads a status's fence line. It reports final when the line
// says a fencing ended: "fenced at 12:00:01 (level 1 (ipmi))" and "fenced
// (how); …" are ok, "fencing FAILED at 12:00:01: why" is not; "" (never
// fenced) and "fencing n2 in 3s (two-node split)" (under way) are not
// final.
func parseFence(line string) (ev fenceEvent, final bool) {
	switch {
	case strings.HasPrefix(line, "fencing FAILED"):
		ev.ok = false
	case strings.HasPrefix(line, "fenced"):
		ev.ok = true
	default:
		return fenceEvent{}, false
	}
	if _, rest, ok := strings.Cut(line, " at "); ok {
		if at, _, _ := strings.Cut(rest, " "); len(at) >= len("15:04:05") {
			ev.at = strings.TrimSuffix(at, ":")
		}
	}
	return ev, true
}

// fenceOutcome reports whether the newest ended fencing in line succeeded.
func fenceOutcome(line string) (ok, final bool) {
	ev, final := parseFence(line)
	return ev.ok, final
}
