package ocf

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

// These tests run Debian's resource-agents unchanged.

// requireAgent skips the test unless resource-agents provides
// heartbeat:<typ> under DefaultRoot.
func requireAgent(t *testing.T, typ string) {
	t.Helper()
	p := filepath.Join(DefaultRoot, "resource.d/heartbeat", typ)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the resource-agents package is not installed (no %s; apt-get install resource-agents)", p)
	}
}

// noDefaultStateDir fails the test if it wrote into resource-agents'
// default state directory (or created it): every test keeps its state in
// a temp dir.
func noDefaultStateDir(t *testing.T) {
	t.Helper()
	list := func() []string {
		ents, err := os.ReadDir(DefaultStateDir)
		if err != nil {
			return nil
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	_, err := os.Stat(DefaultStateDir)
	existed := err == nil
	before := list()
	t.Cleanup(func() {
		if _, err := os.Stat(DefaultStateDir); err == nil && !existed {
			t.Errorf("the test created %s", DefaultStateDir)
		}
		if d := cmp.Diff(before, list()); d != "" {
			t.Errorf("the test wrote into %s (-before +after):\n%s", DefaultStateDir, d)
		}
	})
}

func TestDummyConformance(t *testing.T) {
	requireAgent(t, "Dummy")
	noDefaultStateDir(t)
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		state := t.TempDir()
		a, err := New(Config{StateDir: state})
		if err != nil {
			t.Fatal(err)
		}
		stateFile := filepath.Join(state, "Dummy-dummy1.state")
		return agenttest.Subject{
			Agent: a,
			Resource: model.Resource{ID: "dummy1", Kind: "ocf",
				Params: map[string]string{"agent": "ocf:heartbeat:Dummy", "fake": "x"}},
			Invalid: model.Resource{ID: "dummy2", Kind: "ocf",
				Params: map[string]string{"agent": "heartbeat:Dummy", "bogus": "1"}},
			Running: func(t *testing.T) bool {
				_, err := os.Stat(stateFile)
				return err == nil
			},
			Kill: func(t *testing.T) {
				if err := os.Remove(stateFile); err != nil {
					t.Fatal(err)
				}
			},
		}
	})
}

func TestDummyValidateAndMetaData(t *testing.T) {
	requireAgent(t, "Dummy")
	a, err := New(Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	err = a.Validate(model.Resource{ID: "d", Kind: "ocf", Params: map[string]string{"agent": "heartbeat:Dummy", "foo": "1"}})
	want := "params.foo: not a parameter of ocf:heartbeat:Dummy (known: fake, state)"
	if err == nil || err.Error() != want {
		t.Errorf("Validate = %v, want %s", err, want)
	}
	md, err := a.MetaData("heartbeat:Dummy")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range md.Parameters {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "state,fake" || md.Parameters[0].Type != "string" || !md.hasAction("monitor") {
		t.Errorf("Dummy meta-data: %+v", md)
	}
}

// vethPair is two network namespaces joined by a veth pair, on
// 198.18.201.0/24: A has vocfa 198.18.201.1, B has vocfb 198.18.201.2.
type vethPair struct {
	a, b string
}

const (
	ipA      = "198.18.201.1/24"
	ipB      = "198.18.201.2/24"
	vip      = "198.18.201.100"
	vipCIDR  = vip + "/24"
	ifA, ifB = "vocfa", "vocfb"
)

// newVethPair creates the namespaces, or skips the test when it cannot.
// Cleanup kills what still runs in them (only processes the test's agents
// started can be there) and deletes them, which deletes the veth pair.
func newVethPair(t *testing.T) vethPair {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create network namespaces")
	}
	if _, err := lookPath("ip"); err != nil {
		t.Skipf("needs iproute2: %v", err)
	}
	p := vethPair{
		a: fmt.Sprintf("vigil-ocf-%d-a", os.Getpid()),
		b: fmt.Sprintf("vigil-ocf-%d-b", os.Getpid()),
	}
	t.Cleanup(func() {
		for _, ns := range []string{p.a, p.b} {
			if _, err := os.Stat(filepath.Join("/run/netns", ns)); err != nil {
				continue
			}
			out, _ := exec.Command("ip", "netns", "pids", ns).Output()
			for _, f := range strings.Fields(string(out)) {
				if pid, err := strconv.Atoi(f); err == nil {
					t.Logf("killing pid %d left in namespace %s", pid, ns)
					_ = syscallKill(pid)
					waitGone(t, pid)
				}
			}
			if out, err := exec.Command("ip", "netns", "del", ns).CombinedOutput(); err != nil {
				t.Errorf("ip netns del %s: %v: %s", ns, err, out)
			}
		}
	})
	ip(t, "netns", "add", p.a)
	ip(t, "netns", "add", p.b)
	ip(t, "link", "add", ifA, "netns", p.a, "type", "veth", "peer", "name", ifB, "netns", p.b)
	ip(t, "-n", p.a, "addr", "add", ipA, "dev", ifA)
	ip(t, "-n", p.b, "addr", "add", ipB, "dev", ifB)
	for _, l := range [][2]string{{p.a, ifA}, {p.b, ifB}, {p.a, "lo"}, {p.b, "lo"}} {
		ip(t, "-n", l[0], "link", "set", l[1], "up")
	}
	return p
}

// ip runs the ip command and fails the test if it fails.
func ip(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// hasVIP reports whether namespace ns has the virtual address on ifA.
func hasVIP(t *testing.T, ns string) bool {
	t.Helper()
	return strings.Contains(ip(t, "-n", ns, "-o", "addr", "show", "dev", ifA), " "+vipCIDR+" ")
}

func ipaddr2Resource() model.Resource {
	return model.Resource{ID: "vip1", Kind: "ocf", Params: map[string]string{
		"agent": "ocf:heartbeat:IPaddr2", "ip": vip, "cidr_netmask": "24",
	}}
}

func TestIPaddr2InNamespace(t *testing.T) {
	requireAgent(t, "IPaddr2")
	noDefaultStateDir(t)
	p := newVethPair(t)
	a, err := New(Config{StateDir: t.TempDir(), Netns: p.a})
	if err != nil {
		t.Fatal(err)
	}
	r := ipaddr2Resource()
	ctx := func() context.Context { return testCtx(t, 30*time.Second) }
	t.Cleanup(func() { _ = a.Stop(context.Background(), r) })

	if err := a.Validate(r); err != nil {
		t.Fatalf("Validate = %v", err)
	}
	if h, err := a.Monitor(ctx(), r); h != model.HealthStopped {
		t.Fatalf("Monitor before start = %s, %v; want stopped", h, err)
	}
	if err := a.Start(ctx(), r); err != nil {
		t.Fatalf("Start = %v", err)
	}
	if !hasVIP(t, p.a) {
		t.Fatalf("after Start, %s is not on %s in %s:\n%s", vipCIDR, ifA, p.a, ip(t, "-n", p.a, "addr"))
	}
	if hasVIPAnywhere(t, p.b) {
		t.Errorf("the address leaked into namespace %s", p.b)
	}
	if h, err := a.Monitor(ctx(), r); h != model.HealthRunning {
		t.Fatalf("Monitor after start = %s, %v; want running", h, err)
	}
	if err := a.Stop(ctx(), r); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if hasVIP(t, p.a) {
		t.Fatalf("after Stop, %s is still on %s", vipCIDR, ifA)
	}
	if h, err := a.Monitor(ctx(), r); h != model.HealthStopped {
		t.Fatalf("Monitor after stop = %s, %v; want stopped", h, err)
	}

	// A missing required parameter is refused before anything runs.
	bad := ipaddr2Resource()
	delete(bad.Params, "ip")
	if err := a.Validate(bad); err == nil || !strings.Contains(err.Error(), "params.ip: required by ocf:heartbeat:IPaddr2") {
		t.Errorf("Validate(no ip) = %v", err)
	}
}

// hasVIPAnywhere reports whether namespace ns has the virtual address on
// any interface.
func hasVIPAnywhere(t *testing.T, ns string) bool {
	t.Helper()
	return strings.Contains(ip(t, "-n", ns, "-o", "addr", "show"), " "+vip+"/")
}

func TestIPaddr2Conformance(t *testing.T) {
	requireAgent(t, "IPaddr2")
	noDefaultStateDir(t)
	p := newVethPair(t)
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		a, err := New(Config{StateDir: t.TempDir(), Netns: p.a})
		if err != nil {
			t.Fatal(err)
		}
		invalid := ipaddr2Resource()
		invalid.Params["netmask"] = "24" // not a parameter of IPaddr2
		return agenttest.Subject{
			Agent:    a,
			Resource: ipaddr2Resource(),
			Invalid:  invalid,
			Running:  func(t *testing.T) bool { return hasVIP(t, p.a) },
			Kill:     func(t *testing.T) { ip(t, "-n", p.a, "addr", "del", vipCIDR, "dev", ifA) },
		}
	})
}
