package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"

	"github.com/vigil-ha/vigil/internal/model"
)

// Errors callers branch on.
var (
	// ErrNotLeader is returned by a write on a node that is not the leader.
	ErrNotLeader = errors.New("not the raft leader")
)

// Config is what Open needs. Every field but Log is required.
type Config struct {
	Cluster string
	Secret  []byte
	Self    model.NodeID
	// Nodes are the voters; raft reaches each on every one of its addresses.
	Nodes   []model.Node
	Port    uint16
	DataDir string // raft's files live in DataDir/raft
	Timing  model.Timing
	// Bootstrap, when the data directory holds no raft state, makes this node
	// bootstrap the cluster with Nodes as voters. Every node may do so with
	// the same voters; a node that should join an existing cluster (one
	// whose data was wiped) must not, and waits for the leader instead.
	Bootstrap bool
	Log       *slog.Logger // nil: discard
}

// Store is the replicated cluster state on this node.
type Store struct {
	raft   *raft.Raft
	fsm    *fsm
	stream *streamLayer
	trans  *raft.NetworkTransport
	bolt   *raftboltdb.BoltStore
	log    *slog.Logger
}

// RaftDir is where the raft files of a data directory live.
func RaftDir(dataDir string) string { return filepath.Join(dataDir, "raft") }

// HasState reports whether the data directory holds raft state (a log or
// a snapshot), i.e. whether this node has been part of a cluster before.
func HasState(dataDir string) (bool, error) {
	dir := RaftDir(dataDir)
	if _, err := os.Stat(filepath.Join(dir, "raft.db")); errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	bolt, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db"), BoltOptions: nil})
	if err != nil {
		return false, fmt.Errorf("open raft log: %w", err)
	}
	defer bolt.Close()
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 2, newHclog(slog.New(slog.DiscardHandler)))
	if err != nil {
		return false, fmt.Errorf("open snapshots: %w", err)
	}
	return raft.HasExistingState(bolt, bolt, snaps)
}

// Open starts raft on this node: it opens (or creates) the log in the data
// directory, listens on the node's addresses, and bootstraps if told to and
// the log is empty. It returns once raft runs; leadership comes later.
func Open(cfg Config) (*Store, error) {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if _, ok := (model.Config{Nodes: cfg.Nodes}).Node(cfg.Self); !ok {
		return nil, fmt.Errorf("open store: %s is not a node of the cluster", cfg.Self)
	}
	dir := RaftDir(cfg.DataDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	s := &Store{fsm: newFSM(), log: cfg.Log}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	var err error
	s.bolt, err = raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("open raft log: %w", err)
	}
	hlog := newHclog(cfg.Log)
	snaps, err := raft.NewFileSnapshotStoreWithLogger(dir, 3, hlog)
	if err != nil {
		return nil, fmt.Errorf("open snapshots: %w", err)
	}
	s.stream, err = newStreamLayer(cfg)
	if err != nil {
		return nil, err
	}
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  s.stream,
		MaxPool: 3,
		Timeout: 2 * time.Second,
		Logger:  hlog,
	})

	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.Self)
	rc.HeartbeatTimeout = cfg.Timing.RaftHeartbeatTimeout
	rc.ElectionTimeout = cfg.Timing.RaftElectionTimeout
	rc.LeaderLeaseTimeout = cfg.Timing.RaftLeaderLeaseTimeout
	rc.CommitTimeout = 20 * time.Millisecond
	rc.SnapshotThreshold = 4096
	rc.TrailingLogs = 4096
	rc.Logger = hlog
	if err := raft.ValidateConfig(rc); err != nil {
		return nil, fmt.Errorf("raft config: %w", err)
	}

	existing, err := raft.HasExistingState(s.bolt, s.bolt, snaps)
	if err != nil {
		return nil, fmt.Errorf("read raft state: %w", err)
	}
	if !existing && cfg.Bootstrap {
		var servers []raft.Server
		for _, n := range cfg.Nodes {
			servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(n.Name), Address: raft.ServerAddress(n.Name)})
		}
		if err := raft.BootstrapCluster(rc, s.bolt, s.bolt, snaps, s.trans, raft.Configuration{Servers: servers}); err != nil {
			return nil, fmt.Errorf("bootstrap: %w", err)
		}
		cfg.Log.Info("bootstrapped cluster", "voters", len(servers))
	}
	s.raft, err = raft.NewRaft(rc, s.fsm, s.bolt, s.bolt, snaps, s.trans)
	if err != nil {
		return nil, fmt.Errorf("start raft: %w", err)
	}
	ok = true
	return s, nil
}

// Close stops raft and releases the log and the listeners. It is safe to
// call on a partly opened Store and more than once.
func (s *Store) Close() error {
	var errs []error
	if s.raft != nil {
		errs = append(errs, s.raft.Shutdown().Error())
		s.raft = nil
	}
	if s.trans != nil {
		errs = append(errs, s.trans.Close())
		s.trans = nil
	} else if s.stream != nil {
		errs = append(errs, s.stream.Close())
	}
	s.stream = nil
	if s.bolt != nil {
		errs = append(errs, s.bolt.Close())
		s.bolt = nil
	}
	return errors.Join(errs...)
}

// State returns a copy of the committed state as this node has applied it.
// On a follower it may lag the leader. Concurrency-safe.
func (s *Store) State() model.ClusterState { return s.fsm.state() }

// Changed returns a channel that is closed when the next change is applied
// here; call it again for the change after. Concurrency-safe.
func (s *Store) Changed() <-chan struct{} { return s.fsm.next() }

// Leader returns the node this node believes leads, or "" if none.
func (s *Store) Leader() model.NodeID {
	_, id := s.raft.LeaderWithID()
	return model.NodeID(id)
}

// IsLeader reports whether this node is the leader (the coordinator).
func (s *Store) IsLeader() bool { return s.raft.State() == raft.Leader }

// Apply commits c. It blocks until the entry is committed on a quorum and
// applied here, or timeout passes. It fails with ErrNotLeader on a
// follower.
func (s *Store) Apply(c Command, timeout time.Duration) error {
	b, err := encodeCommand(c)
	if err != nil {
		return err
	}
	f := s.raft.Apply(b, timeout)
	if err := f.Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return fmt.Errorf("commit: %w", err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// Info is raft's view of this node, for status.
type Info struct {
	State        string    `json:"state"` // Leader, Follower, Candidate, Shutdown
	Term         uint64    `json:"term"`
	LastIndex    uint64    `json:"last_index"`
	CommitIndex  uint64    `json:"commit_index"`
	AppliedIndex uint64    `json:"applied_index"`
	LastContact  time.Time `json:"last_contact,omitzero"` // with the leader; zero on the leader
	Refused      uint64    `json:"refused_connections"`   // connections that failed authentication
}

// Info returns raft's view of this node now. Concurrency-safe.
func (s *Store) Info() Info {
	return Info{
		State:        s.raft.State().String(),
		Term:         s.raft.CurrentTerm(),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.raft.AppliedIndex(),
		LastContact:  s.raft.LastContact(),
		Refused:      s.stream.refused.Load(),
	}
}

var _ io.Closer = (*Store)(nil)
