package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/daemon"
	"github.com/vigil-ha/vigil/internal/model"
)

func (e *env) daemonCmd() *cobra.Command {
	var cfgPath, nodeName, dataDir, socket, level, wdPath string
	var wdTimeout time.Duration
	c := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node daemon",
		Long: `Run this host's vigil node: heartbeats to every peer on every link, the
Raft store (the leader coordinates), quorum, leases, the resources placed
here, and the API on the unix socket and on each of the node's addresses.
Logs go to stderr. SIGTERM stops it cleanly: it stops every resource that
runs here first (its lease ends with it), then exits.

With --watchdog, it feeds the watchdog while it can guarantee its lease
(it holds nothing, or its lease has more than a watchdog timeout left), so
a daemon that hangs or is killed gets its node reset before the lease
ends; a clean shutdown disarms it once everything is stopped.

The node is found by --node, or else by matching the host's addresses with
the nodes' addresses in the config.`,
		Example: `  vigil daemon --config /etc/vigil/vigil.yaml
  vigil daemon --config vigil.yaml --node n2 --data-dir /var/lib/vigil-n2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if wdPath != "" && wdTimeout <= 0 {
				return usagef("--watchdog needs --watchdog-timeout, the device's timeout")
			}
			return e.runDaemon(cmd, cfgPath, nodeName, dataDir, socket, level, false,
				func(c *daemon.Config) { c.Watchdog, c.WatchdogTimeout = wdPath, wdTimeout })
		},
	}
	nodeFlags(c, &cfgPath, &nodeName, &dataDir, &socket, &level)
	c.Flags().StringVar(&wdPath, "watchdog", "", "watchdog device to feed while the lease is safe (e.g. /dev/watchdog)")
	c.Flags().DurationVar(&wdTimeout, "watchdog-timeout", 0, "the watchdog's timeout: at most a quarter of the lease")
	return c
}

// socketPath is the socket a daemon serves its local API on: the flag,
// else VIGIL_SOCKET, else the default.
func (e *env) socketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if s := e.getenv("VIGIL_SOCKET"); s != "" {
		return s
	}
	return DefaultSocket
}

// findSelf returns the node named name, or the one node whose addresses
// this host has.
func findSelf(cfg model.Config, name string) (model.NodeID, error) {
	if name != "" {
		if _, ok := cfg.Node(model.NodeID(name)); !ok {
			return "", usagef("--node %s: not a node of cluster %s", name, cfg.Cluster)
		}
		return model.NodeID(name), nil
	}
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", fmt.Errorf("list local addresses: %w", err)
	}
	local := map[netip.Addr]bool{}
	for _, a := range addrs {
		if p, err := netip.ParsePrefix(a.String()); err == nil {
			local[p.Addr()] = true
		}
	}
	var found []model.NodeID
	for _, n := range cfg.Nodes {
		for _, a := range n.Addresses {
			if local[a] {
				found = append(found, n.Name)
				break
			}
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", usagef("no node of the config has an address of this host; say which with --node")
	default:
		return "", usagef("this host has the addresses of several nodes (%v); say which with --node", found)
	}
}

// runDaemon loads the config, finds this node and runs its daemon until
// SIGTERM. witness insists that the node is a witness in the config.
func (e *env) runDaemon(cmd *cobra.Command, cfgPath, nodeName, dataDir, socket, level string, witness bool, set func(*daemon.Config)) error {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return usagef("--log-level: %v", err)
	}
	cfg, err := config.Load(e.configPath(cfgPath))
	if err != nil {
		return usageError{err}
	}
	if dataDir != "" {
		cfg.DataDir = dataDir
	}
	self, err := findSelf(cfg, nodeName)
	if err != nil {
		return err
	}
	if nd, _ := cfg.Node(self); witness && !nd.Witness {
		return usagef("node %s is not a witness in the config: add `witness: true` to it, or run vigil daemon", self)
	}
	log := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	dc := daemon.Config{Cluster: cfg, Self: self, Socket: e.socketPath(socket), Log: log}
	if set != nil {
		set(&dc)
	}
	err = daemon.Run(ctx, dc)
	if err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

func (e *env) witnessCmd() *cobra.Command {
	var cfgPath, nodeName, dataDir, socket, level string
	c := &cobra.Command{
		Use:   "witness",
		Short: "Run a witness: a voter that runs no resources",
		Long: `Run this host as a witness of the cluster: it takes part in heartbeats,
quorum and Raft (it may even lead, and then coordinates), but runs no
resources and holds no lease. Two nodes and a witness on a small third
host keep quorum through the loss of any one of the three; the node the
witness can still hear keeps or takes the resources.

The node must be marked in the config:

  nodes:
    - {name: n1, addresses: [192.0.2.1]}
    - {name: n2, addresses: [192.0.2.2]}
    - {name: w, addresses: [192.0.2.3], witness: true}

vigil daemon on a witness's host runs it as a witness too.`,
		Example: `  vigil witness --config /etc/vigil/vigil.yaml
  vigil witness --config vigil.yaml --node w`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return e.runDaemon(cmd, cfgPath, nodeName, dataDir, socket, level, true, nil)
		},
	}
	nodeFlags(c, &cfgPath, &nodeName, &dataDir, &socket, &level)
	return c
}

// nodeFlags are the flags that vigil daemon and vigil witness share.
func nodeFlags(c *cobra.Command, cfgPath, nodeName, dataDir, socket, level *string) {
	c.Flags().StringVarP(cfgPath, "config", "c", "", "config file (default $VIGIL_CONFIG or "+DefaultConfig+")")
	c.Flags().StringVar(nodeName, "node", "", "this node's name in the config (default: found by address)")
	c.Flags().StringVar(dataDir, "data-dir", "", "data directory (default: the config's data_dir)")
	c.Flags().StringVar(socket, "socket", "", "unix socket of the local API (default $VIGIL_SOCKET or "+DefaultSocket+")")
	c.Flags().StringVar(level, "log-level", "info", "debug, info, warn or error")
}
