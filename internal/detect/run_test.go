package detect

import (
	"bytes"
	"log/slog"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

// TestRunFakeNetwork runs two Detectors over an in-memory network inside a
// synctest bubble, so that every time below is exact fake time: heartbeats
// flow on two links, link 1 is cut (sends fail, which is not fatal), then n2
// stops, and n1 reports it suspect and offline on its own ticks.
func TestRunFakeNetwork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		// wait lets fake time pass; in real time it returns at once.
		wait := func(until time.Duration) {
			<-time.After(t0.Add(until).Sub(time.Now()))
			synctest.Wait()
		}
		fn := newFakeNet()
		nodes := []model.Node{
			{Name: "n1", Addresses: addrs("127.0.0.1", "127.0.1.1")},
			{Name: "n2", Addresses: addrs("127.0.0.2", "127.0.1.2")},
		}
		var log bytes.Buffer
		logger := slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Duration("at", a.Value.Time().Sub(t0))
				}
				return a
			},
		}))
		run := func(self model.NodeID, log *slog.Logger) (_ *Detector, stop func() error) {
			return fn.run(t, Config{Self: self, Nodes: nodes, Port: 5405, Key: testKey, Log: log,
				Timing: model.Timing{HeartbeatInterval: 10 * time.Millisecond, SuspectAfter: 50 * time.Millisecond,
					OfflineAfter: 100 * time.Millisecond, MaxClockSkew: time.Second}})
		}
		n1, stop1 := run("n1", logger)
		_, stop2 := run("n2", nil) // n1's first heartbeats found nobody; n2's reach n1 at once

		s := n1.Snapshot()
		if got := peerState(s, "n2"); got != model.NodeOnline {
			t.Fatalf("at 0: n1 sees n2 %s, want online", got)
		}
		select {
		case <-n1.Changes():
		default:
			t.Error("at 0: n2 came online but Changes did not fire")
		}
		log.Reset() // the order in which the two links came up is not fixed

		fn.setCut(netip.MustParseAddr("127.0.1.1"), true)
		wait(115 * time.Millisecond)
		s = n1.Snapshot()
		want := Counters{Sent: 13, SendErrors: 11, Received: 13}
		if d := cmp.Diff(want, s.Counters); d != "" {
			t.Errorf("at 115ms: n1 counters (-want +got):\n%s", d)
		}
		p := s.Peers[0]
		if p.State != model.NodeOnline || p.Links[0].State != model.NodeOnline || p.Links[1].State != model.NodeOffline {
			t.Errorf("at 115ms: n2 %s, link 0 %s, link 1 %s; want online, online, offline", p.State, p.Links[0].State, p.Links[1].State)
		}

		// n2's last heartbeat left at 110ms.
		if err := stop2(); err != nil {
			t.Errorf("n2 Run: %v", err)
		}
		for _, want := range []struct {
			at    time.Duration
			state model.NodeState
		}{{170 * time.Millisecond, model.NodeSuspect}, {220 * time.Millisecond, model.NodeOffline}} {
			select {
			case <-n1.Changes():
			case <-time.After(time.Second): // fake time, so that a broken Changes fails rather than hangs
				t.Fatalf("Changes did not fire by %v; want it at %v", time.Since(t0), want.at)
			}
			if at, got := time.Since(t0), peerState(n1.Snapshot(), "n2"); at != want.at || got != want.state {
				t.Errorf("Changes fired at %v with n2 %s, want at %v with %s", at, got, want.at, want.state)
			}
		}
		if err := stop1(); err != nil {
			t.Errorf("n1 Run: %v", err)
		}

		wantLog := `at=60ms level=INFO msg="link state changed" node=n2 link=1 state=suspect
at=110ms level=INFO msg="link state changed" node=n2 link=1 state=offline
at=170ms level=INFO msg="link state changed" node=n2 link=0 state=suspect
at=170ms level=INFO msg="node state changed" node=n2 state=suspect
at=220ms level=INFO msg="link state changed" node=n2 link=0 state=offline
at=220ms level=INFO msg="node state changed" node=n2 state=offline
`
		if d := cmp.Diff(wantLog, log.String()); d != "" {
			t.Errorf("n1 log (-want +got):\n%s", d)
		}
	})
}
