package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"
)

// The parameter defaults and limits.
const (
	DefaultARPCount        = 5
	DefaultARPInterval     = 200 * time.Millisecond
	DefaultRefreshInterval = 10 * time.Second

	maxARPCount        = 100
	minARPInterval     = time.Millisecond
	maxARPInterval     = 10 * time.Second
	minRefreshInterval = time.Second
	maxRefreshInterval = 24 * time.Hour
)

// paramNames lists the parameters a vip resource may set.
const paramNames = "address, arp_count, arp_interval, interface, refresh_interval"

// spec is a vip resource's parameters, parsed.
type spec struct {
	addr netip.Addr
	// bits is the prefix length, or -1 when the address was given bare and
	// the interface's subnet decides it.
	bits int
	// ifc is the interface, "" to find it by subnet.
	ifc         string
	arpCount    int
	arpInterval time.Duration
	refresh     time.Duration // 0: no periodic re-announcement
}

// parse checks the parameters of a vip resource and joins every problem.
// It does no I/O: whether the interface exists is a fact of the node, which
// resolve checks.
func parse(p map[string]string) (spec, error) {
	s := spec{bits: -1, arpCount: DefaultARPCount, arpInterval: DefaultARPInterval, refresh: DefaultRefreshInterval}
	var errs []error
	var unknown []string
	for k := range p {
		if !known(k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("params.%s: not a vip parameter (known: %s)", k, paramNames))
	}

	if v, ok := p["address"]; !ok || v == "" {
		errs = append(errs, errors.New(`params.address: required (e.g. "198.18.0.100/24", or bare "198.18.0.100" to take the interface subnet's prefix length)`))
	} else if a, bits, err := parseAddress(v); err != nil {
		errs = append(errs, fmt.Errorf("params.address: %w", err))
	} else {
		s.addr, s.bits = a, bits
	}
	if v, ok := p["interface"]; ok {
		if err := checkInterfaceName(v); err != nil {
			errs = append(errs, fmt.Errorf("params.interface: %w", err))
		}
		s.ifc = v
	}
	if v, ok := p["arp_count"]; ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("params.arp_count: %q is not an integer", v))
		case n < 1 || n > maxARPCount:
			errs = append(errs, fmt.Errorf("params.arp_count: %d is out of range [1, %d]", n, maxARPCount))
		default:
			s.arpCount = n
		}
	}
	if v, ok := p["arp_interval"]; ok {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("params.arp_interval: %q is not a duration (e.g. 200ms)", v))
		case d < minARPInterval || d > maxARPInterval:
			errs = append(errs, fmt.Errorf("params.arp_interval: %s is out of range [%s, %s]", d, minARPInterval, maxARPInterval))
		default:
			s.arpInterval = d
		}
	}
	if v, ok := p["refresh_interval"]; ok {
		d, err := time.ParseDuration(v)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("params.refresh_interval: %q is not a duration (e.g. 10s; 0 disables)", v))
		case d != 0 && (d < minRefreshInterval || d > maxRefreshInterval):
			errs = append(errs, fmt.Errorf("params.refresh_interval: %s is out of range [%s, %s] (or 0 to disable)", d, minRefreshInterval, maxRefreshInterval))
		default:
			s.refresh = d
		}
	}
	return s, errors.Join(errs...)
}

func known(k string) bool {
	switch k {
	case "address", "arp_count", "arp_interval", "interface", "refresh_interval":
		return true
	}
	return false
}

// parseAddress parses "ADDR/BITS" or a bare "ADDR" (bits -1).
func parseAddress(v string) (netip.Addr, int, error) {
	var a netip.Addr
	bits := -1
	if strings.Contains(v, "/") {
		p, err := netip.ParsePrefix(v)
		if err != nil {
			return netip.Addr{}, 0, fmt.Errorf("%q is not an IP address with a valid prefix length", v)
		}
		a, bits = p.Addr(), p.Bits()
		if bits == 0 {
			return netip.Addr{}, 0, fmt.Errorf("%q: prefix length 0 is not a subnet", v)
		}
	} else {
		var err error
		if a, err = netip.ParseAddr(v); err != nil {
			return netip.Addr{}, 0, fmt.Errorf("%q is not an IP address", v)
		}
	}
	switch {
	case a.Zone() != "":
		return netip.Addr{}, 0, fmt.Errorf("%q: a zone is not allowed (name the interface with params.interface)", v)
	case a.Is4In6():
		return netip.Addr{}, 0, fmt.Errorf("%q: an IPv4-mapped IPv6 address; write it as IPv4 (%s)", v, a.Unmap())
	case a.IsUnspecified(), a.IsMulticast(), a.IsLoopback():
		return netip.Addr{}, 0, fmt.Errorf("%q is not a unicast address a node can hold", v)
	}
	return a, bits, nil
}

// checkInterfaceName checks that name can be a Linux interface name.
func checkInterfaceName(name string) error {
	if name == "" || len(name) > 15 || name == "." || name == ".." || strings.ContainsAny(name, "/: \t\n") {
		return fmt.Errorf("%q is not an interface name", name)
	}
	return nil
}

// errNoInterface and errNoSubnet mean the address cannot be on this node
// as configured: Start fails, Stop has nothing to do, Monitor sees it
// stopped.
var (
	errNoInterface = errors.New("no such interface")
	errNoSubnet    = errors.New("no subnet contains the address")
)

// resolve decides the interface and prefix of s from the node's addresses
// (links: every interface, by name, with its addresses):
//   - interface given, prefix given: those;
//   - interface given, address bare: the longest prefix of an address of
//     that interface whose subnet contains the VIP;
//   - no interface: the interface holding the longest subnet that contains
//     the VIP (ambiguous if two interfaces tie); the prefix is the given
//     one or else that subnet's.
func resolve(links map[string][]netip.Prefix, s spec) (string, netip.Prefix, error) {
	if s.ifc != "" {
		addrs, ok := links[s.ifc]
		if !ok {
			return "", netip.Prefix{}, fmt.Errorf("interface %s: %w", s.ifc, errNoInterface)
		}
		if s.bits >= 0 {
			return s.ifc, netip.PrefixFrom(s.addr, s.bits), nil
		}
		best := -1
		for _, p := range addrs {
			if p.Masked().Contains(s.addr) && p.Bits() > best {
				best = p.Bits()
			}
		}
		if best < 0 {
			return "", netip.Prefix{}, fmt.Errorf("%w: no address of %s has a subnet containing %s; give the prefix length (e.g. %s/%d)",
				errNoSubnet, s.ifc, s.addr, s.addr, s.addr.BitLen())
		}
		return s.ifc, netip.PrefixFrom(s.addr, best), nil
	}
	best := -1
	var ifcs []string
	for name, addrs := range links {
		for _, p := range addrs {
			if !p.Masked().Contains(s.addr) {
				continue
			}
			switch {
			case p.Bits() > best:
				best, ifcs = p.Bits(), []string{name}
			case p.Bits() == best && !contains(ifcs, name):
				ifcs = append(ifcs, name)
			}
		}
	}
	switch {
	case len(ifcs) == 0:
		return "", netip.Prefix{}, fmt.Errorf("%w: no interface has a subnet containing %s; set params.interface", errNoSubnet, s.addr)
	case len(ifcs) > 1:
		sort.Strings(ifcs)
		return "", netip.Prefix{}, fmt.Errorf("interfaces %s all have a /%d subnet containing %s; set params.interface",
			strings.Join(ifcs, ", "), best, s.addr)
	}
	bits := s.bits
	if bits < 0 {
		bits = best
	}
	return ifcs[0], netip.PrefixFrom(s.addr, bits), nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}
