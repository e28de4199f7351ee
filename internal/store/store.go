package store

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
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
	cfg   Config
	rc    *raft.Config
	fsm   *fsm
	bolt  *raftboltdb.BoltStore
	snaps raft.SnapshotStore
	log   *slog.Logger

	// mu guards the running raft, which RecoverAlone replaces.
	mu      sync.RWMutex
	raft    *raft.Raft
	stream  *streamLayer
	trans   *raft.NetworkTransport
	refused uint64 // refused connections of the stream layers RecoverAlone closed
}

// ErrClosed is returned by a Store that is closed, or that failed to
// restart raft.
var ErrClosed = errors.New("store closed")

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
	s := &Store{cfg: cfg, fsm: newFSM(), log: cfg.Log}
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
	s.snaps = snaps
	if err := s.listen(); err != nil {
		return nil, err
	}

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
	s.rc = rc

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

// listen opens the raft listeners and the transport over them.
func (s *Store) listen() error {
	stream, err := newStreamLayer(s.cfg)
	if err != nil {
		return err
	}
	s.stream = stream
	s.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 3,
		Timeout: 2 * time.Second,
		Logger:  newHclog(s.log),
	})
	return nil
}

// running returns the running raft, or nil once closed.
func (s *Store) running() *raft.Raft {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.raft
}

// Voters returns the voters of the newest raft configuration this node
// knows (committed or not), sorted.
func (s *Store) Voters() ([]model.NodeID, error) {
	r := s.running()
	if r == nil {
		return nil, ErrClosed
	}
	f := r.GetConfiguration()
	if err := f.Error(); err != nil {
		return nil, err
	}
	var out []model.NodeID
	for _, srv := range f.Configuration().Servers {
		if srv.Suffrage == raft.Voter {
			out = append(out, model.NodeID(srv.ID))
		}
	}
	slices.Sort(out)
	return out, nil
}

// TransferLeadership hands the leadership to node, which must be a voter,
// and waits until raft has tried (hashicorp/raft's
// LeadershipTransferToServer). It fails on a follower.
func (s *Store) TransferLeadership(node model.NodeID) error {
	r := s.running()
	if r == nil {
		return ErrClosed
	}
	return r.LeadershipTransferToServer(raft.ServerID(node), raft.ServerAddress(node)).Error()
}

// RecoverAlone makes this node a cluster of one voter: it stops raft,
// rewrites its configuration to this node alone (raft.RecoverCluster,
// which also applies every entry of the local log, committed or not) and
// starts it again, so that this node elects itself and commits alone.
//
// It is safe only once every other voter is certainly down, which is what
// a two-node cluster knows after fencing its peer: two nodes that each
// recovered alone would each run the cluster. AddVoter lets the peer back.
func (s *Store) RecoverAlone() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.raft == nil {
		return ErrClosed
	}
	start := time.Now()
	s.refused += s.stream.refused.Load()
	_ = s.stream.Close()          // first, so that dials to the lost peer end now
	_ = s.raft.Shutdown().Error() // closes the transport
	s.raft, s.trans, s.stream = nil, nil, nil
	stopped := time.Now()
	if err := s.listen(); err != nil {
		return fmt.Errorf("recover alone: %w", err)
	}
	self := raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(s.cfg.Self), Address: raft.ServerAddress(s.cfg.Self)}
	rerr := raft.RecoverCluster(s.rc, newFSM(), s.bolt, s.bolt, s.snaps, s.trans, raft.Configuration{Servers: []raft.Server{self}})
	recovered := time.Now()
	if rerr != nil {
		rerr = fmt.Errorf("recover alone: %w", rerr)
		s.log.Error("raft recovery failed; restarting raft as it was", "err", rerr)
	}
	r, err := raft.NewRaft(s.rc, s.fsm, s.bolt, s.bolt, s.snaps, s.trans)
	if err != nil {
		_ = s.trans.Close()
		s.trans, s.stream = nil, nil
		return errors.Join(rerr, fmt.Errorf("restart raft: %w", err))
	}
	s.raft = r
	if rerr == nil {
		s.log.Warn("raft configuration recovered: this node is the only voter",
			"stop", stopped.Sub(start), "recover", recovered.Sub(stopped), "start", time.Since(recovered))
	}
	return rerr
}

// AddVoter makes node a voter again (after RecoverAlone), reached by its
// name like every peer. Only the leader can; the change commits once the
// node has caught up enough to acknowledge it.
func (s *Store) AddVoter(node model.NodeID, timeout time.Duration) error {
	r := s.running()
	if r == nil {
		return ErrClosed
	}
	if err := r.AddVoter(raft.ServerID(node), raft.ServerAddress(node), 0, timeout).Error(); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return fmt.Errorf("%w: %v", ErrNotLeader, err)
		}
		return fmt.Errorf("add voter %s: %w", node, err)
	}
	return nil
}

// Close stops raft and releases the log and the listeners. It is safe to
// call on a partly opened Store and more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
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

// LeaseGen returns node's committed lease generation as applied here,
// cheaply: heartbeats read it several times a second. Concurrency-safe.
func (s *Store) LeaseGen(node model.NodeID) uint64 { return s.fsm.leaseGen(node) }

// Events returns up to limit events numbered after seq, oldest first
// (limit <= 0: every one kept, at most MaxEvents). Concurrency-safe.
func (s *Store) Events(after uint64, limit int) []model.Event { return s.fsm.eventsAfter(after, limit) }

// Changed returns a channel that is closed when the next change is applied
// here; call it again for the change after. Concurrency-safe.
func (s *Store) Changed() <-chan struct{} { return s.fsm.next() }

// Leader returns the node this node believes leads, or "" if none.
func (s *Store) Leader() model.NodeID {
	r := s.running()
	if r == nil {
		return ""
	}
	_, id := r.LeaderWithID()
	return model.NodeID(id)
}

// IsLeader reports whether this node is the leader (the coordinator).
func (s *Store) IsLeader() bool {
	r := s.running()
	return r != nil && r.State() == raft.Leader
}

// Apply commits c. It blocks until the entry is committed on a quorum and
// applied here, or timeout passes. It fails with ErrNotLeader on a
// follower.
func (s *Store) Apply(c Command, timeout time.Duration) error {
	b, err := encodeCommand(c)
	if err != nil {
		return err
	}
	r := s.running()
	if r == nil {
		return ErrClosed
	}
	f := r.Apply(b, timeout)
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
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.raft == nil {
		return Info{State: raft.Shutdown.String(), Refused: s.refused}
	}
	return Info{
		State:        s.raft.State().String(),
		Term:         s.raft.CurrentTerm(),
		LastIndex:    s.raft.LastIndex(),
		CommitIndex:  s.raft.CommitIndex(),
		AppliedIndex: s.raft.AppliedIndex(),
		LastContact:  s.raft.LastContact(),
		Refused:      s.refused + s.stream.refused.Load(),
	}
}

var _ io.Closer = (*Store)(nil)
