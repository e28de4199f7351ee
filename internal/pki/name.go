package pki

import (
	"net"
	"net/netip"
	"strings"
)

// NameRule says what ValidName accepts, for messages.
const NameRule = "use 1 to 32 characters from a-z, 0-9 and '-', starting with a letter"

// ValidName reports whether s is a valid cluster, node or client name: 1
// to 32 characters from a-z, 0-9 and '-', starting with a letter. It is
// the rule internal/config applies to cluster and node names (a test in
// internal/cli holds the two together), so every node of a config can
// have a certificate, and a name is always a safe file name and DNS
// label.
func ValidName(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// parseSANs returns the DNS names (name first) and IP addresses of a node
// certificate, without duplicates, in the order given.
func parseSANs(name string, sans []string) ([]string, []net.IP, error) {
	dns := []string{name}
	var ips []net.IP
	seen := map[string]bool{name: true}
	for _, s := range sans {
		if a, err := netip.ParseAddr(s); err == nil {
			if a.Zone() != "" {
				return nil, nil, errorf(ErrInvalid, "SAN %q: a certificate cannot name an address with a zone", s)
			}
			a = a.Unmap()
			if k := a.String(); !seen[k] {
				seen[k] = true
				ips = append(ips, net.IP(a.AsSlice()))
			}
			continue
		}
		d := strings.ToLower(s)
		if !validDNSName(d) {
			return nil, nil, errorf(ErrInvalid, "SAN %q is neither an IP address nor a DNS name (no wildcards)", s)
		}
		if !seen[d] {
			seen[d] = true
			dns = append(dns, d)
		}
	}
	return dns, ips, nil
}

// validDNSName reports whether s is a lowercase host name: dot-separated
// labels of 1 to 63 letters, digits and inner hyphens, 253 bytes at most.
func validDNSName(s string) bool {
	if len(s) == 0 || len(s) > 253 {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if len(l) == 0 || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
			return false
		}
		for _, c := range []byte(l) {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
				return false
			}
		}
	}
	return true
}
