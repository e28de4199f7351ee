package vip

import (
	"context"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

func res(params ...string) model.Resource {
	r := model.Resource{ID: "web-ip", Kind: "vip", Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		r.Params[params[i]] = params[i+1]
	}
	return r
}

func TestParse(t *testing.T) {
	defaults := spec{bits: -1, arpCount: 5, arpInterval: 200 * time.Millisecond, refresh: 10 * time.Second}
	with := func(f func(*spec)) spec { s := defaults; f(&s); return s }
	addr := netip.MustParseAddr
	good := []struct {
		params map[string]string
		want   spec
	}{
		{map[string]string{"address": "198.18.0.100"},
			with(func(s *spec) { s.addr = addr("198.18.0.100") })},
		{map[string]string{"address": "198.18.0.100/24", "interface": "eth0"},
			with(func(s *spec) { s.addr, s.bits, s.ifc = addr("198.18.0.100"), 24, "eth0" })},
		{map[string]string{"address": "2001:2::100/64"},
			with(func(s *spec) { s.addr, s.bits = addr("2001:2::100"), 64 })},
		{map[string]string{"address": "198.18.0.100/32", "arp_count": "1", "arp_interval": "1s", "refresh_interval": "0"},
			with(func(s *spec) {
				s.addr, s.bits, s.arpCount, s.arpInterval, s.refresh = addr("198.18.0.100"), 32, 1, time.Second, 0
			})},
		{map[string]string{"address": "198.18.0.100", "arp_count": "100", "refresh_interval": "1m"},
			with(func(s *spec) { s.addr, s.arpCount, s.refresh = addr("198.18.0.100"), 100, time.Minute })},
	}
	for _, tc := range good {
		got, err := parse(tc.params)
		if err != nil {
			t.Errorf("parse(%v) = %v", tc.params, err)
			continue
		}
		if d := cmp.Diff(tc.want, got, cmp.AllowUnexported(spec{}), cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Errorf("parse(%v) (-want +got):\n%s", tc.params, d)
		}
	}

	bad := []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, "params.address: required"},
		{map[string]string{"address": ""}, "params.address: required"},
		{map[string]string{"address": "10.0.0.300"}, `params.address: "10.0.0.300" is not an IP address`},
		{map[string]string{"address": "web.example"}, `params.address: "web.example" is not an IP address`},
		{map[string]string{"address": "198.18.0.100/33"}, `params.address: "198.18.0.100/33" is not an IP address with a valid prefix length`},
		{map[string]string{"address": "2001:2::1/129"}, `is not an IP address with a valid prefix length`},
		{map[string]string{"address": "198.18.0.100/0"}, `prefix length 0 is not a subnet`},
		{map[string]string{"address": "198.18.0.100/x"}, `is not an IP address with a valid prefix length`},
		{map[string]string{"address": "224.0.0.1"}, `is not a unicast address`},
		{map[string]string{"address": "0.0.0.0"}, `is not a unicast address`},
		{map[string]string{"address": "127.0.0.5"}, `is not a unicast address`},
		{map[string]string{"address": "fe80::1%eth0"}, `a zone is not allowed`},
		{map[string]string{"address": "::ffff:198.18.0.100"}, `write it as IPv4 (198.18.0.100)`},
		{map[string]string{"address": "198.18.0.100", "arp_count": "0"}, "params.arp_count: 0 is out of range [1, 100]"},
		{map[string]string{"address": "198.18.0.100", "arp_count": "101"}, "params.arp_count: 101 is out of range [1, 100]"},
		{map[string]string{"address": "198.18.0.100", "arp_count": "five"}, `params.arp_count: "five" is not an integer`},
		{map[string]string{"address": "198.18.0.100", "arp_interval": "200"}, `params.arp_interval: "200" is not a duration`},
		{map[string]string{"address": "198.18.0.100", "arp_interval": "0s"}, "params.arp_interval: 0s is out of range"},
		{map[string]string{"address": "198.18.0.100", "refresh_interval": "10ms"}, "params.refresh_interval: 10ms is out of range [1s, 24h0m0s] (or 0 to disable)"},
		{map[string]string{"address": "198.18.0.100", "interface": "a/b"}, `params.interface: "a/b" is not an interface name`},
		{map[string]string{"address": "198.18.0.100", "interface": "averyveryverylongname"}, `is not an interface name`},
		{map[string]string{"address": "198.18.0.100", "nic": "eth0"}, "params.nic: not a vip parameter (known: address, arp_count, arp_interval, interface, refresh_interval)"},
	}
	for _, tc := range bad {
		_, err := parse(tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%v) = %v, want an error containing %q", tc.params, err, tc.want)
		}
	}

	// Every problem is named at once.
	_, err := parse(map[string]string{"arp_count": "0", "bogus": "1"})
	for _, want := range []string{"params.address", "params.arp_count", "params.bogus"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("parse(several problems) = %v, want it to name %s", err, want)
		}
	}
}

func TestResolve(t *testing.T) {
	links := newFakeNet(
		"lo=127.0.0.1/8,::1/128",
		"eth0=198.18.0.1/24,2001:2::1/64,fe80::1/64",
		"eth1=198.18.1.1/24,198.19.0.1/16",
		"eth2=198.19.0.2/16",
		"eth3=198.18.1.2/28",
		"eth4=",
	).links
	tests := []struct {
		params  map[string]string
		ifc     string
		prefix  string
		wantErr string
	}{
		// Bare address: the interface and prefix length of its subnet.
		{params: map[string]string{"address": "198.18.0.100"}, ifc: "eth0", prefix: "198.18.0.100/24"},
		{params: map[string]string{"address": "2001:2::100"}, ifc: "eth0", prefix: "2001:2::100/64"},
		// Explicit prefix: kept, the interface still found by subnet.
		{params: map[string]string{"address": "198.18.0.100/32"}, ifc: "eth0", prefix: "198.18.0.100/32"},
		// The longest subnet wins (198.18.1.0/28 on eth3 over /24 on eth1).
		{params: map[string]string{"address": "198.18.1.5"}, ifc: "eth3", prefix: "198.18.1.5/28"},
		{params: map[string]string{"address": "198.18.1.100"}, ifc: "eth1", prefix: "198.18.1.100/24"},
		// Interface given: its subnet decides the length of a bare address.
		{params: map[string]string{"address": "198.18.1.5", "interface": "eth1"}, ifc: "eth1", prefix: "198.18.1.5/24"},
		{params: map[string]string{"address": "198.18.0.100/24", "interface": "eth4"}, ifc: "eth4", prefix: "198.18.0.100/24"},
		// Errors.
		{params: map[string]string{"address": "198.19.0.100"}, wantErr: "interfaces eth1, eth2 all have a /16 subnet containing 198.19.0.100; set params.interface"},
		{params: map[string]string{"address": "198.18.9.100"}, wantErr: "no subnet contains the address: no interface has a subnet containing 198.18.9.100; set params.interface"},
		{params: map[string]string{"address": "198.18.0.100/24", "interface": "eth9"}, wantErr: "interface eth9: no such interface"},
		{params: map[string]string{"address": "198.18.0.100", "interface": "eth4"}, wantErr: "no address of eth4 has a subnet containing 198.18.0.100; give the prefix length (e.g. 198.18.0.100/32)"},
	}
	for _, tc := range tests {
		s, err := parse(tc.params)
		if err != nil {
			t.Fatalf("parse(%v) = %v", tc.params, err)
		}
		ifc, p, err := resolve(links, s)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("resolve(%v) = %s %s, %v; want error %q", tc.params, ifc, p, err, tc.wantErr)
			}
			continue
		}
		if err != nil || ifc != tc.ifc || p.String() != tc.prefix {
			t.Errorf("resolve(%v) = %s %s, %v; want %s %s", tc.params, ifc, p, err, tc.ifc, tc.prefix)
		}
	}
}

// TestBurstThenRefresh follows one VIP through its life on a fake clock:
// the burst on start (Start returns after the first announcement), the
// periodic refresh, and silence after Stop.
func TestBurstThenRefresh(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet("eth0=198.18.0.1/24")
		a := newAgent(f, nil, nil)
		defer a.Close()
		r := res("address", "198.18.0.100")

		if err := a.Start(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		step(t, f, "start returns after the first announcement",
			"addr add 198.18.0.100/24 dev eth0\narp 198.18.0.100 dev eth0\n")

		time.Sleep(time.Second) // the burst: 4 more, 200ms apart
		synctest.Wait()
		step(t, f, "rest of the burst", "arp 198.18.0.100 dev eth0 x4\n")

		time.Sleep(30 * time.Second)
		synctest.Wait()
		step(t, f, "refresh every 10s", "arp 198.18.0.100 dev eth0 x3\n")

		if err := a.Stop(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Minute)
		synctest.Wait()
		step(t, f, "stop removes and silences", "addr del 198.18.0.100/24 dev eth0\n")
	})
}

func step(t *testing.T, f *fakeNet, what, want string) {
	t.Helper()
	if d := cmp.Diff(want, f.take()); d != "" {
		t.Errorf("%s (-want +got):\n%s", what, d)
	}
}

func TestWholeBurstInOneLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet("eth0=198.18.0.1/24")
		a := newAgent(f, nil, nil)
		defer a.Close()
		if err := a.Start(t.Context(), res("address", "198.18.0.100/24", "interface", "eth0", "refresh_interval", "0")); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		step(t, f, "burst, no refresh", "addr add 198.18.0.100/24 dev eth0\narp 198.18.0.100 dev eth0 x5\n")
	})
}

func TestIPv6(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet("eth0=2001:2::1/64,fe80::1/64")
		a := newAgent(f, nil, nil)
		defer a.Close()
		r := res("address", "2001:2::100", "arp_count", "3", "arp_interval", "1s", "refresh_interval", "0")
		if err := a.Start(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		step(t, f, "start", "addr add 2001:2::100/64 dev eth0\nna 2001:2::100 dev eth0 x3\n")
		if h, err := a.Monitor(t.Context(), r); h != model.HealthRunning {
			t.Errorf("Monitor = %s, %v; want running", h, err)
		}
		if err := a.Stop(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		step(t, f, "stop", "addr del 2001:2::100/64 dev eth0\n")
	})
}

// TestStartAgainRestartsBurst: starting a held VIP re-asserts the address
// and announces it again from the top; the old announcer is gone.
func TestStartAgainRestartsBurst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet("eth0=198.18.0.1/24")
		a := newAgent(f, nil, nil)
		defer a.Close()
		r := res("address", "198.18.0.100", "arp_count", "2", "refresh_interval", "0")
		for range 2 {
			if err := a.Start(t.Context(), r); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second)
		synctest.Wait()
		step(t, f, "two starts",
			"addr add 198.18.0.100/24 dev eth0\narp 198.18.0.100 dev eth0\n"+
				"addr add 198.18.0.100/24 dev eth0\narp 198.18.0.100 dev eth0 x2\n")
	})
}

// TestRefreshSkipsRemovedAddress: an address removed behind vigil's back is
// not announced by the refresher (an announcement for an address the node
// does not hold would attract traffic it drops).
func TestRefreshSkipsRemovedAddress(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet("eth0=198.18.0.1/24")
		a := newAgent(f, nil, nil)
		defer a.Close()
		r := res("address", "198.18.0.100", "arp_count", "1", "refresh_interval", "1s")
		if err := a.Start(t.Context(), r); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
		synctest.Wait()
		step(t, f, "start and two refreshes", "addr add 198.18.0.100/24 dev eth0\narp 198.18.0.100 dev eth0 x3\n")
		f.remove("eth0", netip.MustParsePrefix("198.18.0.100/24"))
		time.Sleep(5 * time.Second)
		synctest.Wait()
		step(t, f, "nothing announced while the address is gone", "")
		if h, _ := a.Monitor(t.Context(), r); h != model.HealthStopped {
			t.Errorf("Monitor = %s, want stopped", h)
		}
	})
}

func TestCloseStopsAnnouncers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newFakeNet("eth0=198.18.0.1/24", "eth1=198.18.1.1/24")
		a := newAgent(f, nil, nil)
		for _, addr := range []string{"198.18.0.100", "198.18.1.100"} {
			if err := a.Start(t.Context(), res("address", addr)); err != nil {
				t.Fatal(err)
			}
		}
		f.take()
		if err := a.Close(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour)
		synctest.Wait()
		step(t, f, "after Close", "")
		err := a.Start(t.Context(), res("address", "198.18.0.100"))
		if !errors.Is(err, errClosed) {
			t.Errorf("Start after Close = %v, want %v", err, errClosed)
		}
		// The bubble ends only if no goroutine of the agent is left.
	})
}

func TestStartErrors(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name   string
		fake   func(*fakeNet)
		ctx    context.Context
		r      model.Resource
		want   string
		effect string
	}{
		{name: "bad params", r: res("address", "198.18.0.300"),
			want: `start web-ip: params.address: "198.18.0.300" is not an IP address`},
		{name: "unknown interface", r: res("address", "198.18.0.100/24", "interface", "eth9"),
			want: "start web-ip: interface eth9: no such interface"},
		{name: "no subnet", r: res("address", "198.18.7.100"),
			want: "start web-ip: no subnet contains the address: no interface has a subnet containing 198.18.7.100; set params.interface"},
		{name: "cancelled", ctx: cancelled, r: res("address", "198.18.0.100"),
			want: "start web-ip: not started: context canceled"},
		{name: "netlink fails", r: res("address", "198.18.0.100"),
			fake: func(f *fakeNet) { f.addrsErr = errors.New("list links: permission denied") },
			want: "start web-ip: list links: permission denied"},
		{name: "add fails", r: res("address", "198.18.0.100"),
			fake:   func(f *fakeNet) { f.addErr = errors.New("addr add: file exists") },
			want:   "start web-ip: addr add: file exists",
			effect: "addr add 198.18.0.100/24 dev eth0\n"},
		{name: "announce fails", r: res("address", "198.18.0.100"),
			fake:   func(f *fakeNet) { f.announceErr = errors.New("network is down") },
			want:   "start web-ip: 198.18.0.100/24 is on eth0 but was not announced: network is down",
			effect: "addr add 198.18.0.100/24 dev eth0\narp 198.18.0.100 dev eth0\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNet("eth0=198.18.0.1/24")
			if tc.fake != nil {
				tc.fake(f)
			}
			a := newAgent(f, nil, nil)
			defer a.Close()
			ctx := tc.ctx
			if ctx == nil {
				ctx = t.Context()
			}
			err := a.Start(ctx, tc.r)
			if err == nil || err.Error() != tc.want {
				t.Errorf("Start = %v\nwant %s", err, tc.want)
			}
			step(t, f, "effects", tc.effect)
		})
	}
}

func TestMonitor(t *testing.T) {
	tests := []struct {
		name string
		fake func(*fakeNet)
		r    model.Resource
		want model.Health
		err  string
	}{
		{name: "held", r: res("address", "198.18.0.100"), want: model.HealthRunning},
		{name: "held with explicit prefix and interface", r: res("address", "198.18.0.100/24", "interface", "eth0"), want: model.HealthRunning},
		{name: "other prefix length", r: res("address", "198.18.0.100/32"), want: model.HealthStopped},
		{name: "not held", r: res("address", "198.18.0.101"), want: model.HealthStopped},
		{name: "on another interface", r: res("address", "198.18.0.100/24", "interface", "eth1"), want: model.HealthStopped},
		{name: "unknown interface", r: res("address", "198.18.0.100/24", "interface", "eth9"), want: model.HealthStopped},
		{name: "no subnet here", r: res("address", "198.18.5.5"), want: model.HealthStopped},
		{name: "ambiguous", r: res("address", "198.19.0.100"), want: model.HealthFailed,
			err: "monitor web-ip: interfaces eth0, eth1 all have a /16 subnet containing 198.19.0.100; set params.interface"},
		{name: "bad params", r: res("address", "x"), want: model.HealthFailed,
			err: `monitor web-ip: params.address: "x" is not an IP address`},
		{name: "netlink fails", r: res("address", "198.18.0.100"), want: model.HealthFailed,
			fake: func(f *fakeNet) { f.addrsErr = errors.New("list addresses: EBADF") },
			err:  "monitor web-ip: list addresses: EBADF"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeNet("eth0=198.18.0.1/24,198.18.0.100/24,198.19.0.1/16", "eth1=198.19.0.2/16")
			if tc.fake != nil {
				tc.fake(f)
			}
			a := newAgent(f, nil, nil)
			defer a.Close()
			h, err := a.Monitor(t.Context(), tc.r)
			gotErr := ""
			if err != nil {
				gotErr = err.Error()
			}
			if h != tc.want || gotErr != tc.err {
				t.Errorf("Monitor = %s, %q; want %s, %q", h, gotErr, tc.want, tc.err)
			}
			step(t, f, "monitor changes nothing", "")
		})
	}
}

func TestStopIsIdempotent(t *testing.T) {
	f := newFakeNet("eth0=198.18.0.1/24")
	a := newAgent(f, nil, nil)
	defer a.Close()
	for _, r := range []model.Resource{
		res("address", "198.18.0.100"),                         // not held
		res("address", "198.18.0.100/24", "interface", "eth9"), // no such interface
		res("address", "198.18.9.100"),                         // no subnet for it here
	} {
		if err := a.Stop(t.Context(), r); err != nil {
			t.Errorf("Stop(%v) = %v", r.Params, err)
		}
	}
	step(t, f, "nothing to remove", "")
	if err := a.Stop(t.Context(), res("address", "nope")); err == nil || !strings.HasPrefix(err.Error(), "stop web-ip: cannot tell which address to remove: ") {
		t.Errorf("Stop(bad params) = %v", err)
	}
}

// TestConformanceFake runs the conformance suite over the fake network.
func TestConformanceFake(t *testing.T) {
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		f := newFakeNet("eth0=198.18.0.1/24")
		a := newAgent(f, nil, nil)
		t.Cleanup(func() { a.Close() })
		vip := netip.MustParsePrefix("198.18.0.100/24")
		return agenttest.Subject{
			Agent:    a,
			Resource: res("address", "198.18.0.100", "arp_interval", "1ms"),
			Invalid:  res("address", "198.18.0.100", "arp_count", "0"),
			Running:  func(t *testing.T) bool { return f.held("eth0", vip) },
			Kill:     func(t *testing.T) { f.remove("eth0", vip) },
		}
	})
}

// TestGARPFrame pins the bytes of the gratuitous ARP payloads.
func TestGARPFrame(t *testing.T) {
	mac := net.HardwareAddr{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	a := netip.MustParseAddr("198.18.0.100")
	for _, tc := range []struct {
		op   uint16
		want string
	}{
		// htype 1, ptype 0800, hlen 6, plen 4, op, sha, spa, tha, tpa
		{arpRequest, "0001 0800 06 04 0001 020000000001 c6120064 000000000000 c6120064"},
		{arpReply, "0001 0800 06 04 0002 020000000001 c6120064 020000000001 c6120064"},
	} {
		if got, want := hex.EncodeToString(garp(tc.op, mac, a)), strings.ReplaceAll(tc.want, " ", ""); got != want {
			t.Errorf("garp(%s) = %s, want %s", opName(tc.op), got, want)
		}
	}
}

func TestNewRefusesBadNetns(t *testing.T) {
	for _, ns := range []string{"../etc", "vigil-no-such-namespace-x"} {
		a, err := New(Config{Netns: ns})
		if err == nil {
			a.Close()
			t.Errorf("New(Netns %q) = nil error", ns)
			continue
		}
		if !strings.HasPrefix(err.Error(), "vip config: Netns: ") {
			t.Errorf("New(Netns %q) = %v", ns, err)
		}
	}
}
