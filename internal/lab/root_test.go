package lab

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMain runs the watchdog process when a root test's lab starts this
// test binary as its WatchdogBinary (`lab watchdog --name L --node N
// --timeout D`), and the fence agent when a lab's DIR/fence_vigil_lab runs
// it as its FenceBinary (`lab --name L fence-agent`), as the vigil
// binary's hidden commands do; else the tests.
func TestMain(m *testing.M) {
	if len(os.Args) == 5 && os.Args[1] == "lab" && os.Args[2] == "--name" && os.Args[4] == "fence-agent" {
		l, err := Open(os.Args[3])
		if err != nil {
			fmt.Fprintln(os.Stderr, "ERROR:", err)
			os.Exit(1)
		}
		os.Exit(l.FenceAgent(context.Background(), os.Stdin, os.Stdout, os.Stderr))
	}
	if len(os.Args) > 2 && os.Args[1] == "lab" && os.Args[2] == "watchdog" {
		fs := flag.NewFlagSet("watchdog", flag.ExitOnError)
		name := fs.String("name", "", "")
		node := fs.String("node", "", "")
		timeout := fs.Duration("timeout", 0, "")
		_ = fs.Parse(os.Args[3:])
		ctx, stop := signal.NotifyContext(context.Background(), unix.SIGTERM, unix.SIGINT)
		err := RunWatchdog(ctx, *name, *node, *timeout, slog.New(slog.NewTextHandler(os.Stderr, nil)))
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// testBinary is this test binary, the root tests' WatchdogBinary.
func testBinary(t *testing.T) string {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// requireNetns skips the test unless it may create network namespaces.
func requireNetns(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("lab root test: needs root to create network namespaces")
	}
	probe := fmt.Sprintf("vtprobe%06d", rand.IntN(1_000_000))
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("lab root test: ip netns add fails here: %v: %s", err, out)
	}
	if out, err := exec.Command("ip", "netns", "del", probe).CombinedOutput(); err != nil {
		t.Fatalf("ip netns del %s: %v: %s", probe, err, out)
	}
}

// TestLabRoot builds a real 3-node 2-link lab whose "daemons" are sleep
// processes, injects every fault and tears it down.
func TestLabRoot(t *testing.T) {
	requireNetns(t)
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skipf("lab root test: no sleep binary: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name := fmt.Sprintf("vt%06d", rand.IntN(1_000_000))
	dir := t.TempDir()
	t.Cleanup(func() { // runs before TempDir's cleanup
		if err := Down(context.Background(), name, true); err != nil {
			t.Errorf("cleanup Down: %v", err)
		}
	})
	l, err := Up(ctx, Options{
		Name: name, Dir: dir, Nodes: 3, Links: 2, Binary: sleep, WatchdogBinary: testBinary(t),
		Log:        slog.New(slog.NewTextHandler(t.Output(), nil)),
		DaemonArgs: func(Node) []string { return []string{"300"} },
		Config:     func(nodes []Node) ([]byte, error) { return []byte("# lab test\n"), nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	pids := map[int]bool{} // every daemon PID seen
	for _, n := range l.Status() {
		if n.PID == 0 {
			t.Fatalf("%s: daemon not running after Up; log:\n%s", n.Name, l.LogTail(n.Name, 10))
		}
		pids[n.PID] = true
		w, err := l.Watchdog(n.Name)
		if err != nil || w.PID == 0 || w.State != WatchdogIdle || w.FIFO != filepath.Join(dir, n.Name, "watchdog") {
			t.Fatalf("%s: watchdog after Up: %+v, %v; log:\n%s", n.Name, w, err, tail(l.watchdogLogPath(n.Name), 10))
		}
		if fi, err := os.Stat(w.FIFO); err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v, %v; want a FIFO of mode 0600", w.FIFO, fi.Mode(), err)
		}
		pids[w.PID] = true
	}
	if _, err := Up(ctx, Options{Name: name, Binary: sleep, Dir: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("second Up: %v; want already exists", err)
	}
	o, err := Open(name)
	if err != nil {
		t.Fatal(err)
	}
	if o.Dir != dir || len(o.Nodes) != 3 || o.Nodes[2].PID != l.Nodes[2].PID {
		t.Errorf("Open = %+v", o)
	}

	// Addresses: each namespace has its own, the host none on the bridges.
	for _, n := range l.Nodes {
		out := run(t, "ip", "-n", n.Netns, "-br", "addr")
		for i, a := range n.Addresses {
			if !strings.Contains(out, fmt.Sprintf("eth%d", i)) || !strings.Contains(out, a+"/24") {
				t.Errorf("%s: no %s/24 on eth%d:\n%s", n.Netns, a, i, out)
			}
		}
		if strings.Contains(out, "fe80") {
			t.Errorf("%s has an IPv6 link-local address:\n%s", n.Netns, out)
		}
	}
	if out := run(t, "ip", "-n", l.Client.Netns, "-br", "addr"); !strings.Contains(out, "198.18.0.250/24") {
		t.Errorf("client: no 198.18.0.250/24:\n%s", out)
	}
	for i := range 2 {
		if f := strings.Fields(run(t, "ip", "-br", "addr", "show", "dev", bridgeName(name, i))); len(f) > 2 {
			t.Errorf("bridge %s has addresses %v", bridgeName(name, i), f[2:])
		}
	}

	client := l.Client.Netns
	n1, n2, n3 := l.Nodes[0], l.Nodes[1], l.Nodes[2]
	reach(t, client, "198.18.0.1", true)
	reach(t, n1.Netns, "198.18.1.2", true)

	cmd, err := l.Command(ctx, "n2", "sh", "-c", "echo $VIGIL_SOCKET; ip -br addr show dev eth1")
	if err != nil {
		t.Fatal(err)
	}
	if out, err := cmd.CombinedOutput(); err != nil || !strings.Contains(string(out), l.SocketPath("n2")) ||
		!strings.Contains(string(out), "198.18.1.2/24") {
		t.Errorf("Command in n2: %v:\n%s", err, out)
	}

	// Partition n1 from n2 and n3; the client still reaches everyone.
	if err := l.Partition("n1"); err != nil {
		t.Fatal(err)
	}
	reach(t, n1.Netns, "198.18.0.2", false)
	reach(t, n1.Netns, "198.18.1.2", false)
	reach(t, n2.Netns, "198.18.1.1", false)
	reach(t, client, "198.18.0.1", true)
	reach(t, client, "198.18.0.2", true)
	reach(t, n2.Netns, "198.18.1.3", true)
	if out := run(t, "ip", "netns", "exec", n1.Netns, "nft", "list", "ruleset"); !strings.Contains(out, "vigil lab partition: n1 | n2 n3") {
		t.Errorf("n1 ruleset lacks the partition:\n%s", out)
	}
	if out := run(t, "ip", "netns", "exec", client, "nft", "list", "ruleset"); out != "" {
		t.Errorf("client ruleset not empty:\n%s", out)
	}

	// Loss 100 on n2, then Heal: the partition goes, the loss stays.
	if err := l.Loss("n2", 100); err != nil {
		t.Fatal(err)
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	reach(t, n1.Netns, "198.18.0.3", true)
	reach(t, n1.Netns, "198.18.1.3", true)
	reach(t, client, "198.18.0.2", false)
	if err := l.Loss("n2", 0); err != nil {
		t.Fatal(err)
	}
	reach(t, client, "198.18.0.2", true)
	reach(t, n1.Netns, "198.18.1.2", true)
	if err := l.Loss("n2", 0); err != nil {
		t.Errorf("Loss 0 twice: %v", err)
	}
	if err := l.Heal(); err != nil {
		t.Errorf("Heal twice: %v", err)
	}

	// Kill n3: frozen, cables cut. A VIP on it must not survive Revive.
	run(t, "ip", "-n", n3.Netns, "addr", "add", "198.18.0.100/32", "dev", "eth0")
	old := l.Status()[2].PID
	if err := l.Kill("n3"); err != nil {
		t.Fatal(err)
	}
	if p, err := readProc(old); err != nil || p.state != 'T' {
		t.Errorf("n3 daemon %d after Kill: %+v, %v; want state T", old, p, err)
	}
	for i := range 2 {
		if up := linkUp(t, vethName(name, "n3", i)); up {
			t.Errorf("%s up after Kill", vethName(name, "n3", i))
		}
	}
	reach(t, client, "198.18.0.3", false)

	if err := l.Revive("n3"); err != nil {
		t.Fatal(err)
	}
	revived := l.Status()[2].PID
	pids[revived] = true
	if revived == 0 || revived == old {
		t.Errorf("n3 daemon after Revive: %d (was %d); want a new one", revived, old)
	}
	if p, err := readProc(revived); err != nil || p.dead() || p.state == 'T' {
		t.Errorf("revived daemon %d: %+v, %v", revived, p, err)
	}
	if p, err := readProc(old); err == nil && !p.dead() {
		t.Errorf("frozen daemon %d survived Revive: %+v", old, p)
	}
	for i := range 2 {
		if !linkUp(t, vethName(name, "n3", i)) {
			t.Errorf("%s down after Revive", vethName(name, "n3", i))
		}
	}
	if out := run(t, "ip", "-n", n3.Netns, "-br", "addr"); strings.Contains(out, "198.18.0.100") || !strings.Contains(out, "198.18.0.3/24") {
		t.Errorf("n3 addresses after Revive:\n%s", out)
	}
	reach(t, client, "198.18.0.3", true)

	// StopDaemon, StartDaemon.
	stopped := l.Status()[0].PID
	if err := l.StopDaemon("n1"); err != nil {
		t.Fatal(err)
	}
	if n, _ := l.Node("n1"); n.PID != 0 {
		t.Errorf("n1 PID %d after StopDaemon", n.PID)
	}
	if p, err := readProc(stopped); err == nil && !p.dead() {
		t.Errorf("stopped daemon %d still alive: %+v", stopped, p)
	}
	if err := l.StopDaemon("n1"); err != nil {
		t.Errorf("StopDaemon twice: %v", err)
	}
	if err := l.StartDaemon("n1"); err != nil {
		t.Fatal(err)
	}
	pids[l.Status()[0].PID] = true
	if err := l.StartDaemon("n1"); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Errorf("StartDaemon twice: %v; want already running", err)
	}
	if tail := l.LogTail("n1", 2); strings.Count(tail, "--- vigil lab:") != 2 {
		t.Errorf("n1 log tail:\n%s", tail)
	}

	// Down leaves nothing, twice.
	if err := Down(ctx, name, false); err != nil {
		t.Fatal(err)
	}
	for _, ns := range strings.Fields(run(t, "ip", "netns", "list")) {
		if strings.HasPrefix(ns, name+"-") {
			t.Errorf("namespace %s left after Down", ns)
		}
	}
	for line := range strings.Lines(run(t, "ip", "-br", "link")) {
		if strings.HasPrefix(line, name+"-") {
			t.Errorf("link left after Down: %s", line)
		}
	}
	for pid := range pids {
		if p, err := readProc(pid); err == nil {
			t.Errorf("daemon %d left after Down: %+v", pid, p)
		}
	}
	for _, pid := range children(t) {
		t.Errorf("child %d left after Down (a zombie not reaped?)", pid)
	}
	if _, err := Open(name); !errors.Is(err, ErrNoLab) {
		t.Errorf("Open after Down: %v; want ErrNoLab", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "n1", "daemon.log")); err != nil {
		t.Errorf("Down without purge lost the logs: %v", err)
	}
	if err := Down(ctx, name, true); err != nil {
		t.Errorf("Down twice: %v", err)
	}
}

// run runs a command on the host and returns its output.
func run(t *testing.T, argv ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, out)
	}
	return string(out)
}

func linkUp(t *testing.T, ifc string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("/sys/class/net", ifc, "flags"))
	if err != nil {
		t.Fatal(err)
	}
	flags, err := strconv.ParseUint(strings.TrimSpace(string(b)), 0, 32)
	if err != nil {
		t.Fatal(err)
	}
	return flags&unix.IFF_UP != 0
}

// children returns the PIDs of this process's children, zombies included.
func children(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if p, err := readProc(pid); err == nil && p.ppid == os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// reach checks that an ICMP echo from namespace ns to addr is answered (up to
// 3 tries) or, if !want, that one is not answered within a second.
func reach(t *testing.T, ns, addr string, want bool) {
	t.Helper()
	tries := 1
	if want {
		tries = 3
	}
	for range tries {
		ok, err := ping(ns, addr)
		if err != nil {
			t.Fatalf("ping %s from %s: %v", addr, ns, err)
		}
		if ok {
			if !want {
				t.Errorf("%s reaches %s; want not", ns, addr)
			}
			return
		}
	}
	if want {
		t.Errorf("%s does not reach %s", ns, addr)
	}
}

// ping sends one ICMP echo request from namespace ns to addr and reports
// whether the reply came within a second. It stands in for ping(8), which
// this machine lacks: a raw socket opened inside ns on a thread of its own.
func ping(ns, addr string) (bool, error) {
	type result struct {
		ok  bool
		err error
	}
	ch := make(chan result, 1)
	go func() {
		ok, err := pingFrom(ns, netip.MustParseAddr(addr))
		ch <- result{ok, err}
	}()
	r := <-ch
	return r.ok, r.err
}

func pingFrom(ns string, addr netip.Addr) (bool, error) {
	fd, err := socketIn(ns)
	if err != nil {
		return false, err
	}
	defer unix.Close(fd)
	id := uint16(rand.IntN(1 << 16))
	pkt := []byte{8, 0, 0, 0, byte(id >> 8), byte(id), 0, 1, 'v', 'i', 'g', 'i', 'l'}
	var sum uint32
	for i := 0; i < len(pkt); i += 2 {
		w := uint32(pkt[i]) << 8
		if i+1 < len(pkt) {
			w |= uint32(pkt[i+1])
		}
		sum += w
	}
	sum = (sum >> 16) + (sum & 0xffff)
	sum += sum >> 16
	pkt[2], pkt[3] = byte(^sum>>8), byte(^sum)
	if err := unix.Sendto(fd, pkt, 0, &unix.SockaddrInet4{Addr: addr.As4()}); err != nil {
		return false, nil // e.g. EPERM from an nft output drop
	}
	tv := unix.NsecToTimeval((100 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return false, err
	}
	buf := make([]byte, 1500)
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		n, from, err := unix.Recvfrom(fd, buf, 0)
		if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return false, err
		}
		src, ok := from.(*unix.SockaddrInet4)
		if !ok || netip.AddrFrom4(src.Addr) != addr || n < 20 {
			continue
		}
		icmp := buf[int(buf[0]&0x0f)*4 : n]
		if len(icmp) >= 8 && icmp[0] == 0 && icmp[4] == byte(id>>8) && icmp[5] == byte(id) {
			return true, nil
		}
	}
	return false, nil
}

// socketIn opens a raw ICMP socket inside namespace ns. The socket stays in
// ns after the thread returns to its own namespace; if the return fails, the
// thread stays locked and dies with the goroutine.
func socketIn(ns string) (int, error) {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer self.Close()
	target, err := os.Open(filepath.Join(netnsDir, ns))
	if err != nil {
		runtime.UnlockOSThread()
		return -1, err
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return -1, fmt.Errorf("setns %s: %w", ns, err)
	}
	fd, serr := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_ICMP)
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		if serr == nil {
			unix.Close(fd)
		}
		return -1, fmt.Errorf("setns back: %w", err)
	}
	runtime.UnlockOSThread()
	return fd, serr
}
