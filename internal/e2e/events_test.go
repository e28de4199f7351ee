package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"

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
