package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"
	"sync"
)

// fakeNet is an in-memory netOps that records every effect as a line of
// text, like `ip` would be typed: "addr add 198.18.0.100/24 dev eth0",
// "addr del …", "arp 198.18.0.100 dev eth0" (IPv4) or "na 2001:2::100 dev
// eth0" (IPv6). Repeats of the same line are folded into "… xN".
type fakeNet struct {
	mu    sync.Mutex
	links map[string][]netip.Prefix
	lines []string
	count []int
	// Failures to inject.
	addrsErr, addErr, announceErr error
}

// newFakeNet returns a fake with the given interfaces: "eth0=198.18.0.1/24,
// 2001:2::1/64" items, one per interface; an interface may have none
// ("eth2=").
func newFakeNet(ifcs ...string) *fakeNet {
	f := &fakeNet{links: map[string][]netip.Prefix{}}
	for _, s := range ifcs {
		name, addrs, _ := strings.Cut(s, "=")
		f.links[name] = []netip.Prefix{}
		for _, a := range strings.Split(addrs, ",") {
			if a = strings.TrimSpace(a); a != "" {
				f.links[name] = append(f.links[name], netip.MustParsePrefix(a))
			}
		}
	}
	return f
}

func (f *fakeNet) record(format string, args ...any) {
	line := fmt.Sprintf(format, args...)
	if n := len(f.lines); n > 0 && f.lines[n-1] == line {
		f.count[n-1]++
		return
	}
	f.lines = append(f.lines, line)
	f.count = append(f.count, 1)
}

// take returns the recorded effects and forgets them.
func (f *fakeNet) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for i, l := range f.lines {
		b.WriteString(l)
		if f.count[i] > 1 {
			fmt.Fprintf(&b, " x%d", f.count[i])
		}
		b.WriteString("\n")
	}
	f.lines, f.count = nil, nil
	return b.String()
}

// held reports whether p is on ifc.
func (f *fakeNet) held(ifc string, p netip.Prefix) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return has(f.links[ifc], p)
}

// remove takes p off ifc behind the agent's back, unrecorded.
func (f *fakeNet) remove(ifc string, p netip.Prefix) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.links[ifc] = without(f.links[ifc], p)
}

func (f *fakeNet) Addrs() (map[string][]netip.Prefix, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.addrsErr != nil {
		return nil, f.addrsErr
	}
	out := make(map[string][]netip.Prefix, len(f.links))
	for k, v := range f.links {
		out[k] = append([]netip.Prefix{}, v...)
	}
	return out, nil
}

func (f *fakeNet) AddrAdd(ifc string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("addr add %s dev %s", p, ifc)
	if f.addErr != nil {
		return f.addErr
	}
	if _, ok := f.links[ifc]; !ok {
		return errors.New("Link not found")
	}
	f.links[ifc] = append(without(f.links[ifc], p), p)
	return nil
}

func (f *fakeNet) AddrDel(ifc string, p netip.Prefix) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.record("addr del %s dev %s", p, ifc)
	f.links[ifc] = without(f.links[ifc], p)
	return nil
}

func (f *fakeNet) Announce(ifc string, a netip.Addr) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	kind := "arp"
	if a.Is6() {
		kind = "na"
	}
	f.record("%s %s dev %s", kind, a, ifc)
	return f.announceErr
}

func without(ps []netip.Prefix, p netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, q := range ps {
		if q != p {
			out = append(out, q)
		}
	}
	return out
}
