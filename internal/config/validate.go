package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// validate applies the rules that relate several values, and the defaults,
// to a decoded file. dir is where a relative secret_file is resolved;
// check, if not nil, judges each resource's parameters.
func (d *decoder) validate(f file, dir string, check func(model.Resource) error) model.Config {
	c := model.Config{
		Version: version,
		Secret:  d.resolveSecret(f, dir),
		DataDir: defaultDataDir,
		Timing:  d.resolveTiming(f),
		Ports:   d.resolvePorts(f),
	}
	if f.cluster != nil {
		c.Cluster = *f.cluster
	}
	if f.dataDir != nil {
		c.DataDir = *f.dataDir
	}
	c.Nodes = d.resolveNodes(f.nodes)
	c.Options = f.options
	var ns names
	c.Resources, c.Groups, ns = d.resolveResources(f.resources, f.groups)
	c.Constraints = d.resolveConstraints(f, c.Nodes, c.Resources, c.Groups, ns)
	c.Fencing = d.resolveFencing(f.fencing, c.Nodes)
	c.Detection = d.resolveDetection(f.detection, c.Timing, c.Nodes)
	c.Alerts = d.resolveAlerts(f.alerts)
	c.API = d.resolveAPI(f.api, dir, c.Secret)
	if check != nil {
		d.checkParams(f.resources, c.Resources, check)
	}
	return c
}

// resolveSecret returns the inline secret or reads the secret file. No
// message it writes contains the secret.
func (d *decoder) resolveSecret(f file, dir string) []byte {
	inline, fromFile := d.has("secret"), d.has("secret_file")
	switch {
	case inline && fromFile:
		d.at("secret_file", "secret and secret_file are both set; keep one")
	case !inline && !fromFile:
		d.at("secret", "required: set secret, or secret_file to read it from a file")
	case f.secret != nil:
		return []byte(*f.secret)
	case f.secretFile != nil:
		name := *f.secretFile
		if !filepath.IsAbs(name) {
			name = filepath.Join(dir, name)
		}
		secret, msg := readSecret(name, "secret")
		if msg != "" {
			d.at("secret_file", "%s", msg)
		}
		return secret
	}
	return nil
}

// readSecret reads a secret file (what is "secret" or "token", for the
// messages). It returns a message, instead of the secret, if the file is
// unsafe or unusable: not a regular file, open to group or others, empty,
// too short or too large.
func readSecret(name, what string) ([]byte, string) {
	f, err := os.Open(name)
	if err != nil {
		return nil, "cannot read " + name + ": " + pathErr(err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, "cannot read " + name + ": " + pathErr(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, name + " is not a regular file"
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Sprintf("%s has mode %04o, open to group or others; run chmod 600 %s", name, perm, name)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	switch {
	case err != nil:
		return nil, "cannot read " + name + ": " + pathErr(err)
	case len(b) > maxSecretFile:
		return nil, fmt.Sprintf("%s is larger than %d KiB; a %s file holds one short line", name, maxSecretFile>>10, what)
	}
	b = bytes.TrimRight(b, " \t\r\n")
	switch {
	case len(b) == 0:
		return nil, name + " is empty"
	case len(b) < minSecret:
		return nil, fmt.Sprintf("the %s in %s is too short: %d bytes, need at least %d", what, name, len(b), minSecret)
	}
	return b, ""
}

// pathErr returns the cause of err without the path that the message
// already names.
func pathErr(err error) string {
	if pe := (*fs.PathError)(nil); errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// resolveNodes checks the rules between nodes: unique names, the same links
// on every node with the same IP family, and unique addresses.
func (d *decoder) resolveNodes(fns []fileNode) []model.Node {
	if len(fns) == 0 {
		return nil
	}
	nodes := make([]model.Node, len(fns))
	names := make(map[string]int)
	for i, fn := range fns {
		nodes[i].Addresses = fn.addrs
		nodes[i].Attributes = fn.attrs
		nodes[i].Witness = fn.witness
		if fn.name == nil {
			continue
		}
		nodes[i].Name = model.NodeID(*fn.name)
		if j, dup := names[*fn.name]; dup {
			d.at(fmt.Sprintf("nodes[%d].name", i), "duplicate name %q (also nodes[%d])", *fn.name, j)
			continue
		}
		names[*fn.name] = i
	}
	d.checkLinks(fns)
	d.checkUniqueAddrs(fns)
	voters := 0
	for _, n := range nodes {
		if !n.Witness {
			voters++
		}
	}
	if voters == 0 {
		d.at("nodes", "every node is a witness; at least one must run resources")
	}
	return nodes
}

// checkLinks compares every node's number of links with that of the first
// node with a valid number, and the IP family of each link with that of the
// first node with a valid address on it.
func (d *decoder) checkLinks(fns []fileNode) {
	ref := -1
	for i, fn := range fns {
		switch {
		case len(fn.addrs) < 1 || len(fn.addrs) > maxLinks: // absent, or reported
		case ref < 0:
			ref = i
		case len(fn.addrs) != len(fns[ref].addrs):
			d.at(fmt.Sprintf("nodes[%d].addresses", i), "%s, but nodes[%d] has %s; every node needs one address per link",
				plural(len(fn.addrs), "address", "addresses"), ref, plural(len(fns[ref].addrs), "address", "addresses"))
		}
	}
	for link := range maxLinks {
		first := -1
		for i, fn := range fns {
			if link >= len(fn.addrs) || !fn.addrs[link].IsValid() {
				continue
			}
			if first < 0 {
				first = i
				continue
			}
			if want, got := family(fns[first].addrs[link]), family(fn.addrs[link]); want != got {
				d.at(fmt.Sprintf("nodes[%d].addresses[%d]", i, link), "link %d is %s on nodes[%d] but %s here", link, want, first, got)
			}
		}
	}
}

func (d *decoder) checkUniqueAddrs(fns []fileNode) {
	seen := make(map[netip.Addr]string)
	for i, fn := range fns {
		for link, a := range fn.addrs {
			if !a.IsValid() {
				continue
			}
			path := fmt.Sprintf("nodes[%d].addresses[%d]", i, link)
			if other, dup := seen[a]; dup {
				d.at(path, "%s is also %s; an address may appear once in the cluster", a, other)
				continue
			}
			seen[a] = path
		}
	}
}

func family(a netip.Addr) string {
	if a.Is4() {
		return "IPv4"
	}
	return "IPv6"
}

// resolveTiming applies the file's overrides to its profile and checks the
// rules between the durations. A broken rule is reported on an overridden
// field it involves, or on timing.profile if there is none.
func (d *decoder) resolveTiming(f file) model.Timing {
	name := defaultProfile
	if f.profile != nil {
		name = *f.profile
	}
	t, _ := Profile(name)
	if d.has("timing.profile") && f.profile == nil {
		return t // an unknown profile was reported; no base to judge against
	}
	for _, tf := range timingFields(&t) {
		if v, ok := f.timing[tf.key]; ok {
			*tf.d = v
		}
	}
	reported := func(key string) bool { // set in the file but refused
		_, ok := f.timing[key]
		return d.has("timing."+key) && !ok
	}
	// rule reports "a (value) <relation> b (value)" unless it holds.
	rule := func(holds bool, a string, va time.Duration, relation, b string, vb time.Duration) {
		if holds || reported(a) || reported(b) {
			return
		}
		path := "timing.profile"
		switch {
		case d.has("timing." + a):
			path = "timing." + a
		case d.has("timing." + b):
			path = "timing." + b
		}
		d.at(path, "%s (%s) %s %s (%s)", a, formatDuration(va), relation, b, formatDuration(vb))
	}
	rule(t.SuspectAfter/2 >= t.HeartbeatInterval, // S >= 2H without overflowing 2H
		"suspect_after", t.SuspectAfter, "must be at least twice", "heartbeat_interval", t.HeartbeatInterval)
	rule(t.OfflineAfter > t.SuspectAfter,
		"offline_after", t.OfflineAfter, "must be longer than", "suspect_after", t.SuspectAfter)
	// hashicorp/raft's ValidateConfig refuses a config that breaks either
	// of these two.
	rule(t.RaftLeaderLeaseTimeout <= t.RaftHeartbeatTimeout,
		"raft_leader_lease_timeout", t.RaftLeaderLeaseTimeout, "must not exceed", "raft_heartbeat_timeout", t.RaftHeartbeatTimeout)
	rule(t.RaftElectionTimeout >= t.RaftHeartbeatTimeout,
		"raft_election_timeout", t.RaftElectionTimeout, "must be at least", "raft_heartbeat_timeout", t.RaftHeartbeatTimeout)
	// A lease must survive a lost grant or two: grants come with the
	// heartbeats, at least three in each lease.
	rule(t.Lease/3 >= t.HeartbeatInterval,
		"lease", t.Lease, "must be at least three times", "heartbeat_interval", t.HeartbeatInterval)
	return t
}

// resolvePorts applies the file's ports to the defaults and checks that
// they differ. A clash is reported on a port the file sets, the later one if
// it sets both.
func (d *decoder) resolvePorts(f file) model.Ports {
	p := defaultPorts()
	fields := portFields(&p)
	for _, pf := range fields {
		if v, ok := f.ports[pf.key]; ok {
			*pf.port = v
		}
	}
	reported := func(key string) bool { // set in the file but refused
		_, ok := f.ports[key]
		return d.has("ports."+key) && !ok
	}
	for i, a := range fields {
		for _, b := range fields[:i] {
			if *a.port != *b.port || reported(a.key) || reported(b.key) {
				continue
			}
			blame, other := a, b
			if !d.has("ports." + a.key) {
				blame, other = b, a
			}
			d.at("ports."+blame.key, "%d is also ports.%s; the three ports must differ", *blame.port, other.key)
			break
		}
	}
	return p
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
