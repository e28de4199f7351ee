package lab

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// daemonPID returns the node's recorded daemon PID if that daemon is alive, else 0.
// The caller holds l.mu.
func (l *Lab) daemonPID(n Node) int {
	id, err := netnsID(n.Netns)
	if err != nil || !alive(n.PID, l.start[n.Name], id) {
		reapZombie(n.PID)
		return 0
	}
	return n.PID
}

// Env returns the environment that makes `vigil` commands talk to the node's
// daemon: VIGIL_SOCKET and VIGIL_CONFIG. For "client" it is VIGIL_CONFIG
// only; for an unknown node, nil.
func (l *Lab) Env(node string) []string {
	if node == "client" {
		return []string{"VIGIL_CONFIG=" + l.ConfigPath()}
	}
	if _, err := l.node(node); err != nil {
		return nil
	}
	return []string{"VIGIL_SOCKET=" + l.SocketPath(node), "VIGIL_CONFIG=" + l.ConfigPath()}
}

// netns returns the namespace of node, or of the client for "client".
func (l *Lab) netns(node string) (string, error) {
	if node == "client" {
		return l.Client.Netns, nil
	}
	i, err := l.node(node)
	if err != nil {
		return "", err
	}
	return l.Nodes[i].Netns, nil
}

// Command returns a command that runs argv inside the namespace of node
// ("client" for the client namespace) via `ip netns exec`, with Env(node)
// added to the inherited environment.
func (l *Lab) Command(ctx context.Context, node string, argv ...string) (*exec.Cmd, error) {
	if len(argv) == 0 {
		return nil, fmt.Errorf("lab %s: command on %s: empty argv", l.Name, node)
	}
	ns, err := l.netns(node)
	if err != nil {
		return nil, fmt.Errorf("lab %s: command: %w", l.Name, err)
	}
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(cmd.Environ(), l.Env(node)...)
	return cmd, nil
}

// StartDaemon starts the node's daemon inside its namespace, in its own
// session, stdout and stderr appended to LogPath, and records its PID in
// lab.json. It returns an error if the daemon is already running, or if it
// exits before it is seen inside its namespace (the error then quotes the
// log). It first starts the node's watchdog if that is not running, and
// waits until the watchdog is done with the daemon before (idle). It does
// not wait for the daemon to be ready. It refuses a node that the lab's
// fencer holds powered off (see FenceAgent): Revive powers it on.
func (l *Lab) StartDaemon(node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	unlock, err := lockFile(ctx, l.fencerLockPath())
	if err != nil {
		return fmt.Errorf("lab %s: start daemon on %s: %w", l.Name, node, err)
	}
	defer unlock()
	if off, err := l.heldOff(node); err != nil {
		return fmt.Errorf("lab %s: start daemon on %s: %w", l.Name, node, err)
	} else if off {
		return fmt.Errorf("lab %s: start daemon on %s: the lab's fencer holds %s powered off; `vigil lab revive %s` (or the fence agent's action=on) powers it on", l.Name, node, node, node)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.startDaemon(node); err != nil {
		return fmt.Errorf("lab %s: start daemon on %s: %w", l.Name, node, err)
	}
	return nil
}

// startDaemon does StartDaemon's work; the caller holds l.mu.
func (l *Lab) startDaemon(node string) error {
	i, err := l.node(node)
	if err != nil {
		return err
	}
	n := l.Nodes[i]
	if pid := l.daemonPID(n); pid != 0 {
		return fmt.Errorf("already running as pid %d", pid)
	}
	// The watchdog first, and done with any daemon before this one, so that
	// the FIFO has its reader when the daemon opens it.
	if err := l.ensureWatchdog(node); err != nil {
		return err
	}
	if err := l.awaitWatchdog(node); err != nil {
		return err
	}
	argv := append([]string{l.Binary}, l.args[node]...)
	header := fmt.Sprintf("--- vigil lab: %s starting %s in %s\n", time.Now().UTC().Format(time.RFC3339), strings.Join(argv, " "), n.Netns)
	if err := appendFile(l.LogPath(node), header); err != nil {
		return err
	}
	pid, err := l.host.Spawn(n.Netns, argv, l.Env(node), l.LogPath(node))
	if err != nil {
		return fmt.Errorf("%w; log %s ends:\n%s", err, l.LogPath(node), l.LogTail(node, 5))
	}
	var start uint64
	if p, err := readProc(pid); err == nil {
		start = p.start
	}
	l.Nodes[i].PID = pid
	l.start[node] = start
	l.log.Info("daemon started", "node", node, "pid", pid)
	return l.save()
}

func appendFile(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(s)
	return errors.Join(err, f.Close())
}

// StopDaemon stops the node's daemon: SIGTERM, up to 5 s for it to exit,
// then SIGKILL. It returns nil if the daemon is not running.
func (l *Lab) StopDaemon(node string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	i, err := l.node(node)
	if err != nil {
		return fmt.Errorf("lab %s: stop daemon: %w", l.Name, err)
	}
	n := l.Nodes[i]
	if n.PID == 0 {
		return nil
	}
	if id, err := netnsID(n.Netns); err == nil {
		if p, ok := pin(n.PID, l.start[node], id); ok {
			ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
			defer cancel()
			if err := terminate(ctx, []proc{p}, 5*time.Second); err != nil {
				return fmt.Errorf("lab %s: stop daemon on %s: %w", l.Name, node, err)
			}
			l.log.Info("daemon stopped", "node", node, "pid", n.PID)
		} else {
			reapZombie(n.PID)
		}
	}
	l.Nodes[i].PID = 0
	delete(l.start, node)
	return l.save()
}

// Kill simulates power loss: it freezes (SIGSTOP) every process in the node's
// namespace and sets the node's host-side veths down. The frozen daemon still
// counts as running in Status, until the node's watchdog, which runs outside
// the namespace and is not frozen, sees it stop feeding and resets the node
// (if the daemon fed it: see Options.Watchdog), as a real watchdog would
// reset a hung machine.
func (l *Lab) Kill(node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := l.freeze(ctx, node); err != nil {
		return fmt.Errorf("lab %s: kill %s: %w", l.Name, node, err)
	}
	l.log.Info("node killed", "node", node)
	return nil
}

// freeze does Kill's work.
func (l *Lab) freeze(ctx context.Context, node string) error {
	i, err := l.node(node)
	if err != nil {
		return err
	}
	ns := l.Nodes[i].Netns
	id, err := netnsID(ns)
	if err != nil {
		return err
	}
	// Rescan until nothing in the namespace runs: a process may fork while
	// its siblings are being stopped.
	for round := 0; ; round++ {
		ps := procsIn([]nsID{id})
		var running []proc
		for _, p := range ps {
			if info, err := readProc(p.pid); err == nil && !info.dead() && info.state != 'T' && info.state != 't' {
				running = append(running, p)
			}
		}
		var errs []error
		for _, p := range running {
			errs = append(errs, p.signal(unix.SIGSTOP))
		}
		releaseAll(ps)
		if err := errors.Join(errs...); err != nil {
			return err
		}
		if len(running) == 0 {
			break
		}
		if round == 20 {
			return fmt.Errorf("processes still running in %s after %d rounds of SIGSTOP", ns, round)
		}
		t := time.NewTimer(10 * time.Millisecond) // let the stops land
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	_, err = l.host.Run(ctx, linkScript(l, node, "down"), "ip", "-batch", "-")
	return err
}

// Revive brings power back after Kill: it SIGKILLs every process in the
// node's namespace, sets its veths up, removes every address on its
// interfaces but its own lab addresses (a VIP does not survive a reboot) and
// starts the daemon, once the node's watchdog is done with the old one.
// Partition and loss rules stay: they model the network, not the node.
// It powers on a node that the lab's fencer powered off, too, and the
// fencer no longer holds it off.
func (l *Lab) Revive(node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	unlock, err := lockFile(ctx, l.fencerLockPath())
	if err != nil {
		return fmt.Errorf("lab %s: revive %s: %w", l.Name, node, err)
	}
	defer unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.revive(ctx, node); err != nil {
		return fmt.Errorf("lab %s: revive %s: %w", l.Name, node, err)
	}
	if err := l.release(node); err != nil {
		return fmt.Errorf("lab %s: revive %s: fencer: %w", l.Name, node, err)
	}
	l.log.Info("node revived", "node", node)
	return nil
}

// revive does Revive's work; the caller holds l.mu.
func (l *Lab) revive(ctx context.Context, node string) error {
	i, err := l.node(node)
	if err != nil {
		return err
	}
	n := l.Nodes[i]
	if err := l.killNetns(ctx, n); err != nil {
		return err
	}
	if _, err := l.host.Run(ctx, linkScript(l, node, "up"), "ip", "-batch", "-"); err != nil {
		return err
	}
	if err := l.dropStrayAddrs(ctx, n); err != nil {
		return err
	}
	return l.startDaemon(node)
}

// reset does to the node what a watchdog's reset does to a machine, short
// of booting it again: it SIGKILLs every process in the node's namespace
// and removes every address there but its own lab addresses. Links and
// nftables rules stay. Invariant 1 rests on it: a daemon that can no longer
// guarantee its lease leaves no floating IP behind.
func (l *Lab) reset(ctx context.Context, n Node) error {
	return errors.Join(l.killNetns(ctx, n), l.dropStrayAddrs(ctx, n))
}

// killNetns SIGKILLs every process in the node's namespace and waits up to
// 2 s for them to exit.
func (l *Lab) killNetns(ctx context.Context, n Node) error {
	id, err := netnsID(n.Netns)
	if err != nil {
		return err
	}
	ps := procsIn([]nsID{id})
	err = kill(ctx, ps)
	releaseAll(ps)
	return err
}

// dropStrayAddrs removes every address in the node's namespace but its own
// (strayAddrScript): a VIP does not survive a reboot.
func (l *Lab) dropStrayAddrs(ctx context.Context, n Node) error {
	out, err := l.host.Run(ctx, "", "ip", "-n", n.Netns, "-j", "addr", "show")
	if err != nil {
		return err
	}
	script, err := strayAddrScript(n, out)
	if err != nil {
		return err
	}
	if script != "" {
		if _, err := l.host.Run(ctx, script, "ip", "-n", n.Netns, "-batch", "-"); err != nil {
			return err
		}
	}
	return nil
}

// nft runs an nft script inside the namespace ns.
func (l *Lab) nft(ctx context.Context, ns, script string) error {
	_, err := l.host.Run(ctx, script, "ip", "netns", "exec", ns, "nft", "-f", "-")
	return err
}

// Partition cuts the listed nodes off from all the other nodes, on every
// link: in every node's namespace, chains of table inet vigil_lab drop
// traffic to and from the other side's addresses. The client namespace is
// untouched. A new Partition replaces the previous one.
func (l *Lab) Partition(nodes ...string) error {
	if err := l.partition(nodes); err != nil {
		return fmt.Errorf("lab %s: partition %s: %w", l.Name, strings.Join(nodes, " "), err)
	}
	l.log.Info("partitioned", "nodes", nodes)
	return nil
}

func (l *Lab) partition(nodes []string) error {
	scripts, err := partitionScripts(l, nodes)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for _, n := range l.Nodes {
		if err := l.nft(ctx, n.Netns, scripts[n.Name]); err != nil {
			return err
		}
	}
	return nil
}

// partitionScripts returns the nft script of every node for Partition(side...).
func partitionScripts(l *Lab, side []string) (map[string]string, error) {
	if len(side) == 0 {
		return nil, errors.New("no nodes given")
	}
	in := map[string]bool{}
	for _, name := range side {
		if _, err := l.node(name); err != nil {
			return nil, err
		}
		if in[name] {
			return nil, fmt.Errorf("node %s given twice", name)
		}
		in[name] = true
	}
	if len(in) == len(l.Nodes) {
		return nil, errors.New("every node is on one side")
	}
	var a, b []string
	for _, n := range l.Nodes {
		if in[n.Name] {
			a = append(a, n.Name)
		} else {
			b = append(b, n.Name)
		}
	}
	label := fmt.Sprintf("vigil lab partition: %s | %s", strings.Join(a, " "), strings.Join(b, " "))
	scripts := map[string]string{}
	for _, n := range l.Nodes {
		var others []string
		for _, m := range l.Nodes {
			if in[m.Name] != in[n.Name] {
				others = append(others, m.Addresses...)
			}
		}
		slices.SortFunc(others, compareAddr)
		scripts[n.Name] = partitionScript(others, label)
	}
	return scripts, nil
}

// compareAddr orders addresses numerically: by link, then host.
func compareAddr(a, b string) int {
	x, _ := netip.ParseAddr(a) // the lab's own addresses: always valid
	y, _ := netip.ParseAddr(b)
	return x.Compare(y)
}

// Heal removes the partition from every node and keeps loss rules.
func (l *Lab) Heal() error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	for _, n := range l.Nodes {
		if err := l.nft(ctx, n.Netns, healScript()); err != nil {
			return fmt.Errorf("lab %s: heal %s: %w", l.Name, n.Name, err)
		}
	}
	l.log.Info("healed")
	return nil
}

// Loss makes the node drop percent (0..100) of the packets it receives on its
// lab links, at random; 0 removes the rule. A new Loss replaces the previous one.
func (l *Lab) Loss(node string, percent int) error {
	if percent < 0 || percent > 100 {
		return fmt.Errorf("lab %s: loss %d%% on %s: want 0..100", l.Name, percent, node)
	}
	i, err := l.node(node)
	if err != nil {
		return fmt.Errorf("lab %s: loss: %w", l.Name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	if err := l.nft(ctx, l.Nodes[i].Netns, lossScript(percent)); err != nil {
		return fmt.Errorf("lab %s: loss %d%% on %s: %w", l.Name, percent, node, err)
	}
	l.log.Info("loss set", "node", node, "percent", percent)
	return nil
}
