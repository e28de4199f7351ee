package metrics

import (
	"context"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/vigil-ha/vigil/internal/api"
)

// sample is the value of the series of name with exactly labels, from a
// gather of reg: a gauge's or counter's value, a histogram's sample
// count and sum; found is false when there is no such series.
type sample struct {
	value, count, sum float64
	found             bool
}

func get(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) sample {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if !sameLabels(m.GetLabel(), labels) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return sample{value: m.GetGauge().GetValue(), found: true}
			case m.Counter != nil:
				return sample{value: m.GetCounter().GetValue(), found: true}
			case m.Histogram != nil:
				h := m.GetHistogram()
				return sample{count: float64(h.GetSampleCount()), sum: h.GetSampleSum(), found: true}
			}
		}
	}
	return sample{}
}

func sameLabels(got []*dto.LabelPair, want map[string]string) bool {
	if len(got) != len(want) {
		return false
	}
	for _, l := range got {
		if v, ok := want[l.GetName()]; !ok || v != l.GetValue() {
			return false
		}
	}
	return true
}

// TestMetricsAfterFault is the issue's "metrics present and changing
// after a fault": a collector and a watcher over one registry, driven by
// a sequence of statuses in which n1 (leader, running web-ip) loses
// power, n2 is elected, fences n1, and web-ip starts on n2 1.2s after it
// was last seen running.
func TestMetricsAfterFault(t *testing.T) {
	src := &fakeSource{s: cluster()}
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, src); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(WatcherConfig{Registry: reg, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	// Every check names a series, its value before the fault and after
	// (a gauge's or counter's value, a histogram's count and sum).
	present := func(v float64) sample { return sample{value: v, found: true} }
	hist := func(count, sum float64) sample { return sample{count: count, sum: sum, found: true} }
	absent := sample{}
	checks := []struct {
		name          string
		labels        map[string]string
		before, after sample
	}{
		{"vigil_node_state", map[string]string{"node": "n1", "state": "offline"}, present(0), present(1)},
		{"vigil_node_state", map[string]string{"node": "n1", "state": "online"}, present(1), present(0)},
		{"vigil_leader", map[string]string{"node": "n2"}, absent, present(1)},
		{"vigil_leader", map[string]string{"node": "n1"}, present(1), absent},
		{"vigil_link_up", map[string]string{"peer": "n1", "link": "0", "address": "198.18.0.1"}, present(1), present(0)},
		{"vigil_link_loss_ratio", map[string]string{"peer": "n1", "link": "1"}, present(0), present(1)},
		{"vigil_resource_state", map[string]string{"resource": "web-ip", "kind": "vip", "node": "n2", "state": "started"}, absent, present(1)},
		{"vigil_fence_last", map[string]string{"node": "n1", "ok": "true"}, absent, present(1)},
		{"vigil_leader_changes_total", nil, present(0), present(1)},
		{"vigil_node_transitions_total", map[string]string{"node": "n1", "to": "suspect"}, present(0), present(1)},
		{"vigil_node_transitions_total", map[string]string{"node": "n1", "to": "offline"}, present(0), present(1)},
		{"vigil_node_transitions_total", map[string]string{"node": "n3", "to": "offline"}, present(0), present(0)},
		{"vigil_resource_moves_total", map[string]string{"resource": "web-ip"}, present(0), present(1)},
		{"vigil_resource_moves_total", map[string]string{"resource": "db"}, present(0), present(0)},
		// web-ip was last seen started at 250ms, and started again at 1.2s.
		{"vigil_failover_duration_seconds", map[string]string{"resource": "web-ip"}, hist(0, 0), hist(1, 0.95)},
		{"vigil_failover_duration_seconds", map[string]string{"resource": "db"}, hist(0, 0), hist(0, 0)},
		{"vigil_fence_actions_total", map[string]string{"node": "n1", "ok": "true"}, present(0), present(1)},
		{"vigil_fence_actions_total", map[string]string{"node": "n1", "ok": "false"}, present(0), present(0)},
	}
	same := func(a, b sample) bool {
		return a.found == b.found && a.value == b.value && a.count == b.count && math.Abs(a.sum-b.sum) < 1e-9
	}

	// The statuses as n2 sees them.
	healthy := with(cluster(), func(s *api.Status) {
		s.Node = "n2"
		node(s, "n1").Self, node(s, "n2").Self = false, true
		node(s, "n1").Links = []api.Link{
			{Index: 0, Address: "198.18.0.1", State: "online", RTTMillis: 0.2},
			{Index: 1, Address: "198.18.1.1", State: "online", RTTMillis: 0.3},
		}
	})
	down := func(f func(s *api.Status)) api.Status {
		return with(healthy, func(s *api.Status) {
			n := node(s, "n1")
			n.State = "offline"
			for i := range n.Links {
				n.Links[i].State, n.Links[i].Loss, n.Links[i].RTTMillis = "offline", 1, 0
			}
			f(s)
		})
	}
	seq := []snap{
		{0, healthy},
		{250 * time.Millisecond, with(healthy, func(s *api.Status) { node(s, "n1").State = "suspect" })},
		{500 * time.Millisecond, down(func(s *api.Status) {
			s.Leader = ""
			r := resource(s, "web-ip")
			r.State, r.Target = "failed", "n2" // committed before n1 died; n2 now places it
		})},
		{750 * time.Millisecond, down(func(s *api.Status) {
			s.Leader = "n2"
			resource(s, "web-ip").State = "failed"
		})},
		{time.Second, down(func(s *api.Status) {
			s.Leader = "n2"
			node(s, "n1").Fence = "fenced at 12:00:01 (level 1 (ipmi-n1))"
			r := resource(s, "web-ip")
			r.State, r.Node, r.Target = "starting", "n2", "n2"
		})},
		{1200 * time.Millisecond, down(func(s *api.Status) {
			s.Leader = "n2"
			node(s, "n1").Fence = "fenced at 12:00:01 (level 1 (ipmi-n1))"
			r := resource(s, "web-ip")
			r.State, r.Node, r.Target = "started", "n2", "n2"
		})},
	}

	src.set(seq[0].s)
	w.observe(t0)
	for _, c := range checks {
		if got := get(t, reg, c.name, c.labels); !same(got, c.before) {
			t.Errorf("before the fault: %s%v = %+v, want %+v", c.name, c.labels, got, c.before)
		}
	}
	for _, sn := range seq[1:] {
		src.set(sn.s)
		w.observe(t0.Add(sn.at))
	}
	for _, c := range checks {
		if got := get(t, reg, c.name, c.labels); !same(got, c.after) {
			t.Errorf("after the fault: %s%v = %+v, want %+v", c.name, c.labels, got, c.after)
		}
	}
}

// TestWatcherRun checks that Run polls every interval and returns when
// its context ends.
func TestWatcherRun(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		src := &fakeSource{s: cluster()}
		reg := prometheus.NewRegistry()
		w, err := NewWatcher(WatcherConfig{Registry: reg, Source: src, Interval: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error, 1)
		go func() { done <- w.Run(ctx) }()
		synctest.Wait() // the baseline is taken
		src.set(with(cluster(), func(s *api.Status) { s.Leader = "n3" }))
		time.Sleep(150 * time.Millisecond) // fake time: one tick
		synctest.Wait()
		if got := get(t, reg, "vigil_leader_changes_total", nil); got.value != 1 {
			t.Errorf("leader changes after one tick = %v, want 1", got.value)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

func TestNewWatcherValidates(t *testing.T) {
	for _, cfg := range []WatcherConfig{
		{Source: &fakeSource{}},
		{Registry: prometheus.NewRegistry()},
		{Registry: prometheus.NewRegistry(), Source: &fakeSource{}, Interval: -time.Second},
	} {
		if _, err := NewWatcher(cfg); err == nil {
			t.Errorf("NewWatcher(%+v): no error", cfg)
		}
	}
}
