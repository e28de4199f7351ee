package store

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vigil-ha/vigil/internal/model"
)

// The events of a failover, as every node derives them from the log:
// each change once (a repeated report or state is no event), with the
// time the command carries or else the time the leader appended it.
func TestEventsOfAFailover(t *testing.T) {
	f := newFSM()
	t0 := time.Date(2026, 12, 2, 3, 0, 0, 0, time.UTC)
	at := func(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }
	yes := true
	steps := []struct {
		c    Command
		want string // kind and message of each event, one per line
	}{
		{Command{NodeState: &NodeState{Node: "n1", State: model.NodeOnline, Since: at(1), By: "n1"}}, "node.online n1 is online"},
		{Command{NodeState: &NodeState{Node: "n1", State: model.NodeOnline, Since: at(2), By: "n1"}}, ""},
		{Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{"ip": "n1"}, Reasons: map[model.ResourceID]string{"ip": "best node n1 (score 100)"}}},
			"resource.placed ip placed on n1: best node n1 (score 100)"},
		{Command{Report: &Report{Resource: "ip", Node: "n1", State: model.ResourceStarting, At: at(4)}}, ""},
		{Command{Report: &Report{Resource: "ip", Node: "n1", State: model.ResourceStarted, At: at(5)}}, "resource.started ip started on n1"},
		{Command{Report: &Report{Resource: "ip", Node: "n1", State: model.ResourceStarted, At: at(6)}}, ""},
		{Command{NodeState: &NodeState{Node: "n1", State: model.NodeOffline, Since: at(7), By: "n2"}}, "node.offline n1 is offline (was online)"},
		{Command{Fence: &Fence{Node: "n1", OK: false, By: "n2", Reason: "agent exit 1", At: at(8)}}, "fence.failed fencing n1 FAILED: agent exit 1"},
		{Command{Fence: &Fence{Node: "n1", OK: true, By: "level 1 (ipmi)", At: at(9)}}, "fence.ok n1 fenced (level 1 (ipmi))"},
		{Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{"ip": "n2"}, Takeover: map[model.NodeID]uint64{"n1": 1}}},
			"resource.moved ip moves from n1 to n2\nlease.takeover n1's lease has certainly ended: what it ran may run elsewhere"},
		{Command{NodeFlags: &NodeFlags{Node: "n2", Standby: &yes}}, "node.standby n2 is in standby: it runs nothing"},
		{Command{Reset: &LeaseReset{Node: "n2"}}, ""},
		{Command{Placement: &Placement{Targets: map[model.ResourceID]model.NodeID{}}}, "resource.unplaced ip placed nowhere (was n2)"},
	}
	appended := at(100)
	var seq uint64
	for i, s := range steps {
		b, err := encodeCommand(s.c)
		if err != nil {
			t.Fatal(err)
		}
		if r := f.Apply(&raft.Log{Data: b, AppendedAt: appended}); r != nil {
			t.Fatalf("step %d: %v", i, r)
		}
		evs := f.eventsAfter(seq, 0)
		var got []string
		for _, e := range evs {
			got = append(got, string(e.Kind)+" "+e.Message)
			seq++
			if e.Seq != seq {
				t.Errorf("step %d: event %q numbered %d, want %d", i, e.Message, e.Seq, seq)
			}
			if e.At.IsZero() {
				t.Errorf("step %d: event %q has no time", i, e.Message)
			}
		}
		if g := strings.Join(got, "\n"); g != s.want {
			t.Errorf("step %d: events\n%s\nwant\n%s", i, g, s.want)
		}
	}
	if e := f.eventsAfter(0, 1); len(e) != 1 || e[0].At != at(1) || e[0].Node != "n1" {
		t.Errorf("first event %+v, want n1 online at %s", e, at(1))
	}
	if e := f.eventsAfter(1, 0); e[0].At != appended {
		t.Errorf("a placement's event is at %s, want the time it was appended %s", e[0].At, appended)
	}
}

// The history keeps the newest MaxEvents and survives a snapshot.
func TestEventsBoundedAndSnapshotted(t *testing.T) {
	f := newFSM()
	states := []model.NodeState{model.NodeOnline, model.NodeOffline}
	for i := range MaxEvents + 10 {
		b, _ := encodeCommand(Command{NodeState: &NodeState{Node: "n1", State: states[i%2], Since: time.Unix(int64(i), 0)}})
		if r := f.Apply(&raft.Log{Data: b}); r != nil {
			t.Fatal(r)
		}
	}
	all := f.eventsAfter(0, 0)
	if len(all) != MaxEvents || all[0].Seq != 11 || all[len(all)-1].Seq != MaxEvents+10 {
		t.Fatalf("kept %d events, %d to %d; want %d, 11 to %d", len(all), all[0].Seq, all[len(all)-1].Seq, MaxEvents, MaxEvents+10)
	}
	snap, _ := f.Snapshot()
	var buf bytes.Buffer
	if err := snap.Persist(&sink{Buffer: &buf}); err != nil {
		t.Fatal(err)
	}
	g := newFSM()
	if err := g.Restore(io.NopCloser(&buf)); err != nil {
		t.Fatal(err)
	}
	if got := g.eventsAfter(MaxEvents+5, 0); len(got) != 5 || got[4].Seq != MaxEvents+10 {
		t.Errorf("restored events after %d: %d, want 5 ending at %d", MaxEvents+5, len(got), MaxEvents+10)
	}
	// A snapshot from before events restores with none.
	old := newFSM()
	if err := old.Restore(io.NopCloser(strings.NewReader(`{"nodes":{"n1":{"state":"online","since":"2026-12-02T03:00:00Z","by":"n1"}},"epoch":3,"placed_epoch":3}`))); err != nil {
		t.Fatal(err)
	}
	if e := old.eventsAfter(0, 0); len(e) != 0 || old.state().Nodes["n1"].State != model.NodeOnline {
		t.Errorf("old snapshot: events %v, n1 %q", e, old.state().Nodes["n1"].State)
	}
}

type sink struct{ *bytes.Buffer }

func (sink) ID() string    { return "test" }
func (sink) Cancel() error { return nil }
func (sink) Close() error  { return nil }
