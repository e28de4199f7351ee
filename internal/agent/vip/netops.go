package vip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// netOps is what the agent does to the network of its namespace. The real
// one speaks netlink and sends raw frames; the fake records effects as
// text. Implementations are safe for concurrent use, and every method
// blocks only for the duration of a few syscalls.
type netOps interface {
	// Addrs returns every interface of the namespace, by name, with its
	// addresses (an interface without addresses maps to an empty list).
	Addrs() (map[string][]netip.Prefix, error)
	// AddrAdd puts p on interface ifc. Idempotent: an address already
	// there is replaced (netlink AddrReplace). IPv6 addresses skip
	// duplicate address detection, so they are usable at once.
	AddrAdd(ifc string, p netip.Prefix) error
	// AddrDel removes p from ifc. Idempotent: an absent address, or an
	// absent interface, is nil.
	AddrDel(ifc string, p netip.Prefix) error
	// Announce tells the link that a is at ifc's hardware address, once:
	// an ARP request and an ARP reply with sender = target = a (IPv4), or
	// an unsolicited neighbour advertisement with the override flag to
	// all-nodes (IPv6). An interface without an Ethernet address (loopback,
	// tunnels) has no neighbours to tell: that is nil.
	Announce(ifc string, a netip.Addr) error
}

// netlinkOps is the real netOps, in one network namespace.
type netlinkOps struct {
	h *netlink.Handle
	// ns is the namespace, when it is not the current one; sockets for
	// announcements are opened inside it.
	ns    netns.NsHandle
	hasNS bool
}

// newNetlinkOps opens netlink in the namespace called name (as `ip netns`
// names them, under /run/netns), or in the current one if name is "".
func newNetlinkOps(name string) (*netlinkOps, error) {
	if name == "" {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return nil, fmt.Errorf("netlink: %w", err)
		}
		return &netlinkOps{h: h}, nil
	}
	ns, err := netns.GetFromPath(filepath.Join("/run/netns", name))
	if err != nil {
		return nil, fmt.Errorf("network namespace %s: %w", name, err)
	}
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		ns.Close()
		return nil, fmt.Errorf("netlink in namespace %s: %w", name, err)
	}
	return &netlinkOps{h: h, ns: ns, hasNS: true}, nil
}

// Close releases the netlink socket and the namespace handle.
func (o *netlinkOps) Close() error {
	o.h.Close()
	if o.hasNS {
		return o.ns.Close()
	}
	return nil
}

// dumpRetries bounds the retries of a netlink dump that the kernel
// interrupted because the table changed meanwhile.
const dumpRetries = 5

func (o *netlinkOps) Addrs() (map[string][]netip.Prefix, error) {
	var (
		links []netlink.Link
		addrs []netlink.Addr
		err   error
	)
	for range dumpRetries {
		if links, err = o.h.LinkList(); errors.Is(err, netlink.ErrDumpInterrupted) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list links: %w", err)
		}
		if addrs, err = o.h.AddrList(nil, netlink.FAMILY_ALL); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list addresses: %w", err)
	}
	names := make(map[int]string, len(links))
	out := make(map[string][]netip.Prefix, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
		out[l.Attrs().Name] = []netip.Prefix{}
	}
	for _, a := range addrs {
		name, ok := names[a.LinkIndex]
		if !ok || a.IPNet == nil {
			continue
		}
		p, ok := toPrefix(a.IPNet)
		if !ok {
			continue
		}
		out[name] = append(out[name], p)
	}
	return out, nil
}

func (o *netlinkOps) AddrAdd(ifc string, p netip.Prefix) error {
	link, err := o.h.LinkByName(ifc)
	if err != nil {
		return fmt.Errorf("addr add %s dev %s: %w", p, ifc, err)
	}
	addr := toNetlinkAddr(p)
	if p.Addr().Is6() {
		addr.Flags = unix.IFA_F_NODAD
	}
	if err := o.h.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("addr add %s dev %s: %w", p, ifc, err)
	}
	return nil
}

func (o *netlinkOps) AddrDel(ifc string, p netip.Prefix) error {
	link, err := o.h.LinkByName(ifc)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return nil
		}
		return fmt.Errorf("addr del %s dev %s: %w", p, ifc, err)
	}
	if err := o.h.AddrDel(link, toNetlinkAddr(p)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("addr del %s dev %s: %w", p, ifc, err)
	}
	return nil
}

func (o *netlinkOps) Announce(ifc string, a netip.Addr) error {
	err := o.inNS(func() error {
		ifi, err := net.InterfaceByName(ifc)
		if err != nil {
			return err
		}
		if len(ifi.HardwareAddr) != 6 || ifi.Flags&net.FlagLoopback != 0 {
			return nil
		}
		if a.Is4() {
			return sendGARP(ifi, a)
		}
		return sendNA(ifi, a)
	})
	if err != nil {
		return fmt.Errorf("announce %s on %s: %w", a, ifc, err)
	}
	return nil
}

// inNS runs fn with its OS thread in o's namespace, so that the sockets fn
// opens live there. It runs fn on a goroutine of its own, locked to its
// thread, and waits for it. If the thread cannot be moved back to its
// original namespace it stays locked, so the Go runtime ends the thread
// rather than reuse it in the wrong namespace.
func (o *netlinkOps) inNS(fn func() error) error {
	if !o.hasNS {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := netns.Get()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := netns.Set(o.ns); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("enter network namespace: %w", err)
			return
		}
		ferr := fn()
		if err := netns.Set(orig); err != nil {
			// Leave the thread locked: it dies with this goroutine.
			errc <- errors.Join(ferr, fmt.Errorf("restore network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}

// toPrefix converts a netlink address to a prefix, with IPv4 unmapped.
func toPrefix(n *net.IPNet) (netip.Prefix, bool) {
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	ones, bits := n.Mask.Size()
	if bits != a.BitLen() {
		return netip.Prefix{}, false
	}
	return netip.PrefixFrom(a, ones), true
}

// toNetlinkAddr converts p to a netlink address.
func toNetlinkAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
}

// checkNetns checks that name is a namespace that `ip netns` made.
func checkNetns(name string) error {
	if name == "." || name == ".." || filepath.Base(name) != name {
		return fmt.Errorf("%q is not a namespace name", name)
	}
	if _, err := os.Stat(filepath.Join("/run/netns", name)); err != nil {
		return fmt.Errorf("network namespace %s: %w", name, err)
	}
	return nil
}
