package e2e

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// holderSampler looks at every lab node's addresses through netlink, in
// each node's namespace, every few milliseconds, and records every instant
// at which more than one node holds the VIP (invariant 1).
type holderSampler struct {
	vip   net.IP
	every time.Duration

	mu       sync.Mutex
	samples  int
	overlaps []string      // "12:00:01.234 n1+n2", one per sample with two holders
	overlap  time.Duration // summed time of samples with two holders
	gaps     time.Duration // the longest interval between two samples
	stop     chan struct{}
	done     chan struct{}
}

// sampleHolders starts a sampler over l's nodes; Stop ends it.
func (l *labT) sampleHolders(vip string, every time.Duration) *holderSampler {
	l.t.Helper()
	s := &holderSampler{vip: net.ParseIP(vip), every: every, stop: make(chan struct{}), done: make(chan struct{})}
	type nsHandle struct {
		name string
		h    *netlink.Handle
	}
	var hs []nsHandle
	for _, n := range l.info().Nodes {
		ns, err := netns.GetFromPath(filepath.Join("/run/netns", n.Netns))
		if err != nil {
			l.t.Fatalf("namespace of %s: %v", n.Name, err)
		}
		h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
		ns.Close()
		if err != nil {
			l.t.Fatalf("netlink in %s: %v", n.Name, err)
		}
		hs = append(hs, nsHandle{n.Name, h})
	}
	go func() {
		defer close(s.done)
		defer func() {
			for _, h := range hs {
				h.h.Close()
			}
		}()
		t := time.NewTicker(every)
		defer t.Stop()
		last := time.Now()
		for i := 0; i < 1_000_000; i++ { // bounded: far beyond any test's length
			select {
			case <-s.stop:
				return
			case <-t.C:
			}
			var holding []string
			for _, h := range hs {
				addrs, err := h.h.AddrList(nil, netlink.FAMILY_V4)
				if err != nil {
					continue // a node being revived: its namespace is there, its links may not be
				}
				for _, a := range addrs {
					if a.IP.Equal(s.vip) {
						holding = append(holding, h.name)
						break
					}
				}
			}
			now := time.Now()
			s.mu.Lock()
			s.samples++
			s.gaps = max(s.gaps, now.Sub(last))
			if len(holding) > 1 {
				s.overlaps = append(s.overlaps, now.Format("15:04:05.000")+" "+strings.Join(holding, "+"))
				s.overlap += now.Sub(last)
			}
			s.mu.Unlock()
			last = now
		}
	}()
	return s
}

// Stop ends the sampler and returns what it saw.
func (s *holderSampler) Stop() (samples int, overlaps []string, overlap, gap time.Duration) {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.samples, slices.Clone(s.overlaps), s.overlap, s.gaps
}

// Partitioning the node that holds the VIP from the rest (it still reaches
// the client) never leaves two nodes holding it: the holder's lease runs
// out and it drops the address before the others take over. Repeated ten
// times, with the VIP moving each time, while a sampler looks at every
// node's addresses every 5 ms.
func TestPartitionNeverTwoHolders(t *testing.T) {
	l := newLab(t, 3)
	s := l.sampleHolders("198.18.0.100", 5*time.Millisecond)
	const trials = 10
	for i := 1; i <= trials; i++ {
		holder, moved, took := l.partitionHolder(i)
		t.Logf("trial %d: %s -> %s in %s", i, holder, moved, took.Round(10*time.Millisecond))
		l.must("lab", "heal")
		l.awaitOnline(i, holder, moved)
	}
	samples, overlaps, overlap, gap := s.Stop()
	t.Logf("%d samples, longest gap between samples %s", samples, gap.Round(time.Millisecond))
	if len(overlaps) > 0 {
		t.Errorf("two nodes held the VIP in %d samples (%s in all): %v\n%s", len(overlaps), overlap, overlaps, l.vipLog())
	}
	if samples < 100 {
		t.Errorf("only %d samples: the sampler did not look often enough to tell", samples)
	}
}

// daemonPID is the PID of node's daemon, from `lab status -o json`.
func (l *labT) daemonPID(node string) int {
	l.t.Helper()
	for _, n := range l.info().Nodes {
		if n.Name == node {
			return n.PID
		}
	}
	l.t.Fatalf("no node %s", node)
	return 0
}

// vipOn reports whether node's namespace holds the demo VIP.
func (l *labT) vipOn(node string) bool {
	l.t.Helper()
	out, err := exec.Command("ip", "-n", l.netnsOf(node), "-4", "-o", "addr", "show").CombinedOutput()
	if err != nil {
		l.t.Fatalf("addresses of %s: %v: %s", node, err, out)
	}
	return strings.Contains(string(out), " 198.18.0.100/")
}

func (l *labT) netnsOf(node string) string {
	l.t.Helper()
	for _, n := range l.info().Nodes {
		if n.Name == node {
			return n.Netns
		}
	}
	l.t.Fatalf("no node %s", node)
	return ""
}

// A daemon frozen (SIGSTOP) for longer than its lease, or killed with
// SIGKILL, stops feeding its node's watchdog, and the node is reset before
// the lease ends: its VIP never overlaps with the survivors', who take the
// group over once the lease has certainly ended. The lab's emulated
// watchdog stands in for /dev/watchdog.
//
// It runs the wan profile (lease 5s, watchdog 1s): the lan profile's 200ms
// watchdog is too tight for a loaded 2-core machine, whose scheduling
// stalls would reset healthy nodes.
func TestHungOrKilledDaemonNeverTwoHolders(t *testing.T) {
	l := newLab(t, 3, "--watchdog", "--profile", "wan")
	s := l.sampleHolders("198.18.0.100", 5*time.Millisecond)
	for i := range 10 {
		fault := []string{"SIGSTOP", "SIGKILL"}[i%2]
		holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
		pid := l.daemonPID(holder)
		sig := syscall.SIGKILL
		if fault == "SIGSTOP" {
			sig = syscall.SIGSTOP
		}
		start := time.Now()
		if err := syscall.Kill(pid, sig); err != nil {
			t.Fatalf("trial %d: %s daemon %d of %s: %v", i+1, fault, pid, holder, err)
		}
		l.eventually(fmt.Sprintf("trial %d: %s's VIP is gone (watchdog reset)", i+1, holder), 10*time.Second, func() error {
			if l.vipOn(holder) {
				return fmt.Errorf("%s still holds the VIP", holder)
			}
			return nil
		})
		dropped := time.Since(start)
		moved := l.answeredBy(fmt.Sprintf("trial %d: the VIP answers from a survivor", i+1), 30*time.Second, func(n string) error {
			if n == holder {
				return fmt.Errorf("still answered by %s", n)
			}
			return nil
		})
		t.Logf("trial %d: %s of %s's daemon: VIP dropped there after %s, answered by %s after %s",
			i+1, fault, holder, dropped.Round(10*time.Millisecond), moved, time.Since(start).Round(10*time.Millisecond))
		_ = syscall.Kill(pid, syscall.SIGCONT) // if the reset left it (it should not have)
		l.must("lab", "revive", holder)
		l.awaitOnline(i+1, holder, moved)
	}
	samples, overlaps, overlap, gap := s.Stop()
	t.Logf("%d samples, longest gap between samples %s", samples, gap.Round(time.Millisecond))
	if len(overlaps) > 0 {
		t.Errorf("two nodes held the VIP in %d samples (%s in all): %v", len(overlaps), overlap, overlaps)
	}
}

// vipLog is every node's log lines about the VIP and the leases, for a
// failure's message.
func (l *labT) vipLog() string {
	var b strings.Builder
	for _, n := range l.info().Nodes {
		data, _ := os.ReadFile(filepath.Join(l.dir, n.Name, "daemon.log"))
		for _, line := range strings.Split(string(data), "\n") {
			if strings.Contains(line, "web-ip") && !strings.Contains(line, "op=monitor") || strings.Contains(line, "lease") || strings.Contains(line, "vigil lab:") {
				fmt.Fprintf(&b, "%s: %s\n", n.Name, line)
			}
		}
	}
	return b.String()
}

// partitionHolder cuts the node that answers for the VIP off from the
// others (it still reaches the client) and waits until another node
// answers: it returns both and how long that took.
func (l *labT) partitionHolder(trial int) (holder, moved string, took time.Duration) {
	l.t.Helper()
	holder = l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	start := time.Now()
	l.must("lab", "partition", holder)
	moved = l.answeredBy(fmt.Sprintf("trial %d: the VIP answers from the majority", trial), 30*time.Second, func(n string) error {
		if n == holder {
			return fmt.Errorf("still answered by %s, cut off from the others", n)
		}
		return nil
	})
	return holder, moved, time.Since(start)
}

// awaitOnline waits until asker has committed node online again.
func (l *labT) awaitOnline(trial int, node, asker string) {
	l.t.Helper()
	l.eventually(fmt.Sprintf("trial %d: %s is back", trial, node), 30*time.Second, func() error {
		st, err := l.status(asker)
		if err == nil && nodeOf(st, node).Committed != "online" {
			err = fmt.Errorf("%s is %q", node, nodeOf(st, node).Committed)
		}
		return err
	})
}
