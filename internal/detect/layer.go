package detect

import (
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Layer is one kind of evidence that a peer is alive. The layers are
// independent: each fails for its own reasons, and the Judge declares a
// peer offline only when enough of them agree.
type Layer uint8

const (
	// LayerUDP is the heartbeat layer: one signal per link, from a View.
	LayerUDP Layer = iota
	// LayerTCP is the connect probe to the peer's API port: one signal per
	// link, from a Prober.
	LayerTCP
	// LayerApp is the application checks: one signal per check, from a
	// Checker (or any other source of checks about the peer).
	LayerApp

	numLayers // how many layers there are; not a layer
)

func (l Layer) String() string {
	switch l {
	case LayerUDP:
		return "udp"
	case LayerTCP:
		return "tcp"
	case LayerApp:
		return "app"
	}
	return "layer?"
}

// Status is what one signal, one link or one layer says about a peer.
type Status uint8

const (
	// Unknown means no evidence: nothing observed yet, or the newest
	// observation has expired.
	Unknown Status = iota
	// Up means the peer answered.
	Up
	// Down means the peer did not answer (silence, timeout, refusal).
	Down
)

func (s Status) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Observation is one piece of evidence about one signal of one peer: a
// heartbeat link, a probe on a link, or an application check.
type Observation struct {
	Peer  model.NodeID
	Layer Layer
	// Link is the link index, for LayerUDP and LayerTCP; ignored for LayerApp.
	Link int
	// Check names the check, for LayerApp; ignored otherwise.
	Check  string
	Status Status
	// At is the time the evidence speaks for. For Up, when the peer
	// answered; for Down, when the silence began: the last heartbeat heard,
	// or the start of the probe that got no answer. The Judge ignores an
	// observation older than the newest one it has for the same signal.
	At time.Time
	// Expires is when the observation stops counting: after it the signal
	// is Unknown until a newer observation arrives. Zero means never. A
	// feeder that may stop (a Prober, a Checker) sets it, so that a stale
	// Up cannot keep a dead peer alive.
	Expires time.Time
	// Detail says why, for status and logs: "refused", "timeout",
	// "answered 503". Optional.
	Detail string
}

// Sink receives observations. Implementations must be safe for concurrent
// use and must not block; Liveness is one.
type Sink interface {
	Observe(o Observation)
}
