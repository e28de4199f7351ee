package client_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
)

type fakeBackend struct{ s api.Status }

func (b fakeBackend) Status() api.Status { return b.s }

func (b fakeBackend) RaftState() api.RaftState { return api.RaftState{Node: b.s.Node, HasState: true} }

func (b fakeBackend) Report(context.Context, api.Report) error { return nil }

func (fakeBackend) Plan(api.Simulation) (api.Plan, error) { return api.Plan{}, nil }

func (fakeBackend) Operate(context.Context, api.Operation) (api.Outcome, error) {
	return api.Outcome{}, nil
}

func (fakeBackend) Commit(context.Context, []byte) error { return nil }

func testStatus() api.Status {
	return api.Status{
		Cluster: "demo", Node: "n2", Leader: "n1", Quorum: true,
		QuorumDetail: api.Quorum{Voters: 3, Needed: 2, Present: []string{"n1", "n2", "n3"}},
		Nodes: []api.Node{
			{Name: "n1", State: "online", Addresses: []string{"198.18.0.1"}, Committed: "online",
				LastHeard: time.Date(2025, 3, 1, 11, 59, 59, 500, time.UTC),
				Links:     []api.Link{{Index: 0, Address: "198.18.0.1", State: "online", RTTMillis: 0.25, Loss: 0.01}}},
			{Name: "n2", State: "online", Addresses: []string{"198.18.0.2"}, Committed: "online", Self: true,
				Links: []api.Link{{Index: 0, Address: "198.18.0.2", State: "online"}}},
		},
		Resources: []api.Resource{{ID: "vip", Kind: "vip", State: "running", Node: "n1"}},
		Raft:      api.Raft{State: "Follower", Term: 3, LastIndex: 9, CommitIndex: 9, AppliedIndex: 9, Refused: 1},
		Heartbeat: api.Counters{Sent: 10, Received: 9, Stale: 1},
		Profile:   "lan",
		Time:      time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func newClient(t *testing.T, cfg client.Config) *client.Client {
	t.Helper()
	c, err := client.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestStatusOverTCP(t *testing.T) {
	want := testStatus()
	srv := httptest.NewServer(api.NewHandler(fakeBackend{want}, "tok"))
	t.Cleanup(srv.Close)

	c := newClient(t, client.Config{URL: srv.URL + "/", Token: "tok"})
	if c.Where() != srv.URL+"/" {
		t.Errorf("Where() = %q, want %q", c.Where(), srv.URL+"/")
	}
	got, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Status (-served +decoded):\n%s", d)
	}
	rs, err := c.RaftState(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(api.RaftState{Node: "n2", HasState: true}, rs); d != "" {
		t.Errorf("RaftState (-want +got):\n%s", d)
	}
}

func TestStatusOverUnix(t *testing.T) {
	want := testStatus()
	sock := filepath.Join(t.TempDir(), "vigil.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: api.NewHandler(fakeBackend{want}, "")}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })

	c := newClient(t, client.Config{Socket: sock, URL: "http://ignored.invalid"})
	if c.Where() != sock {
		t.Errorf("Where() = %q, want the socket %q", c.Where(), sock)
	}
	got, err := c.Status(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Status (-served +decoded):\n%s", d)
	}
}

func TestAPIErrors(t *testing.T) {
	srv := httptest.NewServer(api.NewHandler(fakeBackend{testStatus()}, "tok"))
	t.Cleanup(srv.Close)

	for _, token := range []string{"", "wrong"} {
		c := newClient(t, client.Config{URL: srv.URL, Token: token})
		_, err := c.Status(context.Background())
		var e *api.Error
		if !errors.As(err, &e) {
			t.Fatalf("token %q: error %v (%T), want an *api.Error", token, err, err)
		}
		if e.Status != http.StatusUnauthorized || e.Message == "" {
			t.Errorf("token %q: %+v, want status 401 with a message", token, e)
		}
		if errors.Is(err, client.ErrUnreachable) {
			t.Errorf("token %q: an answer is not ErrUnreachable: %v", token, err)
		}
	}
}

// An error answer that is not our JSON shape (a proxy's page, say) still
// comes back as an *api.Error with the HTTP status.
func TestForeignErrorBody(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "bad gateway", http.StatusBadGateway)
	}))
	t.Cleanup(srv.Close)

	_, err := newClient(t, client.Config{URL: srv.URL}).Status(context.Background())
	var e *api.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *api.Error", err, err)
	}
	if d := cmp.Diff(&api.Error{Status: http.StatusBadGateway, Message: "bad gateway"}, e); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestUnreachable(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	dead := srv.URL
	srv.Close()

	tests := []struct {
		name string
		cfg  client.Config
	}{
		{"closed URL", client.Config{URL: dead}},
		{"missing socket", client.Config{Socket: filepath.Join(t.TempDir(), "none.sock")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := newClient(t, tt.cfg).Status(context.Background())
			if !errors.Is(err, client.ErrUnreachable) {
				t.Errorf("error %v, want one wrapping ErrUnreachable", err)
			}
			var e *api.Error
			if errors.As(err, &e) {
				t.Errorf("no answer came, yet the error is an *api.Error: %v", err)
			}
		})
	}
}

func TestNewNeedsAnAddress(t *testing.T) {
	if _, err := client.New(client.Config{}); err == nil {
		t.Error("New with neither socket nor URL succeeded")
	}
}

func TestBadJSON(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"cluster": 7}`))
	}))
	t.Cleanup(srv.Close)
	_, err := newClient(t, client.Config{URL: srv.URL}).Status(context.Background())
	if err == nil || errors.Is(err, client.ErrUnreachable) {
		t.Errorf("error %v, want a decode error", err)
	}
}
