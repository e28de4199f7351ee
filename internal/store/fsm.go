package store

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/hashicorp/raft"

	"github.com/vigil-ha/vigil/internal/model"
)

// command is one entry of the replicated log. Kind says which field is set.
type command struct {
	Kind    string           `json:"kind"`
	Node    model.NodeID     `json:"node,omitempty"`
	Record  model.NodeRecord `json:"record,omitzero"`
	Version int              `json:"v"`
}

const (
	kindSetNode  = "set-node"
	codecVersion = 1
)

func encodeCommand(c command) ([]byte, error) {
	c.Version = codecVersion
	return json.Marshal(c)
}

func decodeCommand(b []byte) (command, error) {
	var c command
	if err := json.Unmarshal(b, &c); err != nil {
		return command{}, fmt.Errorf("decode command: %w", err)
	}
	if c.Version != codecVersion {
		return command{}, fmt.Errorf("decode command: codec version %d, want %d", c.Version, codecVersion)
	}
	return c, nil
}

// fsm applies committed commands to the cluster state. Raft calls Apply,
// Snapshot and Restore from one goroutine; readers use state().
type fsm struct {
	mu sync.RWMutex
	st model.ClusterState
}

func newFSM() *fsm { return &fsm{st: model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}}} }

// Apply implements raft.FSM. It returns an error value (not a panic) for a
// command it cannot decode, so that a bad entry is visible to its proposer.
func (f *fsm) Apply(l *raft.Log) any {
	c, err := decodeCommand(l.Data)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch c.Kind {
	case kindSetNode:
		f.st.Nodes[c.Node] = c.Record
		return nil
	default:
		return fmt.Errorf("apply: unknown command kind %q", c.Kind)
	}
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
	f.mu.Lock()
	f.st = st
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
