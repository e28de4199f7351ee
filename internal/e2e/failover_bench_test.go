package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/api"
)

// The outage benchmarks measure what a client of the demo group "web"
// (VIP 198.18.0.100, a web service on port 8080 that answers with its
// node's name) sees when the node holding it dies, when the service
// process dies, and when the operator puts the holder in standby. Run
// them with
//
//	go test -v -run XXX -bench Outage -benchtime 10x ./internal/e2e
//
// (-v: without it go test keeps only the first 10 lines of a benchmark's
// log, which has a line per trial.) Each benchmark builds its own lab, runs
// -benchtime trials in it and removes it. It loops with b.Loop rather than
// over b.N: the benchmark function then runs once, so a trial count of Nx
// is exactly N trials on one lab, with no extra b.N=1 round and lab.
// ns/op is hidden: it would be the length of a whole trial.
//
// How the outage is measured. From the lab's client namespace a probe, one
// HTTP GET on a new TCP connection, is sent every outageProbeEvery (10 ms)
// whatever the earlier ones are doing, each allowed outageProbeTimeout; up
// to outageProbeMax are in flight at once. The probes run inside this
// process (their sockets are opened by a thread that has joined the client
// namespace), so no process start-up is measured. The outage of a trial is
// the time from the sending of the first probe that fails (sent at or
// after the fault is injected) to the arrival of the first good reply,
// from the node the fault leaves the group on, to a probe sent no earlier.
// Its resolution is the spacing of the probes: the first failure is sent
// at most ~10 ms after the fault takes effect, and the first good reply
// arrives at most ~10 ms plus one round trip after the service answers
// again. Each trial's line gives, besides the outage, the time from the
// fault's injection to the first failed probe (how long the fault took to
// bite, not counted), the probes sent in the outage and how many failed,
// and the largest gap between probe sends in it: the resolution that
// trial really had (a busy machine, or a full set of probes in flight,
// stretches it).

const (
	outageVIP           = "198.18.0.100:8080" // the demo's VIP and web port
	outageProbeEvery    = 10 * time.Millisecond
	outageProbeTimeout  = 500 * time.Millisecond
	outageProbeMax      = 64               // probes in flight at once
	outageProbeLifetime = 10 * time.Minute // bound on one prober, if Stop is never reached
	outageWaitLimit     = 60 * time.Second // fault to good reply
	outageSettleLimit   = 90 * time.Second // cluster settled again after a trial
	outageSteady        = 5                // good replies in a row from one node before a fault
	outageJitter        = time.Second      // random wait before a fault: the demo's monitor interval
)

// BenchmarkOutageNodeKill: `vigil lab kill` (freeze + cut links) of the
// node holding the VIP. The outage ends with the first good reply from
// another node. The node is then revived, and the next trial waits until it
// is back online and the group is still started on the new holder
// (stickiness).
func BenchmarkOutageNodeKill(b *testing.B) {
	l := outageLab(b)
	l.outageSettle(b, "")
	var out samples
	outageHeader(b)
	for i := 1; b.Loop(); i++ {
		w := l.outageTrial(b, func(holder string) {
			l.outageMust(b, "lab", "kill", holder)
		}, func(holder, node string) bool { return node != holder })
		w.log(b, i)
		out = append(out, w.outage())
		l.outageMust(b, "lab", "revive", w.from)
		l.outageSettle(b, w.to)
	}
	outageReport(b, out)
}

// BenchmarkOutageServiceKill: SIGKILL of the web service's process on the
// holder. The executor restarts it in place; the outage ends with the
// first good reply, which must come from the same node. The group's
// migration-threshold is 3, so after every second trial the failures are
// cleared with `vigil resource cleanup web-server` when this tree has that
// command, or else the next trials run on a fresh lab.
func BenchmarkOutageServiceKill(b *testing.B) {
	cleanup := outageHasCommand("resource", "cleanup")
	l := outageLab(b)
	l.outageSettle(b, "")
	var out samples
	outageHeader(b)
	if !cleanup {
		b.Logf("this vigil has no `resource cleanup`: a fresh lab every 2 trials")
	}
	for i := 1; b.Loop(); i++ {
		w := l.outageTrial(b, func(holder string) {
			l.outageKillService(b, holder, "web-server")
		}, func(string, string) bool { return true })
		if w.to != w.from {
			b.Fatalf("trial %d: after its service was killed the group moved from %s to %s; it should restart in place (migration-threshold 3)\n%s",
				i, w.from, w.to, l.outageLogs())
		}
		w.log(b, i)
		out = append(out, w.outage())
		l.outageSettle(b, w.from)
		if i%2 != 0 {
			continue
		}
		if cleanup {
			b.Logf("after trial %d: vigil resource cleanup web-server", i)
			l.outageMust(b, "lab", "exec", "n1", "--", "vigil", "resource", "cleanup", "web-server")
			l.outageNoFailures(b, "web-server")
		} else {
			if out, err := l.vigil("lab", "down"); err != nil {
				b.Fatalf("lab down: %v\n%s", err, out)
			}
			b.Logf("after trial %d: a fresh lab", i)
			l = outageLab(b)
			l.outageSettle(b, "")
		}
	}
	outageReport(b, out)
}

// BenchmarkOutageStandby: `vigil node standby HOLDER`. The outage ends with
// the first good reply from another node; then `vigil node unstandby
// HOLDER`, and the next trial waits until the group is still started on
// the new holder (stickiness).
func BenchmarkOutageStandby(b *testing.B) {
	if !outageHasCommand("node", "standby") {
		b.Skip("this vigil has no `node standby` (`vigil node --help` fails or does not list it)")
	}
	l := outageLab(b)
	l.outageSettle(b, "")
	var out samples
	outageHeader(b)
	for i := 1; b.Loop(); i++ {
		w := l.outageTrial(b, func(holder string) {
			l.outageMust(b, "lab", "exec", "n1", "--", "vigil", "node", "standby", holder)
		}, func(holder, node string) bool { return node != holder })
		w.log(b, i)
		out = append(out, w.outage())
		l.outageMust(b, "lab", "exec", "n1", "--", "vigil", "node", "unstandby", w.from)
		l.outageSettle(b, w.to)
	}
	outageReport(b, out)
}

// outageLab brings up a 3-node demo lab named as benchLab names its labs,
// and registers its teardown before `lab up` runs: lab up leaves a lab
// that did not reach quorum up for inspection, and a benchmark must not.
// Tearing down a lab twice is harmless (lab down is idempotent).
func outageLab(b *testing.B) *labT {
	b.Helper()
	canLabB(b)
	labSeq++
	l := &labT{name: fmt.Sprintf("b%d%d", os.Getpid()%10000, labSeq), dir: b.TempDir()}
	b.Cleanup(func() {
		if out, err := l.vigil("lab", "down"); err != nil {
			b.Errorf("lab down: %v\n%s", err, out)
		}
	})
	return l.upB(b, 3)
}

// outageHasCommand reports whether `vigil SUB --help` succeeds and lists
// the subcommand want.
func outageHasCommand(sub, want string) bool {
	out, err := (&labT{}).vigil(sub, "--help") // not a lab command: no lab name needed
	if err != nil {
		return false
	}
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == want {
			return true
		}
	}
	return false
}

// outageMust runs a vigil command that must succeed.
func (l *labT) outageMust(b *testing.B, args ...string) string {
	b.Helper()
	out, err := l.vigil(args...)
	if err != nil {
		b.Fatalf("vigil %s: %v\n%s\n%s", strings.Join(args, " "), err, out, l.outageLogs())
	}
	return out
}

// outageWindow is one trial's outage as the client saw it.
type outageWindow struct {
	from, to  string    // holder before the fault; node of the first good reply
	leader    bool      // the holder was the raft leader when the fault came
	fault     time.Time // just before the fault was injected
	firstFail outageShot
	firstGood outageShot
	sent      int           // probes sent in the window
	failed    int           // of which failed (the others got a reply or were cut short by Stop)
	gap       time.Duration // largest gap between probe sends in the window
}

func (w outageWindow) outage() time.Duration { return w.firstGood.done.Sub(w.firstFail.sent) }

func outageHeader(b *testing.B) {
	b.Helper()
	b.Logf("%5s %-4s %-4s %10s %14s %6s %6s %7s  %s", "trial", "from", "to", "outage_ms", "fault_to_fail", "failed", "sent", "gap_ms", "first error")
}

func (w outageWindow) log(b *testing.B, trial int) {
	b.Helper()
	note := w.firstFail.err
	if w.leader {
		note = "(holder was leader) " + note
	}
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.Logf("%5d %-4s %-4s %10.1f %14.1f %6d %6d %7.1f  %s", trial, w.from, w.to, ms(w.outage()),
		ms(w.firstFail.sent.Sub(w.fault)), w.failed, w.sent, ms(w.gap), note)
}

// outageTrial probes the VIP until it answers steadily, injects the fault
// on the node that answers, and returns the outage window: it ends with the
// first good reply whose node accept takes (given the old holder).
func (l *labT) outageTrial(b *testing.B, inject func(holder string), accept func(holder, node string) bool) outageWindow {
	b.Helper()
	p, err := startOutageProber(l.outageClientNetns(b), outageVIP)
	if err != nil {
		b.Fatalf("probe from the client namespace: %v", err)
	}
	defer p.Stop()
	holder := p.waitSteady(b, l, 20*time.Second)
	// A trial's steps take about the same time each round; without a random
	// wait the faults would keep one phase against the daemons' periodic
	// work (the resource monitors above all) and sample one point of it.
	time.Sleep(rand.N(outageJitter))
	w := outageWindow{from: holder}
	for _, sock := range l.sockets(b) {
		if s, err := statusAt(sock); err == nil && s.Leader != "" {
			w.leader = s.Leader == holder
			break
		}
	}
	w.fault = time.Now()
	inject(holder)
	ok := func(node string) bool { return accept(holder, node) }
	deadline := w.fault.Add(outageWaitLimit)
	for time.Now().Before(deadline) {
		if _, found := outageFind(p.Shots(), w.fault, ok); found {
			p.Stop() // every shot is in: the first good reply is final
			got, found := outageFind(p.Shots(), w.fault, ok)
			if !found {
				b.Fatalf("the outage window vanished when the prober stopped")
			}
			got.from, got.leader, got.fault = w.from, w.leader, w.fault
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.Stop()
	shots := p.Shots()
	last := "no probe"
	if len(shots) > 0 {
		s := shots[len(shots)-1]
		last = fmt.Sprintf("ok %v node %q err %q", s.ok, s.node, s.err)
	}
	p.mu.Lock()
	fatal := p.fatal
	p.mu.Unlock()
	b.Fatalf("after the fault on %s: no good reply that ends an outage within %s (%d probes; last: %s; prober: %v)\n%s",
		holder, outageWaitLimit, len(shots), last, fatal, l.outageLogs())
	return outageWindow{}
}

// outageFind finds, in shots, the first probe sent at or after fault that
// failed and then the first good reply (by arrival) that ok accepts to a
// probe sent no earlier. It is pure: time comes in the shots.
func outageFind(shots []outageShot, fault time.Time, ok func(node string) bool) (outageWindow, bool) {
	shots = slices.Clone(shots)
	slices.SortFunc(shots, func(a, b outageShot) int { return a.sent.Compare(b.sent) })
	first := slices.IndexFunc(shots, func(s outageShot) bool { return !s.ok && !s.cut && !s.sent.Before(fault) })
	if first < 0 {
		return outageWindow{}, false
	}
	w := outageWindow{firstFail: shots[first]}
	found := false
	for _, s := range shots[first:] {
		if s.ok && ok(s.node) && (!found || s.done.Before(w.firstGood.done)) {
			w.firstGood, found = s, true
		}
	}
	if !found {
		return outageWindow{}, false
	}
	w.to = w.firstGood.node
	prev := w.firstFail.sent
	for _, s := range shots[first:] {
		if s.sent.After(w.firstGood.done) {
			break
		}
		w.sent++
		if !s.ok && !s.cut {
			w.failed++
		}
		w.gap = max(w.gap, s.sent.Sub(prev))
		prev = s.sent
	}
	return w, true
}

// outageClientNetns is the lab's client namespace, from `lab status`.
func (l *labT) outageClientNetns(b *testing.B) string {
	b.Helper()
	out, err := l.vigil("lab", "status", "-o", "json")
	if err != nil {
		b.Fatalf("lab status: %v\n%s", err, out)
	}
	var li labInfo
	if err := json.Unmarshal([]byte(out), &li); err != nil || li.ClientNetns == "" {
		b.Fatalf("lab status: client namespace: %v\n%s", err, out)
	}
	return li.ClientNetns
}

// outageShot is one probe: when it was sent and answered (or failed), and
// which node answered.
type outageShot struct {
	sent, done time.Time
	ok         bool
	cut        bool // cut short by Stop: its outcome is unknown
	node       string
	err        string
}

// outageProber probes addr from a network namespace every outageProbeEvery
// until Stop. Its methods are safe for concurrent use.
type outageProber struct {
	ns     string // /run/netns/NAME
	addr   string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	stop   sync.Once

	mu    sync.Mutex
	shots []outageShot
	fatal error // a thread could not return to its own namespace
}

// startOutageProber starts probing addr from the named namespace. One
// probe is tried first, so that a namespace that cannot be entered is an
// error here rather than a stream of failed probes.
func startOutageProber(netns, addr string) (*outageProber, error) {
	p := &outageProber{ns: filepath.Join("/run/netns", netns), addr: addr}
	if _, err := os.Stat(p.ns); err != nil {
		return nil, err
	}
	if _, err := p.shoot(context.Background()); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), outageProbeLifetime)
	p.cancel = cancel
	p.wg.Add(1)
	go p.run(ctx)
	return p, nil
}

// run sends a probe every outageProbeEvery, each in a goroutine of its
// own, skipping a tick when outageProbeMax are in flight.
func (p *outageProber) run(ctx context.Context) {
	defer p.wg.Done()
	inflight := make(chan struct{}, outageProbeMax)
	t := time.NewTicker(outageProbeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		select {
		case inflight <- struct{}{}:
		default:
			continue // the gap shows in the trial's gap_ms
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			defer func() { <-inflight }()
			s, err := p.shoot(ctx)
			p.mu.Lock()
			defer p.mu.Unlock()
			switch {
			case err != nil:
				p.fatal = errors.Join(p.fatal, err)
			default:
				// One cut short by Stop is neither a good reply nor a
				// failure, but it was sent.
				s.cut = ctx.Err() != nil
				p.shots = append(p.shots, s)
			}
		}()
	}
}

// Stop stops probing and waits until every probe in flight has ended. It
// is idempotent.
func (p *outageProber) Stop() {
	p.stop.Do(func() {
		if p.cancel != nil {
			p.cancel()
		}
		p.wg.Wait()
	})
}

// Shots returns the probes that have ended so far, in the order they did.
func (p *outageProber) Shots() []outageShot {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.shots)
}

// waitSteady waits until outageSteady probes in a row, by send time, got a
// good reply from one node, and returns it.
func (p *outageProber) waitSteady(b *testing.B, l *labT, limit time.Duration) string {
	b.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		shots := p.Shots()
		slices.SortFunc(shots, func(a, b outageShot) int { return a.sent.Compare(b.sent) })
		if n := len(shots); n >= outageSteady {
			tail := shots[n-outageSteady:]
			if !slices.ContainsFunc(tail, func(s outageShot) bool { return !s.ok || s.cut || s.node != tail[0].node }) {
				return tail[0].node
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.mu.Lock()
	fatal := p.fatal
	p.mu.Unlock()
	b.Fatalf("the VIP does not answer steadily from one node within %s (%v)\n%s", limit, fatal, l.outageLogs())
	return ""
}

// shoot sends one probe. It returns an error only when the thread that
// opened the probe's socket cannot return to its own namespace; that
// thread then stays locked and ends with its goroutine.
func (p *outageProber) shoot(ctx context.Context) (outageShot, error) {
	s := outageShot{sent: time.Now()}
	ctx, cancel := context.WithDeadline(ctx, s.sent.Add(outageProbeTimeout))
	defer cancel()
	c, err := p.dial(ctx)
	if errors.Is(err, errOutageNetns) {
		return s, err
	}
	if err == nil {
		s.node, err = outageGet(ctx, c)
	}
	s.done = time.Now()
	s.ok = err == nil
	if err != nil {
		s.err = err.Error()
	}
	return s, nil
}

var errOutageNetns = errors.New("cannot switch network namespace")

// dial connects to p.addr from p.ns. The socket is opened, and connected,
// by this goroutine's thread while it is in p.ns; it returns to its own
// namespace before dial returns. While the thread is away only this
// goroutine runs on it.
func (p *outageProber) dial(ctx context.Context) (net.Conn, error) {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("%w: %v", errOutageNetns, err)
	}
	defer self.Close()
	target, err := os.Open(p.ns)
	if err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("%w: %v", errOutageNetns, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return nil, fmt.Errorf("%w: setns %s: %v", errOutageNetns, p.ns, err)
	}
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if serr := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); serr != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("%w: setns back: %v", errOutageNetns, serr)
	}
	runtime.UnlockOSThread()
	return c, err
}

// outageGet asks GET / on c and returns the body, the answering node's
// name.
func outageGet(ctx context.Context, c net.Conn) (string, error) {
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := c.SetDeadline(dl); err != nil {
			return "", err
		}
	}
	if _, err := io.WriteString(c, "GET / HTTP/1.1\r\nHost: "+outageVIP+"\r\nConnection: close\r\n\r\n"); err != nil {
		return "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 256))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("answer %s", resp.Status)
	}
	return strings.TrimSpace(string(body)), nil
}

// outageKillService SIGKILLs the process that the exec resource id runs
// on node, named by the exec agent's pid file ("PID STARTTIME BOOTID").
// The process is pinned by a pidfd and its start time checked, so a
// reused PID is never killed.
func (l *labT) outageKillService(b *testing.B, node, id string) {
	b.Helper()
	data, err := os.ReadFile(filepath.Join(l.dir, node, "data", "exec", id+".pid"))
	if err != nil {
		b.Fatalf("pid file of %s on %s: %v", id, node, err)
	}
	f := strings.Fields(string(data))
	if len(f) < 2 {
		b.Fatalf("pid file of %s on %s: %q", id, node, data)
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid < 2 {
		b.Fatalf("pid file of %s on %s: %q", id, node, data)
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		b.Fatalf("pidfd of %s (pid %d) on %s: %v", id, pid, node, err)
	}
	defer unix.Close(fd)
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("stat of %s (pid %d) on %s: %v", id, pid, node, err)
	}
	// Fields after the command's closing paren start at field 3; the
	// start time is field 22.
	rest := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	if len(rest) < 20 || rest[19] != f[1] {
		b.Fatalf("pid %d is not %s on %s: its start time is not %s", pid, id, node, f[1])
	}
	if err := unix.PidfdSendSignal(fd, unix.SIGKILL, nil, 0); err != nil {
		b.Fatalf("kill %s (pid %d) on %s: %v", id, pid, node, err)
	}
}

// outageSettle waits until, for a whole second, every node answers with
// quorum and the same leader, counts every node online as committed, and
// lists web-ip and web-server started and placed on holder (on any one
// node when holder is ""). It returns the holder.
func (l *labT) outageSettle(b *testing.B, holder string) string {
	b.Helper()
	socks := l.sockets(b)
	var since time.Time
	var why error
	deadline := time.Now().Add(outageSettleLimit)
	for time.Now().Before(deadline) {
		var on string
		on, why = outageSettled(socks, holder)
		switch {
		case why != nil:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= time.Second:
			return on
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("the cluster did not settle with web on %q within %s: %v\n%s", holder, outageSettleLimit, why, l.outageLogs())
	return ""
}

func outageSettled(socks map[string]string, holder string) (string, error) {
	names := make([]string, 0, len(socks))
	for n := range socks {
		names = append(names, n)
	}
	slices.Sort(names)
	leader, on := "", holder
	for _, n := range names {
		s, err := statusAt(socks[n])
		if err != nil {
			return "", fmt.Errorf("status of %s: %w", n, err)
		}
		if !s.Quorum || s.Leader == "" || (leader != "" && s.Leader != leader) {
			return "", fmt.Errorf("%s: quorum %v, leader %q (others: %q)", n, s.Quorum, s.Leader, leader)
		}
		leader = s.Leader
		for _, m := range names {
			if c := nodeOf(s, m).Committed; c != "online" {
				return "", fmt.Errorf("%s: %s is committed %q", n, m, c)
			}
		}
		for _, id := range []string{"web-ip", "web-server"} {
			r, ok := outageResource(s, id)
			if !ok {
				return "", fmt.Errorf("%s does not list %s", n, id)
			}
			if on == "" {
				on = r.Node
			}
			if r.State != "started" || r.Node != on || r.Target != on {
				return "", fmt.Errorf("%s: %s is %s on %q, target %q; want started on %q", n, id, r.State, r.Node, r.Target, on)
			}
		}
	}
	return on, nil
}

func outageResource(s api.Status, id string) (api.Resource, bool) {
	for _, r := range s.Resources {
		if r.ID == id {
			return r, true
		}
	}
	return api.Resource{}, false
}

// outageNoFailures waits until every node reports resource id with no
// failures counted (after `resource cleanup`).
func (l *labT) outageNoFailures(b *testing.B, id string) {
	b.Helper()
	socks := l.sockets(b)
	var why error
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		why = nil
		for n, sock := range socks {
			s, err := statusAt(sock)
			if err != nil {
				why = err
				break
			}
			if r, _ := outageResource(s, id); r.FailCount != 0 {
				why = fmt.Errorf("%s counts %d failures of %s", n, r.FailCount, id)
				break
			}
		}
		if why == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.Fatalf("after `resource cleanup %s` the failures are still counted: %v", id, why)
}

// outageLogs is the tail of every node's daemon log, for a failed trial.
func (l *labT) outageLogs() string {
	var sb strings.Builder
	for _, n := range three {
		data, err := os.ReadFile(filepath.Join(l.dir, n, "daemon.log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&sb, "--- %s ---\n%s\n", n, strings.Join(lines, "\n"))
	}
	return sb.String()
}

// outageReport reports the median, p90 (nearest rank), min and max outage
// in ms, and hides ns/op, which here is the length of a whole trial.
func outageReport(b *testing.B, out samples) {
	b.Helper()
	if len(out) == 0 {
		return
	}
	out.report(b, "outage") // median, max, and every trial in the log
	sorted := slices.Sorted(slices.Values(out))
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	p90 := sorted[int(math.Ceil(0.9*float64(len(sorted))))-1]
	b.ReportMetric(ms(p90), "outage_p90_ms")
	b.ReportMetric(ms(sorted[0]), "outage_min_ms")
	b.ReportMetric(0, "ns/op")
}

// outageFind is the measure; these cases pin what it counts.
func TestOutageFind(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	good := func(sent, done int, node string) outageShot {
		return outageShot{sent: at(sent), done: at(done), ok: true, node: node}
	}
	bad := func(sent, done int) outageShot { return outageShot{sent: at(sent), done: at(done), err: "timeout"} }
	notN1 := func(n string) bool { return n != "n1" }
	cases := []struct {
		name   string
		shots  []outageShot
		accept func(string) bool
		want   string // "outage sent failed gap", or "none"
	}{
		{"a failure before the fault does not start the outage",
			[]outageShot{bad(-20, 480), good(0, 1, "n1"), bad(10, 510), bad(20, 520), good(30, 31, "n2")}, notN1,
			"21ms 3 2 10ms"},
		{"the first good reply is the first to arrive, not the first sent",
			[]outageShot{bad(0, 500), good(10, 300, "n2"), good(20, 200, "n2")}, notN1,
			"200ms 3 1 10ms"},
		{"a reply from the old holder does not end it",
			[]outageShot{bad(0, 500), good(10, 11, "n1"), good(40, 41, "n2")}, notN1,
			"41ms 3 1 30ms"},
		{"a probe cut short is sent but not failed",
			[]outageShot{bad(0, 500), {sent: at(10), done: at(50), cut: true}, good(20, 30, "n2")}, notN1,
			"30ms 3 1 10ms"},
		{"no good reply yet",
			[]outageShot{bad(0, 500), good(10, 11, "n1")}, notN1, "none"},
		{"no failure yet",
			[]outageShot{good(0, 1, "n1"), good(10, 11, "n2")}, notN1, "none"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w, ok := outageFind(c.shots, at(0), c.accept)
			got := "none"
			if ok {
				got = fmt.Sprintf("%v %d %d %v", w.outage(), w.sent, w.failed, w.gap)
			}
			if got != c.want {
				t.Errorf("outageFind = %s, want %s", got, c.want)
			}
		})
	}
}
