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
//	timing:                    # optional
//	  profile: lan             # lan (default) or wan; the fields below override it
//	  heartbeat_interval: 100ms
//	  suspect_after: 300ms     # >= 2 * heartbeat_interval
//	  offline_after: 700ms     # > suspect_after
//	  max_clock_skew: 30s
//	  raft_heartbeat_timeout: 500ms     # >= 10ms
//	  raft_election_timeout: 500ms      # >= 10ms and >= raft_heartbeat_timeout
//	  raft_leader_lease_timeout: 250ms  # >= 10ms and <= raft_heartbeat_timeout
//	ports:                     # optional; all different
//	  heartbeat: 5405          # UDP
//	  raft: 5406               # TCP
//	  api: 5407                # TCP (HTTP)
//
// Every node has the same number of links, link i uses the same IP family on
// every node, and an address appears at most once in the cluster.
//
// Parse reads the secret file, if one is named; apart from that, decoding
// does no I/O.
package config
