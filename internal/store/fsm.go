package store

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/vigil-ha/vigil/internal/model"
)

// fsm applies committed commands to the cluster state. Raft calls Apply,
// Snapshot and Restore from one goroutine; readers use state().
type fsm struct {
	mu      sync.RWMutex
	st      model.ClusterState
	changed chan struct{} // closed and replaced at every change; under mu
	// events are the newest MaxEvents events, oldest first, numbered
	// from 1 in log order; seq is the number of the newest.
	events []model.Event
	seq    uint64
}

// next returns a channel that is closed at the next change.
func (f *fsm) next() <-chan struct{} {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.changed
}

// fire wakes every waiter; f.mu must be held for writing.
func (f *fsm) fire() {
	close(f.changed)
	f.changed = make(chan struct{})
}

func newFSM() *fsm {
	return &fsm{
		st:      model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}, Resources: map[model.ResourceID]model.ResourceRecord{}},
		changed: make(chan struct{}),
	}
}

// Apply implements raft.FSM. It returns an error value (not a panic) for a
// command it cannot decode, so that a bad entry is visible to its proposer.
func (f *fsm) Apply(l *raft.Log) any {
	c, err := decodeCommand(l.Data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	evs := eventsOf(&f.st, c, l.AppendedAt) // of the state before
	if err := apply(&f.st, c); err != nil {
		return err
	}
	f.record(evs)
	f.fire()
	return nil
}

// record numbers evs and adds them to the history; f.mu must be held for
// writing.
func (f *fsm) record(evs []model.Event) {
	for _, e := range evs {
		f.seq++
		e.Seq = f.seq
		f.events = append(f.events, e)
	}
	if n := len(f.events) - MaxEvents; n > 0 {
		f.events = append(f.events[:0:0], f.events[n:]...)
	}
}

// eventsAfter returns up to limit events numbered after seq, oldest
// first (limit <= 0: all of them).
func (f *fsm) eventsAfter(seq uint64, limit int) []model.Event {
	f.mu.RLock()
	defer f.mu.RUnlock()
	i, _ := slices.BinarySearchFunc(f.events, seq+1, func(e model.Event, s uint64) int { return cmp.Compare(e.Seq, s) })
	out := f.events[i:]
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return slices.Clone(out)
}

func (f *fsm) state() model.ClusterState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Clone()
}

// leaseGen is node's lease generation, without copying the state.
func (f *fsm) leaseGen(node model.NodeID) uint64 {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.LeaseGens[node]
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return snapshot{st: f.st.Clone(), events: slices.Clone(f.events), seq: f.seq}, nil
}

// Restore implements raft.FSM: it replaces the state with the snapshot's.
func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	var snap snapshotJSON
	if err := json.NewDecoder(r).Decode(&snap); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	st := snap.ClusterState
	if st.Nodes == nil {
		st.Nodes = map[model.NodeID]model.NodeRecord{}
	}
	if st.Resources == nil {
		st.Resources = map[model.ResourceID]model.ResourceRecord{}
	}
	f.mu.Lock()
	f.st, f.events, f.seq = st, snap.Events, snap.Seq
	f.fire()
	f.mu.Unlock()
	return nil
}

// snapshotJSON is a snapshot as stored: the state's fields, with the
// event history beside them (absent from snapshots older than events).
type snapshotJSON struct {
	model.ClusterState
	Events []model.Event `json:"events,omitempty"`
	Seq    uint64        `json:"event_seq,omitempty"`
}

type snapshot struct {
	st     model.ClusterState
	events []model.Event
	seq    uint64
}

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(snapshotJSON{ClusterState: s.st, Events: s.events, Seq: s.seq}); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}
