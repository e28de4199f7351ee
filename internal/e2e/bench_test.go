package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/bench"
)

// The benchmarks measure what the issue asks for in figures. Each builds
// its own lab; run them with
//
//	go test -run XXX -bench . -benchtime 5x ./internal/e2e
//
// They poll the daemons' unix sockets every 5 ms from the host, so a
// figure is at most 5 ms (plus one status call) later than the event.

const pollEvery = 5 * time.Millisecond

// benchLab is a lab for a benchmark: a labT on a *testing.B.
func benchLab(b *testing.B, n int) *labT {
	b.Helper()
	canLabB(b)
	labSeq++
	l := &labT{name: fmt.Sprintf("b%d%d", os.Getpid()%10000, labSeq), dir: b.TempDir()}
	return l.upB(b, n)
}

func (l *labT) upB(b *testing.B, n int) *labT {
	b.Helper()
	if out, err := l.vigil("lab", "up", "--nodes", strconv.Itoa(n), "--dir", l.dir); err != nil {
		b.Fatalf("lab up: %v\n%s", err, out)
	}
	return l
}

func (l *labT) downB(b *testing.B) {
	b.Helper()
	if out, err := l.vigil("lab", "down"); err != nil {
		b.Fatalf("lab down: %v\n%s", err, out)
	}
}

func canLabB(b *testing.B) {
	b.Helper()
	if os.Geteuid() != 0 {
		b.Skip("the lab needs root")
	}
}

// sockets returns each node's socket path, from `lab status -o json`.
func (l *labT) sockets(b *testing.B) map[string]string {
	b.Helper()
	out, err := l.vigil("lab", "status", "-o", "json")
	if err != nil {
		b.Fatalf("lab status: %v\n%s", err, out)
	}
	var li struct {
		Nodes []struct {
			Name, Socket string
			PID          int
		}
	}
	if err := json.Unmarshal([]byte(out), &li); err != nil {
		b.Fatal(err)
	}
	m := map[string]string{}
	for _, n := range li.Nodes {
		m[n.Name] = n.Socket
	}
	return m
}

func statusAt(socket string) (api.Status, error) {
	c, err := client.New(client.Config{Socket: socket, Timeout: time.Second})
	if err != nil {
		return api.Status{}, err
	}
	defer c.Close()
	return c.Status(context.Background())
}

// pollUntil calls cond every pollEvery until it holds or limit passes and
// returns the time since start at which it first held.
func pollUntil(b *testing.B, what string, start time.Time, limit time.Duration, cond func() bool) time.Duration {
	b.Helper()
	for time.Since(start) < limit {
		if cond() {
			return time.Since(start)
		}
		time.Sleep(pollEvery)
	}
	b.Fatalf("%s: not within %s", what, limit)
	return 0
}

type samples []time.Duration

func (s samples) report(b *testing.B, name string) {
	if len(s) == 0 {
		return
	}
	st := bench.Summarize(s) // the median, as `vigil lab bench failover` reports it
	b.ReportMetric(st.Median, name+"_median_ms")
	b.ReportMetric(st.Max, name+"_max_ms")
	var all []string
	for _, d := range s {
		all = append(all, fmt.Sprintf("%.0f", bench.Millis(d)))
	}
	b.Logf("%s (ms): %s", name, strings.Join(all, " "))
}

// BenchmarkLabUpToQuorum: from `vigil lab up` to a 3-node cluster in which
// every node has quorum and names the same leader (lab up returns then).
func BenchmarkLabUpToQuorum(b *testing.B) {
	canLabB(b)
	var took samples
	for i := 0; i < b.N; i++ {
		labSeq++
		l := &labT{name: fmt.Sprintf("b%d%d", os.Getpid()%10000, labSeq), dir: b.TempDir()}
		start := time.Now()
		l.upB(b, 3)
		took = append(took, time.Since(start))
		l.downB(b)
	}
	took.report(b, "up_to_quorum")
}

// BenchmarkKillLeader: `vigil lab kill` of the leader (power loss), then
//   - new_leader: both survivors name the same new leader;
//   - offline:    both survivors' own view says the dead node is offline;
//   - committed:  the new leader has committed it offline.
//
// The lan profile's detection window (offline_after) is 700 ms.
func BenchmarkKillLeader(b *testing.B) {
	canLabB(b)
	var leaderT, offlineT, committedT samples
	for i := 0; i < b.N; i++ {
		l := benchLab(b, 3)
		socks := l.sockets(b)
		var old string
		pollUntil(b, "leader", time.Now(), 20*time.Second, func() bool {
			s, err := statusAt(socks["n1"])
			old = s.Leader
			return err == nil && s.Leader != ""
		})
		var rest []string
		for n := range socks {
			if n != old {
				rest = append(rest, n)
			}
		}
		start := time.Now()
		if out, err := l.vigil("lab", "kill", old); err != nil {
			b.Fatalf("kill: %v\n%s", err, out)
		}
		var newLeader time.Duration
		var offline, committed time.Duration
		pollUntil(b, "new leader, offline, committed", start, 30*time.Second, func() bool {
			now := time.Since(start)
			leaders := map[string]bool{}
			off, com := true, true
			for _, n := range rest {
				s, err := statusAt(socks[n])
				if err != nil {
					return false
				}
				leaders[s.Leader] = true
				d := nodeOf(s, old)
				off = off && d.State == "offline"
				com = com && d.Committed == "offline"
			}
			if newLeader == 0 && len(leaders) == 1 && !leaders[""] && !leaders[old] {
				newLeader = now
			}
			if offline == 0 && off {
				offline = now
			}
			if committed == 0 && com {
				committed = now
			}
			return newLeader > 0 && offline > 0 && committed > 0
		})
		leaderT, offlineT, committedT = append(leaderT, newLeader), append(offlineT, offline), append(committedT, committed)
		l.downB(b)
	}
	leaderT.report(b, "new_leader")
	offlineT.report(b, "offline")
	committedT.report(b, "committed")
}

// BenchmarkIdleDaemon: RSS and CPU of each daemon of an idle 3-node lab
// over one minute (set VIGIL_IDLE to another duration to change it).
func BenchmarkIdleDaemon(b *testing.B) {
	canLabB(b)
	window := time.Minute
	if v := os.Getenv("VIGIL_IDLE"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatal(err)
		}
		window = d
	}
	l := benchLab(b, 3)
	defer l.downB(b)
	out, err := l.vigil("lab", "status", "-o", "json")
	if err != nil {
		b.Fatal(err)
	}
	var li struct {
		Nodes []struct {
			Name string
			PID  int
		}
	}
	if err := json.Unmarshal([]byte(out), &li); err != nil {
		b.Fatal(err)
	}
	time.Sleep(5 * time.Second) // settle after start
	before := map[int]uint64{}
	for _, n := range li.Nodes {
		before[n.PID] = cpuTicks(b, n.PID)
	}
	b.ResetTimer()
	time.Sleep(window)
	b.StopTimer()
	var maxRSS, maxCPU float64
	for _, n := range li.Nodes {
		ticks := cpuTicks(b, n.PID) - before[n.PID]
		cpu := float64(ticks) / 100 / window.Seconds() * 100 // USER_HZ is 100 on Linux
		rss := rssMB(b, n.PID)
		b.Logf("%s: RSS %.1f MB, CPU %.2f%% of one core over %s", n.Name, rss, cpu, window)
		maxRSS, maxCPU = max(maxRSS, rss), max(maxCPU, cpu)
	}
	b.ReportMetric(maxRSS, "max_rss_MB")
	b.ReportMetric(maxCPU, "max_cpu_pct")
}

func cpuTicks(b *testing.B, pid int) uint64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	f := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+2:]))
	u, _ := strconv.ParseUint(f[11], 10, 64) // utime is field 14 of stat
	s, _ := strconv.ParseUint(f[12], 10, 64) // stime is field 15
	return u + s
}

func rssMB(b *testing.B, pid int) float64 {
	b.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseFloat(f[1], 64)
			return kb / 1024
		}
	}
	b.Fatalf("no VmRSS for %d", pid)
	return 0
}
