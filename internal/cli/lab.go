package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/lab"
	"github.com/vigil-ha/vigil/internal/model"
)

func (e *env) labCmd() *cobra.Command {
	var name string
	c := &cobra.Command{
		Use:   "lab",
		Short: "Run a real cluster on this machine (root, Linux)",
		Long: `The lab builds a cluster of real vigil daemons on one Linux machine: a
bridge per link, a network namespace per node with its own 198.18.x.y
addresses, a client namespace, and one daemon per node. It can kill,
freeze, partition and drop packets on any node. Every node has an
emulated hardware watchdog; with 'lab up --watchdog' the daemons feed it,
and a node whose daemon hangs, is frozen or dies without disarming it is
reset (its processes killed, its floating addresses removed). Several labs
with different --name values do not collide.

Addresses: node k has 198.18.L.k on link L; the client is 198.18.0.250.`,
		Example: `  vigil lab up
  vigil lab exec n1 -- vigil status
  vigil lab kill n1 && vigil lab status
  vigil lab down`,
	}
	c.PersistentFlags().StringVar(&name, "name", "vigil", "lab name (1-8 of a-z0-9); namespaces and links carry it")
	c.AddCommand(e.labUpCmd(&name), e.labStatusCmd(&name), e.labDownCmd(&name), e.labExecCmd(&name), e.labProbeCmd(&name), e.labWebCmd(),
		e.labDashboardCmd(&name), e.labWatchdogCmd(&name), e.labFenceAgentCmd(&name), e.labFencerCmd(&name), e.labBenchCmd(&name))
	c.AddCommand(
		e.labFault(&name, "kill NODE", "Power loss: freeze the node's processes and cut its links", 1, 1,
			func(l *lab.Lab, a []string) error { return l.Kill(a[0]) }),
		e.labFault(&name, "revive NODE", "Power back: the node boots again from its data directory", 1, 1,
			func(l *lab.Lab, a []string) error { return l.Revive(a[0]) }),
		e.labFault(&name, "stop-daemon NODE", "Stop the node's daemon (SIGTERM); the host stays up", 1, 1,
			func(l *lab.Lab, a []string) error { return l.StopDaemon(a[0]) }),
		e.labFault(&name, "start-daemon NODE", "Start the node's daemon again", 1, 1,
			func(l *lab.Lab, a []string) error { return l.StartDaemon(a[0]) }),
		e.labFault(&name, "partition NODE...", "Cut the listed nodes from the others (the client still reaches all)", 1, -1,
			func(l *lab.Lab, a []string) error { return l.Partition(a...) }),
		e.labFault(&name, "heal", "Remove the partition", 0, 0,
			func(l *lab.Lab, _ []string) error { return l.Heal() }),
		e.labLossCmd(&name),
	)
	return c
}

// labLossCmd checks PERCENT with the arguments, before any lab is opened.
func (e *env) labLossCmd(name *string) *cobra.Command {
	c := e.labFault(name, "loss NODE PERCENT", "Drop PERCENT of the node's incoming packets at random (0 removes)", 2, 2,
		func(l *lab.Lab, a []string) error {
			p, err := parsePercent(a[1])
			if err != nil {
				return err
			}
			return l.Loss(a[0], p)
		})
	c.Args = cobra.MatchAll(c.Args, func(_ *cobra.Command, a []string) error {
		_, err := parsePercent(a[1])
		return err
	})
	return c
}

func parsePercent(s string) (int, error) {
	p, err := strconv.Atoi(s)
	if err != nil || p < 0 || p > 100 {
		return 0, usagef("PERCENT must be a whole number from 0 to 100, not %q", s)
	}
	return p, nil
}

// labJSON is the stable JSON of `lab up` and `lab status`.
type labJSON struct {
	Name        string        `json:"name"`
	Nodes       []labNodeJSON `json:"nodes"`
	ClientNetns string        `json:"client_netns"`
	Client      string        `json:"client_address"`
	Dir         string        `json:"dir"`
	Links       int           `json:"links"`
	TokenFile   string        `json:"token_file,omitempty"` // the API token (DIR/token); none in a lab from an older vigil
}

type labNodeJSON struct {
	Name      string           `json:"name"`
	Netns     string           `json:"netns"`
	Address   string           `json:"address"`
	Addresses []string         `json:"addresses"`
	PID       int              `json:"pid"`
	Socket    string           `json:"socket"`
	API       string           `json:"api"` // the node's HTTP API, for vigil --server
	Log       string           `json:"log"`
	Watchdog  *labWatchdogJSON `json:"watchdog,omitempty"` // none in a lab from an older vigil
}

// labWatchdogJSON is a node's emulated hardware watchdog.
type labWatchdogJSON struct {
	PID       int    `json:"pid"`    // 0 if not running
	Resets    int    `json:"resets"` // since lab up
	LastReset string `json:"last_reset,omitempty"`
	State     string `json:"state,omitempty"` // idle, armed or fired; "" if not running
	FIFO      string `json:"fifo"`
	Timeout   string `json:"timeout"`
}

// labAPIPort is the API port of the lab's config.
const labAPIPort = 5407

// labAPI is the URL of a lab node's HTTP API, on its first address.
func labAPI(n lab.Node) string {
	addr := n.Address
	if len(n.Addresses) > 0 {
		addr = n.Addresses[0]
	}
	if addr == "" {
		return ""
	}
	return "http://" + net.JoinHostPort(addr, strconv.Itoa(labAPIPort))
}

func labView(l *lab.Lab) labJSON {
	out := labJSON{Name: l.Name, ClientNetns: l.Client.Netns, Client: l.Client.Address, Dir: l.Dir, Links: l.Links, TokenFile: l.TokenFile}
	for _, n := range l.Status() {
		nj := labNodeJSON{
			Name: n.Name, Netns: n.Netns, Address: n.Address, Addresses: n.Addresses, PID: n.PID,
			Socket: l.SocketPath(n.Name), API: labAPI(n), Log: l.LogPath(n.Name),
		}
		if w, err := l.Watchdog(n.Name); err == nil {
			nj.Watchdog = &labWatchdogJSON{PID: w.PID, Resets: w.Resets, LastReset: w.LastReset, State: string(w.State),
				FIFO: w.FIFO, Timeout: w.Timeout.String()}
		}
		out.Nodes = append(out.Nodes, nj)
	}
	return out
}

func (e *env) labUpCmd(name *string) *cobra.Command {
	var dir, output, profile string
	var nodes, links int
	var demo, watchdog, fencing, witness, twoNode bool
	var resources string
	var timeout time.Duration
	c := &cobra.Command{
		Use:   "up",
		Short: "Build the lab and start a daemon per node; return when the cluster has quorum",
		Long: `Build the lab (bridges, a namespace per node, a client namespace, a config,
a secret and the cluster's API token in DIR/token) and start one vigil
daemon per node, then wait until every node has quorum, names the same
leader and sees every resource started. On failure the lab is left up for
inspection, with the end of each log. 'vigil lab dashboard' then brings
the web dashboard to the host.`,
		Example: `  vigil lab up
  vigil lab up --nodes 5 --links 1 --name big -o json
  vigil lab up --resources my-resources.yaml   # your resources instead of the demo
  vigil lab up --nodes 2 --two-node            # two nodes, no witness: a split is a fence race`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if nodes < 1 || nodes > 16 {
				return usagef("--nodes must be from 1 to 16, not %d", nodes)
			}
			if links < 1 || links > 4 {
				return usagef("--links must be from 1 to 4, not %d", links)
			}
			if witness && nodes < 2 {
				return usagef("--witness needs at least 2 nodes: the last one is the witness")
			}
			if twoNode && (nodes != 2 || witness) {
				return usagef("--two-node is for exactly two nodes and no witness: give --nodes 2 and no --witness")
			}
			if twoNode {
				fencing = true // a two-node cluster survives a split only by fencing
			}
			if witness && watchdog {
				return usagef("--witness and --watchdog: a witness holds no lease and feeds no watchdog; give one of them")
			}
			timing, ok := config.Profile(profile)
			if !ok {
				return usagef("--profile must be lan or wan, not %q", profile)
			}
			bin, err := e.executable()
			if err != nil {
				return fmt.Errorf("find the vigil binary: %w", err)
			}
			var extra *labResources
			if resources != "" {
				if extra, err = readLabResources(resources); err != nil {
					return err
				}
				demo = false
			}
			start := time.Now()
			l, err := lab.Up(cmd.Context(), lab.Options{
				Name: *name, Dir: dir, Nodes: nodes, Links: links, Binary: bin,
				Watchdog: watchdog, WatchdogTimeout: labWatchdogTimeout(timing),
				Config: func(ns []lab.Node) ([]byte, error) {
					return labConfig(*name, timing, ns, demoBinary(demo, bin), extra, labExtras{fencing: fencing, witness: witness, twoNode: twoNode})
				},
				Token: func(secret []byte) string { return labToken(*name, secret) },
			})
			if err != nil {
				return err
			}
			if err := waitQuorum(cmd.Context(), l, timeout); err != nil {
				var b strings.Builder
				fmt.Fprintf(&b, "%v\nThe lab is left up for inspection; 'vigil lab down --name %s' removes it.", err, l.Name)
				for _, n := range l.Status() {
					fmt.Fprintf(&b, "\n--- %s (%s) ---\n%s", n.Name, l.LogPath(n.Name), l.LogTail(n.Name, 15))
				}
				return errors.New(b.String())
			}
			if output == "json" {
				return writeJSON(e.stdout, labView(l))
			}
			fmt.Fprintf(e.stdout, "lab %s is up in %.1fs: %d nodes with quorum\n", l.Name, time.Since(start).Seconds(), len(l.Nodes))
			e.writeLab(l)
			fmt.Fprintf(e.stdout, "\nTry: vigil lab exec n1 -- vigil status\n")
			if demo {
				fmt.Fprintf(e.stdout, "     vigil lab probe --count 10 --interval 200ms   (the client asks the VIP %s)\n", LabVIP)
			}
			return nil
		},
	}
	c.Flags().StringVar(&dir, "dir", "", "directory for config, data and logs (default /var/lib/vigil/lab/NAME)")
	c.Flags().IntVar(&nodes, "nodes", 3, "number of nodes (1-16)")
	c.Flags().IntVar(&links, "links", 2, "links (networks) per node (1-4)")
	c.Flags().StringVar(&profile, "profile", "lan", "timing profile: lan or wan")
	c.Flags().BoolVar(&demo, "demo", true, "configure the demo: VIP "+LabVIP+" and a web service on port "+strconv.Itoa(LabWebPort)+" as group \"web\"")
	c.Flags().StringVar(&resources, "resources", "", "YAML file with options, resources, groups and constraints sections to run instead of the demo")
	c.Flags().DurationVar(&timeout, "timeout", 60*time.Second, "how long to wait for quorum and for every resource to start")
	c.Flags().BoolVar(&witness, "witness", false, "make the last node a witness (vigil witness): it votes but runs no resources, e.g. --nodes 3 --witness for two nodes and a witness")
	c.Flags().BoolVar(&fencing, "fencing", false, "configure the lab's fencing device (DIR/fence_vigil_lab, a fence agent that kills a node's processes and cuts its links): the majority fences a node it lost, and recovers its resources at once")
	c.Flags().BoolVar(&twoNode, "two-node", false, "with --nodes 2: a two-node cluster without a witness (fencing.two_node, implies --fencing): on a split each node fences the other, and the node running the demo wins (the other waits "+labPairDelay.String()+")")
	c.Flags().BoolVar(&watchdog, "watchdog", false, "daemons feed their node's emulated hardware watchdog, which resets a node whose daemon hangs or dies (timeout a quarter of the lease: 42.5ms, 1.25s with --profile wan)")
	outputFlag(c, &output)
	return c
}

// labWatchdogTimeout is the emulated watchdog's timeout for a timing
// profile: a quarter of the profile's lease, the most the daemon allows
// (42.5ms on lan, 1.25s on wan).
func labWatchdogTimeout(t model.Timing) time.Duration {
	return t.Lease / 4
}

// labWatchdogCmd is the process that emulates a node's hardware watchdog;
// `lab up` starts one per node, `lab down` stops them.
func (e *env) labWatchdogCmd(name *string) *cobra.Command {
	var node string
	var timeout time.Duration
	c := &cobra.Command{
		Use:    "watchdog --node NODE --timeout D",
		Short:  "Emulate a node's hardware watchdog (started by lab up)",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if node == "" {
				return usagef("--node is required")
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			log := slog.New(slog.NewTextHandler(e.stderr, nil))
			return lab.RunWatchdog(ctx, *name, node, timeout, log)
		},
	}
	c.Flags().StringVar(&node, "node", "", "the node whose watchdog this is")
	c.Flags().DurationVar(&timeout, "timeout", 200*time.Millisecond, "reset the node when its daemon has not fed the watchdog for this long")
	return c
}

// demoBinary is the binary the demo's web service runs, or "" for no demo.
func demoBinary(demo bool, bin string) string {
	if !demo {
		return ""
	}
	return bin
}

// labConfig is the cluster config of a lab: one node per lab node, the
// lab's secret file, the chosen timing profile and, unless demoBin is "",
// the demo: a group of the floating IP and a web service that answers with
// its node's name. extra, if not nil, is an operator's resource sections,
// put first so that a problem in them names the line of their own file.
// labExtras are the lab's optional parts of the cluster configuration.
type labExtras struct {
	fencing bool // the lab's fencer as the fencing device of every node
	witness bool // the last node is a witness
	twoNode bool // two nodes without a witness: fencing.two_node
}

// labPairDelay is the lab's priority fencing delay for --two-node: its
// fencer acts in well under a second, so the loser of a race need not
// wait the 5s a real IPMI device needs.
const labPairDelay = 2 * time.Second

// labCluster is the cluster name of lab name's config.
func labCluster(name string) string { return "lab-" + name }

// labSecret is the cluster secret of a lab's config: DIR/secret's text.
func labSecret(file []byte) []byte { return []byte(strings.TrimSpace(string(file))) }

// labToken is the API token of lab name's cluster, derived from the
// contents of DIR/secret as every daemon derives it from the config.
func labToken(name string, secretFile []byte) string {
	return api.DeriveToken(labCluster(name), labSecret(secretFile))
}

func labConfig(name string, timing model.Timing, nodes []lab.Node, demoBin string, extra *labResources, x labExtras) ([]byte, error) {
	if len(nodes) == 0 {
		return nil, errors.New("lab config: no nodes")
	}
	secretPath := filepath.Join(filepath.Dir(nodes[0].Dir), "secret")
	secret, err := os.ReadFile(secretPath)
	if err != nil {
		return nil, fmt.Errorf("lab config: %w", err)
	}
	cfg := model.Config{
		Version: 1, Cluster: labCluster(name), Secret: labSecret(secret),
		DataDir: "/var/lib/vigil", Timing: timing,
		Ports: model.Ports{Heartbeat: 5405, Raft: 5406, API: labAPIPort},
	}
	for _, n := range nodes {
		nd := model.Node{Name: model.NodeID(n.Name)}
		for _, a := range n.Addresses {
			addr, err := parseAddr(a)
			if err != nil {
				return nil, err
			}
			nd.Addresses = append(nd.Addresses, addr)
		}
		cfg.Nodes = append(cfg.Nodes, nd)
	}
	if x.witness {
		cfg.Nodes[len(cfg.Nodes)-1].Witness = true
	}
	if x.fencing {
		dev := model.FenceDevice{ID: "lab-fencer", Agent: filepath.Join(filepath.Dir(nodes[0].Dir), "fence_vigil_lab"),
			Plugs: map[model.NodeID]string{}, Timeout: 10 * time.Second}
		for _, n := range cfg.Nodes {
			dev.Plugs[n.Name] = string(n.Name)
		}
		cfg.Fencing.Devices = []model.FenceDevice{dev}
	}
	if x.twoNode {
		cfg.Fencing.TwoNode, cfg.Fencing.PriorityDelay = true, labPairDelay
	}
	if demoBin != "" {
		cfgPath := filepath.Join(filepath.Dir(nodes[0].Dir), "vigil.yaml")
		cfg.Resources, cfg.Groups = labDemo(demoBin, cfgPath)
	}
	out := config.Format(cfg, secretPath)
	if extra == nil {
		return out, nil
	}
	out = append(append(append([]byte{}, extra.data...), '\n'), out...)
	if _, err := config.Parse(extra.path, filepath.Dir(secretPath), out); err != nil {
		return nil, err
	}
	return out, nil
}

// labResources is an operator's file of resource sections for a lab.
type labResources struct {
	path string
	data []byte
}

// labSections are the top-level keys a --resources file may hold: the
// lab writes everything else.
var labSections = map[string]bool{"options": true, "resources": true, "groups": true, "constraints": true}

// readLabResources reads a --resources file and checks that it holds only
// resource sections. The sections themselves are checked with the whole
// config, by config.Parse.
func readLabResources(path string) (*labResources, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, usagef("--resources: %v", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, usagef("--resources %s: %v", path, err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, usagef("--resources %s: want a mapping of options, resources, groups and constraints", path)
	}
	m := doc.Content[0]
	for i := 0; i+1 < len(m.Content); i += 2 {
		if k := m.Content[i]; !labSections[k.Value] {
			return nil, usagef("%s:%d: %s: the lab writes this section; a --resources file holds only options, resources, groups and constraints", path, k.Line, k.Value)
		}
	}
	return &labResources{path: path, data: data}, nil
}

// labDemo is the demo group "web": the VIP on link 0, then the web service
// bound to it, monitored every second, moved after 3 failures on a node,
// and sticky (it stays where it runs when a failed node comes back).
func labDemo(bin, cfgPath string) ([]model.Resource, []model.Group) {
	ops := model.Ops{StartTimeout: 10 * time.Second, StopTimeout: 10 * time.Second, MonitorInterval: time.Second, MonitorTimeout: 5 * time.Second}
	url := fmt.Sprintf("http://%s/", net.JoinHostPort(LabVIP, strconv.Itoa(LabWebPort)))
	rs := []model.Resource{
		{ID: "web-ip", Kind: "vip", Group: "web", Ops: ops,
			Params: map[string]string{"address": LabVIP + "/24", "interface": "eth0"}},
		{ID: "web-server", Kind: "exec", Group: "web", Ops: ops,
			Params: map[string]string{"command": fmt.Sprintf("exec %s lab web --config %s", bin, cfgPath), "check_http": url}},
	}
	// Stickiness keeps the group where it runs when a failed node returns,
	// as operators set resource-stickiness in Pacemaker to avoid fail-back.
	sticky := model.Score(100)
	gs := []model.Group{{ID: "web", Members: []model.ResourceID{"web-ip", "web-server"},
		Meta: model.Meta{MigrationThreshold: 3, Stickiness: &sticky}}}
	return rs, gs
}

// waitQuorum polls every node until all answer with quorum and agree on a
// leader, or timeout passes.
func waitQuorum(ctx context.Context, l *lab.Lab, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	last := "no node answered yet"
	for {
		ok, why := labQuorate(ctx, l)
		if ok {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("lab %s: no quorum after %s: %s", l.Name, timeout, last)
		case <-tick.C:
		}
	}
}

// labQuorate reports whether every lab node has quorum, all name the same
// leader and see every resource started, and if not, why.
func labQuorate(ctx context.Context, l *lab.Lab) (bool, string) {
	leader := ""
	for _, n := range l.Status() {
		if n.PID == 0 {
			return false, n.Name + ": daemon not running"
		}
		s, err := nodeStatus(ctx, l, n.Name)
		if err != nil {
			return false, err.Error()
		}
		switch {
		case !s.Quorum:
			return false, n.Name + ": no quorum"
		case s.Leader == "":
			return false, n.Name + ": no leader"
		case leader != "" && s.Leader != leader:
			return false, fmt.Sprintf("leaders disagree: %s and %s", leader, s.Leader)
		}
		for _, r := range s.Resources {
			if r.State != "started" {
				return false, fmt.Sprintf("%s: resource %s is %s", n.Name, r.ID, r.State)
			}
		}
		leader = s.Leader
	}
	return true, ""
}

func nodeStatus(ctx context.Context, l *lab.Lab, node string) (api.Status, error) {
	cl, err := client.New(client.Config{Socket: l.SocketPath(node), Timeout: 2 * time.Second})
	if err != nil {
		return api.Status{}, err
	}
	defer cl.Close()
	return cl.Status(ctx)
}

func (e *env) writeLab(l *lab.Lab) {
	fmt.Fprintf(e.stdout, "lab %s: dir %s, %d links, client %s (%s)\n\n", l.Name, l.Dir, l.Links, l.Client.Netns, l.Client.Address)
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tNETNS\tADDRESSES\tPID\tDAEMON\tWATCHDOG")
	var resources []api.Resource // as the first node that answers sees them
	answered, dashboard := false, ""
	for _, n := range l.Status() {
		daemon, pid := "not running", "-"
		if n.PID != 0 {
			pid = strconv.Itoa(n.PID)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s, err := nodeStatus(ctx, l, n.Name)
			cancel()
			switch {
			case err != nil:
				daemon = "not answering"
			default:
				if !answered {
					resources, answered, dashboard = s.Resources, true, labAPI(n)
				}
				daemon = strings.ToLower(s.Raft.State)
				if s.Quorum {
					daemon += ", quorum"
				} else {
					daemon += ", NO quorum"
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Name, n.Netns, strings.Join(n.Addresses, ","), pid, daemon, watchdogCell(l, n.Name))
	}
	tw.Flush()
	if len(resources) > 0 {
		fmt.Fprintln(e.stdout)
		tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "RESOURCE\tKIND\tGROUP\tSTATE\tNODE")
		for _, r := range resources {
			group, node := r.Group, r.Node
			if group == "" {
				group = "-"
			}
			if node == "" {
				node = "-"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.Kind, group, r.State, node)
		}
		tw.Flush()
	}
	if dashboard != "" {
		fmt.Fprintf(e.stdout, "\n%s", labDashboardHint(l.Name, dashboard, l.TokenFile))
	}
}

// labDashboardHint tells how to open the dashboard of lab name, whose
// live node serves it at nodeAPI: there from inside the lab, and from the
// host through lab dashboard. tokenFile is "" in a lab without one.
func labDashboardHint(name, nodeAPI, tokenFile string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dashboard: %s/ui/", nodeAPI)
	if tokenFile != "" {
		fmt.Fprintf(&b, " (token in %s)", tokenFile)
	}
	cmd := "vigil lab dashboard"
	if name != "vigil" {
		cmd = "vigil lab --name " + name + " dashboard"
	}
	fmt.Fprintf(&b, "\n  from the host: %s   (then open http://127.0.0.1:%d/ui/)\n", cmd, labDashPort)
	return b.String()
}

// watchdogCell is the WATCHDOG column of a node: its state and resets.
func watchdogCell(l *lab.Lab, node string) string {
	w, err := l.Watchdog(node)
	if err != nil {
		return "-"
	}
	state := string(w.State)
	if w.PID == 0 {
		state = "not running"
	}
	switch w.Resets {
	case 0:
		return state
	case 1:
		return state + ", 1 reset"
	}
	return fmt.Sprintf("%s, %d resets", state, w.Resets)
}

func (e *env) labStatusCmd(name *string) *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the lab's nodes, namespaces, addresses and daemons",
		Long: `Show the lab's nodes: namespace, addresses, daemon PID and its view
(raft state, quorum), and emulated watchdog, then the resources as the first
node that answers sees them, and how to open the dashboard. -o json adds
each node's socket, log and API URL (api: http://ADDRESS:5407, for vigil
--server), and token_file: DIR/token, the API token (for --token-file and
the dashboard's sign-in).`,
		Example: `  vigil lab status
  vigil lab status -o json | jq -r '.nodes[].api'
  vigil lab --name big status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			l, err := lab.Open(*name)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, labView(l))
			}
			e.writeLab(l)
			return nil
		},
	}
	outputFlag(c, &output)
	return c
}

// labDoneJSON is the -o json answer of the lab's commands that change it.
type labDoneJSON struct {
	Lab    string   `json:"lab"`
	Action string   `json:"action"`
	Args   []string `json:"args"`
}

func (e *env) labDownCmd(name *string) *cobra.Command {
	var purge bool
	var output string
	c := &cobra.Command{
		Use:   "down",
		Short: "Stop the lab's daemons and remove its namespaces and links (idempotent)",
		Example: `  vigil lab down
  vigil lab down --purge        # its logs and data too
  vigil lab --name big down -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if err := lab.Down(cmd.Context(), *name, purge); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, labDoneJSON{Lab: *name, Action: "down", Args: []string{}})
			}
			fmt.Fprintf(e.stdout, "lab %s is down\n", *name)
			return nil
		},
	}
	c.Flags().BoolVar(&purge, "purge", false, "also remove the lab's directory (logs and data)")
	outputFlag(c, &output)
	return c
}

func (e *env) labExecCmd(name *string) *cobra.Command {
	return &cobra.Command{
		Use:   "exec NODE -- COMMAND [ARG...]",
		Short: "Run a command inside a node's namespace (NODE may be 'client')",
		Long: `Run a command inside a node's network namespace. Inside, vigil commands
talk to that node's daemon with no extra flags (VIGIL_SOCKET and
VIGIL_CONFIG are set). The exit code is the command's.`,
		Example: `  vigil lab exec n2 -- vigil status
  vigil lab exec client -- curl -s http://198.18.0.1:5407/v1/status`,
		Args: cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, err := lab.Open(*name)
			if err != nil {
				return err
			}
			argv := args[1:]
			bin, binErr := e.executable()
			if argv[0] == "vigil" && binErr == nil {
				argv = append([]string{bin}, argv[1:]...)
			}
			// A signal to lab exec ends the command too (it is ip netns
			// exec's child, not in lab exec's place).
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			x, err := l.Command(ctx, args[0], argv...)
			if err != nil {
				return usageError{err}
			}
			if binErr == nil { // scripts run inside find this vigil first
				x.Env = append(x.Env, "PATH="+filepath.Dir(bin)+":"+e.getenv("PATH"))
			}
			x.Stdin, x.Stdout, x.Stderr = e.stdin, e.stdout, e.stderr
			err = x.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return exitError{code: ee.ExitCode(), err: errors.New("")}
			}
			return err
		},
	}
}

func (e *env) labFault(name *string, use, short string, minArgs, maxArgs int, f func(*lab.Lab, []string) error) *cobra.Command {
	args := cobra.RangeArgs(minArgs, maxArgs)
	if maxArgs < 0 {
		args = cobra.MinimumNArgs(minArgs)
	}
	verb := strings.Fields(use)[0]
	var output string
	c := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: labFaultExamples[verb],
		Args:    args,
		RunE: func(cmd *cobra.Command, a []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			l, err := lab.Open(*name)
			if err != nil {
				return err
			}
			if err := f(l, a); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, labDoneJSON{Lab: l.Name, Action: verb, Args: append([]string{}, a...)})
			}
			fmt.Fprintf(e.stdout, "lab %s: %s done\n", l.Name, strings.Join(append([]string{verb}, a...), " "))
			return nil
		},
	}
	outputFlag(c, &output)
	return c
}

// labFaultExamples are the Example sections of the lab's faults.
var labFaultExamples = map[string]string{
	"kill":         "  vigil lab kill n1 && vigil lab exec n2 -- vigil status",
	"revive":       "  vigil lab revive n1",
	"stop-daemon":  "  vigil lab stop-daemon n3",
	"start-daemon": "  vigil lab start-daemon n3",
	"partition":    "  vigil lab partition n1          # n1 alone against n2 and n3\n  vigil lab partition n1 n2 -o json",
	"heal":         "  vigil lab heal",
	"loss":         "  vigil lab loss n2 20     # drop 20% of n2's incoming packets\n  vigil lab loss n2 0      # stop dropping",
}

func parseAddr(s string) (netip.Addr, error) {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("lab address %q: %w", s, err)
	}
	return a, nil
}
