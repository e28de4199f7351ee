package e2e

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// The operator tests drive a lab the way an operator would: with vigil
// commands inside a node's namespace, checking what the cluster and the
// client see.

// exitCode is the exit status of a vigil run, 0 if it succeeded.
func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// configVersion is `vigil config show -o json`'s version, as node sees it.
func (l *labT) configVersion(node string) uint64 {
	l.t.Helper()
	out := l.must("lab", "exec", node, "--", "vigil", "config", "show", "-o", "json")
	var info struct{ Version uint64 }
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		l.t.Fatalf("config show: %v\n%s", err, out)
	}
	return info.Version
}

// resourceIDs lists the resources node's status shows.
func (l *labT) resourceIDs(node string) string {
	l.t.Helper()
	s, err := l.status(node)
	if err != nil {
		l.t.Fatal(err)
	}
	var ids []string
	for _, r := range s.Resources {
		ids = append(ids, r.ID)
	}
	return strings.Join(ids, " ")
}

// config apply adds and removes resources while the cluster runs; a file
// with a problem, one that changes what needs a restart, and one based on
// an old version are all refused, with the reason, and change nothing.
func TestConfigApply(t *testing.T) {
	l := newLab(t, 3)
	orig, err := os.ReadFile(filepath.Join(l.dir, "vigil.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, text string) string {
		p := filepath.Join(t.TempDir(), name)
		if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	withExtra := strings.Replace(string(orig), "resources:\n",
		"resources:\n  - id: extra\n    kind: exec\n    params: {command: \"exec sleep 100000\"}\n", 1)
	if withExtra == string(orig) {
		t.Fatalf("the lab's config has no resources section:\n%s", orig)
	}
	added := write("added.yaml", withExtra)

	out := l.must("lab", "exec", "n2", "--", "vigil", "config", "apply", added, "--dry-run")
	if !strings.Contains(out, "+ resource extra (exec)") || !strings.Contains(out, "nothing was changed") {
		t.Errorf("dry run says:\n%s", out)
	}
	if v := l.configVersion("n3"); v != 0 {
		t.Fatalf("after a dry run the version is %d, want 0", v)
	}

	l.must("lab", "exec", "n2", "--", "vigil", "config", "apply", added, "--if-match", "0")
	l.eventually("the added resource runs", 20*time.Second, func() error {
		_, err := l.started("n3", "extra")
		return err
	})
	before := l.resourceIDs("n1")

	for _, tc := range []struct {
		name, text string
		args       []string
		code       int
		says       string
	}{
		{"a problem", withExtra + "constraints:\n  orders:\n    - {id: o1, first: extra, then: nope}\n", nil, 2,
			`constraints.orders[0].then: unknown resource or group "nope"`},
		{"a section that takes a restart", strings.Replace(withExtra, "profile: lan", "profile: wan", 1), nil, 2,
			"differs from the running configuration in timing"},
		{"an old version", string(orig), []string{"--if-match", "0"}, 5, "at version 1, not 0"},
	} {
		p := write("bad.yaml", tc.text)
		args := append([]string{"lab", "exec", "n2", "--", "vigil", "config", "apply", p}, tc.args...)
		out, err := l.vigil(args...)
		if code := exitCode(err); code != tc.code || !strings.Contains(out, tc.says) {
			t.Errorf("%s: exit %d, want %d, saying %q:\n%s", tc.name, code, tc.code, tc.says, out)
		}
		if v := l.configVersion("n1"); v != 1 {
			t.Errorf("%s: version %d after a refused apply, want 1", tc.name, v)
		}
		if ids := l.resourceIDs("n1"); ids != before {
			t.Errorf("%s: resources %q after a refused apply, want %q", tc.name, ids, before)
		}
	}

	on, err := l.started("n3", "extra")
	if err != nil {
		t.Fatal(err)
	}
	pid := filepath.Join(l.dir, on, "data", "exec", "extra.pid")
	l.must("lab", "exec", "n1", "--", "vigil", "config", "apply", filepath.Join(l.dir, "vigil.yaml"), "--if-match", "1")
	l.eventually("the removed resource stops and is forgotten", 20*time.Second, func() error {
		if _, err := os.Stat(pid); err == nil {
			return fmt.Errorf("%s still exists", pid)
		}
		if ids := l.resourceIDs("n2"); strings.Contains(ids, "extra") {
			return fmt.Errorf("status still lists extra: %s", ids)
		}
		return nil
	})
	if p := l.probe(); !p.OK {
		t.Errorf("the demo service stopped answering across the applies: %+v", p)
	}
}

// Standby of the holding node moves the group off, and the client gets
// its answer from the new node; unstandby lets the node run resources
// again, but stickiness keeps the group where it is.
func TestStandbyMovesGroupStickinessKeepsIt(t *testing.T) {
	l := newLab(t, 3)
	holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	asker := others(three, holder)[0]
	follow := l.followEvents(asker)
	l.eventually("vigil events --follow prints the newest event", 10*time.Second, func() error {
		if len(follow.events()) == 0 {
			return errors.New("nothing yet")
		}
		return nil // it has read the history, so its stream is open
	})
	l.must("lab", "exec", asker, "--", "vigil", "node", "standby", holder)
	moved := l.answeredBy("the group answers from another node", 20*time.Second, func(n string) error {
		if n == holder {
			return errors.New("still on the node in standby")
		}
		return nil
	})
	// The events say what happened, and --follow printed them as they came.
	want := []string{
		"node.standby " + holder,
		"resource.moved web-ip " + moved,
		"resource.stopped web-ip " + holder,
		"resource.started web-ip " + moved,
	}
	l.eventually("vigil events --follow shows the standby and the move", 10*time.Second, func() error {
		return hasEvents(follow.events(), want)
	})
	follow.stop()
	var history api.Events
	if err := json.Unmarshal([]byte(l.must("lab", "exec", asker, "--", "vigil", "events", "-o", "json", "--since", "5m")), &history); err != nil {
		t.Fatal(err)
	}
	if err := hasEvents(history.Events, want); err != nil {
		t.Errorf("vigil events: %v", err)
	}
	l.eventually("both members on the new node, none on the old", 20*time.Second, func() error {
		on, err := l.started(asker, "web-ip", "web-server")
		if err == nil && on != moved {
			err = fmt.Errorf("status says %s, the client hears %s", on, moved)
		}
		return err
	})
	s, err := l.status(asker)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range s.Resources {
		if r.FailCount != 0 {
			t.Errorf("a clean standby move counted a failure: %+v", r)
		}
	}

	l.must("lab", "exec", asker, "--", "vigil", "node", "unstandby", holder)
	for i := 0; i < 10; i++ {
		if p := l.probe(); !p.OK || p.Node != moved {
			t.Fatalf("after unstandby, probe %d: %+v, want an answer from %s (sticky)", i, p, moved)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// cleanup forgets a resource's failures: after two service kills the
// fail count is 2, and after cleanup it is 0 with the service still in
// place.
func TestCleanupResetsFailCount(t *testing.T) {
	l := newLab(t, 3)
	holder := l.answeredBy("the VIP answers", 20*time.Second, func(string) error { return nil })
	asker := others(three, holder)[0]
	for fail := 1; fail <= 2; fail++ {
		l.killService(holder, "web-server")
		l.eventually(fmt.Sprintf("failure %d counted, restarted", fail), 30*time.Second, func() error {
			r, err := l.resource(asker, "web-server")
			if err == nil && (r.FailCount != fail || r.State != "started") {
				err = fmt.Errorf("%s on %s, fail count %d", r.State, r.Node, r.FailCount)
			}
			return err
		})
	}
	l.must("lab", "exec", asker, "--", "vigil", "resource", "cleanup", "web-server")
	l.eventually("cleanup resets the fail count", 10*time.Second, func() error {
		r, err := l.resource(holder, "web-server")
		if err == nil && (r.FailCount != 0 || r.State != "started" || r.Node != holder) {
			err = fmt.Errorf("%s on %s, fail count %d", r.State, r.Node, r.FailCount)
		}
		return err
	})
}

// A stop that fails leaves the resource blocked, says so in status, and
// is not started anywhere else: vigil cannot know it stopped.
func TestFailedStopBlocks(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "stubborn")
	state := filepath.Join(dir, "running")
	if err := os.WriteFile(script, []byte(fmt.Sprintf(`#!/bin/sh
case "$1" in
  start) touch %[1]s ;;
  stop) exit 1 ;;
  status) test -e %[1]s || exit 3 ;;
  *) exit 3 ;;
esac
`, state)), 0o755); err != nil {
		t.Fatal(err)
	}
	res := writeResources(t, fmt.Sprintf(`
resources:
  - id: stubborn
    kind: script
    params: {path: %s}
    ops: {monitor_interval: 1s, stop_timeout: 5s}
`, script))
	l := newLab(t, 3, "--resources", res)
	on, err := l.started("n1", "stubborn")
	if err != nil {
		t.Fatal(err)
	}
	l.must("lab", "exec", others(three, on)[0], "--", "vigil", "node", "standby", on)
	l.eventually("the failed stop blocks the resource where it ran", 20*time.Second, func() error {
		r, err := l.resource(others(three, on)[0], "stubborn")
		if err == nil && (r.State != "blocked" || r.Node != on) {
			err = fmt.Errorf("%s on %q", r.State, r.Node)
		}
		return err
	})
	out := l.must("lab", "exec", others(three, on)[1], "--", "vigil", "status")
	if !strings.Contains(out, "blocked") {
		t.Errorf("status does not say blocked:\n%s", out)
	}
	time.Sleep(2 * time.Second) // rounds in which a wrong recovery would show
	r, err := l.resource(on, "stubborn")
	if err != nil || r.State != "blocked" || r.Node != on {
		t.Errorf("blocked resource: %+v, %v; want it left blocked on %s, started nowhere else", r, err, on)
	}
}
