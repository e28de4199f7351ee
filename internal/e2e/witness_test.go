package e2e

import (
	"fmt"
	"testing"
	"time"
)

// Two nodes and a witness (lab up --nodes 3 --witness, with the lab's
// fencer): the witness (n3) never runs anything; killing the node that
// holds the group, or partitioning it from the other two, moves the group
// to the other node, as the witness and that node keep quorum. A sampler
// looks at every node's addresses every 5 ms: never two holders.
func TestWitness(t *testing.T) {
	l := newLab(t, 3, "--witness", "--fencing")
	s := l.sampleHolders("198.18.0.100", 5*time.Millisecond)
	notWitness := func(n string) error {
		if n == "n3" {
			return fmt.Errorf("the witness n3 answers for the VIP")
		}
		return nil
	}
	for i := 1; i <= 4; i++ {
		fault := []string{"kill", "partition"}[i%2]
		holder := l.answeredBy("the VIP answers", 20*time.Second, notWitness)
		start := time.Now()
		l.must("lab", fault, holder)
		moved := l.answeredBy(fmt.Sprintf("trial %d: after %s of %s, the VIP answers from the other node", i, fault, holder), 30*time.Second, func(n string) error {
			if n == holder {
				return fmt.Errorf("still answered by %s", n)
			}
			return notWitness(n)
		})
		t.Logf("trial %d: %s of %s: answered by %s after %s", i, fault, holder, moved, time.Since(start).Round(10*time.Millisecond))
		if fault == "partition" {
			l.must("lab", "heal")
		}
		l.must("lab", "revive", holder) // it was fenced either way
		l.awaitOnline(i, holder, moved)
	}
	st, err := l.status("n3")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range st.Resources {
		if r.Node == "n3" {
			t.Errorf("%s is %s on the witness", r.ID, r.State)
		}
	}
	samples, overlaps, overlap, gap := s.Stop()
	t.Logf("%d samples, longest gap between samples %s", samples, gap.Round(time.Millisecond))
	if len(overlaps) > 0 {
		t.Errorf("two nodes held the VIP in %d samples (%s in all): %v\n%s", len(overlaps), overlap, overlaps, l.vipLog())
	}
}
