package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
)

// fakeHost records commands as text and answers them from out.
type fakeHost struct {
	mu  sync.Mutex
	log strings.Builder
	out map[string]string // command line → its output
	pid int
}

func (f *fakeHost) Run(_ context.Context, stdin string, argv ...string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	line := strings.Join(argv, " ")
	fmt.Fprintf(&f.log, "$ %s\n%s", line, stdin)
	return []byte(f.out[line]), nil
}

func (f *fakeHost) Spawn(netns string, argv, env []string, logPath string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.log, "spawn in %s: %s\n", netns, strings.Join(argv, " "))
	fmt.Fprintf(&f.log, "  env %s\n  log %s\n", strings.Join(env, " "), logPath)
	f.pid++
	return 5_000_000 + f.pid, nil // above any pid_max: never a real process
}

func (f *fakeHost) SpawnHost(argv []string, logPath, holds string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fmt.Fprintf(&f.log, "spawn on host: %s\n", strings.Join(argv, " "))
	fmt.Fprintf(&f.log, "  log %s\n  holds %s\n", logPath, holds)
	f.pid++
	return 5_000_000 + f.pid, nil
}

func (f *fakeHost) take() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.log.String()
	f.log.Reset()
	return s
}

// fakeLab brings up a lab on a fakeHost, with DIR and the index in temp dirs.
func fakeLab(t *testing.T, o Options) (*Lab, *fakeHost, system) {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	o.Dir = filepath.Join(dir, "lab")
	o.Binary = bin
	fh := &fakeHost{out: map[string]string{}}
	sys := system{host: fh, indexDir: filepath.Join(dir, "run")}
	l, err := up(context.Background(), o, sys)
	if err != nil {
		t.Fatal(err)
	}
	return l, fh, sys
}

func diff(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n--- got\n%s--- want\n%s", what, got, want)
	}
}

func TestUpCommands(t *testing.T) {
	var nodes []Node
	l, fh, _ := fakeLab(t, Options{Name: "vt", Nodes: 2, Links: 2, Config: func(ns []Node) ([]byte, error) {
		nodes = ns
		return []byte("cluster: vt\n"), nil
	}})
	dir := filepath.Dir(l.Dir)
	got := strings.ReplaceAll(fh.take(), dir, "T")
	want := `$ ip netns list
$ ip -br link
$ ip -batch -
netns add vt-n1
netns add vt-n2
netns add vt-client
link add vt-b0 type bridge
link set vt-b0 addrgenmode none
link set vt-b0 up
link add vt-b1 type bridge
link set vt-b1 addrgenmode none
link set vt-b1 up
link add vt-n1l0 type veth peer name eth0 netns vt-n1
link set vt-n1l0 addrgenmode none
link set vt-n1l0 master vt-b0 up
link add vt-n1l1 type veth peer name eth1 netns vt-n1
link set vt-n1l1 addrgenmode none
link set vt-n1l1 master vt-b1 up
link add vt-n2l0 type veth peer name eth0 netns vt-n2
link set vt-n2l0 addrgenmode none
link set vt-n2l0 master vt-b0 up
link add vt-n2l1 type veth peer name eth1 netns vt-n2
link set vt-n2l1 addrgenmode none
link set vt-n2l1 master vt-b1 up
link add vt-cl0 type veth peer name eth0 netns vt-client
link set vt-cl0 addrgenmode none
link set vt-cl0 master vt-b0 up
$ ip -n vt-n1 -batch -
link set lo up
link set eth0 addrgenmode none
addr add 198.18.0.1/24 dev eth0
link set eth0 up
link set eth1 addrgenmode none
addr add 198.18.1.1/24 dev eth1
link set eth1 up
$ ip -n vt-n2 -batch -
link set lo up
link set eth0 addrgenmode none
addr add 198.18.0.2/24 dev eth0
link set eth0 up
link set eth1 addrgenmode none
addr add 198.18.1.2/24 dev eth1
link set eth1 up
$ ip -n vt-client -batch -
link set lo up
link set eth0 addrgenmode none
addr add 198.18.0.250/24 dev eth0
link set eth0 up
spawn on host: T/vigil lab watchdog --name vt --node n1 --timeout 200ms
  log T/lab/n1/watchdog.log
  holds T/lab/n1/watchdog
spawn in vt-n1: T/vigil daemon --config T/lab/vigil.yaml --node n1 --data-dir T/lab/n1/data --socket T/lab/n1/vigil.sock
  env VIGIL_SOCKET=T/lab/n1/vigil.sock VIGIL_CONFIG=T/lab/vigil.yaml
  log T/lab/n1/daemon.log
spawn on host: T/vigil lab watchdog --name vt --node n2 --timeout 200ms
  log T/lab/n2/watchdog.log
  holds T/lab/n2/watchdog
spawn in vt-n2: T/vigil daemon --config T/lab/vigil.yaml --node n2 --data-dir T/lab/n2/data --socket T/lab/n2/vigil.sock
  env VIGIL_SOCKET=T/lab/n2/vigil.sock VIGIL_CONFIG=T/lab/vigil.yaml
  log T/lab/n2/daemon.log
`
	diff(t, "commands", got, want)

	wantNodes := []Node{
		{Name: "n1", Netns: "vt-n1", Address: "198.18.0.1", Addresses: []string{"198.18.0.1", "198.18.1.1"}, Dir: filepath.Join(l.Dir, "n1")},
		{Name: "n2", Netns: "vt-n2", Address: "198.18.0.2", Addresses: []string{"198.18.0.2", "198.18.1.2"}, Dir: filepath.Join(l.Dir, "n2")},
	}
	if !reflect.DeepEqual(nodes, wantNodes) {
		t.Errorf("Config got nodes\n%+v\nwant\n%+v", nodes, wantNodes)
	}
	if l.Client != (Client{Netns: "vt-client", Address: "198.18.0.250"}) {
		t.Errorf("client = %+v", l.Client)
	}
	for path, want := range map[string]string{l.ConfigPath(): "cluster: vt\n"} {
		b, err := os.ReadFile(path)
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", path, b, err, want)
		}
	}
	for _, path := range []string{l.ConfigPath(), l.SecretPath()} {
		if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", path, fi.Mode(), err)
		}
	}
	secret, _ := os.ReadFile(l.SecretPath())
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).Match(secret) {
		t.Errorf("secret %q: want 64 hex digits", secret)
	}
	if got := l.LogTail("n1", 1); !strings.HasPrefix(got, "--- vigil lab: ") || !strings.Contains(got, "--node n1") {
		t.Errorf("LogTail(n1, 1) = %q; want the start header", got)
	}
}

func TestUpTwiceAndDown(t *testing.T) {
	l, fh, sys := fakeLab(t, Options{Name: "vt", Nodes: 2, Links: 1})
	fh.take()

	// Open in "another process" sees what Up recorded.
	o, err := open("vt", sys)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(o.Nodes, l.Nodes) || o.Dir != l.Dir || o.Binary != l.Binary || o.Links != 1 ||
		o.Client != l.Client || !reflect.DeepEqual(o.args, l.args) {
		t.Errorf("Open = %+v\nwant %+v", o, l)
	}
	if o.Nodes[0].PID != 5_000_002 || o.Nodes[1].PID != 5_000_004 { // after each its watchdog
		t.Errorf("recorded PIDs %d %d; want the spawned ones", o.Nodes[0].PID, o.Nodes[1].PID)
	}
	if st := o.Status(); st[0].PID != 0 || st[1].PID != 0 {
		t.Errorf("Status PIDs %d %d; want 0 (no such process)", st[0].PID, st[1].PID)
	}

	_, err = up(context.Background(), Options{Name: "vt", Binary: l.Binary, Dir: t.TempDir()}, sys)
	if err == nil || !strings.Contains(err.Error(), "already exists") || !strings.Contains(err.Error(), l.Dir) {
		t.Errorf("second Up: %v; want already exists naming %s", err, l.Dir)
	}

	fh.out["ip netns list"] = "vt-n2 (id: 1)\nvt-n1 (id: 0)\nvt-client\nvt2-n1\nvtx-n1\nvt-n1x\nother\n"
	fh.out["ip -br link"] = "lo UNKNOWN 00:00:00:00:00:00 <LOOPBACK,UP,LOWER_UP>\n" +
		"vt-b0 UP x <>\nvt-n1l0@if2 UP x <>\nvt-cl0@if2 UP x <>\nvt-n2l0@if3 UP x <>\n" +
		"vt2-b0 UP x <>\nvt-bx UP x <>\neth0 UP x <>\n"
	fh.take()
	if err := down(context.Background(), "vt", false, sys); err != nil {
		t.Fatal(err)
	}
	diff(t, "down", fh.take(), `$ ip netns list
$ ip -br link
$ ip -force -batch -
link del vt-cl0
link del vt-n1l0
link del vt-n2l0
link del vt-b0
netns del vt-client
netns del vt-n1
netns del vt-n2
`)
	if _, err := open("vt", sys); !errors.Is(err, ErrNoLab) {
		t.Errorf("Open after Down: %v; want ErrNoLab", err)
	}
	if _, err := os.Stat(filepath.Join(l.Dir, "lab.json")); err != nil {
		t.Errorf("Down without purge removed lab.json: %v", err)
	}
	// Down on nothing; then purge finds DIR through... nothing: the index is
	// gone and DIR is not the default, so DIR stays.
	delete(fh.out, "ip netns list")
	delete(fh.out, "ip -br link")
	if err := down(context.Background(), "vt", true, sys); err != nil {
		t.Errorf("Down on nothing: %v", err)
	}
	if _, err := os.Stat(l.Dir); err != nil {
		t.Errorf("DIR: %v", err)
	}
}

func TestDownPurge(t *testing.T) {
	l, _, sys := fakeLab(t, Options{Name: "vt", Nodes: 1, Links: 1})
	if err := down(context.Background(), "vt", true, sys); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(l.Dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DIR after purge: %v; want gone", err)
	}
}

func TestUpLeftovers(t *testing.T) {
	dir := t.TempDir()
	fh := &fakeHost{out: map[string]string{"ip -br link": "vt-b1 DOWN x <>\n"}}
	sys := system{host: fh, indexDir: filepath.Join(dir, "run")}
	_, err := up(context.Background(), Options{Name: "vt", Binary: "/bin/sh", Dir: dir}, sys)
	if err == nil || !strings.Contains(err.Error(), "link vt-b1") {
		t.Fatalf("Up over a stray bridge: %v; want an error naming it", err)
	}
	if _, err := os.Stat(indexPath(sys.indexDir, "vt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("index left behind: %v", err)
	}
	if got := fh.take(); strings.Contains(got, "link add") || strings.Contains(got, "del") {
		t.Errorf("Up built or deleted something:\n%s", got)
	}
}

func TestUpFailureTearsDown(t *testing.T) {
	dir := t.TempDir()
	fh := &fakeHost{out: map[string]string{}}
	sys := system{host: fh, indexDir: filepath.Join(dir, "run")}
	_, err := up(context.Background(), Options{Name: "vt", Binary: "/bin/sh", Dir: dir, Nodes: 1, Links: 1,
		Config: func([]Node) ([]byte, error) { return nil, errors.New("bad resource") }}, sys)
	if err == nil || !strings.Contains(err.Error(), "bad resource") {
		t.Fatalf("Up: %v; want the config error", err)
	}
	if _, err := os.Stat(indexPath(sys.indexDir, "vt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("index left behind: %v", err)
	}
}

func TestOptions(t *testing.T) {
	l, err := newLab(Options{Binary: "/usr/bin/vigil"})
	if err != nil {
		t.Fatal(err)
	}
	if l.Name != "vigil" || l.Dir != "/var/lib/vigil/lab/vigil" || len(l.Nodes) != 3 || l.Links != 2 {
		t.Errorf("defaults: name %s dir %s nodes %d links %d", l.Name, l.Dir, len(l.Nodes), l.Links)
	}
	for _, tc := range []struct {
		o    Options
		want string
	}{
		{Options{Name: "Vigil", Binary: "x"}, `lab name "Vigil"`},
		{Options{Nodes: 17, Binary: "x"}, "nodes 17: want 1..16"},
		{Options{Nodes: -1, Binary: "x"}, "nodes -1"},
		{Options{Links: 5, Binary: "x"}, "links 5: want 1..4"},
		{Options{}, "binary: required"},
		{Options{Binary: "x", Dir: "/" + strings.Repeat("d", 100)}, "longer than 107 bytes"},
	} {
		if _, err := newLab(tc.o); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("newLab(%+v) = %v; want %q", tc.o, err, tc.want)
		}
	}
	if _, err := newLab(Options{Name: "a-b", Nodes: 99}); err == nil || strings.Count(err.Error(), "\n") != 2 {
		t.Errorf("want all three problems joined, got %v", err)
	}
}

func TestNames(t *testing.T) {
	for name, want := range map[string]bool{
		"vigil": true, "a": true, "abcdefgh": true, "a1": true, "x9y8": true,
		"": false, "abcdefghi": false, "1a": false, "a-b": false, "A": false, "vigil_": false, "é": false,
	} {
		if got := validName(name); got != want {
			t.Errorf("validName(%q) = %v; want %v", name, got, want)
		}
	}
	// The longest names fit IFNAMSIZ (15 bytes and a NUL).
	l, err := newLab(Options{Name: "abcdefgh", Nodes: maxNodes, Links: maxLinks, Binary: "/x"})
	if err != nil {
		t.Fatal(err)
	}
	var longest string
	for line := range strings.Lines(hostScript(l)) {
		if f := strings.Fields(line); f[0] == "link" && f[1] == "add" {
			if len(f[2]) > len(longest) {
				longest = f[2]
			}
			if len(f[2]) > 15 {
				t.Errorf("interface %s is %d bytes; max 15", f[2], len(f[2]))
			}
			if !ownLink(l.Name, f[2]) {
				t.Errorf("ownLink(%s) = false for a lab link", f[2])
			}
		}
	}
	if len(longest) != len("abcdefgh-n16l3") {
		t.Errorf("longest interface %s", longest)
	}
	for _, n := range l.Nodes {
		if !ownNetns(l.Name, n.Netns) {
			t.Errorf("ownNetns(%s) = false", n.Netns)
		}
	}
	if got := l.Nodes[15].Addresses; !slices.Equal(got, []string{"198.18.0.16", "198.18.1.16", "198.18.2.16", "198.18.3.16"}) {
		t.Errorf("n16 addresses %v", got)
	}
	for _, s := range []string{"abcdefgh2-b0", "abcdefgh-b", "abcdefgh-n", "abcdefgh-client0", "eth0", "abcdefgh-n1l0x"} {
		if ownLink("abcdefgh", s) || ownNetns("abcdefgh", s) {
			t.Errorf("%s taken for a lab's own", s)
		}
	}
}

func testLab(t *testing.T, nodes, links int) *Lab {
	t.Helper()
	l, err := newLab(Options{Name: "vt", Nodes: nodes, Links: links, Binary: "/x", Dir: "/lab"})
	if err != nil {
		t.Fatal(err)
	}
	l.host = &fakeHost{}
	return l
}

func TestPartitionScripts(t *testing.T) {
	l := testLab(t, 3, 2)
	if err := l.Partition("n1"); err != nil {
		t.Fatal(err)
	}
	want := ""
	n1 := `add table inet vigil_lab
add chain inet vigil_lab partition_in { type filter hook input priority filter; policy accept; }
add chain inet vigil_lab partition_out { type filter hook output priority filter; policy accept; }
flush chain inet vigil_lab partition_in
flush chain inet vigil_lab partition_out
add rule inet vigil_lab partition_in ip saddr { 198.18.0.2, 198.18.0.3, 198.18.1.2, 198.18.1.3 } drop comment "vigil lab partition: n1 | n2 n3"
add rule inet vigil_lab partition_out ip daddr { 198.18.0.2, 198.18.0.3, 198.18.1.2, 198.18.1.3 } drop comment "vigil lab partition: n1 | n2 n3"
`
	other := `add table inet vigil_lab
add chain inet vigil_lab partition_in { type filter hook input priority filter; policy accept; }
add chain inet vigil_lab partition_out { type filter hook output priority filter; policy accept; }
flush chain inet vigil_lab partition_in
flush chain inet vigil_lab partition_out
add rule inet vigil_lab partition_in ip saddr { 198.18.0.1, 198.18.1.1 } drop comment "vigil lab partition: n1 | n2 n3"
add rule inet vigil_lab partition_out ip daddr { 198.18.0.1, 198.18.1.1 } drop comment "vigil lab partition: n1 | n2 n3"
`
	want = "$ ip netns exec vt-n1 nft -f -\n" + n1 +
		"$ ip netns exec vt-n2 nft -f -\n" + other +
		"$ ip netns exec vt-n3 nft -f -\n" + other
	diff(t, "Partition(n1)", l.host.(*fakeHost).take(), want)

	for _, tc := range []struct {
		side []string
		want string
	}{
		{nil, "no nodes given"},
		{[]string{"n4"}, `no node "n4"`},
		{[]string{"client"}, `no node "client"`},
		{[]string{"n1", "n1"}, "n1 given twice"},
		{[]string{"n1", "n2", "n3"}, "every node is on one side"},
	} {
		if err := l.Partition(tc.side...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Partition(%v) = %v; want %q", tc.side, err, tc.want)
		}
	}
	if got := l.host.(*fakeHost).take(); got != "" {
		t.Errorf("bad partitions ran:\n%s", got)
	}

	// Sides of two: each node drops the other side's addresses, sorted by link then host.
	s, err := partitionScripts(testLab(t, 4, 1), []string{"n4", "n2"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s["n2"], "ip saddr { 198.18.0.1, 198.18.0.3 } drop comment \"vigil lab partition: n2 n4 | n1 n3\"") ||
		!strings.Contains(s["n3"], "ip daddr { 198.18.0.2, 198.18.0.4 }") {
		t.Errorf("4-node partition:\n%s\n%s", s["n2"], s["n3"])
	}
}

func TestHealLoss(t *testing.T) {
	l := testLab(t, 2, 1)
	fh := l.host.(*fakeHost)
	if err := l.Loss("n2", 30); err != nil {
		t.Fatal(err)
	}
	diff(t, "Loss(n2, 30)", fh.take(), `$ ip netns exec vt-n2 nft -f -
add table inet vigil_lab
add chain inet vigil_lab loss { type filter hook input priority filter; policy accept; }
flush chain inet vigil_lab loss
add rule inet vigil_lab loss iifname != "lo" numgen random mod 100 < 30 drop comment "vigil lab loss 30%"
`)
	if err := l.Loss("n2", 100); err != nil {
		t.Fatal(err)
	}
	if got := fh.take(); !strings.HasSuffix(got, "add rule inet vigil_lab loss iifname != \"lo\" drop comment \"vigil lab loss 100%\"\n") {
		t.Errorf("Loss(n2, 100):\n%s", got)
	}
	if err := l.Loss("n2", 0); err != nil {
		t.Fatal(err)
	}
	diff(t, "Loss(n2, 0)", fh.take(), `$ ip netns exec vt-n2 nft -f -
add table inet vigil_lab
add chain inet vigil_lab loss { type filter hook input priority filter; policy accept; }
flush chain inet vigil_lab loss
delete chain inet vigil_lab loss
`)
	for _, p := range []int{-1, 101} {
		if err := l.Loss("n1", p); err == nil {
			t.Errorf("Loss(n1, %d) = nil; want an error", p)
		}
	}
	if err := l.Loss("n9", 5); err == nil {
		t.Error("Loss(n9) = nil; want an error")
	}
	if err := l.Heal(); err != nil {
		t.Fatal(err)
	}
	heal := `add table inet vigil_lab
add chain inet vigil_lab partition_in { type filter hook input priority filter; policy accept; }
add chain inet vigil_lab partition_out { type filter hook output priority filter; policy accept; }
flush chain inet vigil_lab partition_in
flush chain inet vigil_lab partition_out
delete chain inet vigil_lab partition_in
delete chain inet vigil_lab partition_out
`
	diff(t, "Heal", fh.take(), "$ ip netns exec vt-n1 nft -f -\n"+heal+"$ ip netns exec vt-n2 nft -f -\n"+heal)
}

func TestStrayAddrScript(t *testing.T) {
	n := Node{Addresses: []string{"198.18.0.3", "198.18.1.3"}}
	js := `[{"ifname":"lo","addr_info":[{"family":"inet","local":"127.0.0.1","prefixlen":8},{"family":"inet6","local":"::1","prefixlen":128}]},
{"ifname":"eth0","addr_info":[{"family":"inet","local":"198.18.0.3","prefixlen":24},{"family":"inet","local":"198.18.0.100","prefixlen":32}]},
{"ifname":"eth1","addr_info":[{"family":"inet","local":"198.18.1.3","prefixlen":24},{"family":"inet","local":"198.18.0.3","prefixlen":24}]},
{"ifname":"eth2","addr_info":[]}]`
	got, err := strayAddrScript(n, []byte(js))
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "stray addresses", got, "addr del 198.18.0.100/32 dev eth0\naddr del 198.18.0.3/24 dev eth1\n")
	if _, err := strayAddrScript(n, []byte("nope")); err == nil {
		t.Error("bad JSON: want an error")
	}
}

func TestEnvCommand(t *testing.T) {
	l := testLab(t, 2, 1)
	if got := l.Env("n2"); !slices.Equal(got, []string{"VIGIL_SOCKET=/lab/n2/vigil.sock", "VIGIL_CONFIG=/lab/vigil.yaml"}) {
		t.Errorf("Env(n2) = %v", got)
	}
	if got := l.Env("n3"); got != nil {
		t.Errorf("Env(n3) = %v; want nil", got)
	}
	cmd, err := l.Command(context.Background(), "client", "vigil", "status")
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"ip", "netns", "exec", "vt-client", "vigil", "status"}; !slices.Equal(cmd.Args, want) {
		t.Errorf("Command args %v; want %v", cmd.Args, want)
	}
	if !slices.Contains(cmd.Env, "VIGIL_CONFIG=/lab/vigil.yaml") {
		t.Errorf("Command env lacks VIGIL_CONFIG")
	}
	if _, err := l.Command(context.Background(), "n3", "true"); err == nil {
		t.Error("Command(n3) = nil error")
	}
	if _, err := l.Command(context.Background(), "n1"); err == nil {
		t.Error("Command with no argv = nil error")
	}
	if _, err := l.Node("n3"); err == nil {
		t.Error("Node(n3) = nil error")
	}
	if l.SocketPath("n1") != "/lab/n1/vigil.sock" || l.LogPath("n1") != "/lab/n1/daemon.log" ||
		l.ConfigPath() != "/lab/vigil.yaml" || l.SecretPath() != "/lab/secret" || l.dataPath("n1") != "/lab/n1/data" {
		t.Error("paths")
	}
}

func TestLastLines(t *testing.T) {
	for _, tc := range []struct {
		s    string
		n    int
		want string
	}{
		{"", 3, ""},
		{"a\nb\nc\n", 2, "b\nc\n"},
		{"a\nb\nc", 2, "b\nc\n"},
		{"a\nb\n", 5, "a\nb\n"},
		{"a\n", 1, "a\n"},
	} {
		if got := lastLines(tc.s, tc.n); got != tc.want {
			t.Errorf("lastLines(%q, %d) = %q; want %q", tc.s, tc.n, got, tc.want)
		}
	}
}

func TestReadProc(t *testing.T) {
	p, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if p.dead() || p.ppid != os.Getppid() || p.start == 0 {
		t.Errorf("readProc(self) = %+v", p)
	}
}
