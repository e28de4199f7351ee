package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// fakeAgent runs resources in memory and records its calls as text.
type fakeAgent struct {
	mu       sync.Mutex
	running  map[model.ResourceID]bool
	failStop map[model.ResourceID]bool
	calls    []string
}

func (f *fakeAgent) Validate(model.Resource) error { return nil }
func (f *fakeAgent) Start(_ context.Context, r model.Resource) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "start "+string(r.ID))
	f.running[r.ID] = true
	return nil
}
func (f *fakeAgent) Stop(_ context.Context, r model.Resource) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, "stop "+string(r.ID))
	if f.failStop[r.ID] {
		return errors.New("stop refused")
	}
	f.running[r.ID] = false
	return nil
}
func (f *fakeAgent) Monitor(_ context.Context, r model.Resource) (model.Health, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running[r.ID] {
		return model.HealthRunning, nil
	}
	return model.HealthStopped, nil
}

func (f *fakeAgent) crash(id model.ResourceID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.running[id] = false
}

func (f *fakeAgent) log() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.calls, "; ")
}

// fakeCluster is the store and, standing in for the coordinator, places
// every resource on `target` again after each change.
type fakeCluster struct {
	mu      sync.Mutex
	st      model.ClusterState
	changed chan struct{}
	target  model.NodeID
	placed  []model.ResourceID // what it places on target; nil: web
	reports []string
	claims  []string // "web n1": the start claims committed or refused
}

func newFakeCluster() *fakeCluster {
	return &fakeCluster{st: model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: "online"}, "n2": {State: "online"}}},
		changed: make(chan struct{}), target: "n1"}
}

func (c *fakeCluster) State() model.ClusterState {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.Clone()
}

func (c *fakeCluster) Changed() <-chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.changed
}

func (c *fakeCluster) apply(cmd store.Command) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := cmd.ApplyTo(&c.st); err != nil {
		return err
	}
	// The coordinator's part: place and mark fresh.
	targets := map[model.ResourceID]model.NodeID{"web": c.target}
	if c.placed != nil {
		targets = map[model.ResourceID]model.NodeID{}
		for _, id := range c.placed {
			targets[id] = c.target
		}
	}
	_ = store.Command{Placement: &store.Placement{Targets: targets, Epoch: c.st.Epoch}}.ApplyTo(&c.st)
	close(c.changed)
	c.changed = make(chan struct{})
	return nil
}

// Report commits r as the store would; a claim (state starting) is
// logged apart from the results, and refused as the store refuses it.
func (c *fakeCluster) Report(_ context.Context, r store.Report) error {
	c.mu.Lock()
	if r.State == model.ResourceStarting {
		c.claims = append(c.claims, fmt.Sprintf("%s %s", r.Resource, r.Node))
	} else {
		c.reports = append(c.reports, fmt.Sprintf("%s %s failby=%d", r.Resource, r.State, r.FailBy))
	}
	c.mu.Unlock()
	return c.apply(store.Command{Report: &r})
}

func (c *fakeCluster) moveTo(n model.NodeID) {
	c.mu.Lock()
	c.target = n
	c.mu.Unlock()
	c.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}}) // any change re-places
}

func (c *fakeCluster) log() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return strings.Join(c.reports, "; ")
}

func TestExecutorLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := &fakeAgent{running: map[model.ResourceID]bool{}, failStop: map[model.ResourceID]bool{}}
		cl := newFakeCluster()
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}}) // first placement
		web := model.Resource{ID: "web", Kind: "fake", Ops: model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorInterval: time.Second, MonitorTimeout: time.Second}}
		ex, err := New(Config{
			Self: "n1", Cluster: model.Config{Resources: []model.Resource{web}}, State: cl,
			Agents: agent.Registry{"fake": ag}, Reporter: cl, Quorum: func() bool { return true }, Tick: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- ex.Run(ctx) }()

		step := func(what string, d time.Duration, wantCalls, wantReports string) {
			t.Helper()
			time.Sleep(d)
			synctest.Wait()
			if diff := cmp.Diff(wantCalls, ag.log()); diff != "" {
				t.Fatalf("%s: agent calls (-want +got):\n%s", what, diff)
			}
			if diff := cmp.Diff(wantReports, cl.log()); diff != "" {
				t.Fatalf("%s: reports (-want +got):\n%s", what, diff)
			}
		}
		step("probe, then start", 50*time.Millisecond, "start web", "web started failby=0")
		step("quiet while healthy", 3*time.Second, "start web", "web started failby=0")
		ag.crash("web")
		step("monitor finds it dead and it is restarted in place", 1100*time.Millisecond,
			"start web; stop web; start web", "web started failby=0; web failed failby=1; web started failby=0")
		cl.moveTo("n2")
		step("placed elsewhere: stopped here", 50*time.Millisecond,
			"start web; stop web; start web; stop web", "web started failby=0; web failed failby=1; web started failby=0; web stopped failby=0")
		if got := ex.Local()["web"]; got != model.HealthStopped {
			t.Errorf("Local()[web] = %s, want stopped", got)
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("Run = %v", err)
		}
	})
}

func TestStopFailureBlocks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := &fakeAgent{running: map[model.ResourceID]bool{"web": true}, failStop: map[model.ResourceID]bool{"web": true}}
		cl := newFakeCluster()
		cl.target = "n2"
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}})
		web := model.Resource{ID: "web", Kind: "fake", Ops: model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorTimeout: time.Second}}
		ex, err := New(Config{
			Self: "n1", Cluster: model.Config{Resources: []model.Resource{web}}, State: cl,
			Agents: agent.Registry{"fake": ag}, Reporter: cl, Quorum: func() bool { return true }, Tick: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- ex.Run(ctx) }()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		// Found running by the probe, stop refused: blocked, and never retried.
		if want := "stop web"; ag.log() != want {
			t.Errorf("calls = %q, want %q", ag.log(), want)
		}
		if want := "web started failby=0; web blocked failby=0"; cl.log() != want {
			t.Errorf("reports = %q, want %q", cl.log(), want)
		}
		cancel()
		<-done
	})
}

func TestOutboxKeepsFailuresWhenCoalescing(t *testing.T) {
	o := newOutbox()
	o.put(store.Report{Resource: "web", State: model.ResourceFailed, FailBy: 1})
	o.put(store.Report{Resource: "web", State: model.ResourceFailed, FailBy: FatalFailCount})
	o.put(store.Report{Resource: "web", State: model.ResourceStarted})
	got := o.pending["web"]
	if got.State != model.ResourceStarted || got.FailBy != 1+FatalFailCount {
		t.Errorf("pending = %+v, want started with fail_by %d", got, 1+FatalFailCount)
	}
}

// An operator's restart stops what it restarts in reverse and starts it
// again in order, in place, once per request; what was requested before
// the executor started is history, and a request in maintenance lapses.
func TestOperatorRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		// As after a daemon restart: the group runs, and was restarted before.
		ag := &fakeAgent{running: map[model.ResourceID]bool{"ip": true, "web": true}, failStop: map[model.ResourceID]bool{}}
		cl := newFakeCluster()
		cl.placed = []model.ResourceID{"ip", "web"}
		cl.st.Restarts = map[model.ResourceID]model.RestartRequest{"g": {Count: 2, Node: "n1", At: t0}}
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}}) // first placement
		cfg := testConfig()
		cfg.Resources, cfg.Constraints = cfg.Resources[1:], model.Constraints{} // the group alone
		ex, err := New(Config{
			Self: "n1", Cluster: cfg, State: cl,
			Agents: agent.Registry{"fake": ag}, Reporter: cl, Quorum: func() bool { return true }, Tick: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- ex.Run(ctx) }()
		defer func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v", err)
			}
		}()

		calls := 0 // agent calls checked so far
		step := func(what string, c store.Command, wantCalls string) {
			t.Helper()
			if c.Restart != nil || c.NodeFlags != nil {
				cl.apply(c)
			}
			time.Sleep(2 * time.Second)
			synctest.Wait()
			ag.mu.Lock()
			got := strings.Join(ag.calls[calls:], "; ")
			calls = len(ag.calls)
			ag.mu.Unlock()
			if d := cmp.Diff(wantCalls, got); d != "" {
				t.Fatalf("%s: agent calls (-want +got):\n%s", what, d)
			}
		}
		step("the count of before is history: the probes find the group running, and that is all", store.Command{}, "")
		before := cl.State().Resources
		step("a group restarts every member, in place", store.Command{Restart: &store.Restart{Resource: "g", Node: "n1", At: t0.Add(time.Minute)}},
			"stop web; stop ip; start ip; start web")
		after := cl.State()
		for _, id := range []model.ResourceID{"ip", "web"} {
			if rec := after.Resources[id]; rec.Node != "n1" || rec.State != model.ResourceStarted || !rec.Since.After(before[id].Since) {
				t.Errorf("%s after the restart: %+v, want started on n1 after %v", id, rec, before[id].Since)
			}
		}
		if len(after.FailCounts) != 0 {
			t.Errorf("a restart counted failures: %v", after.FailCounts)
		}
		step("the same request again changes nothing", store.Command{Restart: &store.Restart{Resource: "g", Node: "n1", At: t0.Add(time.Minute)}}, "")
		step("a member restarts those after it", store.Command{Restart: &store.Restart{Resource: "ip", Node: "n1", At: t0.Add(2 * time.Minute)}},
			"stop web; stop ip; start ip; start web")
		step("another node's request is not ours", store.Command{Restart: &store.Restart{Resource: "web", Node: "n2", At: t0.Add(3 * time.Minute)}}, "")
		yes, no := true, false
		step("into maintenance", store.Command{NodeFlags: &store.NodeFlags{Node: "n1", Maintenance: &yes}}, "")
		step("a request in maintenance lapses", store.Command{Restart: &store.Restart{Resource: "web", Node: "n1", At: t0.Add(4 * time.Minute)}}, "")
		step("and is not carried out after it", store.Command{NodeFlags: &store.NodeFlags{Node: "n1", Maintenance: &no}}, "")

		ag.mu.Lock()
		ag.failStop["web"] = true
		ag.mu.Unlock()
		step("a stop that fails: blocked, and the rest left running", store.Command{Restart: &store.Restart{Resource: "ip", Node: "n1", At: t0.Add(5 * time.Minute)}},
			"stop web")
		st := cl.State()
		if rec := st.Resources["web"]; rec.State != model.ResourceBlocked {
			t.Errorf("web after its stop failed: %+v, want blocked", rec)
		}
		if rec := st.Resources["ip"]; rec.State != model.ResourceStarted {
			t.Errorf("ip after web's stop failed: %+v, want still started", rec)
		}
		if len(st.FailCounts) != 0 {
			t.Errorf("a failed stop counted failures: %v", st.FailCounts)
		}
	})
}

// A clean shutdown stops what runs here (the lease ends with the daemon)
// and says what it could not stop; a node in maintenance keeps its
// resources.
func TestStopAll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := &fakeAgent{running: map[model.ResourceID]bool{}, failStop: map[model.ResourceID]bool{}}
		cl := newFakeCluster()
		cl.placed = []model.ResourceID{"web", "db"}
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}})
		ops := model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorInterval: time.Second, MonitorTimeout: time.Second}
		web := model.Resource{ID: "web", Kind: "fake", Ops: ops}
		db := model.Resource{ID: "db", Kind: "fake", Ops: ops}
		ex, err := New(Config{
			Self: "n1", Cluster: model.Config{Resources: []model.Resource{web, db}}, State: cl,
			Agents: agent.Registry{"fake": ag}, Reporter: cl, Quorum: func() bool { return true }, Tick: 100 * time.Millisecond,
		})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- ex.Run(ctx) }()
		time.Sleep(200 * time.Millisecond)
		synctest.Wait()
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		ag.mu.Lock()
		ag.failStop["db"] = true
		ag.calls = nil
		ag.mu.Unlock()
		err = ex.StopAll(t.Context())
		if err == nil || !strings.Contains(err.Error(), "stop db: stop refused") {
			t.Errorf("StopAll = %v; want db's failure", err)
		}
		if got := ag.log(); got != "stop db; stop web" && got != "stop web; stop db" {
			t.Errorf("agent calls %q; want both stopped", got)
		}
		if ag.running["web"] != false {
			t.Error("web still runs")
		}

		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1", Maintenance: ptr(true)}})
		ag.mu.Lock()
		ag.calls = nil
		ag.mu.Unlock()
		if err := ex.StopAll(t.Context()); err != nil || ag.log() != "" {
			t.Errorf("in maintenance: StopAll = %v, calls %q; want nothing touched", err, ag.log())
		}
	})
}

func ptr[T any](v T) *T { return &v }

// staleView is a fakeCluster whose State lags: it shows the state frozen
// at some instant, as a follower that has not yet applied the newest
// placements would, while claims go to the real, newer state.
type staleView struct {
	*fakeCluster
	frozen model.ClusterState
}

func (s staleView) State() model.ClusterState { return s.frozen.Clone() }

// A node that acts on a placement the cluster has since changed (it
// applied the log late) does not start the resource: its claim is judged
// on the newest committed state, which another node's claim already won
// (invariant 1). Once its view catches up it gives nothing back, since it
// never started anything.
func TestStaleStartIsNotClaimed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := &fakeAgent{running: map[model.ResourceID]bool{}, failStop: map[model.ResourceID]bool{}}
		cl := newFakeCluster()
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}}) // web placed on n1
		frozen := cl.State()
		cl.mu.Lock()
		cl.target = "n2"
		cl.mu.Unlock()
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n2"}}) // then on n2, which claims it
		if err := cl.Report(t.Context(), store.Report{Resource: "web", Node: "n2", State: model.ResourceStarting}); err != nil {
			t.Fatalf("n2's claim: %v", err)
		}
		web := model.Resource{ID: "web", Kind: "fake", Ops: model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorTimeout: time.Second}}
		stop := runExecutor(t, staleView{cl, frozen}, cl, ag, web)
		time.Sleep(time.Second)
		synctest.Wait()
		if ag.log() != "" {
			t.Errorf("agent calls = %q, want none: n1's view is stale and n2 holds the claim", ag.log())
		}
		if cl.log() != "" {
			t.Errorf("reports = %q, want none", cl.log())
		}
		cl.mu.Lock()
		claims := strings.Join(cl.claims, "; ")
		cl.mu.Unlock()
		if !strings.HasPrefix(claims, "web n2; web n1") {
			t.Errorf("claims = %q, want n2's, then n1's (refused)", claims)
		}
		if st := cl.State(); st.Resources["web"].Node != "n2" || st.Resources["web"].State != model.ResourceStarting {
			t.Errorf("record = %+v, want n2's claim", st.Resources["web"])
		}
		stop()
	})
}

// A claim that committed but whose start never ran (its answer was lost)
// is released once the resource is placed elsewhere, so that the other
// node's claim can win.
func TestUnstartedClaimIsReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := &fakeAgent{running: map[model.ResourceID]bool{}, failStop: map[model.ResourceID]bool{}}
		cl := newFakeCluster()
		cl.target = "n2"
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}})
		// n1 claimed web before it was placed on n2, and never started it.
		cl.mu.Lock()
		cl.st.Resources = map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceStarting}}
		cl.mu.Unlock()
		web := model.Resource{ID: "web", Kind: "fake", Ops: model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorTimeout: time.Second}}
		stop := runExecutor(t, cl, cl, ag, web)
		time.Sleep(time.Second)
		synctest.Wait()
		if want := "web stopped failby=0"; cl.log() != want {
			t.Errorf("reports = %q, want %q", cl.log(), want)
		}
		if err := cl.Report(t.Context(), store.Report{Resource: "web", Node: "n2", State: model.ResourceStarting}); err != nil {
			t.Errorf("n2's claim after the release: %v", err)
		}
		if ag.log() != "" {
			t.Errorf("agent calls = %q, want none", ag.log())
		}
		stop()
	})
}

// When the committed record loses track of a resource that runs here (a
// stale report from another node overtook this node's), the next monitor
// says again that it runs here, so that what waits for it to start can go
// on.
func TestMonitorRestoresALostRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ag := &fakeAgent{running: map[model.ResourceID]bool{}, failStop: map[model.ResourceID]bool{}}
		cl := newFakeCluster()
		cl.apply(store.Command{NodeFlags: &store.NodeFlags{Node: "n1"}})
		web := model.Resource{ID: "web", Kind: "fake", Ops: model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorInterval: time.Second, MonitorTimeout: time.Second}}
		stop := runExecutor(t, cl, cl, ag, web)
		time.Sleep(50 * time.Millisecond)
		synctest.Wait()
		// n2's late "stopped", applied over n1's "started".
		cl.apply(store.Command{Report: &store.Report{Resource: "web", Node: "n2", State: model.ResourceStarted}})
		cl.apply(store.Command{Report: &store.Report{Resource: "web", Node: "n2", State: model.ResourceStopped}})
		time.Sleep(1500 * time.Millisecond)
		synctest.Wait()
		if rec := cl.State().Resources["web"]; rec.Node != "n1" || rec.State != model.ResourceStarted {
			t.Errorf("record = %+v, want started on n1 again", rec)
		}
		if want := "start web"; ag.log() != want {
			t.Errorf("agent calls = %q, want %q", ag.log(), want)
		}
		stop()
	})
}

// runExecutor runs an executor for n1 over state, reporting to cl and
// running web with ag; the returned func stops it and waits.
func runExecutor(t *testing.T, state State, cl *fakeCluster, ag *fakeAgent, web model.Resource) (stop func()) {
	t.Helper()
	ex, err := New(Config{
		Self: "n1", Cluster: model.Config{Resources: []model.Resource{web}}, State: state,
		Agents: agent.Registry{"fake": ag}, Reporter: cl, Quorum: func() bool { return true }, Tick: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error)
	go func() { done <- ex.Run(ctx) }()
	return func() {
		cancel()
		<-done
	}
}
