package detect

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

func addrs(s ...string) []netip.Addr {
	var out []netip.Addr
	for _, a := range s {
		out = append(out, netip.MustParseAddr(a))
	}
	return out
}

func validConfig() Config {
	return Config{
		Self: "n1",
		Nodes: []model.Node{
			{Name: "n1", Addresses: addrs("127.0.0.1", "127.0.1.1")},
			{Name: "n2", Addresses: addrs("127.0.0.2", "127.0.1.2")},
			{Name: "n3", Addresses: addrs("127.0.0.3", "127.0.1.3")},
		},
		Port: 5405,
		Key:  testKey,
		Timing: model.Timing{HeartbeatInterval: 10 * time.Millisecond, SuspectAfter: 50 * time.Millisecond,
			OfflineAfter: 100 * time.Millisecond, MaxClockSkew: time.Second},
	}
}

func TestNewValidates(t *testing.T) {
	if _, err := New(validConfig()); err != nil {
		t.Fatalf("New(valid): %v", err)
	}
	for _, tc := range []struct {
		name  string
		edit  func(*Config)
		wants []string
	}{
		{"self missing", func(c *Config) { c.Self = "n9" }, []string{`self "n9": not among nodes`}},
		{"self empty", func(c *Config) { c.Self = "" }, []string{"self: empty"}},
		{"no nodes", func(c *Config) { c.Nodes = nil }, []string{"nodes: empty", `self "n1": not among nodes`}},
		{"port zero", func(c *Config) { c.Port = 0 }, []string{"port: must not be 0"}},
		{"zero key", func(c *Config) { c.Key = Key{} }, []string{"key: zero"}},
		{"empty secret", func(c *Config) { c.Key = NewKey("test", nil) }, []string{"empty secret"}},
		{"duplicate node", func(c *Config) { c.Nodes[2].Name = "n2" }, []string{`nodes[2].name "n2": duplicate`}},
		{"long name", func(c *Config) { c.Nodes[1].Name = model.NodeID(strings.Repeat("x", 65)) }, []string{"nodes[1].name", "1 to 64 bytes"}},
		{"link count differs", func(c *Config) { c.Nodes[1].Addresses = addrs("127.0.0.2") }, []string{"nodes[1].addresses: 1 links, want 2"}},
		{"no links", func(c *Config) {
			for i := range c.Nodes {
				c.Nodes[i].Addresses = nil
			}
		}, []string{"nodes[0].addresses: 0 links, want 1 to 256"}},
		{"bad address", func(c *Config) { c.Nodes[2].Addresses[1] = netip.Addr{} }, []string{"nodes[2].addresses[1]"}},
		{"unspecified address", func(c *Config) { c.Nodes[0].Addresses[0] = netip.IPv4Unspecified() }, []string{"nodes[0].addresses[0]"}},
		{"zero timing", func(c *Config) { c.Timing = model.Timing{} }, []string{"heartbeat interval is 0s", "suspect after is 0s", "offline after is 0s", "max clock skew is 0s"}},
		{"suspect after offline", func(c *Config) { c.Timing.SuspectAfter = time.Second }, []string{"suspect after (1s) exceeds offline after (100ms)"}},
		{"all problems at once", func(c *Config) { c.Port = 0; c.Self = "n9" }, []string{"port", "self"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := validConfig()
			tc.edit(&cfg)
			_, err := New(cfg)
			if err == nil {
				t.Fatal("New: no error")
			}
			for _, w := range tc.wants {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("New: %v\nwant it to contain %q", err, w)
				}
			}
		})
	}
}

// TestHandle feeds packets to a Detector that is not running, on a scripted
// clock, and checks the counters, the view, the log and Changes.
func TestHandle(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	now := start
	var log bytes.Buffer
	cfg := validConfig()
	cfg.Now = func() time.Time { return now }
	cfg.Log = slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{
		ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hb := func(from, to model.NodeID, link uint8, seq uint64, sentAt time.Time) Heartbeat {
		return Heartbeat{From: from, To: to, Link: link, Boot: 7, Seq: seq, SentAt: sentAt.UnixNano()}
	}
	changed := func() bool {
		select {
		case <-d.Changes():
			return true
		default:
			return false
		}
	}

	now = start.Add(10 * time.Millisecond)
	good := Encode(testKey, hb("n2", "n1", 0, 1, now))
	d.handle(0, good)
	if !changed() {
		t.Error("n2 came online but Changes did not fire")
	}
	d.handle(0, good)                                                           // replayed
	d.handle(0, Encode(testKey, hb("n2", "n1", 0, 1, now.Add(-2*time.Second)))) // stale (checked before replay)
	d.handle(0, Encode(NewKey("other", []byte("s3cret")), hb("n2", "n1", 0, 2, now)))
	d.handle(0, []byte("VGHB junk"))
	d.handle(0, Encode(testKey, hb("n2", "n3", 0, 2, now))) // for n3
	d.handle(1, Encode(testKey, hb("n2", "n1", 0, 2, now))) // link 0 packet read on link 1
	d.handle(0, Encode(testKey, hb("n9", "n1", 0, 1, now))) // a stranger
	d.handle(0, Encode(testKey, hb("n1", "n1", 0, 1, now))) // ourselves
	d.handle(1, Encode(testKey, hb("n2", "n1", 1, 1, now))) // fine, on link 1
	if changed() {
		t.Error("Changes fired, but n2 was online already")
	}
	want := Counters{Received: 2, Malformed: 1, Forged: 1, WrongReceiver: 2, UnknownSender: 2, Stale: 1, Replayed: 1}
	if d := cmp.Diff(want, d.Snapshot().Counters); d != "" {
		t.Errorf("counters (-want +got):\n%s", d)
	}

	// Ticks without sockets: silence turns n2 suspect then offline; n3, never
	// heard, goes offline when its grace ends.
	for _, at := range []time.Duration{60, 61, 100, 101, 111, 200} {
		now = start.Add(at * time.Millisecond)
		d.beat(nil)
	}
	if !changed() {
		t.Error("n2 went offline but Changes did not fire")
	}
	wantLog := `level=INFO msg="link state changed" node=n2 link=0 state=online
level=INFO msg="node state changed" node=n2 state=online
level=INFO msg="link state changed" node=n2 link=1 state=online
level=INFO msg="link state changed" node=n2 link=0 state=suspect
level=INFO msg="link state changed" node=n2 link=1 state=suspect
level=INFO msg="node state changed" node=n2 state=suspect
level=INFO msg="link state changed" node=n3 link=0 state=offline
level=INFO msg="link state changed" node=n3 link=1 state=offline
level=INFO msg="node state changed" node=n3 state=offline
level=INFO msg="link state changed" node=n2 link=0 state=offline
level=INFO msg="link state changed" node=n2 link=1 state=offline
level=INFO msg="node state changed" node=n2 state=offline
`
	if d := cmp.Diff(wantLog, log.String()); d != "" {
		t.Errorf("log (-want +got):\n%s", d)
	}
}

// freePort returns a UDP port that is free on 127.0.0.1 and 127.0.0.2, or
// skips the test if 127.0.0.2 cannot be bound (it can on Linux).
func freePort(t *testing.T) uint16 {
	t.Helper()
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	port := uint16(a.LocalAddr().(*net.UDPAddr).Port)
	b, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr("127.0.0.2"), port)))
	if err != nil {
		t.Skipf("127.0.0.2 is not usable here: %v", err)
	}
	b.Close()
	return port
}

// start runs d until the returned cancel is called, which waits for Run
// and fails the test unless it returned nil.
func start(t *testing.T, d *Detector) (cancel func()) {
	t.Helper()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	var stopped bool
	cancel = func() {
		if stopped {
			return
		}
		stopped = true
		stop()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(cancel)
	return cancel
}

// waitFor polls d until cond holds, for at most a few seconds.
func waitFor(t *testing.T, d *Detector, what string, cond func(Snapshot) bool) {
	t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	poll := time.NewTicker(5 * time.Millisecond)
	defer poll.Stop()
	for {
		s := d.Snapshot()
		if cond(s) {
			return
		}
		select {
		case <-d.Changes():
		case <-poll.C:
		case <-deadline.C:
			t.Fatalf("timed out waiting until %s; last snapshot: %+v", what, s)
		}
	}
}

func peerState(s Snapshot, name model.NodeID) model.NodeState {
	for _, p := range s.Peers {
		if p.Name == name {
			return p.State
		}
	}
	return ""
}

func TestLoopback(t *testing.T) {
	port := freePort(t)
	nodes := []model.Node{
		{Name: "n1", Addresses: addrs("127.0.0.1")},
		{Name: "n2", Addresses: addrs("127.0.0.2")},
	}
	timing := model.Timing{HeartbeatInterval: 10 * time.Millisecond, SuspectAfter: 50 * time.Millisecond,
		OfflineAfter: 100 * time.Millisecond, MaxClockSkew: time.Second}
	detector := func(self model.NodeID) *Detector {
		d, err := New(Config{Self: self, Nodes: nodes, Port: port, Key: testKey, Timing: timing})
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	n1, n2 := detector("n1"), detector("n2")
	start(t, n1)
	stop2 := start(t, n2)

	waitFor(t, n1, "n1 sees n2 online with an RTT", func(s Snapshot) bool {
		return peerState(s, "n2") == model.NodeOnline && s.Peers[0].Links[0].RTT > 0
	})
	waitFor(t, n2, "n2 sees n1 online", func(s Snapshot) bool { return peerState(s, "n1") == model.NodeOnline })

	// Inject packets at n1 from a raw socket.
	raw, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	to := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), port)
	inject := func(b []byte) {
		t.Helper()
		if _, err := raw.WriteToUDPAddrPort(b, to); err != nil {
			t.Fatal(err)
		}
	}
	before := n1.Snapshot().Counters
	forged := Encode(NewKey("test", []byte("guessed")), Heartbeat{From: "n2", To: "n1", Seq: 1 << 40, Boot: 1 << 62, SentAt: time.Now().UnixNano()})
	inject(forged)
	inject([]byte("VGHB\x01"))
	waitFor(t, n1, "n1 counts a forged and a malformed packet", func(s Snapshot) bool {
		return s.Counters.Forged == before.Forged+1 && s.Counters.Malformed == before.Malformed+1
	})

	stop2()
	waitFor(t, n1, "n1 sees n2 offline", func(s Snapshot) bool { return peerState(s, "n2") == model.NodeOffline })

	// A heartbeat as if from a newer n2 is accepted once; the same bytes again
	// are a replay.
	before = n1.Snapshot().Counters
	replayed := Encode(testKey, Heartbeat{From: "n2", To: "n1", Boot: uint64(time.Now().UnixNano()), Seq: 1, SentAt: time.Now().UnixNano()})
	inject(replayed)
	waitFor(t, n1, "n1 accepts the first copy", func(s Snapshot) bool { return s.Counters.Received == before.Received+1 })
	inject(replayed)
	waitFor(t, n1, "n1 counts the second as replayed", func(s Snapshot) bool { return s.Counters.Replayed == before.Replayed+1 })

	if c := n1.Snapshot().Counters; c.Sent == 0 || c.Stale != 0 || c.WrongReceiver != 0 || c.UnknownSender != 0 {
		t.Errorf("n1 counters: %+v", c)
	}
}

func TestRunFailsToBind(t *testing.T) {
	busy, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.MustParseAddrPort("127.0.0.1:0")))
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	cfg := validConfig()
	cfg.Nodes = []model.Node{{Name: "n1", Addresses: addrs("127.0.0.1")}, {Name: "n2", Addresses: addrs("127.0.0.2")}}
	cfg.Port = uint16(busy.LocalAddr().(*net.UDPAddr).Port)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := d.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "listen on link 0") {
		t.Errorf("Run on a busy port: %v, want a listen error", err)
	}
	if err := d.Run(context.Background()); err == nil {
		t.Error("second Run: no error")
	}
}

func TestRunReturnsOnCancel(t *testing.T) {
	cfg := validConfig()
	cfg.Nodes = []model.Node{{Name: "n1", Addresses: addrs("127.0.0.1")}, {Name: "n2", Addresses: addrs("127.0.0.2")}}
	cfg.Port = freePort(t)
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Run(ctx); err != nil {
		t.Errorf("Run with a cancelled context: %v", err)
	}
}
