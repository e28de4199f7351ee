package e2e

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/bench"
	"github.com/vigil-ha/vigil/internal/lab"
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
// The measuring is internal/bench's, the same as `vigil lab bench
// failover`: a probe (one HTTP GET on a new TCP connection) every 10 ms
// from the client namespace, and the outage of a trial is the time from
// the sending of the first probe that fails after the fault to the arrival
// of the first good reply that ends it (see bench.FindOutage). Each
// trial's line gives the outage, the time from the fault's injection to
// the first failed probe (how long the fault took to bite, not counted),
// the probes sent in the outage and how many failed, and the largest gap
// between probe sends in it: the resolution that trial really had.

const (
	outageWaitLimit = 60 * time.Second // fault to good reply
	outageJitter    = time.Second      // random wait before a fault: the demo's monitor interval
)

// BenchmarkOutageNodeKill: `vigil lab kill` (freeze + cut links) of the
// node holding the VIP. The outage ends with the first good reply from
// another node. The node is then revived, and the next trial waits until it
// is back online and the group is still started on the new holder
// (stickiness).
func BenchmarkOutageNodeKill(b *testing.B) {
	outageBench(b, bench.NodeKill, func(b *testing.B, i int, t bench.Trial) {
		if t.To == t.From {
			b.Fatalf("trial %d: after %s was killed the VIP answered from it again", i, t.From)
		}
	})
}

// BenchmarkOutageServiceKill: SIGKILL of the web service's process on the
// holder. The executor restarts it in place; the outage ends with the
// first good reply, which must come from the same node. After every trial
// `vigil resource cleanup web-server` clears the failure, so that the
// group's migration-threshold (3) is never reached.
func BenchmarkOutageServiceKill(b *testing.B) {
	outageBench(b, bench.ServiceKill, func(b *testing.B, i int, t bench.Trial) {
		if t.To != t.From {
			b.Fatalf("trial %d: after its service was killed the group moved from %s to %s; it should restart in place (migration-threshold 3)", i, t.From, t.To)
		}
	})
}

// outageBench runs one trial of fault per b.Loop round with bench.Run on
// a lab of its own, checks each with check, and reports the figures.
func outageBench(b *testing.B, fault bench.Fault, check func(*testing.B, int, bench.Trial)) {
	l := outageLab(b)
	bl, err := lab.Open(l.name)
	if err != nil {
		b.Fatal(err)
	}
	v := &bench.Vigil{Lab: bl}
	ctx := context.Background()
	var out []time.Duration
	outageHeader(b)
	for i := 1; b.Loop(); i++ {
		rs, err := bench.Run(ctx, bench.Config{Lab: bl, Trials: 1, Faults: []bench.Fault{fault}, Jitter: outageJitter, TrialLimit: outageWaitLimit}, v)
		if err != nil {
			b.Fatalf("trial %d: %v", i, err)
		}
		t := rs[0].TrialLog[0]
		check(b, i, t)
		outageLog(b, i, t)
		out = append(out, time.Duration(t.OutageMS*float64(time.Millisecond)))
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
	bl, err := lab.Open(l.name)
	if err != nil {
		b.Fatal(err)
	}
	v := &bench.Vigil{Lab: bl}
	var out []time.Duration
	outageHeader(b)
	for i := 1; b.Loop(); i++ {
		t := l.outageStandby(b, bl, v)
		outageLog(b, i, t)
		out = append(out, time.Duration(t.OutageMS*float64(time.Millisecond)))
		l.outageMust(b, "lab", "exec", "n1", "--", "vigil", "node", "unstandby", t.From)
	}
	outageReport(b, out)
}

// outageStandby is one standby trial: settle, probe until the holder
// answers steadily, put it in standby, and wait for the first good reply
// from another node.
func (l *labT) outageStandby(b *testing.B, bl *lab.Lab, v *bench.Vigil) bench.Trial {
	b.Helper()
	ctx := context.Background()
	holder, err := v.Ready(ctx)
	if err != nil {
		b.Fatal(err)
	}
	p, err := bench.StartProber(bench.ProberConfig{Netns: bl.Client.Netns, Addr: bench.DefaultVIP})
	if err != nil {
		b.Fatalf("probe from the client namespace: %v", err)
	}
	defer p.Stop()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if n, ok := bench.Steady(p.Shots(), 5); ok && n == holder {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("the VIP does not answer steadily from %s (%v)\n%s", holder, p.Err(), v.Logs())
		}
	}
	time.Sleep(rand.N(outageJitter))
	fault := time.Now()
	l.outageMust(b, "lab", "exec", "n1", "--", "vigil", "node", "standby", holder)
	target := bench.Target{Fault: fault, From: holder, Move: true}
	for deadline := fault.Add(outageWaitLimit); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if _, found := bench.FindOutage(p.Shots(), target); found {
			time.Sleep(550 * time.Millisecond) // every probe sent before the reply has ended
			p.Stop()
			w, found := bench.FindOutage(p.Shots(), target)
			if !found {
				b.Fatalf("the outage window vanished when the prober stopped")
			}
			return bench.NewTrial(w, fault, 0)
		}
	}
	b.Fatalf("after standby of %s: no good reply from another node within %s (prober: %v)\n%s", holder, outageWaitLimit, p.Err(), v.Logs())
	return bench.Trial{}
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
		b.Fatalf("vigil %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func outageHeader(b *testing.B) {
	b.Helper()
	b.Logf("%5s %-4s %-4s %10s %14s %6s %6s %7s  %s", "trial", "from", "to", "outage_ms", "fault_to_fail", "failed", "sent", "gap_ms", "first error")
}

func outageLog(b *testing.B, trial int, t bench.Trial) {
	b.Helper()
	b.Logf("%5d %-4s %-4s %10.1f %14.1f %6d %6d %7.1f  %s", trial, t.From, t.To, t.OutageMS, t.FaultToFailMS, t.Failed, t.Sent, t.GapMS, t.FirstError)
}

// outageReport reports the min, median, p90 (nearest rank) and max outage
// in ms (bench.Summarize), and hides ns/op, which here is the length of a
// whole trial.
func outageReport(b *testing.B, out samples) {
	b.Helper()
	if len(out) == 0 {
		return
	}
	out.report(b, "outage") // median, max, and every trial in the log
	st := bench.Summarize(out)
	b.ReportMetric(st.P90, "outage_p90_ms")
	b.ReportMetric(st.Min, "outage_min_ms")
	b.ReportMetric(0, "ns/op")
}
