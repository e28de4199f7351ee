package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// follower runs `vigil events --follow -o json` on a node and keeps what
// it prints.
type follower struct {
	cmd  *exec.Cmd
	mu   sync.Mutex
	got  []api.Event
	done chan struct{}
}

// followEvents starts a follower on node; stop ends it.
func (l *labT) followEvents(node string) *follower {
	l.t.Helper()
	f := &follower{done: make(chan struct{})}
	f.cmd = exec.Command(vigilBin, "lab", "--name", l.name, "exec", node, "--", "vigil", "events", "--follow", "-o", "json", "--limit", "1")
	out, err := f.cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := f.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	go func() {
		defer close(f.done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			var e api.Event
			if json.Unmarshal(sc.Bytes(), &e) == nil {
				f.mu.Lock()
				f.got = append(f.got, e)
				f.mu.Unlock()
			}
		}
	}()
	l.t.Cleanup(f.stop)
	return f
}

func (f *follower) events() []api.Event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]api.Event(nil), f.got...)
}

// stop ends the follower (SIGTERM: it stops its child too) and waits.
func (f *follower) stop() {
	if f.cmd.ProcessState != nil {
		return
	}
	_ = f.cmd.Process.Signal(syscall.SIGTERM)
	<-f.done
	_ = f.cmd.Wait()
}

// hasEvents checks that evs holds each of want, in that order, each as
// "KIND RESOURCE NODE" or "KIND NODE".
func hasEvents(evs []api.Event, want []string) error {
	i := 0
	for _, e := range evs {
		if i == len(want) {
			break
		}
		key := e.Kind + " " + e.Node
		if e.Resource != "" {
			key = e.Kind + " " + e.Resource + " " + e.Node
		}
		if key == want[i] {
			i++
		}
	}
	if i < len(want) {
		var got []string
		for _, e := range evs {
			got = append(got, fmt.Sprintf("%s %s %s: %s", e.Kind, e.Resource, e.Node, e.Message))
		}
		return fmt.Errorf("no %q after %v in:\n%s", want[i], want[:i], strings.Join(got, "\n"))
	}
	return nil
}

// An alert script (alerts: in the config) is run once for each event of
// its kinds, with the event in VIGIL_EVENT_* and as JSON on stdin: after
// the holder is killed, it has heard the node go offline and the group
// start elsewhere, once each, from the leader.
func TestAlertScript(t *testing.T) {
	l := newLab(t, 3)
	got := filepath.Join(l.dir, "alerts.log")
	script := filepath.Join(l.dir, "alert.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\n"+
		`echo "$VIGIL_EVENT_KIND $VIGIL_EVENT_RESOURCE $VIGIL_EVENT_NODE by=$VIGIL_NODE seq=$VIGIL_EVENT_SEQ json=$(head -c 20)" >> `+got+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(l.dir, "vigil.yaml")
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "alerts:\n  - id: log\n    script: %s\n    kinds: [node.offline, resource.started]\n    timeout: 5s\n", script)
	f.Close()
	for _, n := range three { // the alerts section takes a restart
		l.must("lab", "stop-daemon", n)
		l.must("lab", "start-daemon", n)
	}
	holder := l.answeredBy("the VIP answers", 30*time.Second, func(string) error { return nil })
	// The restarts moved the group too, maybe to the node it moves to now:
	// only the alerts of events after the kill count.
	var recent api.Events
	if err := json.Unmarshal([]byte(l.must("lab", "exec", holder, "--", "vigil", "events", "-o", "json", "--limit", "100")), &recent); err != nil {
		t.Fatalf("the events before the kill: %v", err)
	}
	var before uint64 // the newest cluster event's number (local ones have none)
	for _, e := range recent.Events {
		before = max(before, e.Seq)
	}
	l.must("lab", "kill", holder)
	moved := l.answeredBy("the VIP answers from another node", 30*time.Second, func(n string) error {
		if n == holder {
			return fmt.Errorf("still %s", n)
		}
		return nil
	})
	want := []string{"node.offline  " + holder, "resource.started web-ip " + moved, "resource.started web-server " + moved}
	var lines []string
	l.eventually("the alert script heard the failover", 20*time.Second, func() error {
		b, _ := os.ReadFile(got)
		lines = nil
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			var seq uint64
			if i := strings.Index(line, " seq="); i >= 0 {
				fmt.Sscanf(line[i+len(" seq="):], "%d", &seq)
			}
			if seq > before {
				lines = append(lines, line)
			}
		}
		for _, w := range want {
			n := 0
			for _, line := range lines {
				if strings.HasPrefix(line, w+" ") {
					n++
					if !strings.Contains(line, `json={"cluster":`) || strings.Contains(line, "seq= ") {
						return fmt.Errorf("line %q lacks the JSON on stdin or the event number", line)
					}
				}
			}
			if n != 1 {
				return fmt.Errorf("%d lines for %q, want exactly 1:\n%s", n, w, strings.Join(lines, "\n"))
			}
		}
		return nil
	})
	t.Logf("alerts:\n%s", strings.Join(lines, "\n"))
}
