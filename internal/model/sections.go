package model

import "time"

// Detection tunes how a node decides that a peer is dead: by K of the N
// layers (UDP heartbeats, a TCP probe of each link, application checks)
// agreeing for a window. Config fills in every default, from the timing
// profile, so that a consumer never derives one.
type Detection struct {
	// Require is K, 1 to 3: how many layers must have failed together.
	Require int
	// Window is how long K layers must have failed together when K >= 2.
	Window time.Duration
	// ProbeInterval is how often each peer's API port is probed on each
	// link; ProbeTimeout bounds one probe, under Linux's 1s SYN resend.
	ProbeInterval time.Duration
	ProbeTimeout  time.Duration
	// Checks are application checks that speak for a node's liveness, run
	// by the other nodes; in file order.
	Checks  []Check
	Damping Damping
}

// Check is one application check of a node, run by every other node.
// Exactly one of TCP and HTTP is set.
type Check struct {
	Name string // unique among all checks
	Node NodeID // whose liveness it speaks for
	TCP  string // host:port; up when a connection opens
	HTTP string // http or https URL; up when it answers Status
	// Status is the HTTP status wanted (200 unless the file says); 0 for
	// a TCP check.
	Status            int
	Interval, Timeout time.Duration
}

// Damping damps a peer that keeps going offline and coming back, as BGP
// route-flap damping does: each flap adds Penalty, which halves every
// HalfLife; above Suppress the peer is damped, below Reuse it is not, and
// never for longer than MaxHold after its last flap.
type Damping struct {
	Off                      bool // no damping at all
	Penalty, Suppress, Reuse float64
	HalfLife, MaxHold        time.Duration
}

// Alert is a hook run for each event of the kinds it names, like
// Pacemaker's alerts or Keepalived's notify scripts. Exactly one of Script
// and Webhook is set.
type Alert struct {
	ID      string
	Script  string // an absolute path, run without a shell
	Webhook string // an http or https URL, to which the event is POSTed
	// Kinds are event kinds ("node.offline") or prefixes ending in "."
	// ("fence."); empty: every kind.
	Kinds []string
	// Timeout bounds one attempt; Retries is how many attempts follow a
	// failed one (0: none).
	Timeout time.Duration
	Retries int
	// Headers are sent with each webhook request. Their values are secrets
	// (tokens): they are never printed, logged or encoded.
	Headers map[string]string `json:"-"`
}

// Matches reports whether a is run for an event of kind k: Kinds is empty,
// or holds k, or holds a prefix of k that ends in ".".
func (a Alert) Matches(k EventKind) bool {
	if len(a.Kinds) == 0 {
		return true
	}
	for _, want := range a.Kinds {
		if want == string(k) || want != "" && want[len(want)-1] == '.' && len(k) > len(want) && string(k[:len(want)]) == want {
			return true
		}
	}
	return false
}

// APIAccess is who may use the HTTP API on the node addresses, and how.
type APIAccess struct {
	TLSMode string // TLSOff, TLSOptional or TLSRequired
	TLSDir  string // the node's certificate, key and the cluster CA
	// Tokens are bearer tokens with roles, in file order; names and
	// secrets are unique.
	Tokens []Token
}

// The TLS modes of the API on the node addresses.
const (
	TLSOff      = "off"      // plain HTTP
	TLSOptional = "optional" // HTTPS and HTTP both
	TLSRequired = "required" // HTTPS only
)

// Token is a bearer token for the HTTP API, with the role it grants.
type Token struct {
	Name   string
	Role   string // RoleReadOnly or RoleOperator
	Secret []byte `json:"-"` // never printed, logged or encoded
	// File is the token_file it was read from, as written in the config
	// (Config's Format writes it back); "" for a token written inline.
	File string
}

// The roles a token grants.
const (
	RoleReadOnly = "read-only" // GET only: status, events, metrics
	RoleOperator = "operator"  // also the operator commands and config apply
)
