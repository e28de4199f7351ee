package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With the lab's fencing device configured (lab up --fencing), the
// majority fences the VIP holder it lost (the lab's fencer kills the
// node's daemon and drops its addresses) and recovers the group at once,
// without waiting for the lease; with the device broken, it recovers
// nothing however long the lease has been over, status says why, and the
// operator's confirm-down recovers it. A sampler looks at every node's
// addresses every 5 ms throughout: never two holders.
func TestFencing(t *testing.T) {
	l := newLab(t, 3, "--fencing")
	s := l.sampleHolders("198.18.0.100", 5*time.Millisecond)
	const trials = 3
	for i := 1; i <= trials; i++ {
		holder, moved, took := l.partitionHolder(i)
		t.Logf("trial %d: %s fenced, VIP answered by %s after %s", i, holder, moved, took.Round(10*time.Millisecond))
		st, err := l.status(moved)
		if err != nil {
			t.Fatal(err)
		}
		if f := nodeOf(st, holder).Fence; !strings.HasPrefix(f, "fenced at") {
			t.Fatalf("trial %d: %s's fencing as %s reports it: %q, want fenced", i, holder, moved, f)
		}
		if l.vipOn(holder) {
			t.Fatalf("trial %d: the fenced %s still holds the VIP", i, holder)
		}
		l.must("lab", "heal")
		l.must("lab", "revive", holder)
		l.awaitOnline(i, holder, moved)
	}

	// The device fails: nothing is recovered, though the lease is long over.
	l.must("lab", "fencer", "broken")
	holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	l.must("lab", "partition", holder)
	var other string
	for _, n := range l.info().Nodes {
		if n.Name != holder {
			other = n.Name
			break
		}
	}
	l.eventually("the failed fencing is recorded", 20*time.Second, func() error {
		st, err := l.status(other)
		if err == nil && !strings.HasPrefix(nodeOf(st, holder).Fence, "fencing FAILED") {
			err = fmt.Errorf("%s's fencing: %q", holder, nodeOf(st, holder).Fence)
		}
		return err
	})
	time.Sleep(3 * time.Second) // three leases
	if p := l.probe(); p.OK {
		t.Fatalf("the VIP answers from %s though %s was never fenced", p.Node, holder)
	}
	if r, err := l.resource(other, "web-ip"); err != nil || r.Node != holder {
		t.Fatalf("web-ip as %s reports it: %+v (%v); want still recorded on %s", other, r, err, holder)
	}
	out := l.must("lab", "exec", other, "--", "vigil", "node", "confirm-down", holder)
	if !strings.Contains(out, "fenced on your word") {
		t.Errorf("confirm-down said %q", out)
	}
	moved := l.answeredBy("after confirm-down, the VIP answers from the majority", 30*time.Second, func(n string) error {
		if n == holder {
			return fmt.Errorf("still answered by %s", n)
		}
		return nil
	})
	t.Logf("confirm-down of %s: answered by %s", holder, moved)
	l.must("lab", "fencer", "working")
	l.must("lab", "heal")

	samples, overlaps, overlap, gap := s.Stop()
	t.Logf("%d samples, longest gap between samples %s", samples, gap.Round(time.Millisecond))
	if len(overlaps) > 0 {
		t.Errorf("two nodes held the VIP in %d samples (%s in all): %v\n%s", len(overlaps), overlap, overlaps, l.vipLog())
	}
}

// A stop that fails on a node that a fencing device covers gets that node
// fenced; the resource, blocked until then, is recovered on another node
// once the fence is recorded, without `resource cleanup`.
func TestStopFailureFences(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "svc.sh")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
f=%[1]s/$(ip netns identify $$).running
case "$1" in
start) touch "$f" ;;
stop) [ -e %[1]s/stop-fails ] && exit 1; rm -f "$f" ;;
status) [ -e "$f" ] && exit 0; exit 3 ;;
esac
`, dir)), 0o755); err != nil {
		t.Fatal(err)
	}
	res := writeResources(t, fmt.Sprintf(`
resources:
  - id: svc
    kind: script
    params: {path: %s}
    ops: {stop_timeout: 5s}
constraints:
  locations:
    - {id: svc-on-n1, resource: svc, node: n1, score: 100}
`, script))
	l := newLab(t, 3, "--fencing", "--resources", res)
	l.eventually("svc runs on n1", 30*time.Second, func() error {
		on, err := l.started("n2", "svc")
		if err == nil && on != "n1" {
			err = fmt.Errorf("svc on %s", on)
		}
		return err
	})
	if err := os.WriteFile(filepath.Join(dir, "stop-fails"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	l.must("lab", "exec", "n2", "--", "vigil", "resource", "ban", "svc", "n1")
	var on string
	l.eventually("svc runs elsewhere after n1 is fenced", 30*time.Second, func() error {
		var err error
		on, err = l.started("n2", "svc")
		if err == nil && on == "n1" {
			err = fmt.Errorf("svc still on n1")
		}
		return err
	})
	t.Logf("stop failed on n1, n1 fenced, svc started on %s after %s", on, time.Since(start).Round(10*time.Millisecond))
	st, err := l.status("n2")
	if err != nil {
		t.Fatal(err)
	}
	if f := nodeOf(st, "n1").Fence; !strings.HasPrefix(f, "fenced at") {
		t.Errorf("n1's fencing: %q, want fenced", f)
	}
}
