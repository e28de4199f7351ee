package config

import (
	"net/netip"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Limits and defaults of the version-1 format.
const (
	version        = 1
	defaultDataDir = "/var/lib/vigil"
	defaultProfile = "lan"
	maxNodes       = 32
	maxLinks       = 4
	minSecret      = 16       // bytes
	maxSecretFile  = 64 << 10 // bytes; a secret file is one short line
	minRaftTimeout = 10 * time.Millisecond
	minLease       = 100 * time.Millisecond
	maxIDLen       = 64 // resource, group and constraint ids
	maxAttrKeyLen  = 32 // node attribute names
	targetStarted  = "started"
	targetStopped  = "stopped"
)

// rootKeys are the top-level keys, in the order Format writes them.
func rootKeys() []string {
	return []string{"version", "cluster", "secret", "secret_file", "data_dir", "nodes", "timing", "ports",
		"options", "resources", "groups", "constraints", "fencing", "detection", "alerts", "api"}
}

// nodeKeys are the keys of a node, in the order Format writes them.
func nodeKeys() []string { return []string{"name", "addresses", "attributes", "witness"} }

func optionKeys() []string   { return []string{"no_quorum_policy", "stickiness"} }
func resourceKeys() []string { return []string{"id", "kind", "params", "ops", "meta"} }
func groupKeys() []string    { return []string{"id", "members", "meta"} }
func metaKeys() []string {
	return []string{"stickiness", "migration_threshold", "failure_timeout", "target_role"}
}
func constraintKeys() []string { return []string{"locations", "colocations", "orders"} }
func locationKeys() []string {
	return []string{"id", "resource", "node", "attribute", "value", "score"}
}
func colocationKeys() []string { return []string{"id", "resource", "with", "score"} }
func orderKeys() []string      { return []string{"id", "first", "then", "kind"} }

// kinds are the resource kinds, one per agent.
func kinds() []string { return []string{"vip", "exec", "ocf", "systemd", "script"} }

// policies are the no-quorum policies; the first is the default.
func policies() []model.NoQuorumPolicy {
	return []model.NoQuorumPolicy{model.NoQuorumStop, model.NoQuorumFreeze}
}

// orderKinds are the kinds of order; the first is the default.
func orderKinds() []model.OrderKind {
	return []model.OrderKind{model.OrderMandatory, model.OrderOptional}
}

// opField is one duration in a resource's ops section.
type opField struct {
	key string
	d   *time.Duration
	def time.Duration
	// zeroOK allows 0: monitor_interval 0s turns monitoring off.
	zeroOK bool
}

// opFields lists o's durations with their keys and defaults, in file order.
func opFields(o *model.Ops) []opField {
	return []opField{
		{"start_timeout", &o.StartTimeout, 20 * time.Second, false},
		{"stop_timeout", &o.StopTimeout, 20 * time.Second, false},
		{"monitor_interval", &o.MonitorInterval, 10 * time.Second, true},
		{"monitor_timeout", &o.MonitorTimeout, 20 * time.Second, false},
	}
}

func opKeys() []string {
	var keys []string
	for _, f := range opFields(&model.Ops{}) {
		keys = append(keys, f.key)
	}
	return keys
}

func defaultOps() model.Ops {
	var o model.Ops
	for _, f := range opFields(&o) {
		*f.d = f.def
	}
	return o
}

func defaultMeta() model.Meta { return model.Meta{TargetRole: targetStarted} }

func defaultOptions() model.Options {
	return model.Options{NoQuorumPolicy: model.NoQuorumStop}
}

// file is a decoded file before the rules that relate several values. Every
// value in it passed the checks that need only that value; nil (or a
// missing map entry) means the key was absent or its value was reported.
type file struct {
	cluster    *string
	secret     *string
	secretFile *string
	dataDir    *string
	nodes      []fileNode // nil when absent or not a list
	profile    *string
	timing     map[string]time.Duration // overrides, by key
	ports      map[string]uint16        // by key
	options    model.Options            // the defaults with the file's values
	// The lists below have one entry per item of the file's list, so that
	// indexes match the file; nil when absent or not a list.
	resources   []fileResource
	groups      []fileGroup
	locations   []fileLocation
	colocations []fileColocation
	orders      []fileOrder
	fencing     fileFencing
	detection   fileDetection
	alerts      []model.Alert // over the defaults; see alerts
	api         fileAPI
}

type fileNode struct {
	name *string
	// addrs is nil when absent or not a list. An invalid Addr marks an
	// entry that was already reported; it keeps the other entries' links.
	addrs   []netip.Addr
	attrs   map[string]string // nil when absent or empty
	witness bool
}

type fileResource struct {
	// r holds the file's values over the defaults; ID and Kind are empty
	// when absent or reported, Group is set later.
	r model.Resource
	// checkable means id, kind and params have no problem, so that
	// ParseWith's check can judge r.
	checkable bool
}

type fileGroup struct {
	id      model.ResourceID   // "" when absent or reported
	members []model.ResourceID // one per item; "" for one that was reported
	meta    model.Meta
}

// The constraints: a nil field was absent or reported.
type (
	fileLocation struct {
		id, resource, node, attribute, value *string
		score                                *model.Score
	}
	fileColocation struct {
		id, resource, with *string
		score              *model.Score
	}
	fileOrder struct {
		id, first, then *string
		kind            model.OrderKind // the default when absent, "" when reported
	}
)

// timingField is one duration in the timing section.
type timingField struct {
	key string
	d   *time.Duration
	min time.Duration // besides being positive; 0 for none
}

// timingFields lists t's durations with their keys, in file order.
func timingFields(t *model.Timing) []timingField {
	return []timingField{
		{"heartbeat_interval", &t.HeartbeatInterval, 0},
		{"suspect_after", &t.SuspectAfter, 0},
		{"offline_after", &t.OfflineAfter, 0},
		{"max_clock_skew", &t.MaxClockSkew, 0},
		{"raft_heartbeat_timeout", &t.RaftHeartbeatTimeout, minRaftTimeout},
		{"raft_election_timeout", &t.RaftElectionTimeout, minRaftTimeout},
		{"raft_leader_lease_timeout", &t.RaftLeaderLeaseTimeout, minRaftTimeout},
		{"lease", &t.Lease, minLease},
	}
}

func timingKeys() []string {
	keys := []string{"profile"}
	for _, f := range timingFields(&model.Timing{}) {
		keys = append(keys, f.key)
	}
	return keys
}

// portField is one port in the ports section.
type portField struct {
	key   string
	port  *uint16
	proto string
}

// portFields lists p's ports with their keys, in file order.
func portFields(p *model.Ports) []portField {
	return []portField{
		{"heartbeat", &p.Heartbeat, "udp"},
		{"raft", &p.Raft, "tcp"},
		{"api", &p.API, "tcp"},
	}
}

func portKeys() []string {
	var keys []string
	for _, f := range portFields(&model.Ports{}) {
		keys = append(keys, f.key)
	}
	return keys
}

func defaultPorts() model.Ports {
	return model.Ports{Heartbeat: 5405, Raft: 5406, API: 5407}
}

// Profile returns the named profile's timing defaults, and false if there
// is no such profile. The profiles are "lan", for round trips of a few
// milliseconds, and "wan", for round trips up to about 200ms (the same
// margin as Corosync's 3000ms token).
func Profile(name string) (model.Timing, bool) {
	switch name {
	case "lan":
		return model.Timing{
			Profile: "lan",
			// Heartbeats carry the leases (package lease), so they are
			// frequent: at 25ms a holder at 20% loss hears a grant on
			// one of four paths (two peers, two links) in each 25ms
			// with a probability of 1-0.2^4, and a lost holder is
			// offline, and its lease certainly over, after about
			// 175ms (a link is down after 75ms of silence, and both
			// layers must have failed for the window, 150ms - 2*25ms).
			HeartbeatInterval:    25 * time.Millisecond,
			SuspectAfter:         75 * time.Millisecond,
			OfflineAfter:         150 * time.Millisecond,
			MaxClockSkew:         30 * time.Second,
			RaftHeartbeatTimeout: 500 * time.Millisecond,
			RaftElectionTimeout:  500 * time.Millisecond,
			// A leader steps down when it has heard from no majority
			// for this long; at 250ms, 20% loss on the leader's link
			// (TCP resends after 200ms or more) made it step down.
			RaftLeaderLeaseTimeout: 500 * time.Millisecond,
			// Granted by the peers over the heartbeats, not through
			// raft: a leader change does not touch it. It stops the
			// holder 68ms (two fifths) before it ends, so a holder
			// that hears no grant for about 100ms (16 chances at
			// 20% loss) stops; its peers agree it ended 174ms after
			// they last heard it, about when they see it offline.
			Lease: 170 * time.Millisecond,
		}, true
	case "wan":
		return model.Timing{
			Profile:                "wan",
			HeartbeatInterval:      300 * time.Millisecond,
			SuspectAfter:           1500 * time.Millisecond,
			OfflineAfter:           3 * time.Second,
			MaxClockSkew:           30 * time.Second,
			RaftHeartbeatTimeout:   2500 * time.Millisecond,
			RaftElectionTimeout:    2500 * time.Millisecond,
			RaftLeaderLeaseTimeout: 1500 * time.Millisecond,
			Lease:                  5 * time.Second,
		}, true
	}
	return model.Timing{}, false
}
