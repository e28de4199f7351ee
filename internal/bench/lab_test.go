package bench

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/lab"
)

// canLab skips the test unless this machine can build a lab.
func canLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (network namespaces, bridges, nftables)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the lab needs %s: %v", tool, err)
		}
	}
	probe := fmt.Sprintf("bnprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("this machine cannot create network namespaces: %v: %s", err, out)
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
}

// vigilLab builds the vigil binary and brings up a 3-node demo lab with
// it (`vigil lab up`), torn down when the test ends.
func vigilLab(t *testing.T) (*lab.Lab, string) {
	t.Helper()
	canLab(t)
	bin := filepath.Join(t.TempDir(), "vigil")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/vigil-ha/vigil/cmd/vigil").CombinedOutput(); err != nil {
		t.Fatalf("build vigil: %v\n%s", err, out)
	}
	name := fmt.Sprintf("bnt%d", os.Getpid()%10000)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
		defer cancel()
		var out bytes.Buffer
		cmd := exec.CommandContext(ctx, bin, append([]string{"lab", "--name", name}, args...)...)
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		return out.String(), err
	}
	t.Cleanup(func() {
		if out, err := run("down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
	})
	dir := t.TempDir()
	if out, err := run("up", "--dir", dir, "--timeout", "60s"); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	l, err := lab.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	return l, bin
}

// logWriter writes a test's progress lines to its log.
type logWriter struct{ t *testing.T }

func (w logWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// A node kill of the holder fails the VIP over to another node, every
// trial; a soak at 20% loss on the holder moves nothing and never leaves
// two holders. Then, if keepalived is installed, the same lab's nodes run
// it instead, and a node kill fails its VIP over too.
func TestLabFailover(t *testing.T) {
	l, bin := vigilLab(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	// The soak's threshold is above what the loss alone costs a client: a
	// lost SYN or ARP probe is retried after 1 s, and two in a row are
	// not rare in 2,500 probes. A failover costs more, and moves count
	// whatever their outage.
	cfg := Config{Lab: l, Trials: 2, Faults: []Fault{NodeKill}, Progress: logWriter{t},
		Soak: SoakConfig{Loss: 20, Duration: 25 * time.Second, Threshold: 2500 * time.Millisecond}}
	t.Run("vigil", func(t *testing.T) {
		rs, err := Run(ctx, cfg, &Vigil{Lab: l})
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 2 || rs[0].Fault != NodeKill || rs[1].Fault != Soak {
			t.Fatalf("results %+v, want node-kill then soak", rs)
		}
		checkFailedOver(t, rs[0], 2)
		soak := rs[1]
		if soak.FalseFailovers != 0 || soak.Soak.Moves != 0 {
			t.Errorf("the soak at 20%% loss on the holder %s (raft leader: %s) had %d false failovers (%d moves of the VIP); want none: %+v\nthe holder's log on leases and resources:\n%s",
				soak.Soak.Holder, leader(ctx, l), soak.FalseFailovers, soak.Soak.Moves, *soak.Soak, leaseLog(l, soak.Soak.Holder))
		}
		if soak.DoubleHolderMS != 0 {
			t.Errorf("two nodes held the VIP for %.1f ms in the soak; want 0", soak.DoubleHolderMS)
		}
		if soak.Soak.Probes == 0 {
			t.Errorf("the soak sent no probes")
		}
	})
	t.Run("keepalived", func(t *testing.T) {
		ka, err := FindKeepalived()
		if err != nil {
			t.Skipf("%v (.ci/run installs it)", err)
		}
		if err := StopVigil(l); err != nil {
			t.Fatal(err)
		}
		k := &Keepalived{Lab: l, Binary: ka, Vigil: bin}
		if err := k.Start(ctx); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := k.Stop(); err != nil {
				t.Errorf("stop keepalived: %v", err)
			}
		})
		kcfg := cfg
		kcfg.Trials, kcfg.Soak = 1, SoakConfig{}
		rs, err := Run(ctx, kcfg, k)
		if err != nil {
			t.Fatal(err)
		}
		if len(rs) != 1 || rs[0].System != "keepalived" {
			t.Fatalf("results %+v, want one of keepalived", rs)
		}
		checkFailedOver(t, rs[0], 1)
	})
}

// checkFailedOver checks that every trial of r ended with the VIP
// answering from a node other than the one the fault hit.
func checkFailedOver(t *testing.T, r Result, trials int) {
	t.Helper()
	if r.Trials != trials || len(r.TrialLog) != trials || len(r.OutagesMS) != trials {
		t.Fatalf("%s %s: %d trials (%d logged, %d outages), want %d", r.System, r.Fault, r.Trials, len(r.TrialLog), len(r.OutagesMS), trials)
	}
	for i, tr := range r.TrialLog {
		if tr.From == "" || tr.To == "" || tr.To == tr.From {
			t.Errorf("%s %s trial %d: the VIP answered from %q after the fault on %q; want another node", r.System, r.Fault, i+1, tr.To, tr.From)
		}
	}
	if r.Outage.Max < r.Outage.Min {
		t.Errorf("%s %s: outage stats %+v out of order", r.System, r.Fault, r.Outage)
	}
}

// leader is the raft leader as the first node that answers names it.
func leader(ctx context.Context, l *lab.Lab) string {
	v := &Vigil{Lab: l}
	for _, n := range l.Nodes {
		if s, err := v.status(ctx, n.Name); err == nil && s.Leader != "" {
			return s.Leader
		}
	}
	return "unknown"
}

// leaseLog is the lines of node's daemon log about its lease and its
// resources' starts and stops, the last 30.
func leaseLog(l *lab.Lab, node string) string {
	data, _ := os.ReadFile(l.LogPath(node))
	var out []string
	for _, line := range strings.Split(string(data), "\n") {
		if strings.Contains(line, "lease") || strings.Contains(line, "op=start") || strings.Contains(line, "op=stop") {
			out = append(out, line)
		}
	}
	if len(out) > 30 {
		out = out[len(out)-30:]
	}
	return strings.Join(out, "\n")
}
