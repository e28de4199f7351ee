package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/lab"
)

// KeepalivedConfig is the classic Keepalived setup of the common guides,
// for one node: a VRRP instance holding the floating IP on eth0, MASTER
// with priority 100 on the first node and BACKUP with 90, 80, … on the
// others (preempting, the default), unicast to the other nodes' link-0
// addresses, and a track_script that checks the web service every second
// with weight -20, so that a node whose service fails drops below the next
// one. AdvertInt below a second needs VRRPv3, which has no
// authentication; at a whole second it is VRRPv2 with PASS authentication,
// as the guides write it.
type KeepalivedConfig struct {
	Node      string         // this node's name: router_id
	Index     int            // 0 for the first node (MASTER, priority 100)
	Self      netip.Addr     // this node's link-0 address
	Peers     []netip.Addr   // the other nodes' link-0 addresses
	VIP       netip.AddrPort // the floating IP (as a /24 on eth0) and the service's port
	AdvertInt time.Duration  // 1s or 100ms
	Check     string         // the track_script's command, which exits 0 when the service answers
}

// Render returns keepalived.conf.
func (c KeepalivedConfig) Render() []byte {
	var b strings.Builder
	v3 := c.AdvertInt%time.Second != 0
	state := "BACKUP"
	if c.Index == 0 {
		state = "MASTER"
	}
	fmt.Fprintf(&b, "# vigil lab bench: the classic Keepalived setup for %s\n", c.Node)
	fmt.Fprintf(&b, "global_defs {\n    router_id %s\n    script_user root\n", c.Node)
	if v3 {
		b.WriteString("    vrrp_version 3\n")
	}
	b.WriteString("}\n\n")
	fmt.Fprintf(&b, "vrrp_script chk_web {\n    script %q\n    interval 1\n    timeout 1\n    weight -20\n    fall 1\n    rise 1\n}\n\n", c.Check)
	b.WriteString("vrrp_instance VI_1 {\n")
	fmt.Fprintf(&b, "    state %s\n    interface eth0\n    virtual_router_id 51\n    priority %d\n", state, 100-10*c.Index)
	fmt.Fprintf(&b, "    advert_int %s\n", strconv.FormatFloat(c.AdvertInt.Seconds(), 'f', -1, 64))
	fmt.Fprintf(&b, "    unicast_src_ip %s\n    unicast_peer {\n", c.Self)
	for _, p := range c.Peers {
		fmt.Fprintf(&b, "        %s\n", p)
	}
	b.WriteString("    }\n")
	if !v3 {
		b.WriteString("    authentication {\n        auth_type PASS\n        auth_pass vigilbn\n    }\n")
	}
	fmt.Fprintf(&b, "    virtual_ipaddress {\n        %s/24 dev eth0\n    }\n", c.VIP.Addr())
	b.WriteString("    track_script {\n        chk_web\n    }\n}\n")
	return []byte(b.String())
}

// Keepalived runs Keepalived and the lab's demo web service (`vigil lab
// web`, listening on every address so that it answers on the floating IP
// wherever it is) on every lab node, in place of vigil's daemons, which
// must be stopped (StopVigil). A node kill is Lab.Kill, then Lab.PowerOn
// and a restart of both; a daemon kill is SIGKILL of keepalived's
// processes on the holder, which leaves the floating IP where it is (the
// kernel keeps it): the backup takes over and both hold it until Recover
// resets the node; a service kill is SIGKILL of the web service, which the
// track_script sees. Keepalived's processes are children of this one; call
// Stop when done.
type Keepalived struct {
	Lab       *lab.Lab
	Binary    string        // keepalived; default found on PATH or in /usr/sbin
	Vigil     string        // the vigil binary that serves and checks the web service (lab web, probe)
	AdvertInt time.Duration // default 1s
	VIP       netip.AddrPort
	// SystemName is the name in the results; default "keepalived", or
	// "keepalived-100ms" and so on for another AdvertInt.
	SystemName string
	Dir        string        // configs, pid files and logs; default Lab.Dir/<SystemName>
	Log        io.Writer     // a line per start and stop; may be nil
	ReadyLimit time.Duration // default 60s

	procs map[string]*nodeProcs
}

var _ System = (*Keepalived)(nil)

type nodeProcs struct {
	keepalived, web *child
}

// child is a process this one started, reaped by a goroutine of its own.
type child struct {
	cmd   *exec.Cmd
	start string // its start time, so that a reused PID is never signalled
	done  chan struct{}
}

func startChild(cmd *exec.Cmd, logPath string) (*child, error) {
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	defer f.Close() // the child has its own copy
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &unix.SysProcAttr{Setpgid: true} // a terminal's ^C goes to us; we stop it
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := &child{cmd: cmd, done: make(chan struct{})}
	c.start, _ = startTime(cmd.Process.Pid)
	go func() {
		_ = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the child has exited.
func (c *child) signal(sig unix.Signal) error {
	if c.exited() {
		return nil
	}
	return signalPID(c.cmd.Process.Pid, c.start, sig)
}

// wait waits up to d for the child to exit.
func (c *child) wait(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}

// stop ends the child: SIGTERM, up to grace, then SIGKILL.
func (c *child) stop(grace time.Duration) error {
	if c == nil || c.exited() {
		return nil
	}
	_ = c.signal(unix.SIGTERM)
	if c.wait(grace) {
		return nil
	}
	_ = c.signal(unix.SIGKILL)
	if c.wait(5 * time.Second) {
		return nil
	}
	return fmt.Errorf("pid %d did not exit after SIGKILL", c.cmd.Process.Pid)
}

func (k *Keepalived) fill() error {
	if k.AdvertInt == 0 {
		k.AdvertInt = time.Second
	}
	if !k.VIP.IsValid() {
		k.VIP = DefaultVIP
	}
	if k.SystemName == "" {
		k.SystemName = "keepalived"
		if k.AdvertInt != time.Second {
			k.SystemName += "-" + k.AdvertInt.String()
		}
	}
	if k.Dir == "" && k.Lab != nil {
		k.Dir = filepath.Join(k.Lab.Dir, k.SystemName)
	}
	if k.ReadyLimit == 0 {
		k.ReadyLimit = 60 * time.Second
	}
	if k.Binary == "" {
		p, err := FindKeepalived()
		if err != nil {
			return err
		}
		k.Binary = p
	}
	var errs []error
	if k.Lab == nil {
		errs = append(errs, errors.New("lab: required"))
	}
	if k.Vigil == "" {
		errs = append(errs, errors.New("vigil binary: required"))
	}
	if k.AdvertInt < 10*time.Millisecond || k.AdvertInt > 255*time.Second || k.AdvertInt%(10*time.Millisecond) != 0 {
		errs = append(errs, fmt.Errorf("advert_int %s: want 10ms..255s in steps of 10ms", k.AdvertInt))
	}
	return errors.Join(errs...)
}

// FindKeepalived returns the path of the keepalived executable, or an
// error saying how to install it.
func FindKeepalived() (string, error) {
	if p, err := exec.LookPath("keepalived"); err == nil {
		return p, nil
	}
	for _, p := range []string{"/usr/sbin/keepalived", "/sbin/keepalived"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() {
			return p, nil
		}
	}
	return "", errors.New("keepalived is not installed: install the Debian package (apt-get install keepalived)")
}

// EnsureKeepalived returns keepalived's path, installing the Debian
// package with apt-get first if it is missing (saying so on log). It fails
// with what to do if it cannot.
func EnsureKeepalived(ctx context.Context, log io.Writer) (string, error) {
	if p, err := FindKeepalived(); err == nil {
		return p, nil
	}
	if _, err := exec.LookPath("apt-get"); err != nil {
		return "", errors.New("keepalived is not installed and this machine has no apt-get: install keepalived, or run without --compare keepalived")
	}
	fmt.Fprintln(log, "keepalived is not installed: installing the Debian package (apt-get install -y keepalived)…")
	install := func() ([]byte, error) {
		cmd := exec.CommandContext(ctx, "apt-get", "install", "-y", "-q", "--no-install-recommends", "keepalived")
		cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
		return cmd.CombinedOutput()
	}
	out, err := install()
	if err != nil {
		fmt.Fprintln(log, "apt-get install failed; trying apt-get update first…")
		if uout, uerr := exec.CommandContext(ctx, "apt-get", "update", "-q").CombinedOutput(); uerr != nil {
			return "", fmt.Errorf("keepalived is not installed, and apt-get update failed (%v): %s\ninstall keepalived yourself, or run without --compare keepalived", uerr, lastLine(uout))
		}
		out, err = install()
	}
	if err != nil {
		return "", fmt.Errorf("keepalived is not installed, and apt-get install keepalived failed (%v): %s\ninstall it yourself, or run without --compare keepalived", err, lastLine(out))
	}
	p, err := FindKeepalived()
	if err != nil {
		return "", fmt.Errorf("apt-get installed keepalived, but: %w", err)
	}
	fmt.Fprintf(log, "keepalived installed: %s\n", p)
	return p, nil
}

func lastLine(b []byte) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	return lines[len(lines)-1]
}

// StopVigil stops every lab node's vigil daemon and resets the node
// (every process left in its namespace killed, floating addresses
// removed), so that another system can run on the lab's nodes.
func StopVigil(l *lab.Lab) error {
	var errs []error
	for _, n := range l.Nodes {
		errs = append(errs, l.StopDaemon(n.Name), l.Reset(n.Name))
	}
	return errors.Join(errs...)
}

// StartVigil starts every lab node's vigil daemon again after StopVigil.
func StartVigil(l *lab.Lab) error {
	var errs []error
	for _, n := range l.Nodes {
		errs = append(errs, l.Reset(n.Name), l.StartDaemon(n.Name))
	}
	return errors.Join(errs...)
}

// Name is SystemName.
func (k *Keepalived) Name() string {
	_ = k.fill()
	return k.SystemName
}

// Start writes every node's keepalived.conf and starts the web service and
// keepalived on every node. Vigil's daemons must be stopped.
func (k *Keepalived) Start(ctx context.Context) error {
	if err := k.fill(); err != nil {
		return fmt.Errorf("keepalived: %w", err)
	}
	k.procs = map[string]*nodeProcs{}
	for i := range k.Lab.Nodes {
		n := k.Lab.Nodes[i]
		if err := os.MkdirAll(k.nodeDir(n.Name), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(k.confPath(n.Name), k.config(i).Render(), 0o644); err != nil {
			return err
		}
	}
	for _, n := range k.Lab.Nodes {
		if err := k.startNode(ctx, n.Name); err != nil {
			return errors.Join(err, k.Stop())
		}
	}
	if k.Log != nil {
		fmt.Fprintf(k.Log, "%s: started keepalived (advert_int %s) and the web service on %d nodes; configs in %s\n",
			k.SystemName, k.AdvertInt, len(k.Lab.Nodes), k.Dir)
	}
	return nil
}

// config is node i's KeepalivedConfig.
func (k *Keepalived) config(i int) KeepalivedConfig {
	n := k.Lab.Nodes[i]
	c := KeepalivedConfig{Node: n.Name, Index: i, VIP: k.VIP, AdvertInt: k.AdvertInt,
		Check: fmt.Sprintf("%s probe --timeout 500ms http://127.0.0.1:%d/", k.Vigil, k.VIP.Port())}
	c.Self, _ = netip.ParseAddr(n.Address) // the lab's own addresses: always valid
	for j, m := range k.Lab.Nodes {
		if j != i {
			a, _ := netip.ParseAddr(m.Address)
			c.Peers = append(c.Peers, a)
		}
	}
	return c
}

func (k *Keepalived) nodeDir(node string) string { return filepath.Join(k.Dir, node) }
func (k *Keepalived) confPath(node string) string {
	return filepath.Join(k.Dir, node, "keepalived.conf")
}
func (k *Keepalived) logPath(node string) string { return filepath.Join(k.Dir, node, "keepalived.log") }
func (k *Keepalived) vrrpPID(node string) string { return filepath.Join(k.Dir, node, "vrrp.pid") }

// startNode starts whichever of the web service and keepalived is not
// running on node.
func (k *Keepalived) startNode(ctx context.Context, node string) error {
	p := k.procs[node]
	if p == nil {
		p = &nodeProcs{}
		k.procs[node] = p
	}
	if p.web == nil || p.web.exited() {
		if err := k.startWeb(ctx, node); err != nil {
			return err
		}
	}
	if p.keepalived == nil || p.keepalived.exited() {
		_ = os.Remove(k.vrrpPID(node))
		cmd, err := k.Lab.Command(context.WithoutCancel(ctx), node, k.Binary, "--dont-fork", "--log-console", "--log-detail",
			"--no-syslog", "--vrrp", "--use-file", k.confPath(node),
			"--pid", filepath.Join(k.nodeDir(node), "keepalived.pid"), "--vrrp_pid", k.vrrpPID(node),
			"--checkers_pid", filepath.Join(k.nodeDir(node), "checkers.pid"), "--bfd_pid", filepath.Join(k.nodeDir(node), "bfd.pid"))
		if err != nil {
			return err
		}
		c, err := startChild(cmd, k.logPath(node))
		if err != nil {
			return fmt.Errorf("start keepalived on %s: %w", node, err)
		}
		p.keepalived = c
	}
	return nil
}

func (k *Keepalived) startWeb(ctx context.Context, node string) error {
	cmd, err := k.Lab.Command(context.WithoutCancel(ctx), node, k.Vigil, "lab", "web", "--listen",
		netip.AddrPortFrom(netip.IPv4Unspecified(), k.VIP.Port()).String(), "--config", k.Lab.ConfigPath())
	if err != nil {
		return err
	}
	c, err := startChild(cmd, filepath.Join(k.nodeDir(node), "web.log"))
	if err != nil {
		return fmt.Errorf("start the web service on %s: %w", node, err)
	}
	k.procs[node].web = c
	return nil
}

// Stop ends keepalived and the web service on every node and resets every
// node, which removes the floating IP wherever it is left.
func (k *Keepalived) Stop() error {
	var errs []error
	for _, p := range k.procs {
		errs = append(errs, p.keepalived.stop(5*time.Second), p.web.stop(5*time.Second))
	}
	for _, n := range k.Lab.Nodes {
		errs = append(errs, k.Lab.Reset(n.Name))
	}
	if k.Log != nil {
		fmt.Fprintf(k.Log, "%s: stopped\n", k.SystemName)
	}
	return errors.Join(errs...)
}

// Ready waits until keepalived and the web service run on every node and,
// for a whole second, the floating IP is held by the first node alone
// (priority 100: it preempts once it is back and its service answers).
func (k *Keepalived) Ready(ctx context.Context) (string, error) {
	deadline := time.Now().Add(k.ReadyLimit)
	first := k.Lab.Nodes[0].Name
	var since time.Time
	why := "not looked yet"
	for time.Now().Before(deadline) {
		holders, err := k.holders(ctx)
		switch {
		case err != nil:
			why, since = err.Error(), time.Time{}
		case k.down() != "":
			why, since = k.down(), time.Time{}
		case len(holders) != 1 || holders[0] != first:
			why, since = fmt.Sprintf("the floating IP is held by %v, want %s alone", holders, first), time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= time.Second:
			return first, nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("%s did not settle within %s: %s\n%s", k.SystemName, k.ReadyLimit, why, k.Logs())
}

// down names a node whose keepalived or web service is not running, or "".
func (k *Keepalived) down() string {
	for _, n := range k.Lab.Nodes {
		p := k.procs[n.Name]
		switch {
		case p == nil || p.keepalived == nil || p.keepalived.exited():
			return n.Name + ": keepalived is not running"
		case p.web == nil || p.web.exited():
			return n.Name + ": the web service is not running"
		}
	}
	return ""
}

// holders lists the nodes whose namespace holds the floating IP.
func (k *Keepalived) holders(ctx context.Context) ([]string, error) {
	var out []string
	for _, n := range k.Lab.Nodes {
		b, err := exec.CommandContext(ctx, "ip", "-n", n.Netns, "-4", "-o", "addr", "show").Output()
		if err != nil {
			return nil, fmt.Errorf("addresses of %s: %w", n.Name, err)
		}
		if strings.Contains(string(b), " "+k.VIP.Addr().String()+"/") {
			out = append(out, n.Name)
		}
	}
	return out, nil
}

// Inject does f to node.
func (k *Keepalived) Inject(_ context.Context, f Fault, node string) error {
	p := k.procs[node]
	if p == nil {
		return fmt.Errorf("%s: not started on %s", k.SystemName, node)
	}
	switch f {
	case NodeKill:
		return k.Lab.Kill(node)
	case DaemonKill:
		return k.killKeepalived(node)
	case ServiceKill:
		return p.web.signal(unix.SIGKILL)
	}
	return fmt.Errorf("%s: no fault %q", k.SystemName, f)
}

// killKeepalived SIGKILLs keepalived's parent and its VRRP child on node.
// Both are stopped first: the parent would restart a child killed alone,
// and a child whose parent dies is sent SIGTERM and would leave cleanly,
// dropping the floating IP, which is not what a kill is.
func (k *Keepalived) killKeepalived(node string) error {
	parent := k.procs[node].keepalived
	var vrrp int
	if b, err := os.ReadFile(k.vrrpPID(node)); err == nil {
		vrrp, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	if vrrp < 2 {
		return fmt.Errorf("keepalived on %s: no VRRP child in %s", node, k.vrrpPID(node))
	}
	vstart, err := startTime(vrrp)
	if err != nil {
		return fmt.Errorf("keepalived's VRRP child on %s: %w", node, err)
	}
	if err := errors.Join(parent.signal(unix.SIGSTOP), signalPID(vrrp, vstart, unix.SIGSTOP)); err != nil {
		return err
	}
	return errors.Join(signalPID(vrrp, vstart, unix.SIGKILL), parent.signal(unix.SIGKILL))
}

// Recover powers node on again after a node kill, resets it after a daemon
// kill (the floating IP it kept goes), and restarts what is not running.
func (k *Keepalived) Recover(ctx context.Context, f Fault, node string) error {
	switch f {
	case NodeKill:
		if err := k.Lab.PowerOn(node); err != nil {
			return err
		}
	case DaemonKill:
		if err := k.Lab.Reset(node); err != nil {
			return err
		}
	case ServiceKill:
	default:
		return fmt.Errorf("%s: no fault %q", k.SystemName, f)
	}
	p := k.procs[node]
	gone := []*child{p.web} // killed, or reset with the node
	if f != ServiceKill {
		gone = append(gone, p.keepalived)
	}
	for _, c := range gone {
		if c != nil && !c.wait(10*time.Second) {
			return fmt.Errorf("pid %d on %s did not exit", c.cmd.Process.Pid, node)
		}
	}
	return k.startNode(ctx, node)
}

// Moves: the floating IP always moves.
func (k *Keepalived) Moves(Fault) bool { return true }

// Logs is the tail of every node's keepalived log.
func (k *Keepalived) Logs() string {
	var b strings.Builder
	for _, n := range k.Lab.Nodes {
		data, _ := os.ReadFile(k.logPath(n.Name))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s\n", n.Name, k.logPath(n.Name), strings.Join(lines, "\n"))
	}
	return b.String()
}
