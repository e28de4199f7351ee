package model

// EventKinds returns every kind of event, in the order of their
// declaration; a new kind belongs here too (a test compares this list with
// the constants).
func EventKinds() []EventKind {
	return []EventKind{
		EventNodeOnline, EventNodeSuspect, EventNodeOffline, EventNodeStandby, EventNodeActive,
		EventMaintenance, EventUnmaintenance, EventLinkDown, EventLinkUp, EventQuorumGained,
		EventQuorumLost, EventLeader, EventPlaced, EventMoved, EventUnplaced, EventStarted,
		EventStopped, EventFailed, EventBlocked, EventCleanup, EventRestart, EventConstraint,
		EventTakeover, EventFenceOK, EventFenceFailed, EventFencing, EventConfig, EventDamped, EventUndamped,
	}
}
