package model

import "time"

// Event is one thing that happened in the cluster, for `vigil events`,
// the dashboard and alert hooks. Events derived from committed changes
// are the same on every node and numbered by Seq; a node's own
// observations (its quorum, its links, the leader it follows) are Local
// and have no Seq.
type Event struct {
	Seq      uint64     `json:"seq,omitempty"`
	At       time.Time  `json:"at"`
	Kind     EventKind  `json:"kind"`
	Node     NodeID     `json:"node,omitempty"`
	Resource ResourceID `json:"resource,omitempty"`
	Message  string     `json:"message"`
	// By is who made the change or observed it: a node, or the operator.
	By    string `json:"by,omitempty"`
	Local bool   `json:"local,omitempty"`
}

// EventKind names what happened, as "subject.what".
type EventKind string

// The kinds of event.
const (
	EventNodeOnline    EventKind = "node.online"
	EventNodeSuspect   EventKind = "node.suspect"
	EventNodeOffline   EventKind = "node.offline"
	EventNodeStandby   EventKind = "node.standby"
	EventNodeActive    EventKind = "node.unstandby"
	EventMaintenance   EventKind = "node.maintenance"
	EventUnmaintenance EventKind = "node.unmaintenance"
	EventLinkDown      EventKind = "link.down"
	EventLinkUp        EventKind = "link.up"
	EventQuorumGained  EventKind = "quorum.gained"
	EventQuorumLost    EventKind = "quorum.lost"
	EventLeader        EventKind = "leader.changed"
	EventPlaced        EventKind = "resource.placed"
	EventMoved         EventKind = "resource.moved"
	EventUnplaced      EventKind = "resource.unplaced"
	EventStarted       EventKind = "resource.started"
	EventStopped       EventKind = "resource.stopped"
	EventFailed        EventKind = "resource.failed"
	EventBlocked       EventKind = "resource.blocked"
	EventCleanup       EventKind = "resource.cleanup"
	EventRestart       EventKind = "resource.restart"
	EventConstraint    EventKind = "constraint.changed"
	EventTakeover      EventKind = "lease.takeover"
	EventFenceOK       EventKind = "fence.ok"
	EventFenceFailed   EventKind = "fence.failed"
	EventFencing       EventKind = "fence.started"
	EventConfig        EventKind = "config.changed"
	EventDamped        EventKind = "node.damped"
	EventUndamped      EventKind = "node.undamped"
)
