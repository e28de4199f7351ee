package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/fence"
	"github.com/vigil-ha/vigil/internal/model"
)

// TestFencerRoot runs a real 3-node 2-link lab whose daemons are sleep
// processes and fences n2 with the lab's fence agent, DIR/fence_vigil_lab
// (this test binary as its FenceBinary, see TestMain), run as a daemon
// runs it: by absolute path from inside another node's namespace, with
// fence.Runner's bare environment. off leaves nothing of n2 running, no
// floating address and no link; status says off; on boots it; a broken
// device changes nothing. Then the same through fence.Runner, vigil's
// own fence-agents driver.
func TestFencerRoot(t *testing.T) {
	requireNetns(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("lab root test: no sleep binary: %v", err)
	}
	if _, err := exec.LookPath("nsenter"); err != nil {
		t.Skipf("lab root test: no nsenter (util-linux): %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("fz%06d", rand.IntN(1_000_000))
	dir := t.TempDir()
	t.Cleanup(func() {
		if err := Down(context.Background(), name, true); err != nil {
			t.Errorf("cleanup Down: %v", err)
		}
	})
	l, err := Up(ctx, Options{
		Name: name, Dir: dir, Nodes: 3, Links: 2, Binary: sleep,
		WatchdogBinary: testBinary(t), FenceBinary: testBinary(t),
		DaemonArgs: func(Node) []string { return []string{"300"} },
	})
	if err != nil {
		t.Fatal(err)
	}
	n1, n2 := l.Nodes[0], l.Nodes[1]
	pids := map[int]bool{}
	for _, n := range l.Status() {
		if n.PID == 0 {
			t.Fatalf("%s: daemon not running after Up; log:\n%s", n.Name, l.LogTail(n.Name, 10))
		}
		pids[n.PID] = true
	}

	// What the agent finds inside a node: another network namespace, the
	// same PID namespace, and a mount namespace of its own (ip netns exec
	// makes one, to mount the node's /sys) in which the lab's files and
	// /run/netns are the host's.
	inside := inNode(t, ctx, n1.Netns, "readlink /proc/self/ns/net /proc/self/ns/pid /proc/self/ns/mnt; "+
		"test -x "+l.FenceAgentPath()+" && test -e /run/netns/"+n2.Netns+" && test -e /run/vigil/lab/"+name+".json && echo files ok")
	host := run(t, "sh", "-c", "readlink /proc/self/ns/net /proc/self/ns/pid /proc/self/ns/mnt")
	in, out := strings.Fields(inside), strings.Fields(host)
	if len(in) != 5 || len(out) != 3 || in[0] == out[0] || in[1] != out[1] || in[2] == out[2] || in[3]+in[4] != "filesok" {
		t.Fatalf("inside %s:\n%s\non the host:\n%s", n1.Netns, inside, host)
	}

	// n2 runs its daemon, a process of a resource holding 198.18.0.200/32,
	// and a floating IP.
	v := startVictim(t, l, "n2")
	run(t, "ip", "-n", n2.Netns, "addr", "add", "198.18.0.100/32", "dev", "eth0")
	old := l.Status()[1].PID

	got := agent(t, ctx, l, n1.Netns, "action=off\nplug=n2\n")
	if got != (answer{0, "Success: Powered OFF\n", ""}) {
		t.Fatalf("off n2 from n1: %+v; fencer.log:\n%s", got, l.FencerLog(5))
	}
	v.reset(t, "after off")
	if p, err := readProc(old); err == nil && !p.dead() {
		t.Errorf("n2 daemon %d survived off: %+v", old, p)
	}
	if n, _ := l.Node("n2"); n.PID != 0 {
		t.Errorf("n2 daemon PID %d after off", n.PID)
	}
	if id, err := netnsID(n2.Netns); err != nil {
		t.Fatal(err)
	} else if ps := procsIn([]nsID{id}); len(ps) > 0 {
		releaseAll(ps)
		t.Errorf("%d processes left in %s after off", len(ps), n2.Netns)
	}
	if addrs := run(t, "ip", "-n", n2.Netns, "-br", "addr"); strings.Contains(addrs, "198.18.0.100") || strings.Contains(addrs, "198.18.0.200") {
		t.Errorf("n2 keeps a floating address after off:\n%s", addrs)
	}
	for i := range 2 {
		if linkUp(t, vethName(name, "n2", i)) {
			t.Errorf("%s up after off", vethName(name, "n2", i))
		}
	}
	reach(t, n1.Netns, "198.18.0.2", false)
	reach(t, n1.Netns, "198.18.1.2", false)
	if fe, err := l.Fencer(); err != nil || strings.Join(fe.OffNodes(), " ") != "n2" {
		t.Errorf("Fencer after off: %+v, %v; want n2 held off", fe, err)
	}

	if got := agent(t, ctx, l, n1.Netns, "action=status\nplug=n2\n"); got != (answer{2, "Status: OFF\n", ""}) {
		t.Errorf("status n2 after off: %+v", got)
	}
	if got := agent(t, ctx, l, l.Nodes[2].Netns, "action=off\nport=n2\n"); got != (answer{0, "Success: Already OFF\n", ""}) {
		t.Errorf("off n2 again, from n3: %+v", got)
	}
	if err := l.StartDaemon("n2"); err == nil || !strings.Contains(err.Error(), "holds n2 powered off") {
		t.Errorf("StartDaemon on a fenced node: %v", err)
	}

	// Stop n2's watchdog, so that on, run inside n1, must start one: in
	// the host's namespace, not in n1's.
	ref := l.dogs["n2"]
	if p, ok := pinStarted(ref.PID, ref.Start); !ok {
		t.Fatalf("n2 watchdog %d not running", ref.PID)
	} else if err := terminate(ctx, []proc{p}, 3*time.Second); err != nil {
		t.Fatal(err)
	}

	if got := agent(t, ctx, l, n1.Netns, "action=on\nplug=n2\n"); got != (answer{0, "Success: Powered ON\n", ""}) {
		t.Fatalf("on n2 from n1: %+v; fencer.log:\n%s\nn2 log:\n%s", got, l.FencerLog(5), l.LogTail("n2", 5))
	}
	o, err := Open(name) // l is stale: another process started n2's daemon
	if err != nil {
		t.Fatal(err)
	}
	on, _ := o.Node("n2")
	if on.PID == 0 || on.PID == old {
		t.Fatalf("n2 daemon after on: %d (was %d); log:\n%s", on.PID, old, o.LogTail("n2", 5))
	}
	pids[on.PID] = true
	for i := range 2 {
		if !linkUp(t, vethName(name, "n2", i)) {
			t.Errorf("%s down after on", vethName(name, "n2", i))
		}
	}
	reach(t, n1.Netns, "198.18.0.2", true)
	reach(t, n1.Netns, "198.18.1.2", true)
	w, err := o.Watchdog("n2")
	if err != nil || w.PID == 0 || w.PID == ref.PID {
		t.Fatalf("n2 watchdog after on: %+v, %v (was %d); log:\n%s", w, err, ref.PID, tail(o.watchdogLogPath("n2"), 5))
	}
	pids[w.PID] = true
	here, _ := statID("/proc/self/ns/net")
	if got, err := statID(fmt.Sprintf("/proc/%d/ns/net", w.PID)); err != nil || got != here {
		t.Errorf("n2 watchdog %d started from inside n1 is in namespace %v (%v); want the host's, %v", w.PID, got, err, here)
	}
	if got := agent(t, ctx, l, n1.Netns, "action=status\nplug=n2\n"); got != (answer{0, "Status: ON\n", ""}) {
		t.Errorf("status n2 after on: %+v", got)
	}
	if got := agent(t, ctx, l, n1.Netns, "action=on\nplug=n2\n"); got != (answer{0, "Success: Already ON\n", ""}) {
		t.Errorf("on n2 again: %+v", got)
	}
	if n, _ := o.Node("n2"); n.PID != on.PID {
		t.Errorf("on an on node restarted its daemon: %d, was %d", n.PID, on.PID)
	}

	// Broken: off and status fail, and n2 keeps running.
	if err := o.SetFencer(ctx, FencerBroken); err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"action=off\nplug=n2\n", "action=reboot\nplug=n2\n", "action=status\nplug=n2\n"} {
		got := agent(t, ctx, l, n1.Netns, in)
		if got.code != 1 || !strings.Contains(got.stderr, "lab fencer is broken (vigil lab --name "+name+" fencer working to mend it)") {
			t.Errorf("broken, %q: %+v", in, got)
		}
	}
	if n, _ := o.Node("n2"); n.PID != on.PID {
		t.Errorf("a broken fencer touched n2: daemon %d, was %d", n.PID, on.PID)
	}
	if !linkUp(t, vethName(name, "n2", 0)) {
		t.Error("a broken fencer cut n2's link")
	}
	if err := o.SetFencer(ctx, FencerWorking); err != nil {
		t.Fatal(err)
	}

	// Through vigil's own fence-agents driver, with its bare environment.
	dev := fence.Device{ID: "lab", Agent: l.FenceAgentPath(), Timeout: 30 * time.Second,
		Plugs: map[model.NodeID]string{"n1": "n1", "n2": "n2", "n3": "n3"}}
	r := fence.Runner{}
	status := func(when string, want fence.Power) {
		t.Helper()
		if p, err := r.Run(ctx, dev, fence.Status, "n2"); err != nil || p != want {
			t.Errorf("fence.Runner status n2 %s: %q, %v; want %q", when, p, err, want)
		}
	}
	status("before off", fence.PowerOn)
	if _, err := r.Run(ctx, dev, fence.Off, "n2"); err != nil {
		t.Fatalf("fence.Runner off n2: %v", err)
	}
	status("after off", fence.PowerOff)
	if _, err := r.Run(ctx, dev, fence.On, "n2"); err != nil {
		t.Fatalf("fence.Runner on n2: %v", err)
	}
	status("after on", fence.PowerOn)
	if lv, err := r.Fence(ctx, "n2", []fence.Level{{dev}}, fence.Reboot); err != nil || lv != 0 {
		t.Errorf("fence.Runner reboot n2: level %d, %v", lv, err)
	}
	status("after reboot", fence.PowerOn)
	if err := o.SetFencer(ctx, FencerBroken); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Run(ctx, dev, fence.Off, "n2"); !errors.Is(err, fence.ErrFailed) || !strings.Contains(err.Error(), "lab fencer is broken") {
		t.Errorf("fence.Runner off n2, broken: %v; want ErrFailed saying the fencer is broken", err)
	}
	o, err = Open(name)
	if err != nil {
		t.Fatal(err)
	}
	final, _ := o.Node("n2")
	if final.PID == 0 {
		t.Errorf("n2 not running after a broken off; log:\n%s", o.LogTail("n2", 5))
	}
	pids[final.PID] = true

	log := o.FencerLog(100)
	for _, want := range []string{
		"action=off plug=n2 exit=0 ok: powered off", "action=status plug=n2 exit=2 off", "action=off plug=n2 exit=0 ok: already off",
		"action=on plug=n2 exit=0 ok: powered on", "action=on plug=n2 exit=0 ok: already on", "device broken",
		"action=off plug=n2 exit=1 failed: device broken", "action=reboot plug=n2 exit=0 ok: rebooted",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("fencer.log lacks %q:\n%s", want, log)
		}
	}
	t.Logf("fencer.log:\n%s", log)

	if err := Down(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	for pid := range pids {
		waitUntil(t, 3*time.Second, fmt.Sprintf("process %d to go after Down", pid), func() bool {
			p, err := readProc(pid)
			return err != nil || p.dead()
		})
	}
}

// agent runs the lab's fence agent inside namespace ns, as fence.Runner
// runs an agent (bare environment, cwd /), with in on its stdin.
func agent(t *testing.T, ctx context.Context, l *Lab, ns, in string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", "netns", "exec", ns, l.FenceAgentPath())
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.Dir = "/"
	cmd.Stdin = strings.NewReader(in)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run %s in %s: %v: %s", l.FenceAgentPath(), ns, err, errb.String())
	}
	return answer{cmd.ProcessState.ExitCode(), out.String(), errb.String()}
}

// inNode runs a shell script inside namespace ns and returns its output.
func inNode(t *testing.T, ctx context.Context, ns, script string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", "netns", "exec", ns, "sh", "-c", script).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s: %v: %s", ns, script, err, out)
	}
	return string(out)
}
