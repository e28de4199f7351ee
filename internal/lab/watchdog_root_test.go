package lab

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWatchdogRoot runs a real 2-node lab. On n1 the test plays the daemon
// and writes to the watchdog's FIFO itself: feeding keeps the node alone,
// 'V' then close disarms, silence resets the node, and so does a close
// without 'V'. On n2 a shell "daemon" feeds it from inside the namespace:
// Kill freezes it and the watchdog resets the node; Revive starts it
// again; StopDaemon, which it does not survive with a 'V', resets again.
func TestWatchdogRoot(t *testing.T) {
	requireNetns(t)
	sh, err := exec.LookPath("sh")
	if err != nil {
		t.Skipf("lab root test: no sh: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("vw%06d", rand.IntN(1_000_000))
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := Down(context.Background(), name, true); err != nil {
			t.Errorf("cleanup Down: %v", err)
		}
	})
	const timeout = 200 * time.Millisecond
	l, err := Up(ctx, Options{
		Name: name, Dir: dir, Nodes: 2, Links: 1, Binary: sh, WatchdogBinary: testBinary(t), WatchdogTimeout: timeout,
		DaemonArgs: func(n Node) []string {
			if n.Name == "n1" {
				return []string{"-c", "exec sleep 300"}
			}
			// Feeds every 50 ms, from inside the namespace; never disarms.
			return []string{"-c", `exec 3>"$0"; while printf . >&3; do sleep 0.05; done`, filepath.Join(n.Dir, "watchdog")}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	n1 := l.Nodes[0]
	waitState(t, l, "n2", WatchdogArmed)

	// n1, 1: feeding keeps the node alone; 'V' then close disarms it.
	v := startVictim(t, l, "n1")
	f := openFIFOWriter(t, l.WatchdogPath("n1"))
	tick := time.NewTicker(timeout / 4)
	for i := range 20 { // 5 timeouts
		if _, err := f.Write([]byte{'.'}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			waitState(t, l, "n1", WatchdogArmed)
		}
		<-tick.C
	}
	tick.Stop()
	v.alive(t, "while fed")
	if _, err := f.Write([]byte{'V'}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitState(t, l, "n1", WatchdogIdle)
	<-time.After(3 * timeout) // a reset, if any, would come now
	v.alive(t, "after V and close")
	checkResets(t, l, "n1", 0, "")
	if n, _ := l.Node("n1"); n.PID == 0 {
		t.Error("n1 daemon gone after a disarm")
	}

	// n1, 2: silence resets it: the node's processes are killed, the stray
	// address goes, its own stays; the writer is ignored until it closes.
	f = openFIFOWriter(t, l.WatchdogPath("n1"))
	if _, err := f.Write([]byte{'.'}); err != nil {
		t.Fatal(err)
	}
	v.reset(t, "after silence")
	checkResets(t, l, "n1", 1, "no feed for 200ms")
	if n, _ := l.Node("n1"); n.PID != 0 {
		t.Errorf("n1 daemon %d alive after a reset", n.PID)
	}
	if out := run(t, "ip", "-n", n1.Netns, "-br", "addr", "show", "dev", "eth0"); !strings.Contains(out, "198.18.0.1/24") {
		t.Errorf("n1 lost its own address in the reset:\n%s", out)
	}
	if !linkUp(t, vethName(name, "n1", 0)) {
		t.Error("reset set n1's link down")
	}
	waitState(t, l, "n1", WatchdogFired)
	if _, err := f.Write([]byte{'.'}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	waitState(t, l, "n1", WatchdogIdle)
	checkResets(t, l, "n1", 1, "no feed for 200ms")
	if log := l.LogTail("n1", 1); log != "--- vigil lab: watchdog reset n1: no feed for 200ms\n" {
		t.Errorf("n1 daemon log ends %q", log)
	}

	// n1, 3: a close without 'V' (the daemon died) resets it.
	if err := l.StartDaemon("n1"); err != nil {
		t.Fatal(err)
	}
	v = startVictim(t, l, "n1")
	f = openFIFOWriter(t, l.WatchdogPath("n1"))
	if _, err := f.Write([]byte{'.', 'V', '.'}); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, "n1", WatchdogArmed)
	f.Close()
	v.reset(t, "after a close without V")
	checkResets(t, l, "n1", 2, "daemon exited without disarming")
	waitState(t, l, "n1", WatchdogIdle)

	// n2: Kill freezes the feeding daemon; the watchdog, not frozen, resets
	// the node within its timeout.
	v = startVictim(t, l, "n2")
	old, _ := l.Node("n2")
	if err := l.Kill("n2"); err != nil {
		t.Fatal(err)
	}
	v.reset(t, "after Kill")
	checkResets(t, l, "n2", 1, "no feed for 200ms")
	if p, err := readProc(old.PID); err == nil && !p.dead() {
		t.Errorf("frozen n2 daemon %d survived the reset: %+v", old.PID, p)
	}
	if err := l.Revive("n2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, "n2", WatchdogArmed)
	if n, _ := l.Node("n2"); n.PID == 0 || n.PID == old.PID {
		t.Errorf("n2 daemon after Revive: %d (was %d)", n.PID, old.PID)
	}
	checkResets(t, l, "n2", 1, "no feed for 200ms")
	if err := l.StopDaemon("n2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, l, "n2", WatchdogIdle)
	checkResets(t, l, "n2", 2, "daemon exited without disarming")

	// A watchdog whose lab is gone exits on its own; Down stops the others.
	w1, w2 := watchdog(t, l, "n1"), watchdog(t, l, "n2")
	run(t, "ip", "netns", "del", n1.Netns)
	waitUntil(t, 3*time.Second, "n1 watchdog to exit", func() bool { return !running(w1.PID, 0) })
	if err := Down(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	if running(w2.PID, 0) {
		t.Errorf("n2 watchdog %d left after Down", w2.PID)
	}
	for _, node := range []string{"n1", "n2"} {
		if log := tail(l.watchdogLogPath(node), 1); !strings.Contains(log, "watchdog exits") {
			t.Errorf("%s watchdog log ends %q; want it to exit by itself", node, log)
		}
	}
	for _, pid := range children(t) {
		t.Errorf("child %d left after Down", pid)
	}
}

// victim is a process the test starts inside a node's namespace, and an
// extra address, 198.18.0.200/32 on eth0, there: what a reset must remove.
type victim struct {
	netns string
	pid   int
	done  chan struct{}
}

func startVictim(t *testing.T, l *Lab, node string) *victim {
	t.Helper()
	n, err := l.Node(node)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", n.Netns, "sleep", "100")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	v := &victim{netns: n.Netns, pid: cmd.Process.Pid, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); close(v.done) }()
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-v.done })
	id, err := netnsID(n.Netns)
	if err != nil {
		t.Fatal(err)
	}
	if err := awaitNetns(v.pid, id); err != nil {
		t.Fatal(err)
	}
	run(t, "ip", "-n", n.Netns, "addr", "add", "198.18.0.200/32", "dev", "eth0")
	return v
}

func (v *victim) hasAddr(t *testing.T) bool {
	t.Helper()
	return strings.Contains(run(t, "ip", "-n", v.netns, "-br", "addr", "show", "dev", "eth0"), "198.18.0.200/32")
}

func (v *victim) alive(t *testing.T, when string) {
	t.Helper()
	select {
	case <-v.done:
		t.Errorf("%s: process %d in %s killed", when, v.pid, v.netns)
	default:
	}
	if !v.hasAddr(t) {
		t.Errorf("%s: 198.18.0.200/32 gone from %s", when, v.netns)
	}
}

// reset waits, up to the timeout and 3 s, for the node to be reset.
func (v *victim) reset(t *testing.T, when string) {
	t.Helper()
	select {
	case <-v.done:
	case <-time.After(3200 * time.Millisecond):
		t.Fatalf("%s: process %d in %s not killed", when, v.pid, v.netns)
	}
	waitUntil(t, time.Second, "198.18.0.200/32 to go from "+v.netns, func() bool { return !v.hasAddr(t) })
}

func openFIFOWriter(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0) // the watchdog reads: does not block
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func watchdog(t *testing.T, l *Lab, node string) Watchdog {
	t.Helper()
	w, err := l.Watchdog(node)
	if err != nil {
		t.Fatal(err)
	}
	if w.PID == 0 {
		t.Fatalf("%s: watchdog not running; log:\n%s", node, tail(l.watchdogLogPath(node), 10))
	}
	return w
}

func waitState(t *testing.T, l *Lab, node string, want WatchdogState) {
	t.Helper()
	waitUntil(t, 3*time.Second, fmt.Sprintf("%s watchdog %s", node, want), func() bool { return watchdog(t, l, node).State == want })
}

func checkResets(t *testing.T, l *Lab, node string, resets int, last string) {
	t.Helper()
	// The watchdog records a reset once it is done, a moment after the
	// victim died: give it a few seconds on a busy machine.
	deadline := time.Now().Add(5 * time.Second)
	for {
		w := watchdog(t, l, node)
		if w.Resets == resets && w.LastReset == last {
			return
		}
		if time.Now().After(deadline) {
			t.Errorf("%s watchdog: %d resets, last %q; want %d, %q", node, w.Resets, w.LastReset, resets, last)
			return
		}
		<-time.After(20 * time.Millisecond)
	}
}

// waitUntil polls cond every 10 ms for up to d.
func waitUntil(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waited %s for %s", d, what)
		}
		<-time.After(10 * time.Millisecond)
	}
}
