package vip

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

// These tests need root. Each builds two network namespaces, A and B,
// joined by a veth pair (198.18.200.1/24 and 2001:2::1/64 on A's end,
// .2 and ::2 on B's), runs the real agent in A and watches from B. All
// traffic stays inside the two namespaces, which are removed when the
// test ends.

// pair is two namespaces joined by a veth pair.
type pair struct {
	nsA, nsB   string
	ifA, ifB   string
	macA       net.HardwareAddr
	opsA, opsB *netlinkOps // netlink in A and B, for observing
}

func run(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newPair builds the namespaces, or skips the test if it cannot.
func newPair(t *testing.T) pair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("vip root test: needs root to create network namespaces")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	sfx := hex.EncodeToString(b[:])
	p := pair{nsA: "vigil-vip-a-" + sfx, nsB: "vigil-vip-b-" + sfx, ifA: "vva" + sfx, ifB: "vvb" + sfx}
	if out, err := exec.Command("ip", "netns", "add", p.nsA).CombinedOutput(); err != nil {
		t.Skipf("vip root test: ip netns add fails here: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", p.nsA).Run() })
	run(t, "ip", "netns", "add", p.nsB)
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", p.nsB).Run() })
	// The veth pair is made inside A and B, so it never exists in the
	// test's own namespace, and goes away with them.
	run(t, "ip", "-n", p.nsA, "link", "add", p.ifA, "type", "veth", "peer", "name", p.ifB, "netns", p.nsB)
	for _, c := range [][]string{
		{"ip", "-n", p.nsA, "addr", "add", "198.18.200.1/24", "dev", p.ifA},
		{"ip", "-n", p.nsA, "addr", "add", "2001:2::1/64", "dev", p.ifA, "nodad"},
		{"ip", "-n", p.nsB, "addr", "add", "198.18.200.2/24", "dev", p.ifB},
		{"ip", "-n", p.nsB, "addr", "add", "2001:2::2/64", "dev", p.ifB, "nodad"},
		{"ip", "-n", p.nsA, "link", "set", p.ifA, "up"},
		{"ip", "-n", p.nsB, "link", "set", p.ifB, "up"},
		// B learns neighbours from gratuitous ARP, so its table shows
		// whether the announcement was understood.
		{"ip", "netns", "exec", p.nsB, "sysctl", "-qw", "net.ipv4.conf." + p.ifB + ".arp_accept=1"},
	} {
		run(t, c...)
	}
	var err error
	if p.opsA, err = newNetlinkOps(p.nsA); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.opsA.Close() })
	if p.opsB, err = newNetlinkOps(p.nsB); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.opsB.Close() })
	link, err := p.opsA.h.LinkByName(p.ifA)
	if err != nil {
		t.Fatal(err)
	}
	p.macA = link.Attrs().HardwareAddr
	return p
}

// heldInA reports whether prefix is on A's veth, read through netlink in A.
func (p pair) heldInA(t *testing.T, prefix string) bool {
	t.Helper()
	links, err := p.opsA.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	return has(links[p.ifA], netip.MustParsePrefix(prefix))
}

// listenB opens an AF_PACKET socket on B's veth for ethertype proto.
func (p pair) listenB(t *testing.T, proto int) *packet.Conn {
	t.Helper()
	var c *packet.Conn
	err := p.opsB.inNS(func() error {
		ifi, err := net.InterfaceByName(p.ifB)
		if err != nil {
			return err
		}
		c, err = packet.Listen(ifi, packet.Datagram, proto, nil)
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", p.nsB, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// capture reads frames from c until done says enough or the bounded wait
// ends; it hands done each frame's payload and source MAC.
func capture(t *testing.T, c *packet.Conn, wait time.Duration, done func(b []byte, from net.HardwareAddr) bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	if err := c.SetReadDeadline(deadline); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	for range 10000 { // bounded; the deadline ends it first
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return
			}
			t.Fatalf("capture: %v", err)
		}
		if done(buf[:n], from.(*packet.Addr).HardwareAddr) {
			return
		}
	}
}

func newRealAgent(t *testing.T, ns string) *Agent {
	t.Helper()
	a, err := New(Config{Netns: ns})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	return a
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

// TestRootGARP starts a bare IPv4 VIP in A and checks from B that the
// gratuitous ARPs arrive with A's MAC, that B's neighbour table learnt it,
// and that the refresh keeps announcing.
func TestRootGARP(t *testing.T) {
	p := newPair(t)
	capt := p.listenB(t, unix.ETH_P_ARP)
	a := newRealAgent(t, p.nsA)
	const count = 5
	r := res("address", "198.18.200.100", "arp_count", "5", "arp_interval", "50ms", "refresh_interval", "1s")
	vip := netip.MustParseAddr("198.18.200.100").As4()

	if err := a.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	// The burst (5 requests and 5 replies), then at least one refresh.
	var requests, replies int
	capture(t, capt, 10*time.Second, func(b []byte, from net.HardwareAddr) bool {
		if len(b) < 28 || !bytes.Equal(from, p.macA) ||
			!bytes.Equal(b[8:14], p.macA) || !bytes.Equal(b[14:18], vip[:]) || !bytes.Equal(b[24:28], vip[:]) {
			return false
		}
		switch binary.BigEndian.Uint16(b[6:8]) {
		case arpRequest:
			requests++
		case arpReply:
			replies++
		}
		return requests > count && replies > count
	})
	t.Logf("B saw %d gratuitous ARP requests and %d replies for 198.18.200.100 from %s (arp_count %d, then refresh)", requests, replies, p.macA, count)
	if requests < count || replies < count {
		t.Errorf("B saw %d requests and %d replies, want >= %d of each", requests, replies, count)
	}
	if requests == count || replies == count {
		t.Errorf("no refresh announcement seen after the burst within the wait")
	}

	if out := run(t, "ip", "-n", p.nsA, "-br", "addr", "show", "dev", p.ifA); !strings.Contains(out, "198.18.200.100/24") {
		t.Errorf("ip -n A addr: %s; want 198.18.200.100/24 (bare address takes the /24 of the interface's subnet)", out)
	}
	if out := run(t, "ip", "-n", p.nsB, "neigh", "show", "198.18.200.100", "dev", p.ifB); !strings.Contains(out, p.macA.String()) {
		t.Errorf("ip -n B neigh: %q; want 198.18.200.100 at %s", out, p.macA)
	} else {
		t.Logf("ip -n B neigh: %s", strings.TrimSpace(out))
	}
	if h, err := a.Monitor(ctx(t), r); h != model.HealthRunning {
		t.Errorf("Monitor = %s, %v; want running", h, err)
	}

	if err := a.Stop(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if p.heldInA(t, "198.18.200.100/24") {
		t.Error("address still in A after Stop")
	}
	if h, err := a.Monitor(ctx(t), r); h != model.HealthStopped {
		t.Errorf("Monitor after Stop = %s, %v; want stopped", h, err)
	}
	// After Stop nothing more is announced: drain, then watch past one
	// refresh interval.
	capture(t, capt, 10*time.Millisecond, func([]byte, net.HardwareAddr) bool { return false })
	late := 0
	capture(t, capt, 1500*time.Millisecond, func(b []byte, _ net.HardwareAddr) bool {
		if len(b) >= 28 && bytes.Equal(b[14:18], vip[:]) {
			late++
		}
		return false
	})
	if late > 0 {
		t.Errorf("%d ARP frames for the VIP after Stop", late)
	}
}

// TestRootConformanceIPv4 runs the conformance suite against the real
// agent in A: Running reads A's addresses through netlink, Kill deletes
// the address behind the agent's back.
func TestRootConformanceIPv4(t *testing.T) {
	p := newPair(t)
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		return agenttest.Subject{
			Agent:    newRealAgent(t, p.nsA),
			Resource: res("address", "198.18.200.100", "arp_interval", "10ms", "refresh_interval", "1s"),
			Invalid:  res("address", "198.18.200.100", "arp_count", "101"),
			Running:  func(t *testing.T) bool { return p.heldInA(t, "198.18.200.100/24") },
			Kill: func(t *testing.T) {
				run(t, "ip", "-n", p.nsA, "addr", "del", "198.18.200.100/24", "dev", p.ifA)
			},
		}
	})
}

// TestRootIPv6 starts a bare IPv6 VIP (2001:2::/48 is the IPv6
// benchmarking range) in A, checks the address and the unsolicited
// neighbour advertisements B receives, and runs the conformance suite.
func TestRootIPv6(t *testing.T) {
	p := newPair(t)
	capt := p.listenB(t, unix.ETH_P_IPV6)
	a := newRealAgent(t, p.nsA)
	const count = 3
	r := res("address", "2001:2::100", "arp_count", "3", "arp_interval", "50ms", "refresh_interval", "0")
	vip := netip.MustParseAddr("2001:2::100")
	allNodes := netip.IPv6LinkLocalAllNodes().As16()

	if err := a.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	nas := 0
	capture(t, capt, 5*time.Second, func(b []byte, from net.HardwareAddr) bool {
		// IPv6 header: next header ICMPv6, hop limit 255, to ff02::1.
		if len(b) < 40 || b[6] != 58 || b[7] != 255 || !bytes.Equal(b[24:40], allNodes[:]) || !bytes.Equal(from, p.macA) {
			return false
		}
		m, err := ndp.ParseMessage(b[40:])
		na, ok := m.(*ndp.NeighborAdvertisement)
		if err != nil || !ok || na.TargetAddress != vip || !na.Override || na.Solicited {
			return false
		}
		for _, o := range na.Options {
			if lla, ok := o.(*ndp.LinkLayerAddress); ok && lla.Direction == ndp.Target && bytes.Equal(lla.Addr, p.macA) {
				nas++
			}
		}
		return nas >= count
	})
	t.Logf("B saw %d unsolicited neighbour advertisements (override, target LL %s) for %s (arp_count %d)", nas, p.macA, vip, count)
	if nas < count {
		t.Errorf("B saw %d neighbour advertisements, want >= %d", nas, count)
	}
	if out := run(t, "ip", "-n", p.nsA, "-br", "addr", "show", "dev", p.ifA); !strings.Contains(out, "2001:2::100/64") {
		t.Errorf("ip -n A addr: %s; want 2001:2::100/64", out)
	}
	if h, err := a.Monitor(ctx(t), r); h != model.HealthRunning {
		t.Errorf("Monitor = %s, %v; want running", h, err)
	}
	if err := a.Stop(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if p.heldInA(t, "2001:2::100/64") {
		t.Error("address still in A after Stop")
	}

	t.Run("Conformance", func(t *testing.T) {
		agenttest.Run(t, func(t *testing.T) agenttest.Subject {
			return agenttest.Subject{
				Agent:    newRealAgent(t, p.nsA),
				Resource: res("address", "2001:2::100", "interface", p.ifA, "arp_interval", "10ms"),
				Invalid:  res("address", "2001:2::100/129"),
				Running:  func(t *testing.T) bool { return p.heldInA(t, "2001:2::100/64") },
				Kill: func(t *testing.T) {
					run(t, "ip", "-n", p.nsA, "addr", "del", "2001:2::100/64", "dev", p.ifA)
				},
			}
		})
	})
}

// TestRootCurrentNamespace checks the zero Config (the process's own
// namespace) without touching the host's network: it only reads.
func TestRootCurrentNamespace(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	// 198.18.255.254 is in the benchmarking range, not configured here.
	h, err := a.Monitor(t.Context(), res("address", "198.18.255.254/32", "interface", "lo"))
	if h != model.HealthStopped || err != nil {
		t.Errorf("Monitor = %s, %v; want stopped", h, err)
	}
}
