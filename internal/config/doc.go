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
//	  heartbeat_interval: 100ms
//	  suspect_after: 300ms     # >= 2 * heartbeat_interval
//	  offline_after: 700ms     # > suspect_after
//	  max_clock_skew: 30s
//	  raft_heartbeat_timeout: 500ms     # >= 10ms
//	  raft_election_timeout: 500ms      # >= 10ms and >= raft_heartbeat_timeout
//	  raft_leader_lease_timeout: 250ms  # >= 10ms and <= raft_heartbeat_timeout
//	  lease: 1s                # >= 100ms: a node holds resources only this long after a
//	                           # renewal it committed through Raft (wan: 5s)
//	  lease_renew: 200ms       # how often it renews; lease >= 3 * lease_renew (wan: 1s)
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
// Parse reads the secret file, if one is named; apart from that, decoding
// does no I/O (ParseWith's check may do some).
package config
