package coordinator

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

func TestNodeChanges(t *testing.T) {
	rec := func(s model.NodeState) model.NodeRecord { return model.NodeRecord{State: s} }
	for _, tc := range []struct {
		name      string
		committed map[model.NodeID]model.NodeRecord
		observed  map[model.NodeID]model.NodeState
		boots     map[model.NodeID]uint64
		want      string
	}{
		{"first sight commits online and offline",
			nil,
			map[model.NodeID]model.NodeState{"n2": "online", "n1": "online", "n3": "offline"},
			nil,
			"n1 unknown -> online; n2 unknown -> online; n3 unknown -> offline"},
		{"no change, nothing to commit",
			map[model.NodeID]model.NodeRecord{"n1": rec("online"), "n2": rec("offline")},
			map[model.NodeID]model.NodeState{"n1": "online", "n2": "offline"},
			nil,
			""},
		{"suspect changes nothing",
			map[model.NodeID]model.NodeRecord{"n1": rec("online"), "n2": rec("online")},
			map[model.NodeID]model.NodeState{"n1": "online", "n2": "suspect"},
			nil,
			""},
		{"suspect is never committed first",
			nil,
			map[model.NodeID]model.NodeState{"n2": "suspect"},
			nil,
			""},
		{"death and return",
			map[model.NodeID]model.NodeRecord{"n1": rec("online"), "n2": rec("online"), "n3": rec("offline")},
			map[model.NodeID]model.NodeState{"n1": "online", "n2": "offline", "n3": "online"},
			nil,
			"n2 online -> offline; n3 offline -> online"},
		{"a restarted daemon is committed again with its new boot",
			map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 5}, "n2": {State: "online", Boot: 7}, "n3": {State: "online"}},
			map[model.NodeID]model.NodeState{"n1": "online", "n2": "online", "n3": "online"},
			map[model.NodeID]uint64{"n1": 5, "n2": 9, "n3": 3},
			"n2 online -> online (boot 9); n3 online -> online (boot 3)"},
		{"a boot is committed only with online, and unknown boots change nothing",
			map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 5}, "n2": {State: "online", Boot: 7}},
			map[model.NodeID]model.NodeState{"n1": "offline", "n2": "online", "n3": "suspect"},
			map[model.NodeID]uint64{"n1": 6, "n3": 4},
			"n1 online -> offline"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, c := range NodeChanges(tc.committed, tc.observed, tc.boots) {
				got = append(got, c.String())
			}
			if d := cmp.Diff(tc.want, strings.Join(got, "; ")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// fakeStore records commits as text.
type fakeStore struct {
	mu     sync.Mutex
	leader bool
	st     model.ClusterState
	log    []string
}

func (f *fakeStore) IsLeader() bool { f.mu.Lock(); defer f.mu.Unlock(); return f.leader }
func (f *fakeStore) State() model.ClusterState {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.st.Clone()
}
func (f *fakeStore) Apply(c store.Command, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := c.ApplyTo(&f.st); err != nil {
		return err
	}
	switch {
	case c.NodeState != nil:
		ns := c.NodeState
		f.log = append(f.log, fmt.Sprintf("%s %s by %s at %s", ns.Node, ns.State, ns.By, ns.Since.Format("15:04:05.000")))
	case c.Placement != nil:
		f.log = append(f.log, fmt.Sprintf("placement %v epoch %d", c.Placement.Targets, c.Placement.Epoch))
	}
	return nil
}

func TestRunCommitsOnlyWhileLeading(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		st := &fakeStore{st: model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{}}}
		var mu sync.Mutex
		observed := map[model.NodeID]model.NodeState{"n1": "online", "n2": "online"}
		changed := make(chan struct{}, 1)
		c, err := New(Config{
			Self: "n1", Store: st, Tick: 100 * time.Millisecond, Changed: changed,
			Observe: func() map[model.NodeID]model.NodeState {
				mu.Lock()
				defer mu.Unlock()
				return map[model.NodeID]model.NodeState{"n1": observed["n1"], "n2": observed["n2"]}
			},
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- c.Run(ctx) }()

		time.Sleep(250 * time.Millisecond) // follower: two ticks, no commit
		synctest.Wait()
		if len(st.log) != 0 {
			t.Fatalf("a follower committed: %v", st.log)
		}
		st.mu.Lock()
		st.leader = true
		st.mu.Unlock()
		time.Sleep(100 * time.Millisecond)
		synctest.Wait()

		// A change signalled between ticks is committed at once, not at the
		// next tick.
		mu.Lock()
		observed["n2"] = "offline"
		mu.Unlock()
		time.Sleep(10 * time.Millisecond)
		changed <- struct{}{}
		synctest.Wait()

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
		want := []string{
			"n1 online by n1 at 00:00:00.300",
			"n2 online by n1 at 00:00:00.300",
			"n2 offline by n1 at 00:00:00.360",
		}
		// The bubble's clock starts at 2000-01-01 00:00:00 UTC.
		if d := cmp.Diff(want, st.log); d != "" {
			t.Errorf("commits (-want +got):\n%s", d)
		}
	})
}

func TestPlacementCommittedWhenChangedOrStale(t *testing.T) {
	st := &fakeStore{leader: true, st: model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: "online"}}}}
	target := model.NodeID("n1")
	c, err := New(Config{
		Self: "n1", Store: st, Tick: time.Second,
		Observe: func() map[model.NodeID]model.NodeState { return map[model.NodeID]model.NodeState{"n1": "online"} },
		Cluster: model.Config{Resources: []model.Resource{{ID: "web"}}},
		Schedule: func(_ model.Config, _ model.ClusterState, _ time.Time, _ map[model.NodeID]time.Time) model.Plan {
			return model.Plan{Placement: map[model.ResourceID]model.NodeID{"web": target}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.reconcile() // stale (epoch 0 never placed? fresh: 0 == 0) but targets differ
	c.reconcile() // fresh and same: nothing
	if err := st.Apply(store.Command{Report: &store.Report{Resource: "web", Node: "n1", State: "failed", FailBy: 1}}, 0); err != nil {
		t.Fatal(err)
	}
	c.reconcile() // same targets but stale: committed again to mark it fresh
	target = "n2"
	c.reconcile() // changed
	want := []string{
		"placement map[web:n1] epoch 0",
		"placement map[web:n1] epoch 1",
		"placement map[web:n2] epoch 1",
	}
	if d := cmp.Diff(want, st.log); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got := c.Plan().Placement["web"]; got != "n2" {
		t.Errorf("Plan() placement = %q, want n2", got)
	}
}
