package detect

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

func TestNewCheckerInvalid(t *testing.T) {
	_, err := NewChecker(CheckerConfig{Self: "n1", Nodes: probeNodes, Sink: &sinkRecorder{},
		Timing: model.Timing{HeartbeatInterval: 100 * time.Millisecond},
		Checks: []Check{
			{Node: "n9", TCP: "127.0.0.1:80"},
			{Node: "n2"},
			{Node: "n2", TCP: "127.0.0.1:80", HTTP: "http://127.0.0.1/"},
			{Node: "n2", TCP: "127.0.0.1"},
			{Node: "n2", HTTP: "ftp://127.0.0.1/"},
			{Node: "n2", Name: "web", TCP: "127.0.0.1:80"},
			{Node: "n2", Name: "web", HTTP: "http://127.0.0.1/", Interval: -time.Second},
		}})
	want := `detect: invalid checker config: checks[0] (tcp 127.0.0.1:80): node "n9": not among nodes
checks[1] (http ): give exactly one of tcp and http
checks[2] (tcp 127.0.0.1:80): give exactly one of tcp and http
checks[3] (tcp 127.0.0.1): tcp: address 127.0.0.1: missing port in address
checks[4] (http ftp://127.0.0.1/): http: "ftp://127.0.0.1/" is not an http or https URL
checks[6] (web): interval -1s and timeout 200ms: must be positive
checks[6] (web): duplicate name for node n2`
	if err == nil {
		t.Fatal("no error")
	}
	if d := gocmp.Diff(want, err.Error()); d != "" {
		t.Errorf("error (-want +got):\n%s", d)
	}
}

// TestCheckerLoopback runs an HTTP and a TCP check against loopback
// servers: both up; then the HTTP server answers 503 and the TCP listener
// closes, and both are down with their reasons. A check of self is not run.
func TestCheckerLoopback(t *testing.T) {
	var status atomic.Int32
	status.Store(http.StatusOK)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(int(status.Load()))
	}))
	defer srv.Close()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	rec := &sinkRecorder{c: make(chan Observation, 64)}
	c, err := NewChecker(CheckerConfig{Self: "n1", Nodes: probeNodes, Sink: rec, Interval: 20 * time.Millisecond, Timeout: time.Second,
		Checks: []Check{
			{Node: "n2", Name: "web", HTTP: srv.URL + "/health"},
			{Node: "n2", TCP: l.Addr().String()},
			{Node: "n1", Name: "self", TCP: l.Addr().String()},
		}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	defer func() {
		cancel()
		for {
			select {
			case <-rec.c:
			case err := <-done:
				if err != nil {
					t.Error(err)
				}
				return
			}
		}
	}()
	tcpName := "tcp " + l.Addr().String()
	await := func(want map[string]string) {
		t.Helper()
		got := map[string]string{}
		deadline := time.After(5 * time.Second)
		for !mapsEqual(got, want) {
			select {
			case o := <-rec.c:
				if o.Peer != "n2" || o.Layer != LayerApp {
					t.Fatalf("observation %+v", o)
				}
				got[o.Check] = o.Status.String() + " " + o.Detail
			case <-deadline:
				t.Fatalf("after 5s: %v, want %v", got, want)
			}
		}
	}
	await(map[string]string{"web": "up ", tcpName: "up "})
	status.Store(http.StatusServiceUnavailable)
	l.Close()
	await(map[string]string{"web": "down answered 503, want 200", tcpName: "down refused"})
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

// TestCheckerSetChecks replaces the checks while the Checker runs, in a
// synctest bubble with a fake dialer: an unchanged check keeps its
// schedule, a removed one stops, a new one starts at once; a bad list
// changes nothing.
func TestCheckerSetChecks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		rec := &sinkRecorder{t0: t0}
		a := Check{Node: "n2", Name: "a", TCP: "a:1"}
		b := Check{Node: "n2", Name: "b", TCP: "b:1"}
		cc := Check{Node: "n2", Name: "c", TCP: "c:1"}
		c, err := NewChecker(CheckerConfig{Self: "n1", Nodes: probeNodes, Sink: rec, Interval: 100 * time.Millisecond,
			Timeout: 50 * time.Millisecond, Checks: []Check{a, b}})
		if err != nil {
			t.Fatal(err)
		}
		c.dial = func(ctx context.Context, addr string) error {
			if addr == "b:1" {
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- c.Run(ctx) }()
		time.Sleep(170 * time.Millisecond)
		if err := c.SetChecks([]Check{a, {Node: "n2"}}); err == nil {
			t.Error("a bad list was accepted")
		}
		if err := c.SetChecks([]Check{a, cc}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(110 * time.Millisecond)
		cancel()
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{
			"n2 app a up at=0s expires=300ms",
			"n2 app a up at=100ms expires=400ms",
			"n2 app a up at=200ms expires=500ms",
			"n2 app b down at=0s expires=300ms timeout",
			"n2 app b down at=100ms expires=400ms timeout",
			"n2 app c up at=170ms expires=470ms",
			"n2 app c up at=270ms expires=570ms",
		}, "\n")
		if d := gocmp.Diff(want, rec.text()); d != "" {
			t.Errorf("observations (-want +got):\n%s", d)
		}
	})
}
