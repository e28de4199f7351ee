package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
)

// healthyStatus is n1's view of a healthy three-node cluster it leads.
func healthyStatus() api.Status {
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return api.Status{
		Cluster: "demo", Node: "n1", Leader: "n1", Quorum: true,
		QuorumDetail: api.Quorum{Voters: 3, Needed: 2, Present: []string{"n1", "n2", "n3"}},
		Nodes: []api.Node{
			{
				Name: "n1", State: "online", Addresses: []string{"198.18.0.1", "198.18.1.1"}, Committed: "online", Self: true,
				Links: []api.Link{{Index: 0, Address: "198.18.0.1", State: "online"}, {Index: 1, Address: "198.18.1.1", State: "online"}},
			},
			{
				Name: "n2", State: "online", Addresses: []string{"198.18.0.2", "198.18.1.2"}, Committed: "online", LastHeard: at.Add(-80 * time.Millisecond),
				Links: []api.Link{{Index: 0, Address: "198.18.0.2", State: "online", RTTMillis: 0.4}, {Index: 1, Address: "198.18.1.2", State: "online", RTTMillis: 0.6}},
			},
			{
				Name: "n3", State: "online", Addresses: []string{"198.18.0.3", "198.18.1.3"}, Committed: "online", LastHeard: at.Add(-20 * time.Millisecond),
				Links: []api.Link{{Index: 0, Address: "198.18.0.3", State: "online", RTTMillis: 0.35}, {Index: 1, Address: "198.18.1.3", State: "online"}},
			},
		},
		Resources: []api.Resource{},
		Raft:      api.Raft{State: "Leader", Term: 4, LastIndex: 17, CommitIndex: 17, AppliedIndex: 17},
		Heartbeat: api.Counters{Sent: 1200, Received: 1180, Forged: 2},
		Profile:   "lan",
		Time:      at,
	}
}

// minorityStatus is n3's view from the short side of a partition of five
// nodes: no quorum, no leader, two peers offline and one suspect with loss.
func minorityStatus() api.Status {
	return api.Status{
		Cluster: "edge", Node: "n3", Leader: "", Quorum: false,
		QuorumDetail: api.Quorum{Voters: 5, Needed: 3, Present: []string{"n3", "n4"}},
		Nodes: []api.Node{
			{
				Name: "n1", State: "offline", Addresses: []string{"198.18.0.1"}, Committed: "online",
				Links: []api.Link{{Index: 0, Address: "198.18.0.1", State: "offline", Loss: 1}},
			},
			{
				Name: "n2", State: "offline", Addresses: []string{"198.18.0.2"},
				Links: []api.Link{{Index: 0, Address: "198.18.0.2", State: "offline", Loss: 1, RTTMillis: 12.25}},
			},
			{
				Name: "n3", State: "online", Addresses: []string{"198.18.0.3"}, Committed: "online", Self: true,
				Links: []api.Link{{Index: 0, Address: "198.18.0.3", State: "online"}},
			},
			{
				Name: "n4", State: "online", Addresses: []string{"198.18.0.4"}, Committed: "online",
				Links: []api.Link{{Index: 0, Address: "198.18.0.4", State: "online", Loss: 0.04, RTTMillis: 1.5}},
			},
			{
				Name: "n5", State: "suspect", Addresses: []string{"198.18.0.5"}, Committed: "online",
				Links: []api.Link{{Index: 0, Address: "198.18.0.5", State: "suspect", Loss: 0.35, RTTMillis: 48.9}},
			},
		},
		Resources: []api.Resource{},
		Raft:      api.Raft{State: "Candidate", Term: 9, LastIndex: 40, CommitIndex: 38, AppliedIndex: 38},
		Profile:   "wan",
		Time:      time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// resourceStatus is a follower's view of a healthy cluster that runs
// resources.
func resourceStatus() api.Status {
	s := healthyStatus()
	s.Node, s.Raft.State = "n2", "Follower"
	for i := range s.Nodes {
		s.Nodes[i].Self = s.Nodes[i].Name == "n2"
	}
	s.Resources = []api.Resource{
		{ID: "vip", Kind: "vip", State: "running", Node: "n1"},
		{ID: "web", Kind: "systemd", State: "running", Node: "n1"},
		{ID: "db", Kind: "ocf", State: "stopped", Node: ""},
	}
	return s
}

func TestWriteStatus(t *testing.T) {
	tests := []struct {
		name string
		s    api.Status
	}{
		{"status-healthy", healthyStatus()},
		{"status-minority", minorityStatus()},
		{"status-resources", resourceStatus()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			writeStatus(&b, tt.s)
			checkGolden(t, tt.name, b.String())
		})
	}
}

// fakeBackend answers with a fixed status.
type fakeBackend struct{ s api.Status }

func (b fakeBackend) Status() api.Status { return b.s }

func (b fakeBackend) RaftState() api.RaftState { return api.RaftState{Node: b.s.Node, HasState: true} }

// Report refuses reports about resource "refuse" as a follower would.
func (b fakeBackend) Report(_ context.Context, r api.Report) error {
	if r.Resource == "refuse" {
		return &api.Error{Status: http.StatusConflict, Message: "not the leader"}
	}
	return nil
}

func (fakeBackend) Plan(api.Simulation) (api.Plan, error) { return api.Plan{}, nil }

func (fakeBackend) Operate(context.Context, api.Operation) (api.Outcome, error) {
	return api.Outcome{}, nil
}

func (fakeBackend) Commit(context.Context, []byte) error { return nil }

// serveAPI serves the API of b on a unix socket in a fresh directory, as
// the daemon would, and returns the socket's path. The server is stopped
// when the test ends.
func serveAPI(t *testing.T, b api.Backend) string {
	t.Helper()
	return serveHandler(t, api.NewHandler(b, ""))
}

// serveHandler serves h on a unix socket in a fresh directory, until the
// test ends, and returns the socket's path.
func serveHandler(t *testing.T, h http.Handler) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "vigil.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(l) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("serve: %v", err)
		}
	})
	return sock
}

func TestStatusCommand(t *testing.T) {
	want := healthyStatus()
	sock := serveAPI(t, fakeBackend{want})
	var table bytes.Buffer
	writeStatus(&table, want)

	tests := []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"flag", nil, []string{"status", "--socket", sock}},
		{"env", map[string]string{"VIGIL_SOCKET": sock}, []string{"status"}},
		{"flag over env", map[string]string{"VIGIL_SOCKET": "/nonexistent/vigil.sock"}, []string{"status", "--socket", sock}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.vars, tt.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
			}
			if d := cmp.Diff(table.String(), r.stdout); d != "" {
				t.Errorf("table output differs from writeStatus (-want +got):\n%s", d)
			}

			r = runCLI(t, tt.vars, append(tt.args, "-o", "json")...)
			if r.code != ExitOK {
				t.Fatalf("-o json: exit %d, stderr: %s", r.code, r.stderr)
			}
			var got api.Status
			if err := json.Unmarshal([]byte(r.stdout), &got); err != nil {
				t.Fatalf("-o json: %v\n%s", err, r.stdout)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("-o json does not round-trip (-backend +decoded):\n%s", d)
			}
			checkStatusKeys(t, r.stdout)
		})
	}
}

// checkStatusKeys checks the keys that scripts read in the stable JSON of
// `vigil status -o json`.
func checkStatusKeys(t *testing.T, out string) {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"cluster", "node", "leader", "quorum", "nodes", "resources"} {
		if _, ok := m[k]; !ok {
			t.Errorf("status JSON has no key %q", k)
		}
	}
	if r, ok := m["resources"].([]any); !ok || len(r) != 0 {
		t.Errorf("status JSON resources = %#v, want an empty array", m["resources"])
	}
	if !strings.Contains(out, `"resources": []`) {
		t.Errorf("status JSON does not print resources as []:\n%s", out)
	}
	nodes, ok := m["nodes"].([]any)
	if !ok || len(nodes) == 0 {
		t.Fatalf("status JSON nodes = %#v, want a non-empty array", m["nodes"])
	}
	for i, n := range nodes {
		nm, ok := n.(map[string]any)
		if !ok {
			t.Errorf("nodes[%d] is %T, want an object", i, n)
			continue
		}
		for _, k := range []string{"name", "state", "addresses"} {
			if _, ok := nm[k]; !ok {
				t.Errorf("nodes[%d] has no key %q", i, k)
			}
		}
	}
}

func TestStatusUnreachable(t *testing.T) {
	dir := t.TempDir()

	// A socket file that nobody listens on any more, as a crashed daemon
	// leaves it.
	stale := filepath.Join(dir, "stale.sock")
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	l.SetUnlinkOnClose(false)
	l.Close()

	for _, sock := range []string{filepath.Join(dir, "missing.sock"), stale} {
		t.Run(filepath.Base(sock), func(t *testing.T) {
			r := runCLI(t, nil, "status", "--socket", sock)
			if r.code != ExitUnreachable {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, ExitUnreachable, r.stderr)
			}
			for _, s := range []string{"cannot reach the vigil daemon at " + sock + ": is it running?", "set --socket or VIGIL_SOCKET"} {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout: %q, want nothing", r.stdout)
			}
		})
	}
}

// An API error (as opposed to no answer at all) is a plain failure.
func TestStatusAPIError(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "vigil.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"status":503,"error":"starting up"}`))
	})}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })

	r := runCLI(t, nil, "status", "--socket", sock)
	if r.code != ExitFailure {
		t.Errorf("exit %d, want %d\nstderr: %s", r.code, ExitFailure, r.stderr)
	}
	if !strings.Contains(r.stderr, "starting up") {
		t.Errorf("stderr does not carry the API error:\n%s", r.stderr)
	}
}
