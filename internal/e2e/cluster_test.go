package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

var three = []string{"n1", "n2", "n3"}

// A new lab has quorum with exactly one leader that every node names, and
// its JSON has the documented shape.
func TestLabUpQuorumOneLeader(t *testing.T) {
	l := newLab(t, 3)
	leader := ""
	l.eventually("one agreed leader", 20*time.Second, func() error {
		var err error
		leader, err = l.agreedLeader(three...)
		return err
	})
	leaders := 0
	for _, n := range three {
		s, err := l.status(n)
		if err != nil {
			t.Fatal(err)
		}
		if s.Node != n || s.Cluster == "" || len(s.Nodes) != 3 || s.Resources == nil {
			t.Errorf("%s: status has node %q cluster %q, %d nodes, resources %v", n, s.Node, s.Cluster, len(s.Nodes), s.Resources)
		}
		if s.Raft.State == "Leader" {
			leaders++
			if n != leader {
				t.Errorf("%s says it is leader, the cluster names %s", n, leader)
			}
		}
	}
	if leaders != 1 {
		t.Errorf("%d nodes are raft leaders, want 1", leaders)
	}

	li := l.info()
	if len(li.Nodes) != 3 || li.ClientNetns == "" || li.Dir == "" {
		t.Fatalf("lab status json: %+v", li)
	}
	for _, n := range li.Nodes {
		if n.PID <= 0 || n.Netns == "" || !strings.HasPrefix(n.Address, "198.18.") {
			t.Errorf("lab node %+v", n)
		}
	}
}

// Killing the leader elects a new one among the others, and they mark the
// dead node offline and commit it so.
func TestKillLeaderElectsNewLeader(t *testing.T) {
	l := newLab(t, 3)
	var old string
	l.eventually("leader", 20*time.Second, func() error {
		var err error
		old, err = l.agreedLeader(three...)
		return err
	})
	l.must("lab", "kill", old)
	rest := others(three, old)
	took := l.eventually("new leader among the rest", 20*time.Second, func() error {
		_, err := l.agreedLeader(rest...)
		return err
	})
	t.Logf("new leader after killing %s: seen within %s (polling every 100 ms)", old, took)
	l.eventually("dead node offline and committed", 20*time.Second, func() error {
		for _, n := range rest {
			s, err := l.status(n)
			if err != nil {
				return err
			}
			if got := nodeOf(s, old); got.State != "offline" || got.Committed != "offline" {
				return fmt.Errorf("%s sees %s as %s (committed %q)", n, old, got.State, got.Committed)
			}
		}
		return nil
	})

	// Power back: the node boots from its data directory and rejoins.
	l.must("lab", "revive", old)
	l.eventually("revived node back", 30*time.Second, func() error {
		if _, err := l.agreedLeader(three...); err != nil {
			return err
		}
		s, err := l.status(rest[0])
		if err != nil {
			return err
		}
		if got := nodeOf(s, old); got.Committed != "online" {
			return fmt.Errorf("%s committed %q", old, got.Committed)
		}
		return nil
	})
}

// A partition of one node from two leaves the one without quorum and the
// two with it; heal brings the one back.
func TestPartitionMinorityLosesQuorum(t *testing.T) {
	l := newLab(t, 3)
	l.eventually("leader", 20*time.Second, func() error { _, err := l.agreedLeader(three...); return err })
	l.must("lab", "partition", "n1")
	l.eventually("n1 without quorum, n2+n3 with it", 20*time.Second, func() error {
		s, err := l.status("n1")
		if err != nil {
			return err
		}
		if s.Quorum {
			return fmt.Errorf("n1 still has quorum: %+v", s.QuorumDetail)
		}
		_, err = l.agreedLeader("n2", "n3")
		return err
	})
	// The client still reaches the isolated node's API.
	s, err := l.status("n1")
	if err != nil {
		t.Fatal(err)
	}
	if s.Leader != "" && s.Raft.State == "Leader" {
		t.Errorf("n1 leads a minority: %+v", s.Raft)
	}

	l.must("lab", "heal")
	l.eventually("all three with quorum again", 20*time.Second, func() error {
		_, err := l.agreedLeader(three...)
		return err
	})
}

// A daemon restart keeps the raft state on disk: with the whole cluster
// stopped, a restarted node still has its log; started again, the cluster
// returns with its committed state.
func TestRestartKeepsState(t *testing.T) {
	l := newLab(t, 3)
	l.eventually("committed states", 20*time.Second, func() error {
		s, err := l.status("n3")
		if err != nil {
			return err
		}
		for _, n := range s.Nodes {
			if n.Committed != "online" {
				return fmt.Errorf("%s committed %q", n.Name, n.Committed)
			}
		}
		return nil
	})
	before, err := l.status("n3")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range three {
		l.must("lab", "stop-daemon", n)
	}
	// n3 alone: no peer can hand it anything, so what it has is its own.
	l.must("lab", "start-daemon", "n3")
	l.eventually("n3 answers with its log", 10*time.Second, func() error {
		s, err := l.status("n3")
		if err != nil {
			return err
		}
		if s.Raft.LastIndex < before.Raft.LastIndex {
			return fmt.Errorf("last index %d after restart, %d before", s.Raft.LastIndex, before.Raft.LastIndex)
		}
		if s.Quorum {
			return fmt.Errorf("n3 alone claims quorum")
		}
		return nil
	})
	for _, n := range []string{"n1", "n2"} {
		l.must("lab", "start-daemon", n)
	}
	l.eventually("cluster back with its state", 30*time.Second, func() error {
		if _, err := l.agreedLeader(three...); err != nil {
			return err
		}
		s, err := l.status("n1")
		if err != nil {
			return err
		}
		if s.Raft.Term <= before.Raft.Term {
			return fmt.Errorf("term %d, was %d: no new election seen", s.Raft.Term, before.Raft.Term)
		}
		for _, n := range s.Nodes {
			if n.Committed != "online" {
				return fmt.Errorf("%s committed %q", n.Name, n.Committed)
			}
		}
		return nil
	})
	// At lab up a node bootstraps, or joins a peer that already did; a
	// restart does neither: it starts from its own log.
	for _, n := range three {
		log, _ := os.ReadFile(filepath.Join(l.dir, n, "daemon.log"))
		runs := strings.Split(string(log), "--- vigil lab:")
		for i, run := range runs[2:] { // runs[0] is empty, runs[1] the first start
			if strings.Contains(run, "bootstrapped cluster") || strings.Contains(run, "joining") {
				t.Errorf("%s bootstrapped or joined again on restart %d:\n%s", n, i+1, run)
			}
		}
	}
}

// A node whose data directory was wiped does not bootstrap a second
// cluster: it asks its peers, joins, and receives the state.
func TestWipedNodeRejoins(t *testing.T) {
	l := newLab(t, 3)
	l.eventually("leader", 20*time.Second, func() error { _, err := l.agreedLeader(three...); return err })
	l.must("lab", "stop-daemon", "n2")
	if err := os.RemoveAll(filepath.Join(l.dir, "n2", "data")); err != nil {
		t.Fatal(err)
	}
	l.must("lab", "start-daemon", "n2")
	l.eventually("wiped node has the committed state", 30*time.Second, func() error {
		s, err := l.status("n2")
		if err != nil {
			return err
		}
		if s.Leader == "" || s.Raft.AppliedIndex == 0 || nodeOf(s, "n1").Committed != "online" {
			return fmt.Errorf("leader %q applied %d, n1 committed %q", s.Leader, s.Raft.AppliedIndex, nodeOf(s, "n1").Committed)
		}
		return nil
	})
	log, _ := os.ReadFile(filepath.Join(l.dir, "n2", "daemon.log"))
	if !strings.Contains(string(log), "joining") {
		t.Errorf("n2's log does not say it joined:\n%s", log)
	}
}

// lab down leaves no namespace, link, process or nftables table behind,
// and is idempotent.
func TestLabDownLeavesNothing(t *testing.T) {
	canLab(t)
	l := newLab(t, 3)
	l.eventually("leader", 20*time.Second, func() error { _, err := l.agreedLeader(three...); return err })
	l.must("lab", "partition", "n1") // puts nftables tables in place
	l.must("lab", "loss", "n2", "10")
	li := l.info()
	l.must("lab", "down")
	l.must("lab", "down")

	nss, _ := exec.Command("ip", "netns", "list").CombinedOutput()
	links, _ := exec.Command("ip", "-br", "link").CombinedOutput()
	for _, line := range append(strings.Split(string(nss), "\n"), strings.Split(string(links), "\n")...) {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(f[0], l.name+"-") {
			t.Errorf("left behind: %s", line)
		}
	}
	for _, n := range li.Nodes {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", n.PID)); err == nil {
			stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", n.PID))
			if !strings.Contains(string(stat), ") Z") {
				t.Errorf("daemon %s (pid %d) still runs: %s", n.Name, n.PID, stat)
			}
		}
	}
	// The host's own ruleset never held the lab's rules; the namespaces that
	// did are gone, which `ip netns list` showed above.
	if out, err := exec.Command("nft", "list", "tables").CombinedOutput(); err == nil && strings.Contains(string(out), "vigil_lab") {
		t.Errorf("host has a lab nftables table:\n%s", out)
	}
	if out, err := l.vigil("lab", "status"); err == nil {
		t.Errorf("lab status after down succeeded:\n%s", out)
	}
}

// Inside a node's namespace, vigil commands reach that node's daemon with
// no flags.
func TestExecTalksToThatNode(t *testing.T) {
	l := newLab(t, 2)
	for _, n := range []string{"n1", "n2"} {
		out := l.must("lab", "exec", n, "--", "vigil", "status", "-o", "json")
		var s struct{ Node string }
		if err := json.Unmarshal([]byte(out), &s); err != nil || s.Node != n {
			t.Errorf("exec %s: node %q, err %v\n%s", n, s.Node, err, out)
		}
	}
	// The exit code of the command is passed through.
	if _, err := l.vigil("lab", "exec", "n1", "--", "sh", "-c", "exit 7"); err == nil {
		t.Error("exit 7 inside the namespace was reported as success")
	} else if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 7 {
		t.Errorf("exit code %v, want 7", err)
	}
	// The client namespace is a place to run commands too.
	out, _ := l.vigil("lab", "exec", "client", "--", "vigil", "version")
	if !strings.HasPrefix(out, "vigil") {
		t.Errorf("client namespace exec: %s", out)
	}
}
