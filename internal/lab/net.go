package lab

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"time"
)

// host runs the lab's commands. The real one runs them; the fake records
// them as text. Both are safe for concurrent use.
type host interface {
	// Run runs argv to completion, feeding it stdin, and returns its combined
	// output. It blocks until the command exits or ctx is done.
	Run(ctx context.Context, stdin string, argv ...string) ([]byte, error)
	// Spawn starts argv inside the network namespace netns (via `ip netns
	// exec`), with env added to the environment, in its own session, stdout
	// and stderr appended to logPath. It returns the PID once the process is
	// inside netns, without waiting for it to finish.
	Spawn(netns string, argv, env []string, logPath string) (int, error)
	// SpawnHost starts argv in this process's network namespace, in its own
	// session, stdout and stderr appended to logPath. It returns the PID once
	// the process holds the file at holds open (it waits up to 2 s), without
	// waiting for it to finish.
	SpawnHost(argv []string, logPath, holds string) (int, error)
}

// execHost runs commands for real. With netns set, Run and SpawnHost run
// them inside that network namespace (`nsenter --net`), through a handle
// that some process in it holds, checked to be that very namespace: a
// lab opened from inside a node's namespace reaches the host's links and
// starts watchdogs in the host's namespace. Spawn needs no such help:
// `ip netns exec` works from any namespace.
type execHost struct {
	netns *netnsRef // nil: this process's namespace
}

// command returns the command that runs argv in h's namespace, and what
// to call once it has started.
func (h execHost) command(ctx context.Context, argv []string) (*exec.Cmd, func(), error) {
	if h.netns == nil {
		return exec.CommandContext(ctx, argv[0], argv[1:]...), func() {}, nil
	}
	f, err := openNetns(h.netns.id())
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.CommandContext(ctx, "nsenter", append([]string{"--net=/proc/self/fd/3", "--"}, argv...)...)
	cmd.ExtraFiles = []*os.File{f} // fd 3
	return cmd, func() { f.Close() }, nil
}

// openNetns opens the network namespace id through the first process
// found in it. It reads /proc once: bounded by the number of processes.
func openNetns(id nsID) (*os.File, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		if e.Name()[0] < '0' || e.Name()[0] > '9' {
			continue
		}
		f, err := os.Open(filepath.Join("/proc", e.Name(), "ns", "net"))
		if err != nil {
			continue // gone, a zombie, or not ours to read
		}
		// The identity of the open file, not of the path: the process may
		// have gone, and its PID been reused, since the open.
		fi, err := f.Stat()
		if st, ok := fi.Sys().(*syscall.Stat_t); err == nil && ok && (nsID{dev: st.Dev, ino: st.Ino}) == id {
			return f, nil
		}
		f.Close()
	}
	return nil, fmt.Errorf("no process left in the lab's host network namespace (inode %d) to enter it by: run this from the host", id.ino)
}

func (h execHost) Run(ctx context.Context, stdin string, argv ...string) ([]byte, error) {
	cmd, started, err := h.command(ctx, argv)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	defer started()
	cmd.Stdin = strings.NewReader(stdin)
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s: %w: %s", strings.Join(argv, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

func (execHost) Spawn(netns string, argv, env []string, logPath string) (int, error) {
	id, err := netnsID(netns)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close() // the child has its own copy
	cmd := exec.Command("ip", append([]string{"netns", "exec", netns}, argv...)...)
	cmd.Env = append(cmd.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	if err := awaitNetns(cmd.Process.Pid, id); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait() // no copying goroutines: stdout and stderr are a file
		return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	pid := cmd.Process.Pid
	// From here on never waited on through cmd: the lab reaps its daemons
	// itself (proc.release, reapZombie), and once the caller exits they
	// belong to PID 1.
	_ = cmd.Process.Release()
	return pid, nil
}

func (h execHost) SpawnHost(argv []string, logPath, holds string) (int, error) {
	want, err := statID(holds)
	if err != nil {
		return 0, err
	}
	f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	// nsenter execs argv in its place: the PID is the watchdog's.
	cmd, started, err := h.command(context.Background(), argv)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	defer started()
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	if err := awaitOpen(cmd.Process.Pid, want); err != nil {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return 0, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	pid := cmd.Process.Pid
	_ = cmd.Process.Release() // reaped as the daemons are
	return pid, nil
}

// awaitOpen waits up to 2 s for process pid to hold the file id open.
func awaitOpen(pid int, id nsID) error {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	deadline := time.Now().Add(2 * time.Second)
	for {
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			if got, err := statID(filepath.Join(dir, e.Name())); err == nil && got == id {
				return nil
			}
		}
		if p, err := readProc(pid); err != nil || p.dead() {
			return errors.New("exited at once")
		}
		if !time.Now().Before(deadline) {
			return errors.New("has not opened its file after 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// awaitNetns waits up to 2 s for process pid, just spawned as `ip netns exec`,
// to enter the namespace id, so that from then on it counts as alive there.
func awaitNetns(pid int, id nsID) error {
	deadline := time.Now().Add(2 * time.Second)
	for {
		if got, err := statID(fmt.Sprintf("/proc/%d/ns/net", pid)); err == nil && got == id {
			return nil
		}
		if p, err := readProc(pid); err != nil || p.dead() {
			return errors.New("exited at once")
		}
		if !time.Now().Before(deadline) {
			return errors.New("not in its namespace after 2 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Interface names. The longest, NAME-n16l3, is 14 bytes: under IFNAMSIZ.
func bridgeName(lab string, link int) string     { return fmt.Sprintf("%s-b%d", lab, link) }
func vethName(lab, node string, link int) string { return fmt.Sprintf("%s-%sl%d", lab, node, link) }
func clientVeth(lab string, link int) string     { return fmt.Sprintf("%s-cl%d", lab, link) }

// ownLink reports whether the host interface ifc belongs to lab name.
func ownLink(name, ifc string) bool {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `-(b[0-9]+|n[0-9]+l[0-9]+|cl[0-9]+)$`).MatchString(ifc)
}

// ownNetns reports whether the namespace ns belongs to lab name.
func ownNetns(name, ns string) bool {
	return regexp.MustCompile(`^` + regexp.QuoteMeta(name) + `-(n[0-9]+|client)$`).MatchString(ns)
}

// hostScript is the `ip -batch` input that creates the namespaces, one bridge
// per link and the host side of every veth. The far end of each veth is
// created inside its namespace as eth<link>. addrgenmode none keeps IPv6
// link-local addresses off every lab interface: the lab uses 198.18.0.0/15 only.
func hostScript(l *Lab) string {
	var b strings.Builder
	for _, n := range l.Nodes {
		fmt.Fprintf(&b, "netns add %s\n", n.Netns)
	}
	fmt.Fprintf(&b, "netns add %s\n", l.Client.Netns)
	for i := range l.Links {
		br := bridgeName(l.Name, i)
		fmt.Fprintf(&b, "link add %s type bridge\n", br)
		fmt.Fprintf(&b, "link set %s addrgenmode none\n", br)
		fmt.Fprintf(&b, "link set %s up\n", br)
	}
	veth := func(name, ns string, link int) {
		fmt.Fprintf(&b, "link add %s type veth peer name eth%d netns %s\n", name, link, ns)
		fmt.Fprintf(&b, "link set %s addrgenmode none\n", name)
		fmt.Fprintf(&b, "link set %s master %s up\n", name, bridgeName(l.Name, link))
	}
	for _, n := range l.Nodes {
		for i := range l.Links {
			veth(vethName(l.Name, n.Name, i), n.Netns, i)
		}
	}
	veth(clientVeth(l.Name, 0), l.Client.Netns, 0)
	return b.String()
}

// netnsScript is the `ip -n NS -batch` input that addresses a namespace:
// addrs[i] goes on eth<i> as a /24.
func netnsScript(addrs []string) string {
	var b strings.Builder
	b.WriteString("link set lo up\n")
	for i, a := range addrs {
		fmt.Fprintf(&b, "link set eth%d addrgenmode none\n", i)
		fmt.Fprintf(&b, "addr add %s/24 dev eth%d\n", a, i)
		fmt.Fprintf(&b, "link set eth%d up\n", i)
	}
	return b.String()
}

// downScript is the `ip -batch` input that deletes links (veths before
// bridges, so no peer vanishes under us) and then namespaces.
func downScript(links, nss []string) string {
	links = slices.Clone(links)
	slices.SortFunc(links, func(a, b string) int {
		// Bridges (NAME-b…) last.
		ab, bb := strings.Contains(a, "-b"), strings.Contains(b, "-b")
		if ab != bb {
			if ab {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	var b strings.Builder
	for _, ifc := range links {
		fmt.Fprintf(&b, "link del %s\n", ifc)
	}
	for _, ns := range slices.Sorted(slices.Values(nss)) {
		fmt.Fprintf(&b, "netns del %s\n", ns)
	}
	return b.String()
}

// linkScript is the `ip -batch` input that sets the node's host-side veths up or down.
func linkScript(l *Lab, node string, state string) string {
	var b strings.Builder
	for i := range l.Links {
		fmt.Fprintf(&b, "link set %s %s\n", vethName(l.Name, node, i), state)
	}
	return b.String()
}

// listNetns returns the names of all named network namespaces.
func listNetns(ctx context.Context, h host) ([]string, error) {
	out, err := h.Run(ctx, "", "ip", "netns", "list")
	if err != nil {
		return nil, err
	}
	var nss []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			nss = append(nss, f[0]) // "vigil-n1 (id: 0)"
		}
	}
	return nss, nil
}

// listLinks returns the names of all host interfaces.
func listLinks(ctx context.Context, h host) ([]string, error) {
	out, err := h.Run(ctx, "", "ip", "-br", "link")
	if err != nil {
		return nil, err
	}
	var links []string
	for line := range strings.Lines(string(out)) {
		if f := strings.Fields(line); len(f) > 0 {
			name, _, _ := strings.Cut(f[0], "@") // "vigil-n1l0@if2"
			links = append(links, name)
		}
	}
	return links, nil
}

// leftovers lists the namespaces and host links of lab name that exist.
func leftovers(ctx context.Context, h host, name string) ([]string, error) {
	nss, err := listNetns(ctx, h)
	if err != nil {
		return nil, err
	}
	links, err := listLinks(ctx, h)
	if err != nil {
		return nil, err
	}
	var left []string
	for _, ns := range nss {
		if ownNetns(name, ns) {
			left = append(left, "netns "+ns)
		}
	}
	for _, ifc := range links {
		if ownLink(name, ifc) {
			left = append(left, "link "+ifc)
		}
	}
	return left, nil
}

// strayAddrScript returns the `ip -batch` input that removes every address in
// the output of `ip -j addr show` that is not the node's own: its lab address
// on each eth<i>, and 127.0.0.1/8 and ::1/128 on lo.
func strayAddrScript(n Node, ipJSON []byte) (string, error) {
	var ifcs []struct {
		Name  string `json:"ifname"`
		Addrs []struct {
			Local     string `json:"local"`
			Prefixlen int    `json:"prefixlen"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(ipJSON, &ifcs); err != nil {
		return "", fmt.Errorf("parse ip -j addr: %w", err)
	}
	keep := map[string]bool{"lo 127.0.0.1/8": true, "lo ::1/128": true}
	for i, a := range n.Addresses {
		keep[fmt.Sprintf("eth%d %s/24", i, a)] = true
	}
	var b strings.Builder
	for _, ifc := range ifcs {
		for _, a := range ifc.Addrs {
			p := fmt.Sprintf("%s/%d", a.Local, a.Prefixlen)
			if a.Local != "" && !keep[ifc.Name+" "+p] {
				fmt.Fprintf(&b, "addr del %s dev %s\n", p, ifc.Name)
			}
		}
	}
	return b.String(), nil
}

// nftables. Every lab rule lives in table inet vigil_lab inside a node's
// namespace, in base chains of its own per fault so that one fault is
// replaced or removed without touching another: partition_in and
// partition_out for Partition, loss for Loss.
const (
	nftTable  = "inet vigil_lab"
	chainIn   = "{ type filter hook input priority filter; policy accept; }"
	chainOut  = "{ type filter hook output priority filter; policy accept; }"
	partIn    = "partition_in"
	partOut   = "partition_out"
	lossChain = "loss"
)

// resetChains returns nft commands that leave the named chains existing and
// empty (add is idempotent; flush empties).
func resetChains(b *strings.Builder, chains ...[2]string) {
	fmt.Fprintf(b, "add table %s\n", nftTable)
	for _, c := range chains {
		fmt.Fprintf(b, "add chain %s %s %s\n", nftTable, c[0], c[1])
	}
	for _, c := range chains {
		fmt.Fprintf(b, "flush chain %s %s\n", nftTable, c[0])
	}
}

// dropChains returns an nft script that removes the named chains if present.
func dropChains(chains ...[2]string) string {
	var b strings.Builder
	resetChains(&b, chains...)
	for _, c := range chains {
		fmt.Fprintf(&b, "delete chain %s %s\n", nftTable, c[0])
	}
	return b.String()
}

// partitionScript returns the nft script for one node's namespace: drop
// traffic to and from every address of the nodes on the other side. label
// names the two sides for the rule comment.
func partitionScript(others []string, label string) string {
	var b strings.Builder
	resetChains(&b, [2]string{partIn, chainIn}, [2]string{partOut, chainOut})
	set := "{ " + strings.Join(others, ", ") + " }"
	fmt.Fprintf(&b, "add rule %s %s ip saddr %s drop comment %q\n", nftTable, partIn, set, label)
	fmt.Fprintf(&b, "add rule %s %s ip daddr %s drop comment %q\n", nftTable, partOut, set, label)
	return b.String()
}

// healScript removes the partition chains and keeps the loss chain.
func healScript() string {
	return dropChains([2]string{partIn, chainIn}, [2]string{partOut, chainOut})
}

// lossScript drops percent of the packets a node receives on its lab links
// (not lo); 0 removes the rule.
func lossScript(percent int) string {
	if percent == 0 {
		return dropChains([2]string{lossChain, chainIn})
	}
	var b strings.Builder
	resetChains(&b, [2]string{lossChain, chainIn})
	match := fmt.Sprintf("numgen random mod 100 < %d ", percent)
	if percent == 100 {
		match = "" // nft rejects "< 100": it is out of numgen's range 0-99
	}
	fmt.Fprintf(&b, "add rule %s %s iifname != \"lo\" %sdrop comment \"vigil lab loss %d%%\"\n",
		nftTable, lossChain, match, percent)
	return b.String()
}
