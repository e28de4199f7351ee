package scheduler

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"
	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

// TestSchedule runs the scripts in testdata/*.txt (see script_test.go for
// the language). Update them with `go test ./internal/scheduler -rewrite`
// and read the diff.
func TestSchedule(t *testing.T) {
	files, err := filepath.Glob("testdata/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no scripts: %v", err)
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				if d.Cmd != "schedule" {
					d.Fatalf(t, "unknown directive %q", d.Cmd)
				}
				var ids []model.ResourceID
				all := false
				if arg, ok := d.Arg("scores"); ok {
					all = len(arg.Vals) == 0
					for _, v := range arg.Vals {
						ids = append(ids, model.ResourceID(v))
					}
				}
				sc := newScript()
				var out strings.Builder
				for _, line := range strings.Split(d.Input, "\n") {
					if strings.TrimSpace(line) == "apply" {
						p := Schedule(sc.in)
						checkPlan(t, sc.in, p)
						out.WriteString(format(sc.in.Config, p, ids, all))
						out.WriteString("applied:\n")
						sc.apply(p)
						continue
					}
					if err := sc.run(line); err != nil {
						d.Fatalf(t, "%s: %v", line, err)
					}
				}
				p := Schedule(sc.in)
				checkPlan(t, sc.in, p)
				out.WriteString(format(sc.in.Config, p, ids, all))
				return out.String()
			})
		})
	}
}

// checkPlan checks what every plan must satisfy, whatever the script.
func checkPlan(t *testing.T, in Input, p model.Plan) {
	t.Helper()
	for i, a := range p.Actions {
		for _, j := range a.After {
			if j < 0 || j >= i {
				t.Errorf("action %d (%s %s) is after %d, which is not earlier", i, a.Kind, a.Resource, j)
			}
		}
		if a.Reason == "" {
			t.Errorf("action %d (%s %s) has no reason", i, a.Kind, a.Resource)
		}
	}
	for _, r := range in.Config.Resources {
		node, ok := p.Placement[r.ID]
		if !ok {
			t.Errorf("no placement for %s", r.ID)
		}
		if node == "" && p.Why[r.ID] == "" {
			t.Errorf("%s will not run, and Why does not say why", r.ID)
		}
		if len(p.Scores[r.ID]) != len(in.Config.Nodes) {
			t.Errorf("scores of %s: %d nodes, want %d", r.ID, len(p.Scores[r.ID]), len(in.Config.Nodes))
		}
	}
	// Group members run together.
	for _, g := range in.Config.Groups {
		var at model.NodeID
		for _, m := range g.Members {
			if n := p.Placement[m]; n != "" && at != "" && n != at && p.Why[m] == "" {
				t.Errorf("group %s split: %s on %s, another member on %s", g.ID, m, n, at)
			} else if n != "" {
				at = n
			}
		}
	}
	if !in.Quorum {
		for _, a := range p.Actions {
			if a.Kind != model.ActionStop {
				t.Errorf("no quorum, yet action %s %s (invariant 4)", a.Kind, a.Resource)
			}
		}
	}
}

func TestScoreAdd(t *testing.T) {
	inf, minf := model.Infinity, model.MinusInfinity
	tests := []struct {
		a, b, want model.Score
	}{
		{0, 0, 0},
		{100, 50, 150},
		{100, -150, -50},
		{inf, 5, inf},
		{inf, -5, inf},
		{minf, 5, minf},
		{inf, minf, minf},
		{minf, inf, minf},
		{inf, inf, inf},
		{minf, minf, minf},
		{999_999, 1, inf - 1},
		{600_000, 600_000, inf - 1},
		{-600_000, -600_000, minf + 1},
		{2 * inf, -1, inf},
		{-2 * inf, 1, minf},
	}
	for _, tt := range tests {
		if got := tt.a.Add(tt.b); got != tt.want {
			t.Errorf("%d.Add(%d) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
		if got := tt.b.Add(tt.a); got != tt.want {
			t.Errorf("%d.Add(%d) = %d, want %d (Add commutes)", tt.b, tt.a, got, tt.want)
		}
	}
}

func TestParseScore(t *testing.T) {
	tests := []struct {
		in   string
		want model.Score
		err  bool
	}{
		{"0", 0, false},
		{"100", 100, false},
		{" -25 ", -25, false},
		{"INFINITY", model.Infinity, false},
		{"+INFINITY", model.Infinity, false},
		{"inf", model.Infinity, false},
		{"-infinity", model.MinusInfinity, false},
		{"-INF", model.MinusInfinity, false},
		{"1000000", model.Infinity, false},
		{"5000000", model.Infinity, false},
		{"-1000000", model.MinusInfinity, false},
		{"999999", 999_999, false},
		{"ten", 0, true},
		{"", 0, true},
		{"1.5", 0, true},
	}
	for _, tt := range tests {
		got, err := model.ParseScore(tt.in)
		if (err != nil) != tt.err || got != tt.want {
			t.Errorf("ParseScore(%q) = %v, %v; want %v, error %v", tt.in, got, err, tt.want, tt.err)
		}
	}
	for _, s := range []model.Score{model.Infinity, model.MinusInfinity, 0, 42, -42} {
		if got, err := model.ParseScore(s.String()); err != nil || got != s {
			t.Errorf("ParseScore(%q) = %v, %v; want %v", s.String(), got, err, s)
		}
	}
}

func TestScale(t *testing.T) {
	inf, minf := model.Infinity, model.MinusInfinity
	tests := []struct{ v, by, want model.Score }{
		{100, inf, 100},
		{minf, inf, minf},
		{100, minf, -100},
		{minf, minf, 0}, // a ban never becomes a preference
		{-50, -100, 0},
		{inf, minf, minf},
		{100, 500_000, 50},
		{minf, 500, -500},
		{100, 500, 0},
	}
	for _, tt := range tests {
		if got := scale(tt.v, tt.by); got != tt.want {
			t.Errorf("scale(%s, %s) = %s, want %s", tt.v, tt.by, got, tt.want)
		}
	}
}

// TestDeterministic schedules the same input many times, its maps rebuilt
// in different insertion orders, and wants the same plan every time.
func TestDeterministic(t *testing.T) {
	in := benchInput(300, 8, 1)
	want := Schedule(in)
	if len(want.Actions) == 0 {
		t.Fatal("the input produces no actions; the test would prove little")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 50 {
		got := Schedule(shuffled(in, rng))
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("run %d differs (-first +this):\n%s", i, d)
		}
	}
}

// shuffled returns in with every map rebuilt in a random insertion order.
func shuffled(in Input, rng *rand.Rand) Input {
	out := in
	st := in.State
	out.State.Nodes = rebuild(st.Nodes, rng)
	out.State.Resources = rebuild(st.Resources, rng)
	out.State.Targets = rebuild(st.Targets, rng)
	fcs := make(map[model.ResourceID]map[model.NodeID]model.FailCount, len(st.FailCounts))
	for _, k := range perm(keys(st.FailCounts), rng) {
		fcs[k] = rebuild(st.FailCounts[k], rng)
	}
	out.State.FailCounts = fcs
	nodes := make([]model.Node, len(in.Config.Nodes))
	for i, n := range in.Config.Nodes {
		n.Attributes = rebuild(n.Attributes, rng)
		nodes[i] = n
	}
	out.Config.Nodes = nodes
	return out
}

func keys[K comparable, V any](m map[K]V) []K {
	out := make([]K, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func perm[K any](ks []K, rng *rand.Rand) []K {
	rng.Shuffle(len(ks), func(i, j int) { ks[i], ks[j] = ks[j], ks[i] })
	return ks
}

func rebuild[K comparable, V any](m map[K]V, rng *rand.Rand) map[K]V {
	if m == nil {
		return nil
	}
	out := make(map[K]V, len(m))
	for _, k := range perm(keys(m), rng) {
		out[k] = m[k]
	}
	return out
}

// TestEmpty: no resources, no nodes, nothing to do, and no panic.
func TestEmpty(t *testing.T) {
	p := Schedule(Input{Quorum: true})
	if len(p.Actions) != 0 || len(p.Placement) != 0 {
		t.Errorf("empty input: %+v", p)
	}
	p = Schedule(Input{Config: model.Config{Resources: []model.Resource{{ID: "a"}}}, Quorum: true})
	if p.Placement["a"] != "" || p.Why["a"] != "no node can run it: there are no nodes" {
		t.Errorf("no nodes: placement %q, why %q", p.Placement["a"], p.Why["a"])
	}
}

func ExampleSchedule() {
	web := model.Resource{ID: "web", Kind: "exec", Meta: model.Meta{MigrationThreshold: 3}}
	in := Input{
		Config: model.Config{
			Nodes:     []model.Node{{Name: "n1"}, {Name: "n2"}},
			Resources: []model.Resource{web},
		},
		State: model.ClusterState{
			Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}, "n2": {State: model.NodeOnline}},
			Resources: map[model.ResourceID]model.ResourceRecord{
				"web": {Node: "n1", State: model.ResourceFailed, Reason: "monitor failed"},
			},
			FailCounts: map[model.ResourceID]map[model.NodeID]model.FailCount{"web": {"n1": {Count: 3}}},
		},
		Quorum: true,
	}
	p := Schedule(in)
	for _, a := range p.Actions {
		fmt.Printf("%s %s %s -> %s: %s\n", a.Kind, a.Resource, a.From, a.Node, a.Reason)
	}
	// Output:
	// move web n1 -> n2: recover: monitor failed; failcount 3 >= migration-threshold 3
}

// TestShapes schedules large chains and stars of colocations and orders.
// They would take minutes if any step were quadratic in their length; the
// test checks only the outcome (speed is BenchmarkSchedule's business).
func TestShapes(t *testing.T) {
	const n = 10_000
	nodes := []model.Node{{Name: "n1"}, {Name: "n2"}, {Name: "n3"}}
	online := map[model.NodeID]model.NodeRecord{"n1": {State: model.NodeOnline}, "n2": {State: model.NodeOnline}, "n3": {State: model.NodeOnline}}
	for _, shape := range []string{"chain", "star", "blocked"} {
		t.Run(shape, func(t *testing.T) {
			in := Input{Config: model.Config{Nodes: nodes}, State: model.ClusterState{Nodes: online, Resources: map[model.ResourceID]model.ResourceRecord{}}, Quorum: true}
			cons := &in.Config.Constraints
			for i := range n {
				id := model.ResourceID(fmt.Sprintf("r%d", i))
				in.Config.Resources = append(in.Config.Resources, model.Resource{ID: id})
				in.State.Resources[id] = model.ResourceRecord{State: model.ResourceStarted, Node: "n1"}
				if i == 0 {
					continue
				}
				with := model.ResourceID(fmt.Sprintf("r%d", i-1))
				if shape == "star" {
					with = "r0"
				}
				if shape == "blocked" && i == 1 {
					in.State.Resources["r0"] = model.ResourceRecord{State: model.ResourceBlocked, Node: "n1"}
				}
				cons.Colocations = append(cons.Colocations, model.Colocation{ID: fmt.Sprintf("c%d", i), Resource: id, With: with, Score: model.Infinity})
				cons.Orders = append(cons.Orders, model.Order{ID: fmt.Sprintf("o%d", i), First: with, Then: id, Kind: model.OrderMandatory})
			}
			// The last resource is banned from n1: through influence, all
			// move to n2 together, unless r0 is blocked.
			last := in.Config.Resources[n-1].ID
			cons.Locations = append(cons.Locations, model.Location{ID: "ban", Resource: last, Node: "n1", Score: model.MinusInfinity})
			p := Schedule(in)
			// Blocked at its root, the chain stays where it is.
			want := model.NodeID("n2")
			if shape == "blocked" {
				want = "n1"
			}
			for _, r := range in.Config.Resources {
				if p.Placement[r.ID] != want {
					t.Fatalf("%s placed on %q (%s), want %s", r.ID, p.Placement[r.ID], p.Why[r.ID], want)
				}
			}
			checkPlan(t, in, p)
		})
	}
}
