package detect

import (
	"bytes"
	"context"
	"log/slog"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

// fakeHeartbeats is a Heartbeats whose peers the test sets.
type fakeHeartbeats struct {
	mu    sync.Mutex
	peers []Peer
}

func (f *fakeHeartbeats) Snapshot() Snapshot {
	f.mu.Lock()
	defer f.mu.Unlock()
	return Snapshot{Peers: append([]Peer(nil), f.peers...)}
}

func (f *fakeHeartbeats) heard(at time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.peers = []Peer{{Name: "n2", Links: []Link{{Index: 0, LastHeard: at}, {Index: 1, LastHeard: at}}}}
}

// TestLiveness runs a Liveness over fake heartbeats and a Prober with a
// fake dialer, in a synctest bubble: n2 answers for a second, then dies on
// both layers; Liveness logs the changes and signals Changes, and its
// verdict says offline 500-600ms after the death.
func TestLiveness(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		lan := model.Timing{HeartbeatInterval: 100 * time.Millisecond, SuspectAfter: 300 * time.Millisecond, OfflineAfter: 700 * time.Millisecond}
		j, err := NewJudge(JudgeConfig{Self: "n1", Nodes: probeNodes, Timing: lan}, t0)
		if err != nil {
			t.Fatal(err)
		}
		hb := &fakeHeartbeats{}
		hb.heard(t0)
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Duration("at", a.Value.Time().Sub(t0))
			}
			return a
		}}))
		live, err := NewLiveness(LivenessConfig{Judge: j, Heartbeats: hb, Log: logger})
		if err != nil {
			t.Fatal(err)
		}
		var dead sync.Mutex
		isDead := false
		p, err := NewProber(ProberConfig{Self: "n1", Nodes: probeNodes, Port: 5407, Timing: lan, Sink: live})
		if err != nil {
			t.Fatal(err)
		}
		p.dial = func(ctx context.Context, _, _ netip.AddrPort) error {
			dead.Lock()
			d := isDead
			dead.Unlock()
			if d {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		ctx, cancel := context.WithCancel(t.Context())
		var wg sync.WaitGroup
		// Probes start at 0s, 100ms, …; verdicts at 10ms, 110ms, …, so
		// that no two events share an instant.
		wg.Go(func() { _ = p.Run(ctx) })
		time.Sleep(10 * time.Millisecond)
		wg.Go(func() { _ = live.Run(ctx) })
		sleepUntil := func(d time.Duration) { time.Sleep(t0.Add(d).Sub(time.Now())) }
		// Heartbeats every 100ms until n2 dies at 1.05s.
		for i := range 11 {
			at := time.Duration(i) * 100 * time.Millisecond
			sleepUntil(at + 5*time.Millisecond)
			hb.heard(t0.Add(at))
		}
		sleepUntil(1050 * time.Millisecond)
		dead.Lock()
		isDead = true
		dead.Unlock()
		select {
		case <-live.Changes():
			t.Fatal("a change before the death")
		default:
		}
		deadline := time.After(2 * time.Second)
	wait:
		for {
			select {
			case <-live.Changes():
				if live.Verdicts()[0].State == model.NodeOffline {
					break wait
				}
			case <-deadline:
				t.Fatalf("not offline 2s after the death: %+v", live.Verdicts()[0])
			}
		}
		if since := time.Since(t0.Add(1050 * time.Millisecond)); since < 500*time.Millisecond || since > 700*time.Millisecond {
			t.Errorf("offline %v after the death, want 500-700ms", since)
		}
		cancel()
		wg.Wait()
		var states []string
		for line := range strings.SplitSeq(log.String(), "\n") {
			if strings.Contains(line, "node state changed") {
				_, rest, _ := strings.Cut(line, "node=")
				states = append(states, strings.SplitN(line, " ", 2)[0]+" "+strings.SplitN(rest, " reason", 2)[0])
			}
		}
		// The first failed probe starts at 1.1s and times out at 1.3s; the
		// window (500ms) runs from 1.1s.
		want := []string{"at=1.31s n2 state=suspect", "at=1.61s n2 state=offline"}
		if d := gocmp.Diff(want, states); d != "" {
			t.Errorf("state changes (-want +got):\n%s\nlog:\n%s", d, log.String())
		}
	})
}
