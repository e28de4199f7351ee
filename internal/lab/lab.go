package lab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// ErrNoLab reports that no lab of the given name exists.
var ErrNoLab = errors.New("no such lab")

const (
	defaultName  = "vigil"
	defaultNodes = 3
	defaultLinks = 2
	maxNodes     = 16
	maxLinks     = 4
	maxNameLen   = 8
	// indexDir holds NAME.json ({"dir": DIR}) for every lab that is up.
	indexDir = "/run/vigil/lab"
	// defaultDirRoot is the parent of a lab's DIR when Options.Dir is empty.
	defaultDirRoot = "/var/lib/vigil/lab"
	// clientHost is the last octet of the client's address on link 0.
	clientHost = 250
	// maxSocketPath is the longest unix socket path Linux accepts (sun_path less its NUL).
	maxSocketPath = 107
	// opTimeout bounds the commands of the methods that take no context.
	opTimeout = 30 * time.Second
)

// Options configures Up. A zero field means its documented default.
type Options struct {
	Name   string // lab name, 1-8 characters [a-z0-9], letter first; default "vigil"
	Dir    string // logs, data, config and lab.json; default /var/lib/vigil/lab/NAME
	Nodes  int    // 1..16; default 3
	Links  int    // 1..4; default 2
	Binary string // path of the vigil executable to run as the daemon (required)
	Log    *slog.Logger

	// Config returns the cluster configuration that Up writes to
	// DIR/vigil.yaml (mode 0600) before any daemon starts. The shared secret
	// is DIR/secret, that is filepath.Join(filepath.Dir(nodes[0].Dir), "secret").
	// If nil, Up writes no config.
	Config func(nodes []Node) ([]byte, error)

	// Token returns the cluster's API token for the shared secret (the
	// contents of DIR/secret, 64 hex digits), as the daemons derive it
	// from the config that Config returns. Up writes it to DIR/token (mode
	// 0600), for the operator's CLI (--token-file) and the dashboard's
	// sign-in, and records that path in lab.json. If nil, Up writes no token.
	Token func(secret []byte) string

	// DaemonArgs returns the arguments after Binary that start node's daemon.
	// If nil they are: daemon --config <ConfigPath> --node <name>
	// --data-dir <Dir>/data --socket <Dir>/vigil.sock, and if Watchdog,
	// --watchdog <Dir>/watchdog --watchdog-timeout <WatchdogTimeout>. Up
	// records them in lab.json, so a later StartDaemon (also from another
	// process) reuses them.
	DaemonArgs func(node Node) []string

	// Every node has an emulated hardware watchdog (see Lab.Watchdog): a
	// process in the host's namespace that reads the FIFO <Dir>/watchdog and
	// resets the node when its daemon stops feeding it. Watchdog makes the
	// default daemon arguments feed it; without it no daemon opens the FIFO
	// and the watchdog never arms. WatchdogTimeout is its timeout, 20ms..1m;
	// default 200ms, the lan profile's (at most a quarter of the lease).
	// WatchdogBinary runs `lab watchdog`; default Binary.
	Watchdog        bool
	WatchdogTimeout time.Duration
	WatchdogBinary  string

	// FenceBinary is the vigil executable that the lab's fence agent,
	// DIR/fence_vigil_lab, runs as `lab --name NAME fence-agent` (see
	// FenceAgentPath); default Binary.
	FenceBinary string
}

// Lab is a lab that is up. Its methods are safe for concurrent use; faults
// applied concurrently to the same node race in their effect, not in memory.
type Lab struct {
	Name   string
	Dir    string
	Links  int
	Nodes  []Node // PIDs as last recorded; Status checks them
	Client Client
	Binary string
	// TokenFile is DIR/token, the cluster's API token (see Options.Token);
	// "" if the lab has none.
	TokenFile string

	host     host
	indexDir string
	log      *slog.Logger

	mu    sync.Mutex             // guards Nodes[*].PID, start, dogs and lab.json
	args  map[string][]string    // node → daemon arguments after Binary
	start map[string]uint64      // node → daemon start time (ticks since boot), 0 if unknown
	dogs  map[string]watchdogRef // node → its watchdog; none in a lab from before watchdogs

	fenceBinary string    // what DIR/fence_vigil_lab runs; set by Up only
	hostNetns   *netnsRef // the network namespace the lab was built from; nil in a lab from before
}

// Node is one cluster node of a lab.
type Node struct {
	Name      string   `json:"name"`
	Netns     string   `json:"netns"`
	Address   string   `json:"address"`   // on link 0
	Addresses []string `json:"addresses"` // index is the link
	PID       int      `json:"pid"`       // daemon; 0 if not running
	Dir       string   `json:"dir"`
}

// Client is the namespace that plays the cluster's clients, on link 0 only.
type Client struct {
	Netns   string `json:"netns"`
	Address string `json:"address"`
}

// stateFile is DIR/lab.json.
type stateFile struct {
	Name   string              `json:"name"`
	Dir    string              `json:"dir"`
	Links  int                 `json:"links"`
	Binary string              `json:"binary"`
	Nodes  []Node              `json:"nodes"`
	Client Client              `json:"client"`
	Args   map[string][]string `json:"args"`
	// TokenFile is DIR/token, the cluster's API token; "" if none.
	TokenFile string `json:"token_file,omitempty"`
	// Start guards against PID reuse: a recorded PID is the daemon only if
	// its start time (field 22 of /proc/PID/stat) matches.
	Start map[string]uint64 `json:"start,omitempty"`
	// Watchdogs are the nodes' emulated hardware watchdogs.
	Watchdogs map[string]watchdogRef `json:"watchdogs,omitempty"`
	// HostNetns is the network namespace Up ran in: where the bridges,
	// the host sides of the veths and the watchdogs are. A lab command
	// run elsewhere (a fence agent inside a node) enters it for them.
	HostNetns *netnsRef `json:"host_netns,omitempty"`
}

// netnsRef identifies a network namespace in lab.json.
type netnsRef struct {
	Dev uint64 `json:"dev"`
	Ino uint64 `json:"ino"`
}

func (r netnsRef) id() nsID { return nsID{dev: r.Dev, ino: r.Ino} }

// index is /run/vigil/lab/NAME.json.
type index struct {
	Dir string `json:"dir"`
}

// system is what a lab touches on the host besides /proc and signals.
type system struct {
	host     host
	indexDir string
}

func realSystem() system { return system{host: execHost{}, indexDir: indexDir} }

// validName reports whether name is a lab name: 1-8 characters [a-z0-9], letter first.
func validName(name string) bool {
	if len(name) == 0 || len(name) > maxNameLen || name[0] < 'a' || name[0] > 'z' {
		return false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func checkName(name string) error {
	if !validName(name) {
		return fmt.Errorf("lab name %q: want 1-%d characters [a-z0-9], letter first", name, maxNameLen)
	}
	return nil
}

// newLab validates o, fills in defaults and lays out the lab; it does no I/O.
func newLab(o Options) (*Lab, error) {
	if o.Name == "" {
		o.Name = defaultName
	}
	if o.Nodes == 0 {
		o.Nodes = defaultNodes
	}
	if o.Links == 0 {
		o.Links = defaultLinks
	}
	if o.Dir == "" {
		o.Dir = filepath.Join(defaultDirRoot, o.Name)
	}
	if o.WatchdogTimeout == 0 {
		o.WatchdogTimeout = defaultWatchdogTimeout
	}
	if o.WatchdogBinary == "" {
		o.WatchdogBinary = o.Binary
	}
	if o.FenceBinary == "" {
		o.FenceBinary = o.Binary
	}
	var errs []error
	if err := checkName(o.Name); err != nil {
		errs = append(errs, err)
	}
	if o.Nodes < 1 || o.Nodes > maxNodes {
		errs = append(errs, fmt.Errorf("nodes %d: want 1..%d", o.Nodes, maxNodes))
	}
	if o.Links < 1 || o.Links > maxLinks {
		errs = append(errs, fmt.Errorf("links %d: want 1..%d", o.Links, maxLinks))
	}
	if o.Binary == "" {
		errs = append(errs, errors.New("binary: required"))
	}
	if o.WatchdogTimeout < minWatchdogTimeout || o.WatchdogTimeout > maxWatchdogTimeout {
		errs = append(errs, fmt.Errorf("watchdog timeout %s: want %s..%s", o.WatchdogTimeout, minWatchdogTimeout, maxWatchdogTimeout))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("dir %s: %w", o.Dir, err)
	}
	bin, err := filepath.Abs(o.Binary)
	if err != nil {
		return nil, fmt.Errorf("binary %s: %w", o.Binary, err)
	}
	dogBin, err := filepath.Abs(o.WatchdogBinary)
	if err != nil {
		return nil, fmt.Errorf("watchdog binary %s: %w", o.WatchdogBinary, err)
	}
	fenceBin, err := filepath.Abs(o.FenceBinary)
	if err != nil {
		return nil, fmt.Errorf("fence binary %s: %w", o.FenceBinary, err)
	}
	l := &Lab{
		Name:   o.Name,
		Dir:    dir,
		Links:  o.Links,
		Binary: bin,
		Client: Client{
			Netns:   o.Name + "-client",
			Address: fmt.Sprintf("198.18.0.%d", clientHost),
		},
		log:         o.Log,
		args:        map[string][]string{},
		start:       map[string]uint64{},
		dogs:        map[string]watchdogRef{},
		fenceBinary: fenceBin,
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	for k := 1; k <= o.Nodes; k++ {
		n := Node{Name: fmt.Sprintf("n%d", k), Netns: fmt.Sprintf("%s-n%d", o.Name, k)}
		for i := range o.Links {
			n.Addresses = append(n.Addresses, fmt.Sprintf("198.18.%d.%d", i, k))
		}
		n.Address = n.Addresses[0]
		n.Dir = filepath.Join(dir, n.Name)
		l.Nodes = append(l.Nodes, n)
	}
	for _, n := range l.Nodes {
		if s := l.SocketPath(n.Name); len(s) > maxSocketPath {
			return nil, fmt.Errorf("dir %s: socket path %s is longer than %d bytes", dir, s, maxSocketPath)
		}
		var args []string
		if o.DaemonArgs != nil {
			args = o.DaemonArgs(n)
		} else {
			args = []string{"daemon", "--config", l.ConfigPath(), "--node", n.Name,
				"--data-dir", l.dataPath(n.Name), "--socket", l.SocketPath(n.Name)}
			if o.Watchdog {
				args = append(args, "--watchdog", l.WatchdogPath(n.Name), "--watchdog-timeout", o.WatchdogTimeout.String())
			}
		}
		l.args[n.Name] = slices.Clone(args)
		l.dogs[n.Name] = watchdogRef{Argv: watchdogArgv(dogBin, l.Name, n.Name, o.WatchdogTimeout), Timeout: o.WatchdogTimeout}
	}
	return l, nil
}

// Up builds the lab and starts every daemon, then returns; it does not wait
// for quorum (the caller polls the daemons). If a lab of that name exists,
// even in part, it returns an error saying so. On failure it tears down what
// it built, keeping DIR.
func Up(ctx context.Context, o Options) (*Lab, error) {
	return up(ctx, o, realSystem())
}

func up(ctx context.Context, o Options, sys system) (*Lab, error) {
	l, err := newLab(o)
	if err != nil {
		return nil, fmt.Errorf("lab up: %w", err)
	}
	l.host, l.indexDir = sys.host, sys.indexDir
	if id, err := statID("/proc/self/ns/net"); err == nil {
		l.hostNetns = &netnsRef{Dev: id.dev, Ino: id.ino}
	}
	if fi, err := os.Stat(l.Binary); err != nil {
		return nil, fmt.Errorf("lab %s up: binary: %w", l.Name, err)
	} else if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("lab %s up: binary %s is not an executable file", l.Name, l.Binary)
	}
	if err := l.claim(ctx); err != nil {
		return nil, fmt.Errorf("lab %s up: %w", l.Name, err)
	}
	if err := l.create(ctx, o.Config, o.Token); err != nil {
		// Tear down even if ctx was cancelled; Down's waits are bounded.
		derr := down(context.WithoutCancel(ctx), l.Name, false, sys)
		if derr != nil {
			derr = fmt.Errorf("tear down: %w", derr)
		}
		return nil, errors.Join(fmt.Errorf("lab %s up: %w", l.Name, err), derr)
	}
	l.log.Info("lab up", "lab", l.Name, "dir", l.Dir, "nodes", len(l.Nodes), "links", l.Links)
	return l, nil
}

// claim creates the index file, failing if a lab of that name exists, even
// only as stray namespaces or links.
func (l *Lab) claim(ctx context.Context) error {
	if err := os.MkdirAll(l.indexDir, 0o755); err != nil {
		return err
	}
	path := indexPath(l.indexDir, l.Name)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, os.ErrExist) {
		where := path
		if dir, err := readIndex(l.indexDir, l.Name); err == nil {
			where = dir
		}
		return fmt.Errorf("lab %s already exists (%s): run `vigil lab down --name %s` first", l.Name, where, l.Name)
	}
	if err != nil {
		return err
	}
	err = json.NewEncoder(f).Encode(index{Dir: l.Dir})
	err = errors.Join(err, f.Close())
	if err == nil {
		var left []string
		left, err = leftovers(ctx, l.host, l.Name)
		if err == nil && len(left) > 0 {
			err = fmt.Errorf("lab %s already exists in part (%v): run `vigil lab down --name %s` first", l.Name, left, l.Name)
		}
	}
	if err != nil {
		_ = os.Remove(path) // ours: we created it above
	}
	return err
}

// create lays out DIR, builds the network and starts the daemons.
func (l *Lab) create(ctx context.Context, config func([]Node) ([]byte, error), token func([]byte) string) error {
	if err := os.MkdirAll(l.Dir, 0o755); err != nil {
		return err
	}
	for _, n := range l.Nodes {
		// A new lab is a new cluster: no data or socket from an earlier one.
		if err := os.RemoveAll(l.dataPath(n.Name)); err != nil {
			return err
		}
		if err := os.MkdirAll(l.dataPath(n.Name), 0o700); err != nil {
			return err
		}
		if err := os.Remove(l.SocketPath(n.Name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.WriteFile(l.LogPath(n.Name), nil, 0o644); err != nil {
			return err
		}
		// A fresh watchdog: no count of resets, no bytes left in a FIFO.
		for _, path := range []string{l.WatchdogPath(n.Name), l.watchdogFilePath(n.Name)} {
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := os.WriteFile(l.watchdogLogPath(n.Name), nil, 0o644); err != nil {
			return err
		}
	}
	if err := l.writeFencer(); err != nil {
		return fmt.Errorf("fencer: %w", err)
	}
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand.Read never fails
	secretHex := []byte(hex.EncodeToString(secret))
	if err := writeFile(l.SecretPath(), secretHex, 0o600); err != nil {
		return err
	}
	// No token of an earlier lab in this DIR survives, whatever the options.
	if err := os.Remove(l.tokenPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if token != nil {
		if err := writeFile(l.tokenPath(), []byte(token(secretHex)+"\n"), 0o600); err != nil {
			return err
		}
		l.TokenFile = l.tokenPath()
	}
	if config != nil {
		b, err := config(l.Status())
		if err != nil {
			return fmt.Errorf("config: %w", err)
		}
		if err := writeFile(l.ConfigPath(), b, 0o600); err != nil {
			return err
		}
	}
	l.mu.Lock()
	err := l.save()
	l.mu.Unlock()
	if err != nil {
		return err
	}
	if err := l.buildNet(ctx); err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range l.Nodes {
		if err := l.startDaemon(n.Name); err != nil {
			return fmt.Errorf("start daemon on %s: %w", n.Name, err)
		}
	}
	return nil
}

// buildNet creates namespaces, bridges and veths, then addresses each namespace.
func (l *Lab) buildNet(ctx context.Context) error {
	if _, err := l.host.Run(ctx, hostScript(l), "ip", "-batch", "-"); err != nil {
		return fmt.Errorf("build network: %w", err)
	}
	for _, n := range l.Nodes {
		if _, err := l.host.Run(ctx, netnsScript(n.Addresses), "ip", "-n", n.Netns, "-batch", "-"); err != nil {
			return fmt.Errorf("address %s: %w", n.Name, err)
		}
	}
	if _, err := l.host.Run(ctx, netnsScript([]string{l.Client.Address}), "ip", "-n", l.Client.Netns, "-batch", "-"); err != nil {
		return fmt.Errorf("address client: %w", err)
	}
	return nil
}

// Open loads the lab named name: the index, then DIR/lab.json. The error
// wraps ErrNoLab if there is none.
func Open(name string) (*Lab, error) {
	return open(name, realSystem())
}

func open(name string, sys system) (*Lab, error) {
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("open lab: %w", err)
	}
	dir, err := readIndex(sys.indexDir, name)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open lab %s: %w", name, ErrNoLab)
	}
	if err != nil {
		return nil, fmt.Errorf("open lab %s: %w", name, err)
	}
	st, err := readState(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("open lab %s: %s has no lab.json: %w", name, dir, ErrNoLab)
	}
	if err != nil {
		return nil, fmt.Errorf("open lab %s: %w", name, err)
	}
	if st.Name != name {
		return nil, fmt.Errorf("open lab %s: %s holds lab %q", name, filepath.Join(dir, "lab.json"), st.Name)
	}
	l := &Lab{
		Name: st.Name, Dir: st.Dir, Links: st.Links, Nodes: st.Nodes, Client: st.Client, Binary: st.Binary,
		host: sys.host, indexDir: sys.indexDir, log: slog.New(slog.DiscardHandler),
		args: st.Args, start: st.Start, dogs: st.Watchdogs, hostNetns: st.HostNetns, TokenFile: st.TokenFile,
	}
	// Inside a node's namespace (a fence agent run by a daemon), the
	// host-side commands must run in the namespace the lab was built from.
	if _, ok := sys.host.(execHost); ok && st.HostNetns != nil {
		if here, err := statID("/proc/self/ns/net"); err == nil && here != st.HostNetns.id() {
			l.host = execHost{netns: st.HostNetns}
		}
	}
	if l.args == nil {
		l.args = map[string][]string{}
	}
	if l.start == nil {
		l.start = map[string]uint64{}
	}
	if l.dogs == nil {
		l.dogs = map[string]watchdogRef{}
	}
	return l, nil
}

// Down stops the nodes' watchdogs (by the PIDs lab.json records), then every
// process in the lab's namespaces (SIGTERM, up to 3 s, then SIGKILL),
// deletes the namespaces, bridges and veths of that name (also
// stray ones, so it works without lab.json) and removes the index file. DIR
// is kept for its logs unless purge; purge removes DIR only if its lab.json
// names this lab (DIR comes from the index, else the default). Down on
// nothing returns nil.
func Down(ctx context.Context, name string, purge bool) error {
	return down(ctx, name, purge, realSystem())
}

func down(ctx context.Context, name string, purge bool, sys system) error {
	if err := checkName(name); err != nil {
		return fmt.Errorf("lab down: %w", err)
	}
	dir, err := readIndex(sys.indexDir, name)
	if err != nil {
		dir = filepath.Join(defaultDirRoot, name)
	}
	var errs []error
	st, err := readState(dir)
	ours := err == nil && st.Name == name
	if ours {
		// First, so that no watchdog resets a node while it is torn down.
		// Without lab.json a watchdog exits once its namespace is gone.
		errs = append(errs, stopWatchdogs(ctx, st, 3*time.Second))
	}
	nss, err := listNetns(ctx, sys.host)
	if err != nil {
		errs = append(errs, err)
	}
	nss = slices.DeleteFunc(nss, func(ns string) bool { return !ownNetns(name, ns) })
	links, err := listLinks(ctx, sys.host)
	if err != nil {
		errs = append(errs, err)
	}
	links = slices.DeleteFunc(links, func(ifc string) bool { return !ownLink(name, ifc) })

	var ids []nsID
	for _, ns := range nss {
		if id, err := netnsID(ns); err == nil {
			ids = append(ids, id)
		}
	}
	if procs := procsIn(ids); len(procs) > 0 {
		errs = append(errs, terminate(ctx, procs, 3*time.Second))
	}
	if script := downScript(links, nss); script != "" {
		// -force: delete all that can be deleted, then report.
		if _, err := sys.host.Run(ctx, script, "ip", "-force", "-batch", "-"); err != nil {
			errs = append(errs, err)
		}
	}
	if ours {
		for _, n := range st.Nodes {
			reapZombie(n.PID) // a daemon of ours that died before Down
		}
		for _, w := range st.Watchdogs {
			reapZombie(w.PID)
		}
	}
	if err := os.Remove(indexPath(sys.indexDir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	if purge {
		if st, err := readState(dir); err == nil && st.Name == name {
			if err := os.RemoveAll(dir); err != nil {
				errs = append(errs, err)
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("lab %s down: %w", name, err)
	}
	return nil
}

// Status returns the nodes with their PIDs checked: 0 if the daemon is not
// alive (gone or zombie).
func (l *Lab) Status() []Node {
	l.mu.Lock()
	defer l.mu.Unlock()
	nodes := make([]Node, len(l.Nodes))
	for i, n := range l.Nodes {
		n.Addresses = slices.Clone(n.Addresses)
		n.PID = l.daemonPID(n)
		nodes[i] = n
	}
	return nodes
}

// Node returns the node named name, its PID checked as in Status.
func (l *Lab) Node(name string) (Node, error) {
	for _, n := range l.Status() {
		if n.Name == name {
			return n, nil
		}
	}
	return Node{}, fmt.Errorf("lab %s: no node %q", l.Name, name)
}

// node returns the index of the node named name.
func (l *Lab) node(name string) (int, error) {
	for i, n := range l.Nodes {
		if n.Name == name {
			return i, nil
		}
	}
	return 0, fmt.Errorf("no node %q", name)
}

// ConfigPath returns DIR/vigil.yaml, the configuration every node shares.
func (l *Lab) ConfigPath() string { return filepath.Join(l.Dir, "vigil.yaml") }

// SecretPath returns DIR/secret, the cluster's shared secret (64 hex digits, mode 0600).
func (l *Lab) SecretPath() string { return filepath.Join(l.Dir, "secret") }

// SocketPath returns DIR/<node>/vigil.sock, the node's daemon control socket.
func (l *Lab) SocketPath(node string) string { return filepath.Join(l.Dir, node, "vigil.sock") }

// LogPath returns DIR/<node>/daemon.log, where the daemon's stdout and stderr go.
func (l *Lab) LogPath(node string) string { return filepath.Join(l.Dir, node, "daemon.log") }

func (l *Lab) tokenPath() string { return filepath.Join(l.Dir, "token") }

func (l *Lab) dataPath(node string) string { return filepath.Join(l.Dir, node, "data") }

// LogTail returns the last lines lines of the node's daemon log, or "" if
// there is none.
func (l *Lab) LogTail(node string, lines int) string {
	if lines <= 0 {
		return ""
	}
	f, err := os.Open(l.LogPath(node))
	if err != nil {
		return ""
	}
	defer f.Close()
	const window = 1 << 20 // enough for any sane number of lines
	if fi, err := f.Stat(); err == nil && fi.Size() > window {
		_, _ = f.Seek(-window, io.SeekEnd)
	}
	b, err := io.ReadAll(io.LimitReader(f, window))
	if err != nil {
		return ""
	}
	return lastLines(string(b), lines)
}

// lastLines returns the last n lines of s, each ending in a newline.
func lastLines(s string, n int) string {
	if s == "" {
		return ""
	}
	if s[len(s)-1] != '\n' {
		s += "\n"
	}
	end := len(s) - 1
	for i := end - 1; i >= 0; i-- {
		if s[i] == '\n' {
			n--
			if n == 0 {
				return s[i+1:]
			}
		}
	}
	return s
}

// save writes lab.json atomically. The caller holds l.mu.
func (l *Lab) save() error {
	st := stateFile{
		Name: l.Name, Dir: l.Dir, Links: l.Links, Binary: l.Binary,
		Nodes: l.Nodes, Client: l.Client, Args: l.args, Start: l.start, Watchdogs: l.dogs,
		HostNetns: l.hostNetns, TokenFile: l.TokenFile,
	}
	b, err := json.MarshalIndent(st, "", "\t")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(l.Dir, "lab.json"), append(b, '\n'), 0o644)
}

// writeFile replaces path with b atomically.
func writeFile(path string, b []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, perm); err != nil {
		return err
	}
	if err := os.Chmod(tmp, perm); err != nil { // WriteFile keeps an existing file's mode
		return err
	}
	return os.Rename(tmp, path)
}

func readState(dir string) (stateFile, error) {
	var st stateFile
	b, err := os.ReadFile(filepath.Join(dir, "lab.json"))
	if err != nil {
		return st, err
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, fmt.Errorf("%s: %w", filepath.Join(dir, "lab.json"), err)
	}
	return st, nil
}

func indexPath(dir, name string) string { return filepath.Join(dir, name+".json") }

func readIndex(dir, name string) (string, error) {
	b, err := os.ReadFile(indexPath(dir, name))
	if err != nil {
		return "", err
	}
	var ix index
	if err := json.Unmarshal(b, &ix); err != nil || ix.Dir == "" {
		return "", fmt.Errorf("index %s: no dir", indexPath(dir, name))
	}
	return ix.Dir, nil
}
