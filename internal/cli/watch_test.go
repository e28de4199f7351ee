package cli

import (
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-ha/vigil/internal/api"
)

// changingBackend answers each status request with the next of its
// statuses, then the last one again.
type changingBackend struct {
	fakeBackend
	mu    sync.Mutex
	views []api.Status
	asked int
}

func (b *changingBackend) Status() api.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	s := b.views[min(b.asked, len(b.views)-1)]
	b.asked++
	return s
}

// n3Lost is healthyStatus a moment later: n3 went offline.
func n3Lost() api.Status {
	s := healthyStatus()
	s.QuorumDetail.Present = []string{"n1", "n2"}
	s.Nodes[2].State = "offline"
	s.Nodes[2].Links = []api.Link{{Index: 0, Address: "198.18.0.3", State: "offline", Loss: 1}, {Index: 1, Address: "198.18.1.3", State: "offline", Loss: 1}}
	return s
}

// status --watch --count 2 prints two refreshes, each with its time,
// separated by a line when stdout is not a terminal.
func TestStatusWatch(t *testing.T) {
	sock := serveAPI(t, &changingBackend{views: []api.Status{healthyStatus(), n3Lost()}})
	r := runCLI(t, map[string]string{"VIGIL_SOCKET": sock}, "status", "--watch", "--count", "2", "--interval", "100ms")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
	}
	if n := strings.Count(r.stdout, "Last refresh: "); n != 2 {
		t.Errorf("%d refreshes, want 2:\n%s", n, r.stdout)
	}
	if strings.Contains(r.stdout, clearScreen) {
		t.Errorf("not a terminal, yet the output clears the screen:\n%q", r.stdout)
	}
	checkGolden(t, "status-watch", strings.ReplaceAll(r.stdout, sock, "$SOCKET"))
}

// On a terminal each refresh clears the screen and redraws from the top.
func TestStatusWatchTerminal(t *testing.T) {
	sock := serveAPI(t, &changingBackend{views: []api.Status{healthyStatus(), n3Lost()}})
	r := runCLIWith(t, map[string]string{"VIGIL_SOCKET": sock}, func(e *env) { e.isTerminal = func(io.Writer) bool { return true } },
		"status", "-w", "--count", "2", "--interval", "100ms")
	if r.code != ExitOK {
		t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
	}
	frames := strings.Split(r.stdout, clearScreen)
	if len(frames) != 3 || frames[0] != "" {
		t.Fatalf("want two frames, each after a clear screen; got %q", r.stdout)
	}
	if strings.Contains(r.stdout, watchSeparator) {
		t.Errorf("a terminal gets no separator lines:\n%s", r.stdout)
	}
	if !strings.Contains(frames[2], "Offline: [ n3 ]") || strings.Contains(frames[1], "Offline") {
		t.Errorf("frames do not follow the cluster:\n%s", r.stdout)
	}
}

// A daemon that is not there is shown as such, and asked again; --count
// ends the watch with the exit code of the last refresh.
func TestStatusWatchUnreachable(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "none.sock")
	r := runCLI(t, map[string]string{"VIGIL_SOCKET": sock}, "status", "--watch", "--count", "2", "--interval", "100ms")
	if r.code != ExitUnreachable {
		t.Errorf("exit %d, want %d; stderr: %s", r.code, ExitUnreachable, r.stderr)
	}
	if n := strings.Count(r.stdout, "daemon unreachable — retrying every 100ms"); n != 2 {
		t.Errorf("%d refreshes say the daemon is unreachable, want 2:\n%s", n, r.stdout)
	}
	checkGolden(t, "status-watch-unreachable", strings.ReplaceAll(r.stdout, sock, "$SOCKET"))
}

// A daemon that answers with an error is shown so, and asked again.
func TestStatusWatchAPIError(t *testing.T) {
	srvSock := serveHandler(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":503,"error":"this node's store is not open yet"}`))
	}))
	r := runCLI(t, map[string]string{"VIGIL_SOCKET": srvSock}, "status", "--watch", "--count", "1")
	if r.code != ExitFailure || !strings.Contains(r.stdout, "the daemon answered with an error — retrying every 1s\n  (this node's store is not open yet)") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestStatusWatchFlags(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"status", "--count", "2"}, "--interval and --count go with --watch"},
		{[]string{"status", "--watch", "--interval", "1ms"}, "--interval must be at least 100ms"},
		{[]string{"status", "--watch", "--count", "-1"}, "--count must be from 0"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("vigil %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, ExitUsage, tc.stderr)
		}
	}
}
