package store

import (
	"encoding/json"
	"fmt"
	"io"
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
	if err := apply(&f.st, c); err != nil {
		return err
	}
	f.fire()
	return nil
}

func (f *fsm) state() model.ClusterState {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.st.Clone()
}

// Snapshot implements raft.FSM.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return snapshot{st: f.state()}, nil
}

// Restore implements raft.FSM: it replaces the state with the snapshot's.
func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	var st model.ClusterState
	if err := json.NewDecoder(r).Decode(&st); err != nil {
		return fmt.Errorf("restore snapshot: %w", err)
	}
	if st.Nodes == nil {
		st.Nodes = map[model.NodeID]model.NodeRecord{}
	}
	if st.Resources == nil {
		st.Resources = map[model.ResourceID]model.ResourceRecord{}
	}
	f.mu.Lock()
	f.st = st
	f.fire()
	f.mu.Unlock()
	return nil
}

type snapshot struct{ st model.ClusterState }

func (s snapshot) Persist(sink raft.SnapshotSink) error {
	if err := json.NewEncoder(sink).Encode(s.st); err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("persist snapshot: %w", err)
	}
	return sink.Close()
}

func (snapshot) Release() {}
