package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Two nodes without a witness (lab up --nodes 2 --two-node, with the
// lab's fencer). A partition splits them: neither has quorum, both fence,
// and the node that holds the group wins the race (the other waits the
// priority delay and is fenced first), recovers alone and runs the group
// again. A killed holder is fenced by the survivor after the delay. With
// the fencer broken, a split recovers nothing until the operator's
// confirm-down. The fenced node comes back as a voter each time. A sampler
// looks at both nodes' addresses every 5 ms: never two holders.
func TestTwoNode(t *testing.T) {
	l := newLab(t, 2, "--two-node")
	s := l.sampleHolders("198.18.0.100", 5*time.Millisecond)
	other := func(n string) string {
		if n == "n1" {
			return "n2"
		}
		return "n1"
	}
	for i := 1; i <= 4; i++ {
		fault := []string{"kill", "partition"}[i%2]
		holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
		// partition: the holder wins the race; kill: the survivor fences it
		winner, loser := holder, other(holder)
		if fault == "kill" {
			winner, loser = loser, winner
		}
		start := time.Now()
		l.must("lab", fault, holder)
		// The VIP may answer from the holder until its lease ends: wait
		// for the outcome of the race first.
		l.eventually(fmt.Sprintf("trial %d: after %s of %s, %s fenced %s and runs alone", i, fault, holder, winner, loser), 40*time.Second, func() error {
			st, err := l.status(winner)
			switch {
			case err != nil:
			case !strings.HasPrefix(nodeOf(st, loser).Fence, "fenced at"):
				err = fmt.Errorf("%s's fencing: %q", loser, nodeOf(st, loser).Fence)
			case !st.Quorum || st.QuorumDetail.Voters != 1:
				err = fmt.Errorf("quorum %v with %d voters", st.Quorum, st.QuorumDetail.Voters)
			}
			return err
		})
		got := l.answeredBy(fmt.Sprintf("trial %d: the VIP answers from %s", i, winner), 30*time.Second, func(n string) error {
			if n != winner {
				return fmt.Errorf("answered by %s", n)
			}
			return nil
		})
		took := time.Since(start)
		if l.vipOn(loser) {
			t.Fatalf("trial %d: the fenced %s holds the VIP", i, loser)
		}
		t.Logf("trial %d: %s of %s: %s fenced %s; VIP answered by %s after %s", i, fault, holder, winner, loser, got, took.Round(10*time.Millisecond))
		if fault == "partition" {
			l.must("lab", "heal")
		}
		l.must("lab", "revive", loser)
		l.awaitVoters(i, winner, 2)
		l.awaitOnline(i, loser, winner)
	}

	// The device fails: the survivor recovers nothing until confirm-down.
	l.must("lab", "fencer", "broken")
	holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	survivor := other(holder)
	// partition, not kill: the holder stays up and drops the VIP when its
	// lease ends, as the powered-off node that confirm-down asserts would
	// (a lab kill freezes the node with its addresses)
	l.must("lab", "partition", holder)
	l.eventually("the failed fencing is reported", 30*time.Second, func() error {
		st, err := l.status(survivor)
		if err == nil && !strings.HasPrefix(nodeOf(st, holder).Fence, "fencing FAILED") {
			err = fmt.Errorf("%s's fencing: %q", holder, nodeOf(st, holder).Fence)
		}
		return err
	})
	time.Sleep(3 * time.Second) // three leases
	if p := l.probe(); p.OK {
		t.Fatalf("the VIP answers from %s though %s was never fenced", p.Node, holder)
	}
	out := l.must("lab", "exec", survivor, "--", "vigil", "node", "confirm-down", holder)
	if !strings.Contains(out, "on your word") {
		t.Errorf("confirm-down said %q", out)
	}
	l.answeredBy("after confirm-down, the VIP answers from the survivor", 30*time.Second, func(n string) error {
		if n != survivor {
			return fmt.Errorf("answered by %s", n)
		}
		return nil
	})
	l.must("lab", "fencer", "working")
	l.must("lab", "heal")
	l.awaitVoters(5, survivor, 2)
	l.awaitOnline(5, holder, survivor)

	samples, overlaps, overlap, gap := s.Stop()
	t.Logf("%d samples, longest gap between samples %s", samples, gap.Round(time.Millisecond))
	if len(overlaps) > 0 {
		t.Errorf("two nodes held the VIP in %d samples (%s in all): %v\n%s", len(overlaps), overlap, overlaps, l.vipLog())
	}
}

// awaitVoters waits until asker counts n voters.
func (l *labT) awaitVoters(trial int, asker string, n int) {
	l.t.Helper()
	l.eventually(fmt.Sprintf("trial %d: %s counts %d voters", trial, asker, n), 30*time.Second, func() error {
		st, err := l.status(asker)
		if err == nil && st.QuorumDetail.Voters != n {
			err = fmt.Errorf("%d voters, quorum %v", st.QuorumDetail.Voters, st.Quorum)
		}
		return err
	})
}
