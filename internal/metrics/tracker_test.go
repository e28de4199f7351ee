package metrics

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
)

// snap is one snapshot of a scenario, taken at t0+at.
type snap struct {
	at time.Duration
	s  api.Status
}

// steps runs a fresh Tracker over snaps and returns every update, one a
// line, each prefixed by the offset of the snapshot that produced it.
func steps(snaps ...snap) string {
	var tr Tracker
	var b strings.Builder
	for _, sn := range snaps {
		for _, u := range tr.Step(sn.s, t0.Add(sn.at)) {
			b.WriteString(sn.at.String() + ": " + u.String() + "\n")
		}
	}
	return b.String()
}

func TestTrackerStep(t *testing.T) {
	base := cluster()
	n1Down := with(base, func(s *api.Status) {
		node(s, "n1").State = "offline"
		s.Leader = ""
	})
	tests := []struct {
		name  string
		snaps []snap
		want  string
	}{
		{
			name:  "baseline yields nothing",
			snaps: []snap{{0, with(base, func(s *api.Status) { node(s, "n3").Fence = "fenced at 11:00:00 (level 1 (ipmi))" })}},
			want:  "",
		},
		{
			name:  "nothing changes",
			snaps: []snap{{0, base}, {250 * time.Millisecond, base}, {500 * time.Millisecond, base}},
			want:  "",
		},
		{
			name: "leader change",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) { s.Leader = "" })},
				{2 * time.Second, with(base, func(s *api.Status) { s.Leader = "n2" })},
				{3 * time.Second, with(base, func(s *api.Status) { s.Leader = "n2" })},
			},
			want: "2s: leader n1 -> n2\n",
		},
		{
			name: "the same leader again after none is no change",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) { s.Leader = "" })},
				{2 * time.Second, base},
			},
			want: "",
		},
		{
			name: "the first leader is no change",
			snaps: []snap{
				{0, with(base, func(s *api.Status) { s.Leader = "" })},
				{time.Second, base},
			},
			want: "",
		},
		{
			name: "node down and back",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) { node(s, "n2").State = "suspect" })},
				{2 * time.Second, with(base, func(s *api.Status) { node(s, "n2").State = "offline" })},
				{3 * time.Second, with(base, func(s *api.Status) { node(s, "n2").State = "offline" })},
				{9 * time.Second, base},
			},
			want: "1s: node n2 online -> suspect\n2s: node n2 suspect -> offline\n9s: node n2 offline -> online\n",
		},
		{
			name: "an unknown state is no transition",
			snaps: []snap{
				{0, with(base, func(s *api.Status) { node(s, "n2").State = "" })},
				{time.Second, base},
			},
			want: "",
		},
		{
			name: "resource moved with a 1.2s gap",
			snaps: []snap{
				{0, base},
				{250 * time.Millisecond, with(n1Down, func(s *api.Status) {
					r := resource(s, "web-ip")
					r.State, r.Node, r.Target = "stopped", "", "n2"
				})},
				{time.Second, with(n1Down, func(s *api.Status) {
					r := resource(s, "web-ip")
					r.State, r.Node, r.Target = "starting", "n2", "n2"
				})},
				{1200 * time.Millisecond, with(n1Down, func(s *api.Status) {
					r := resource(s, "web-ip")
					r.State, r.Node, r.Target = "started", "n2", "n2"
				})},
			},
			want: "250ms: node n1 online -> offline\n1.2s: failover web-ip n1 -> n2 in 1.2s\n1.2s: move web-ip n1 -> n2\n",
		},
		{
			name: "moved between two polls",
			snaps: []snap{
				{0, base},
				{250 * time.Millisecond, with(base, func(s *api.Status) {
					r := resource(s, "db")
					r.Node, r.Target = "n3", "n3"
				})},
			},
			want: "250ms: failover db n2 -> n3 in 250ms\n250ms: move db n2 -> n3\n",
		},
		{
			name: "restart on the same node is a failover, not a move",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) { resource(s, "db").State = "failed" })},
				{4 * time.Second, base},
			},
			want: "4s: failover db n2 -> n2 in 4s\n",
		},
		{
			name: "a stop the coordinator meant is no outage",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) {
					r := resource(s, "db")
					r.State, r.Node, r.Target = "stopped", "", ""
				})},
				{60 * time.Second, base},
			},
			want: "",
		},
		{
			name: "a failure is an outage even where nothing can run it",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) {
					r := resource(s, "db")
					r.State, r.Target = "failed", ""
				})},
				{5 * time.Second, with(base, func(s *api.Status) {
					r := resource(s, "db")
					r.State, r.Node, r.Target = "started", "n3", "n3"
				})},
			},
			want: "5s: failover db n2 -> n3 in 5s\n5s: move db n2 -> n3\n",
		},
		{
			name: "a resource removed from the configuration is forgotten",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) { resource(s, "db").State = "failed" })},
				{2 * time.Second, with(base, func(s *api.Status) { s.Resources = s.Resources[:2] })},
				{3 * time.Second, with(base, func(s *api.Status) { resource(s, "db").Node = "n3" })},
			},
			want: "",
		},
		{
			name: "fence ok, committed later, then failed",
			snaps: []snap{
				{0, base},
				{time.Second, with(base, func(s *api.Status) { node(s, "n3").Fence = "fencing n3 in 2s (two-node split)" })},
				{3 * time.Second, with(base, func(s *api.Status) {
					node(s, "n3").Fence = "fenced (level 1 (ipmi)); recording it is still pending"
				})},
				{4 * time.Second, with(base, func(s *api.Status) { node(s, "n3").Fence = "fenced at 12:00:03 (level 1 (ipmi))" })},
				{5 * time.Second, with(base, func(s *api.Status) { node(s, "n3").Fence = "fenced at 12:00:03 (level 1 (ipmi))" })},
				{9 * time.Second, with(base, func(s *api.Status) {
					node(s, "n3").Fence = "fencing FAILED at 12:00:09: level 1 (ipmi): timeout"
				})},
				{12 * time.Second, with(base, func(s *api.Status) {
					node(s, "n3").Fence = "fencing FAILED at 12:00:12: level 1 (ipmi): timeout; retrying every 5s"
				})},
			},
			want: "3s: fence n3 ok\n9s: fence n3 failed\n12s: fence n3 failed\n",
		},
		{
			name: "fenced again later",
			snaps: []snap{
				{0, with(base, func(s *api.Status) { node(s, "n2").Fence = "fenced at 11:00:00 (level 1 (ipmi))" })},
				{time.Second, with(base, func(s *api.Status) { node(s, "n2").Fence = "fenced at 12:00:01 (level 1 (ipmi))" })},
			},
			want: "1s: fence n2 ok\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if d := cmp.Diff(tt.want, steps(tt.snaps...)); d != "" {
				t.Errorf("updates (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseFence(t *testing.T) {
	tests := []struct {
		line    string
		want    fenceEvent
		isFinal bool
	}{
		{"", fenceEvent{}, false},
		{"fencing n2 in 3s (two-node split)", fenceEvent{}, false},
		{"fenced at 12:00:01 (level 1 (ipmi))", fenceEvent{ok: true, at: "12:00:01"}, true},
		{"fenced at 12:00:01 (confirmed down by the operator)", fenceEvent{ok: true, at: "12:00:01"}, true},
		{"fenced (level 1 (ipmi)); recording it is still pending", fenceEvent{ok: true}, true},
		{"fenced (level 1), but recovering alone failed: boom", fenceEvent{ok: true}, true},
		{"fencing FAILED at 12:00:09: no route", fenceEvent{ok: false, at: "12:00:09"}, true},
		{"fencing FAILED at 12:00:09: x; retrying every 5s, or `vigil node confirm-down n2`", fenceEvent{ok: false, at: "12:00:09"}, true},
	}
	for _, tt := range tests {
		got, final := parseFence(tt.line)
		if got != tt.want || final != tt.isFinal {
			t.Errorf("parseFence(%q) = %+v, %v; want %+v, %v", tt.line, got, final, tt.want, tt.isFinal)
		}
	}
}
