// Package config decodes and validates vigil's cluster configuration file
// into a model.Config, and renders one back (Format) or summarises it
// (Summary).
//
// Decoding is strict and all-or-nothing: unknown keys, wrong types and
// broken rules are all reported at once, each as a Problem naming the file,
// the line and the field path, and no Config is returned if there is any.
// Messages never contain the secret.
//
// The file format, version 1:
//
//	version: 1                 # required; must be 1
//	cluster: demo              # required; 1-32 characters a-z, 0-9, '-', starting with a letter
//	secret: "…"                # exactly one of secret and secret_file; at least 16 bytes
//	secret_file: /etc/vigil/secret   # absolute or relative to the file's directory;
//	                           # mode 0600 or stricter; trailing whitespace is trimmed
//	data_dir: /var/lib/vigil   # optional; absolute
//	nodes:                     # required; 1 to 32, in the order they are listed
//	  - name: n1               # required; unique; same rule as cluster
//	    addresses: [198.18.0.1, 198.18.1.1]  # 1 to 4 IP addresses; addresses[i] is link i
//	    attributes: {rack: a, ssd: "yes"}   # optional; names 1-32 of a-z, 0-9, '_', '.', '-';
//	                           # values are strings, numbers or booleans, kept as written
//	timing:                    # optional
//	  profile: lan             # lan (default) or wan; the fields below override it
//	  heartbeat_interval: 25ms # heartbeats also carry the leases (wan: 300ms)
//	  suspect_after: 75ms      # >= 2 * heartbeat_interval
//	  offline_after: 150ms     # > suspect_after
//	  max_clock_skew: 30s
//	  raft_heartbeat_timeout: 500ms     # >= 10ms
//	  raft_election_timeout: 500ms      # >= 10ms and >= raft_heartbeat_timeout
//	  raft_leader_lease_timeout: 250ms  # >= 10ms and <= raft_heartbeat_timeout
//	  lease: 170ms             # >= 100ms and >= 3 * heartbeat_interval: a node holds resources
//	                           # only this long after the heartbeat a quorum of its peers
//	                           # granted last (wan: 5s)
//	ports:                     # optional; all different
//	  heartbeat: 5405          # UDP
//	  raft: 5406               # TCP
//	  api: 5407                # TCP (HTTP)
//	options:                   # optional
//	  no_quorum_policy: stop   # stop (default): stop everything without quorum; freeze: keep what runs
//	  stickiness: 0            # score; the default of every resource's meta.stickiness
//	resources:                 # optional; in the order they are listed
//	  - id: web-ip             # required; 1-64 of A-Z, a-z, 0-9, '_', '.', '-', starting with a letter;
//	                           # unique across resources and groups
//	    kind: vip              # required; vip, exec, ocf, systemd or script
//	    params:                # optional; the kind's parameters, checked by its agent;
//	      address: 198.18.0.100/24  # names of a-z, 0-9, '_', '.', '-', ':'; values as in attributes
//	    ops:                   # optional; the defaults are these
//	      start_timeout: 20s   # > 0
//	      stop_timeout: 20s    # > 0
//	      monitor_interval: 10s  # 0s turns monitoring off
//	      monitor_timeout: 20s   # > 0
//	    meta:                  # optional
//	      stickiness: 100      # score; absent: options.stickiness (or the group's)
//	      migration_threshold: 3   # failures on a node before it is banned there;
//	                           # 0 (default), INFINITY or >= 1000000: never
//	      failure_timeout: 60s # a failure older than this is forgotten; 0s (default): never
//	      target_role: started # started (default) or stopped
//	groups:                    # optional
//	  - id: web                # required; shares the namespace of resource ids
//	    members: [web-ip, web-svc]  # required; 1 or more resources (not groups), each in one
//	                           # group at most; they start in this order, stop in reverse,
//	                           # and run on one node
//	    meta: {stickiness: 100}     # optional; as a resource's, for members without their own
//	constraints:               # optional; ids unique among all constraints, same rule as resources
//	  locations:               # prefer (score > 0) or avoid (< 0) a node, or nodes by attribute
//	    - {id: prefer-n1, resource: web, node: n1, score: 100}
//	    - {id: no-rack-b, resource: web, attribute: rack, value: b, score: -INFINITY}
//	                           # resource: a resource or group; exactly one of node (a node
//	                           # of the cluster) or attribute with value
//	  colocations:             # place resource relative to with
//	    - {id: db-with-web, resource: db, with: web, score: INFINITY}
//	  orders:                  # first starts before then, and then stops before first
//	    - {id: ip-then-db, first: web-ip, then: db, kind: mandatory}  # mandatory (default) or optional
//	fencing: …                 # see fencing.go and README
//	detection:                 # optional; failure detection, K of 3 layers (heartbeats,
//	                           # a TCP probe of each link, application checks)
//	  require: 2               # K, 1 to 3 (capped at the layers a peer has: 2 without checks)
//	  window: 100ms            # >= heartbeat_interval; how long K layers must have failed;
//	                           # default max(suspect_after, offline_after - 2*heartbeat_interval):
//	                           # 100ms for lan, 2.4s for wan
//	  probe_interval: 50ms     # TCP probe of each peer's API port per link; default
//	                           # heartbeat_interval, at least 50ms
//	  probe_timeout: 100ms     # > 0 and < 1s (Linux resends a lost SYN after 1s);
//	                           # default 2*probe_interval, at most 900ms
//	  checks:                  # application checks of a node, run by the other nodes
//	    - name: web-n1         # required; unique; same rule as resource ids
//	      node: n1             # required; the node whose liveness it speaks for
//	      http: "http://198.18.0.1:8080/"  # exactly one of http (an http or https URL)
//	      # tcp: "198.18.0.1:22"           # and tcp (host:port; [v6]:port)
//	      status: 200          # http only; 100 to 599; default 200
//	      interval: 200ms      # default 2*heartbeat_interval, at least 200ms
//	      timeout: 200ms       # default 2*heartbeat_interval, at least 200ms
//	  damping:                 # flap damping of peers; the defaults are these
//	    off: false
//	    penalty: 1000          # added per flap; > 0
//	    suppress: 2000         # damped above it; > reuse
//	    reuse: 750             # undamped below it; > 0
//	    half_life: 1m          # > 0
//	    max_hold: 5m           # >= half_life, and reuse * 2^(max_hold/half_life) > suppress
//	alerts:                    # optional; hooks run on events, like Pacemaker alerts
//	  - id: page               # required; unique; same rule as resource ids
//	    script: /usr/local/bin/vigil-alert   # exactly one of script (absolute, run without a
//	    # webhook: https://alerts.example/x  # shell) and webhook (http or https; never shown)
//	    kinds: [node.offline, fence.]        # event kinds, or prefixes ending in "." that
//	                           # some kind starts with; default (absent): every kind
//	    timeout: 10s           # per attempt; > 0 and <= 5m; default 10s
//	    retries: 3             # 0 to 10; default 3; backoff 1s, 2s, 4s… up to 30s
//	    headers: {Authorization: "Bearer …"} # webhook only; values are secrets: never shown;
//	                           # Content-Type, Content-Length, Host, … are vigil's
//	api:                       # optional; the HTTP API on the node addresses
//	  tls: {mode: off, dir: /etc/vigil/tls}  # mode off (default), optional or required;
//	                           # dir absolute, default /etc/vigil/tls
//	  tokens:                  # bearer tokens with a role each
//	    - name: grafana        # required; unique; same rule as resource ids
//	      role: read-only      # required; read-only or operator
//	      token_file: /etc/vigil/tokens/grafana  # exactly one of token_file (as secret_file:
//	      # token: "…"         # mode 0600 or stricter, relative to the file's directory) and
//	                           # token (>= 16 bytes); tokens unique, none the cluster secret
//
// Every node has the same number of links, link i uses the same IP family on
// every node, and an address appears at most once in the cluster.
//
// A score is an integer or INFINITY, +INFINITY, -INFINITY (any case, also
// "inf"), as a YAML number or string; integers at or beyond ±1,000,000 are
// the infinities. A constraint names resources or groups that exist, and
// never relates a resource or group to itself, or a resource to its own
// group. Mandatory orders may not form a cycle, where a group stands for
// all its members and orders them as it lists them; the cycle is reported
// by the names the orders use (a member as "m (in group)" where an order
// names its group). Optional orders are not judged.
//
// ParseWith also has each resource's parameters checked by its kind's
// agent, and reports what the agent finds at the resource's line.
//
// Parse fills in every default of detection, alerts and api (from the
// timing profile where they depend on it), so that no consumer derives
// one; Format leaves the defaults out again.
//
// Parse reads the secret file and the token files, if any are named;
// apart from that, decoding does no I/O (ParseWith's check may do some).
// No message, and no Summary, shows the secret, a token, a header value or
// a webhook or check URL (which may carry credentials).
package config
