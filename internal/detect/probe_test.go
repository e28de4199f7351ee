package detect

import (
	"cmp"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

// sinkRecorder is a Sink that records observations as text, with times
// relative to t0.
type sinkRecorder struct {
	t0 time.Time
	mu sync.Mutex
	ob []Observation
	c  chan Observation // if set, every observation is also sent here
}

func (s *sinkRecorder) Observe(o Observation) {
	s.mu.Lock()
	s.ob = append(s.ob, o)
	s.mu.Unlock()
	if s.c != nil {
		s.c <- o
	}
}

func (s *sinkRecorder) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	ob := slices.Clone(s.ob)
	slices.SortStableFunc(ob, func(a, b Observation) int {
		return cmp.Or(strings.Compare(string(a.Peer), string(b.Peer)), cmp.Compare(a.Layer, b.Layer),
			cmp.Compare(a.Link, b.Link), strings.Compare(a.Check, b.Check), a.At.Compare(b.At))
	})
	var lines []string
	for _, o := range ob {
		name := fmt.Sprintf("link %d", o.Link)
		if o.Layer == LayerApp {
			name = o.Check
		}
		line := fmt.Sprintf("%s %s %s %s at=%v expires=%v", o.Peer, o.Layer, name, o.Status, o.At.Sub(s.t0), o.Expires.Sub(s.t0))
		if o.Detail != "" {
			line += " " + o.Detail
		}
		lines = append(lines, line)
	}
	return strings.Join(lines, "\n")
}

var probeNodes = []model.Node{
	{Name: "n1", Addresses: addrs("127.0.0.1", "127.0.1.1")},
	{Name: "n2", Addresses: addrs("127.0.0.2", "127.0.1.2")},
}

func TestNewProberInvalid(t *testing.T) {
	_, err := NewProber(ProberConfig{Self: "n9", Nodes: probeNodes, Timing: model.Timing{HeartbeatInterval: -1}})
	want := "detect: invalid prober config: port: must not be 0\ninterval: -1ns, must be positive\n" +
		"timeout: -2ns, must be positive\nsink: nil\nself \"n9\": not among nodes"
	if err == nil || err.Error() != want {
		t.Errorf("error:\n%v\nwant:\n%s", err, want)
	}
}

// TestProberSchedule runs a Prober with a fake dialer in a synctest
// bubble: every time is exact. Link 0 answers after 1ms; link 1 hangs
// until the timeout, so that its probes overlap (interval 100ms, timeout
// 250ms).
func TestProberSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Now()
		rec := &sinkRecorder{t0: t0}
		var mu sync.Mutex
		var dials []string
		p, err := NewProber(ProberConfig{Self: "n1", Nodes: probeNodes, Port: 5407, Sink: rec,
			Interval: 100 * time.Millisecond, Timeout: 250 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		p.dial = func(ctx context.Context, local, remote netip.AddrPort) error {
			mu.Lock()
			dials = append(dials, fmt.Sprintf("%v %s -> %s", time.Since(t0), local, remote))
			mu.Unlock()
			if remote.Addr() == netip.MustParseAddr("127.0.0.2") {
				time.Sleep(time.Millisecond)
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx) }()
		time.Sleep(320 * time.Millisecond)
		cancel()
		synctest.Wait()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		want := strings.Join([]string{
			"n2 tcp link 0 up at=1ms expires=701ms",
			"n2 tcp link 0 up at=101ms expires=801ms",
			"n2 tcp link 0 up at=201ms expires=901ms",
			"n2 tcp link 0 up at=301ms expires=1.001s",
			"n2 tcp link 1 down at=0s expires=700ms timeout",
		}, "\n")
		if d := gocmp.Diff(want, rec.text()); d != "" {
			t.Errorf("observations (-want +got):\n%s", d)
		}
		slices.Sort(dials)
		if got := strings.Join(dials, "\n"); !strings.Contains(got, "0s 127.0.1.1:0 -> 127.0.1.2:5407") ||
			!strings.Contains(got, "300ms 127.0.0.1:0 -> 127.0.0.2:5407") || len(dials) != 8 {
			t.Errorf("dials:\n%s", got)
		}
	})
}

// listenPair opens TCP listeners on 127.0.0.2 and 127.0.1.2 on one port,
// retrying a few times if the second address has that port taken.
func listenPair(t *testing.T) (port uint16, ls [2]net.Listener) {
	t.Helper()
	for range 10 {
		l0, err := net.Listen("tcp", "127.0.0.2:0")
		if err != nil {
			t.Skipf("no loopback 127.0.0.2: %v", err)
		}
		port = uint16(l0.Addr().(*net.TCPAddr).Port)
		l1, err := net.Listen("tcp", fmt.Sprintf("127.0.1.2:%d", port))
		if err != nil {
			l0.Close()
			continue
		}
		ls = [2]net.Listener{l0, l1}
		for _, l := range ls {
			t.Cleanup(func() { l.Close() })
			go func() { // accept and close, as the API server would
				for {
					c, err := l.Accept()
					if err != nil {
						return
					}
					c.Close()
				}
			}()
		}
		return port, ls
	}
	t.Fatal("no free port on both loopback addresses")
	return 0, ls
}

// TestProberLoopback probes real loopback listeners: both links answer;
// then link 1's listener stops, and its probes are refused (Down,
// "refused") while link 0 stays up.
func TestProberLoopback(t *testing.T) {
	port, ls := listenPair(t)
	rec := &sinkRecorder{c: make(chan Observation, 64)}
	p, err := NewProber(ProberConfig{Self: "n1", Nodes: probeNodes, Port: port, Sink: rec,
		Interval: 20 * time.Millisecond, Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	defer func() {
		cancel()
		for { // unblock the sink until Run is done
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
	// await returns when the latest observation of each link is as wanted,
	// or fails after 5s (real time; the probes are real).
	await := func(want [2]Status, detail string) {
		t.Helper()
		got := [2]Status{}
		deadline := time.After(5 * time.Second)
		for got != want {
			select {
			case o := <-rec.c:
				if o.Peer != "n2" || o.Layer != LayerTCP {
					t.Fatalf("observation %+v", o)
				}
				got[o.Link] = o.Status
				if o.Status == Down && o.Detail != detail {
					t.Fatalf("link %d down: %q, want %q", o.Link, o.Detail, detail)
				}
			case <-deadline:
				t.Fatalf("after 5s: links %v, want %v", got, want)
			}
		}
	}
	await([2]Status{Up, Up}, "")
	ls[1].Close()
	await([2]Status{Up, Down}, "refused")
}

// With Ping, a listener that accepts in the kernel but never answers (a
// frozen daemon) fails the probe; one that answers 200 passes; another
// status fails.
func TestPingHTTP(t *testing.T) {
	frozen, err := net.Listen("tcp", "127.0.0.1:0") // never accepted: the kernel completes handshakes
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close()
	answer := func(status int) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/v1/ping" {
				w.WriteHeader(http.StatusNotFound)
				return
			}
			w.WriteHeader(status)
		}))
		t.Cleanup(srv.Close)
		return srv.Listener.Addr().String()
	}
	local := netip.MustParseAddrPort("127.0.0.1:0")
	for _, tc := range []struct {
		name, addr string
		ok         bool
	}{
		{"answers 200", answer(http.StatusOK), true},
		{"answers 503", answer(http.StatusServiceUnavailable), false},
		{"frozen", frozen.Addr().String(), false},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
		err := pingHTTP(ctx, local, netip.MustParseAddrPort(tc.addr), "/v1/ping")
		cancel()
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v, want ok %v", tc.name, err, tc.ok)
		}
	}
}
