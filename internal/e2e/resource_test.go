package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// The resource tests run the lab's demo (group web: VIP 198.18.0.100 and
// a web service answering with its node's name) or a --resources file of
// their own, break things, and check what the client and the cluster see.

// probeResult is one line of `vigil lab probe -o json`.
type probeResult struct {
	OK    bool    `json:"ok"`
	Node  string  `json:"node"`
	MS    float64 `json:"ms"`
	Error string  `json:"error"`
}

// probe asks the VIP once from the client namespace.
func (l *labT) probe() probeResult {
	l.t.Helper()
	out, _ := l.vigil("lab", "probe", "-o", "json", "--timeout", "500ms") // a failed probe exits 1
	var p probeResult
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &p); err != nil {
		l.t.Fatalf("lab probe: %v\n%s", err, out)
	}
	return p
}

// answeredBy waits until the client reaches the VIP and node answers.
func (l *labT) answeredBy(what string, limit time.Duration, ok func(node string) error) string {
	l.t.Helper()
	var node string
	l.eventually(what, limit, func() error {
		p := l.probe()
		if !p.OK {
			return fmt.Errorf("probe failed: %s", p.Error)
		}
		node = p.Node
		return ok(p.Node)
	})
	return node
}

// resource returns resource id as node's daemon reports it.
func (l *labT) resource(node, id string) (api.Resource, error) {
	s, err := l.status(node)
	if err != nil {
		return api.Resource{}, err
	}
	for _, r := range s.Resources {
		if r.ID == id {
			return r, nil
		}
	}
	return api.Resource{}, fmt.Errorf("%s does not list resource %s", node, id)
}

// started checks that every id is started, all on one node, as asker
// reports, and returns that node.
func (l *labT) started(asker string, ids ...string) (string, error) {
	on := ""
	for _, id := range ids {
		r, err := l.resource(asker, id)
		if err != nil {
			return "", err
		}
		if r.State != "started" || r.Node == "" {
			return "", fmt.Errorf("%s: %s is %s on %q", asker, id, r.State, r.Node)
		}
		if on != "" && r.Node != on {
			return "", fmt.Errorf("%s: %s is on %s, not with the others on %s", asker, id, r.Node, on)
		}
		on = r.Node
	}
	return on, nil
}

// killService SIGKILLs the process an exec resource runs on node, found by
// the exec agent's pid file in the node's data directory.
func (l *labT) killService(node, id string) int {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, node, "data", "exec", id+".pid"))
	if err != nil {
		l.t.Fatalf("pid file of %s on %s: %v", id, node, err)
	}
	pid, err := strconv.Atoi(strings.Fields(string(b))[0])
	if err != nil || pid < 2 {
		l.t.Fatalf("pid file of %s on %s: %q", id, node, b)
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		l.t.Fatalf("kill %s (pid %d) on %s: %v", id, pid, node, err)
	}
	return pid
}

// writeResources writes a --resources file into the test's directory.
func writeResources(t *testing.T, yaml string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "resources.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// Killing the node that holds the demo group brings the VIP and the
// service back on another node, as the client sees it, with both members
// together; when the node comes back the group stays where it is (sticky).
func TestKillHolderMovesGroup(t *testing.T) {
	l := newLab(t, 3)
	holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	l.must("lab", "kill", holder)
	rest := others(three, holder)
	moved := l.answeredBy("the VIP answers from another node", 30*time.Second, func(n string) error {
		if n == holder {
			return fmt.Errorf("%s, the killed node, still answers", n)
		}
		return nil
	})
	l.eventually("the group is started together on the new node", 20*time.Second, func() error {
		on, err := l.started(rest[0], "web-ip", "web-server")
		if err == nil && on != moved {
			err = fmt.Errorf("status says %s, the client hears %s", on, moved)
		}
		return err
	})

	l.must("lab", "revive", holder)
	l.eventually("the revived node is back online", 30*time.Second, func() error {
		s, err := l.status(rest[0])
		if err == nil && nodeOf(s, holder).Committed != "online" {
			err = fmt.Errorf("%s is %q", holder, nodeOf(s, holder).Committed)
		}
		return err
	})
	// Stickiness 100 keeps the group off the returning node. Give the
	// coordinator rounds to act; a fail-back would show in these probes.
	for i := 0; i < 10; i++ {
		if p := l.probe(); !p.OK || p.Node != moved {
			t.Fatalf("after %s came back, probe %d: %+v, want an answer from %s", holder, i, p, moved)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// Killing the service process restarts it in place, counting each failure;
// at the group's migration-threshold (3) the whole group moves away.
func TestServiceKillRestartsThenMoves(t *testing.T) {
	l := newLab(t, 3)
	holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	asker := others(three, holder)[0]
	for fail := 1; fail <= 2; fail++ {
		old := l.killService(holder, "web-server")
		l.eventually(fmt.Sprintf("failure %d counted and restarted in place", fail), 30*time.Second, func() error {
			r, err := l.resource(asker, "web-server")
			switch {
			case err != nil:
				return err
			case r.FailCount != fail:
				return fmt.Errorf("fail count %d, want %d", r.FailCount, fail)
			case r.State != "started" || r.Node != holder:
				return fmt.Errorf("%s on %q, want started on %s", r.State, r.Node, holder)
			}
			return nil
		})
		l.answeredBy("the service answers again from the same node", 20*time.Second, func(n string) error {
			if n != holder {
				return fmt.Errorf("answered by %s, want %s (restart in place)", n, holder)
			}
			return nil
		})
		if b, err := os.ReadFile(filepath.Join(l.dir, holder, "data", "exec", "web-server.pid")); err == nil && strings.HasPrefix(string(b), strconv.Itoa(old)+" ") {
			t.Fatalf("after failure %d the pid file still names the killed process %d", fail, old)
		}
	}
	l.killService(holder, "web-server")
	moved := l.answeredBy("third failure: the group answers from another node", 30*time.Second, func(n string) error {
		if n == holder {
			return errors.New("still on the node that reached migration-threshold")
		}
		return nil
	})
	l.eventually("both members moved together", 20*time.Second, func() error {
		on, err := l.started(asker, "web-ip", "web-server")
		if err == nil && on != moved {
			err = fmt.Errorf("status says %s, the client hears %s", on, moved)
		}
		return err
	})
}

// A mandatory order is kept in the real start order, across nodes: "then"
// starts only once "first" has finished starting (its check passes after a
// delay), though they run on different nodes.
func TestOrderIsTheStartOrder(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "starts.log")
	res := writeResources(t, fmt.Sprintf(`
resources:
  - id: first
    kind: exec
    params:
      command: "sleep 1.5; echo first >> %[1]s; touch %[2]s/first.ready; exec sleep 100000"
      check_command: "test -e %[2]s/first.ready"
  - id: then
    kind: exec
    params:
      command: "echo then >> %[1]s; exec sleep 100000"
constraints:
  locations:
    - {id: first-on-n1, resource: first, node: n1, score: 100}
    - {id: then-on-n2, resource: then, node: n2, score: 100}
  orders:
    - {id: first-then, first: first, then: then, kind: mandatory}
`, log, dir))
	l := newLab(t, 3, "--resources", res)
	if on, err := l.started("n3", "first"); err != nil || on != "n1" {
		t.Fatalf("first: on %q: %v", on, err)
	}
	if on, err := l.started("n3", "then"); err != nil || on != "n2" {
		t.Fatalf("then: on %q: %v", on, err)
	}
	b, err := os.ReadFile(log)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "first then" {
		t.Fatalf("start order %q, want first then", got)
	}
}

// A resource with a mandatory (INFINITY) colocation with another stops
// when that one can run nowhere: the primary breaks, fails on every node
// (migration-threshold 1), and the dependent stops while an unrelated
// resource keeps running.
func TestColocationWithUnrunnableStopsDependent(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken")
	res := writeResources(t, fmt.Sprintf(`
resources:
  - id: primary
    kind: exec
    params: {command: "test ! -e %[1]s && exec sleep 100000"}
    meta: {migration_threshold: 1}
  - id: dependent
    kind: exec
    params: {command: "exec sleep 100000"}
  - id: bystander
    kind: exec
    params: {command: "exec sleep 100000"}
constraints:
  colocations:
    - {id: dep-with-primary, resource: dependent, with: primary, score: INFINITY}
`, broken))
	l := newLab(t, 3, "--resources", res)
	on, err := l.started("n1", "primary", "dependent")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(broken, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	l.killService(on, "primary")
	l.eventually("primary fails everywhere and the dependent stops", 60*time.Second, func() error {
		for _, id := range []string{"primary", "dependent"} {
			r, err := l.resource("n1", id)
			if err != nil {
				return err
			}
			if r.State == "started" || r.Target != "" {
				return fmt.Errorf("%s is %s on %q, target %q", id, r.State, r.Node, r.Target)
			}
		}
		// A start begun before the last move may still be under way on
		// the last node: the dependent is stopped once no node runs it.
		for _, n := range three {
			if _, err := os.Stat(filepath.Join(l.dir, n, "data", "exec", "dependent.pid")); err == nil {
				return fmt.Errorf("dependent still has a pid file on %s", n)
			}
		}
		return nil
	})
	r, err := l.resource("n1", "primary")
	if err != nil {
		t.Fatal(err)
	}
	if r.FailCount < 3 {
		t.Errorf("primary failed %d times, want once on each of 3 nodes", r.FailCount)
	}
	if _, err := l.started("n1", "bystander"); err != nil {
		t.Errorf("an unrelated resource stopped too: %v", err)
	}
}

// ocf:heartbeat:IPaddr2 from Debian's resource-agents, run unchanged,
// carries the floating IP between lab nodes exactly as the native vip
// kind does: the client reaches the service behind it, and after the
// holder is killed it reaches it on another node.
func TestIPaddr2MovesLikeVip(t *testing.T) {
	if _, err := os.Stat("/usr/lib/ocf/resource.d/heartbeat/IPaddr2"); err != nil {
		t.Skipf("needs Debian's resource-agents (apt-get install resource-agents): %v", err)
	}
	res := writeResources(t, fmt.Sprintf(`
resources:
  - id: web-ip
    kind: ocf
    params: {agent: "heartbeat:IPaddr2", ip: 198.18.0.100, cidr_netmask: 24, nic: eth0}
    ops: {monitor_interval: 1s}
  - id: web-server
    kind: exec
    params:
      command: "exec %[1]s lab web --config %[2]s"
      check_http: "http://198.18.0.100:8080/"
    ops: {monitor_interval: 1s}
groups:
  - id: web
    members: [web-ip, web-server]
    meta: {stickiness: 100}
`, vigilBin, "VIGIL_LAB_CONFIG"))
	// The web service reads the lab's config, whose path is known only
	// once the lab directory is: fill it in.
	dir := t.TempDir()
	b, _ := os.ReadFile(res)
	if err := os.WriteFile(res, []byte(strings.ReplaceAll(string(b), "VIGIL_LAB_CONFIG", filepath.Join(dir, "vigil.yaml"))), 0o644); err != nil {
		t.Fatal(err)
	}
	l := newLabIn(t, 3, dir, "--resources", res)
	holder := l.answeredBy("the IPaddr2 address answers", 20*time.Second, func(string) error { return nil })
	l.must("lab", "kill", holder)
	l.answeredBy("the IPaddr2 address answers from another node", 30*time.Second, func(n string) error {
		if n == holder {
			return fmt.Errorf("%s, the killed node, still answers", n)
		}
		return nil
	})
	l.eventually("the group is started together on one survivor", 20*time.Second, func() error {
		_, err := l.started(others(three, holder)[0], "web-ip", "web-server")
		return err
	})
}
