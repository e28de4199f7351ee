package store

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vigil-ha/vigil/internal/model"
)

// The tests run real raft nodes on loopback addresses 127.0.0.1-3, each
// with two links, as a lab node would.

var fastTiming = model.Timing{
	RaftHeartbeatTimeout:   200 * time.Millisecond,
	RaftElectionTimeout:    200 * time.Millisecond,
	RaftLeaderLeaseTimeout: 100 * time.Millisecond,
}

func freePort(t *testing.T) uint16 {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return uint16(l.Addr().(*net.TCPAddr).Port)
}

type cluster struct {
	t      *testing.T
	cfgs   map[model.NodeID]Config
	stores map[model.NodeID]*Store
}

func newCluster(t *testing.T, n int, secret string) *cluster {
	t.Helper()
	port := freePort(t)
	var nodes []model.Node
	for i := 1; i <= n; i++ {
		nodes = append(nodes, model.Node{
			Name:      model.NodeID(fmt.Sprintf("n%d", i)),
			Addresses: []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, byte(i)}), netip.AddrFrom4([4]byte{127, 0, 1, byte(i)})},
		})
	}
	c := &cluster{t: t, cfgs: map[model.NodeID]Config{}, stores: map[model.NodeID]*Store{}}
	root := t.TempDir()
	for _, nd := range nodes {
		c.cfgs[nd.Name] = Config{
			Cluster: "test", Secret: []byte(secret), Self: nd.Name, Nodes: nodes, Port: port,
			DataDir: filepath.Join(root, string(nd.Name)), Timing: fastTiming, Bootstrap: true,
		}
	}
	t.Cleanup(func() {
		for _, s := range c.stores {
			s.Close()
		}
	})
	return c
}

func (c *cluster) start(id model.NodeID) *Store {
	c.t.Helper()
	s, err := Open(c.cfgs[id])
	if err != nil {
		c.t.Fatalf("open %s: %v", id, err)
	}
	c.stores[id] = s
	return s
}

func (c *cluster) stop(id model.NodeID) {
	c.t.Helper()
	if err := c.stores[id].Close(); err != nil {
		c.t.Fatalf("close %s: %v", id, err)
	}
	delete(c.stores, id)
}

// waitFor polls cond every 10 ms for at most 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for range 1000 {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

func (c *cluster) leader() *Store {
	c.t.Helper()
	var l *Store
	waitFor(c.t, "one leader", func() bool {
		l = nil
		for _, s := range c.stores {
			if s.IsLeader() {
				if l != nil {
					return false
				}
				l = s
			}
		}
		return l != nil
	})
	return l
}

func TestReplicatesAndSurvivesRestart(t *testing.T) {
	c := newCluster(t, 3, "0123456789abcdef0123")
	for _, id := range []model.NodeID{"n1", "n2", "n3"} {
		c.start(id)
	}
	leader := c.leader()
	rec := model.NodeRecord{State: model.NodeOffline, Since: time.Unix(1700000000, 0).UTC(), By: "n1"}
	changed := leader.Changed()
	if err := leader.Apply(nodeState("n3", rec), 5*time.Second); err != nil {
		t.Fatalf("Apply: %v", err)
	}
	select {
	case <-changed:
	default:
		t.Error("Changed was not closed by an applied change")
	}
	for id, s := range c.stores {
		waitFor(t, string(id)+" applies the write", func() bool { return s.State().Nodes["n3"] == rec })
	}

	// A follower refuses writes.
	for _, s := range c.stores {
		if s != leader {
			if err := s.Apply(nodeState("n2", rec), time.Second); !errors.Is(err, ErrNotLeader) {
				t.Errorf("Apply on follower: %v, want ErrNotLeader", err)
			}
			break
		}
	}

	// A restarted node keeps its log on disk and catches up.
	var follower model.NodeID
	for id, s := range c.stores {
		if s != leader {
			follower = id
		}
	}
	before := c.stores[follower].Info().LastIndex
	c.stop(follower)
	if has, err := HasState(c.cfgs[follower].DataDir); err != nil || !has {
		t.Fatalf("HasState after stop = %v, %v; want true", has, err)
	}
	s := c.start(follower)
	if got := s.Info().LastIndex; got < before {
		t.Errorf("LastIndex after restart = %d, want >= %d (log kept on disk)", got, before)
	}
	waitFor(t, "restarted node applies the state", func() bool { return s.State().Nodes["n3"] == rec })
}

func TestWipedNodeRejoins(t *testing.T) {
	c := newCluster(t, 3, "0123456789abcdef0123")
	for _, id := range []model.NodeID{"n1", "n2", "n3"} {
		c.start(id)
	}
	leader := c.leader()
	var victim model.NodeID
	for id, s := range c.stores {
		if s != leader {
			victim = id
		}
	}
	rec := model.NodeRecord{State: model.NodeSuspect, By: "x"}
	if err := leader.Apply(nodeState("n1", rec), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	c.stop(victim)
	if err := os.RemoveAll(c.cfgs[victim].DataDir); err != nil {
		t.Fatal(err)
	}
	cfg := c.cfgs[victim]
	cfg.Bootstrap = false // a wiped node joins, it does not bootstrap
	c.cfgs[victim] = cfg
	s := c.start(victim)
	waitFor(t, "wiped node receives the state", func() bool { return s.State().Nodes["n1"] == rec })
}

func TestRefusesWrongSecret(t *testing.T) {
	c := newCluster(t, 2, "0123456789abcdef0123")
	intruder := c.cfgs["n2"]
	intruder.Secret = []byte("not-the-cluster-secret")
	c.cfgs["n2"] = intruder
	a := c.start("n1")
	b := c.start("n2")
	waitFor(t, "refused connections", func() bool { return a.Info().Refused > 0 && b.Info().Refused > 0 })
	if a.IsLeader() || b.IsLeader() {
		t.Errorf("a leader was elected across different secrets")
	}
}

func TestHandshake(t *testing.T) {
	key := raftKey("c", []byte("secret-secret-secret"))
	other := raftKey("c", []byte("another-secret-secret"))
	for _, tc := range []struct {
		name       string
		dialKey    []byte
		dialName   string
		wantAccept bool
	}{
		{"same key", key, "n1", true},
		{"wrong key", other, "n1", false},
		{"unknown name", key, "n9", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := net.Pipe()
			defer a.Close()
			defer b.Close()
			dialErr := make(chan error, 1)
			go func() {
				err := dialHandshake(a, tc.dialKey, tc.dialName, "n2")
				if err != nil {
					a.Close() // as Dial does
				}
				dialErr <- err
			}()
			peer, err := acceptHandshake(b, key, "n2", func(n string) bool { return n == "n1" })
			if tc.wantAccept {
				if err != nil || peer != "n1" {
					t.Fatalf("accept = %q, %v; want n1", peer, err)
				}
				if err := <-dialErr; err != nil {
					t.Fatalf("dial: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("listener accepted %q", peer)
			}
			b.Close()
			derr := <-dialErr
			if derr == nil {
				t.Fatalf("dialler believed a refused handshake")
			}
			// Whichever side checks first names the failure.
			if !errors.Is(err, ErrUnauthenticated) && !errors.Is(derr, ErrUnauthenticated) {
				t.Errorf("neither side said ErrUnauthenticated: listener %v, dialler %v", err, derr)
			}
		})
	}
}

func nodeState(id model.NodeID, rec model.NodeRecord) Command {
	return Command{NodeState: &NodeState{Node: id, State: rec.State, Since: rec.Since, By: rec.By}}
}

func TestCommandCodec(t *testing.T) {
	if _, err := decodeCommand([]byte(`{"node_state":{"node":"n1"},"v":1}`)); err == nil {
		t.Error("old codec version accepted")
	}
	if _, err := decodeCommand([]byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
	if _, err := decodeCommand([]byte(`{"v":2}`)); err == nil {
		t.Error("empty command accepted")
	}
	if _, err := encodeCommand(Command{NodeState: &NodeState{}, Cleanup: &Cleanup{}}); err == nil {
		t.Error("two changes in one command accepted")
	}
	b, err := encodeCommand(Command{Cleanup: &Cleanup{Resource: "web"}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err := decodeCommand(b); err != nil || c.Cleanup == nil || c.Cleanup.Resource != "web" {
		t.Errorf("round trip = %+v, %v", c, err)
	}
	f := newFSM()
	if _, ok := f.Apply(&raft.Log{Data: []byte(`{"v":2}`)}).(error); !ok {
		t.Error("an empty command applied without error")
	}
}

// A two-node cluster that lost a node (fenced: certainly down) recovers
// alone: the survivor becomes the only voter, commits alone, and when the
// peer comes back with its old log, which still names both, the peer
// cannot elect itself; AddVoter lets it back, and it catches up.
func TestRecoverAloneAndAddVoter(t *testing.T) {
	c := newCluster(t, 2, "0123456789abcdef0123")
	c.start("n1")
	c.start("n2")
	leader := c.leader()
	survivor, lost := model.NodeID("n1"), model.NodeID("n2")
	if leader == c.stores["n2"] {
		survivor, lost = lost, survivor
	}
	s := c.stores[survivor]
	if v, err := s.Voters(); err != nil || !slices.Equal(v, []model.NodeID{"n1", "n2"}) {
		t.Fatalf("Voters = %v, %v; want n1 n2", v, err)
	}
	before := model.NodeRecord{State: model.NodeOnline, By: "before"}
	if err := leader.Apply(nodeState("n1", before), 5*time.Second); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both apply the write", func() bool { return c.stores[lost].State().Nodes["n1"] == before })
	c.stop(lost)

	waitFor(t, "the survivor loses its leader", func() bool { return !s.IsLeader() && s.Leader() == "" })
	if err := s.Apply(nodeState("n1", before), 300*time.Millisecond); err == nil {
		t.Fatal("one of two voters committed alone before recovery")
	}
	if err := s.RecoverAlone(); err != nil {
		t.Fatalf("RecoverAlone: %v", err)
	}
	if v, _ := s.Voters(); !slices.Equal(v, []model.NodeID{survivor}) {
		t.Fatalf("Voters after recovery = %v, want %s alone", v, survivor)
	}
	if s.State().Nodes["n1"] != before {
		t.Fatalf("state after recovery = %+v, want the committed write kept", s.State().Nodes["n1"])
	}
	waitFor(t, "the survivor leads alone", s.IsLeader)
	alone := model.NodeRecord{State: model.NodeOffline, By: "alone"}
	if err := s.Apply(nodeState(lost, alone), 5*time.Second); err != nil {
		t.Fatalf("Apply alone: %v", err)
	}

	// The peer comes back with its old log: it may not lead, nor commit.
	p := c.start(lost)
	time.Sleep(4 * fastTiming.RaftElectionTimeout)
	if p.IsLeader() || !s.IsLeader() {
		t.Fatalf("before AddVoter: %s leader %v, %s leader %v; want the survivor alone", lost, p.IsLeader(), survivor, s.IsLeader())
	}
	if err := s.AddVoter(lost, 5*time.Second); err != nil {
		t.Fatalf("AddVoter: %v", err)
	}
	waitFor(t, "the peer catches up", func() bool { return p.State().Nodes[lost] == alone })
	if v, _ := s.Voters(); !slices.Equal(v, []model.NodeID{"n1", "n2"}) {
		t.Fatalf("Voters after AddVoter = %v, want n1 n2", v)
	}
	if err := s.Apply(nodeState(lost, before), 5*time.Second); err != nil {
		t.Fatalf("Apply with both again: %v", err)
	}
	if err := p.AddVoter(survivor, time.Second); !errors.Is(err, ErrNotLeader) {
		t.Errorf("AddVoter on a follower: %v, want ErrNotLeader", err)
	}
}
