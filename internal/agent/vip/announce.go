package vip

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// The ARP operations (RFC 826).
const (
	arpRequest = 1
	arpReply   = 2
)

// sendTimeout bounds one announcement's writes.
const sendTimeout = time.Second

// sendGARP sends a gratuitous ARP request and reply for a from ifi, to the
// Ethernet broadcast address. Both kinds are sent because neighbours differ
// in which they honour (IPaddr2's send_arp and keepalived do the same).
// The socket must be opened in ifi's namespace.
func sendGARP(ifi *net.Interface, a netip.Addr) error {
	c, err := packet.Listen(ifi, packet.Datagram, unix.ETH_P_ARP, nil)
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return err
	}
	dst := &packet.Addr{HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	for _, op := range []uint16{arpRequest, arpReply} {
		if _, err := c.WriteTo(garp(op, ifi.HardwareAddr, a), dst); err != nil {
			return fmt.Errorf("send ARP %s: %w", opName(op), err)
		}
	}
	return nil
}

func opName(op uint16) string {
	if op == arpRequest {
		return "request"
	}
	return "reply"
}

// garp returns the ARP payload (without the Ethernet header) of a
// gratuitous ARP for a at mac: sender and target protocol address are both
// a. The target hardware address is zero in a request (as the kernel's own
// gratuitous ARP and RFC 5227's ARP announcement) and mac in a reply (as
// iputils' arping -A: Linux takes a reply for gratuitous only when sender
// and target hardware addresses are equal).
func garp(op uint16, mac net.HardwareAddr, a netip.Addr) []byte {
	b := make([]byte, 28)
	binary.BigEndian.PutUint16(b[0:2], 1) // Ethernet
	binary.BigEndian.PutUint16(b[2:4], unix.ETH_P_IP)
	b[4], b[5] = 6, 4
	binary.BigEndian.PutUint16(b[6:8], op)
	ip := a.As4()
	copy(b[8:14], mac)
	copy(b[14:18], ip[:])
	if op == arpReply {
		copy(b[18:24], mac)
	}
	copy(b[24:28], ip[:])
	return b
}

// sendNA sends an unsolicited neighbour advertisement for a from ifi to
// all-nodes (ff02::1), with the override flag and ifi's hardware address as
// the target link-layer address (RFC 4861 7.2.6), from a itself, which must
// be on ifi (and, being added without DAD, usable at once). The socket
// must be opened in ifi's namespace.
func sendNA(ifi *net.Interface, a netip.Addr) error {
	c, _, err := ndp.Listen(ifi, ndp.Addr(a.String()))
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.SetWriteDeadline(time.Now().Add(sendTimeout)); err != nil {
		return err
	}
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: a,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: ifi.HardwareAddr}},
	}
	if err := c.WriteTo(na, nil, netip.IPv6LinkLocalAllNodes()); err != nil {
		return fmt.Errorf("send neighbour advertisement: %w", err)
	}
	return nil
}
