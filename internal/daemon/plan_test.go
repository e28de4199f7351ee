package daemon

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
)

// summary is a plan in one line per resource and action, for comparing.
func summary(p api.Plan) []string {
	var out []string
	for _, r := range p.Resources {
		out = append(out, r.ID+" "+r.Kind+" "+r.State+"@"+r.Node+" target="+r.Target+" placement="+r.Placement)
	}
	for _, a := range p.Actions {
		out = append(out, a.Kind+" "+a.Resource+" "+a.From+"->"+a.Node)
	}
	return out
}

func TestPlanNow(t *testing.T) {
	st := testState()
	st.FailCounts = map[model.ResourceID]map[model.NodeID]model.FailCount{
		"db": {"n3": {Count: 1, Last: testNow}, "n1": {Count: 2, Last: testNow}},
	}
	st.Runtime = []model.Location{{ID: "cli-ban-db-on-n3", Resource: "db", Node: "n3", Score: model.MinusInfinity}}
	o := newOperator(t, "n2", newFakeStore("n2", "n1", st))
	p, err := o.Plan(api.Simulation{})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"g group @ target=n2 placement=n2",
		"ip vip started@n2 target=n2 placement=n2",
		"web exec started@n2 target=n2 placement=n2",
		"db exec started@n1 target=n1 placement=n1",
	}
	if d := cmp.Diff(want, summary(p)); d != "" {
		t.Errorf("plan (-want +got):\n%s", d)
	}
	if p.Node != "n2" || !p.Quorum || !p.Time.Equal(testNow) || len(p.Simulated) != 0 {
		t.Errorf("plan header: node %s quorum %v time %v simulated %v", p.Node, p.Quorum, p.Time, p.Simulated)
	}
	x, ok := p.Explain("db")
	if !ok {
		t.Fatal("no db in the plan")
	}
	wantFails := []api.FailCount{{Node: "n1", Count: 2, Last: testNow}, {Node: "n3", Count: 1, Last: testNow}}
	if d := cmp.Diff(wantFails, x.Resource.FailCounts); d != "" {
		t.Errorf("fail counts in node order (-want +got):\n%s", d)
	}
	wantLocs := []api.Location{
		{ID: "db-likes-n1", Node: "n1", Score: 100},
		{ID: "cli-ban-db-on-n3", Node: "n3", Score: model.MinusInfinity, Runtime: true},
	}
	if d := cmp.Diff(wantLocs, x.Resource.Constraints); d != "" {
		t.Errorf("constraints (-want +got):\n%s", d)
	}
	var scores []string
	for _, s := range x.Resource.Scores {
		var terms []string
		for _, t := range s.Terms {
			terms = append(terms, t.Reason+"="+t.Score.String())
		}
		scores = append(scores, s.Node+" "+s.Score.String()+": "+strings.Join(terms, ", "))
	}
	wantScores := []string{
		"n1 200: location db-likes-n1=100, stickiness=100",
		"n2 0: ",
		"n3 -INFINITY: location cli-ban-db-on-n3=-INFINITY",
	}
	if d := cmp.Diff(wantScores, scores); d != "" {
		t.Errorf("db scores (-want +got):\n%s", d)
	}
}

func TestSimulate(t *testing.T) {
	s := newFakeStore("n2", "n1", testState())
	o := newOperator(t, "n2", s)
	before := s.State()

	p, err := o.Plan(api.Simulation{NodeDown: []string{"n1"}, ResourceFail: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"node n1 down", "web fails on n2 (fail count there 0 -> 1)"}, p.Simulated); d != "" {
		t.Errorf("simulated (-want +got):\n%s", d)
	}
	var acts []string
	for _, a := range p.Actions {
		acts = append(acts, a.Kind+" "+a.Resource+" "+a.From+"->"+a.Node)
	}
	// db recovers off n1, web restarts in place (below its threshold).
	if d := cmp.Diff([]string{"restart web ->n2", "start db ->n3"}, acts); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	if !p.Quorum {
		t.Error("two of three nodes up: no quorum")
	}
	if d := cmp.Diff(before, s.State()); d != "" {
		t.Errorf("a simulation changed the committed state (-before +after):\n%s", d)
	}

	// Two nodes down: no quorum, so the simulated partition stops all.
	p, err = o.Plan(api.Simulation{NodeDown: []string{"n1", "n3"}})
	if err != nil {
		t.Fatal(err)
	}
	if p.Quorum {
		t.Error("one of three nodes up, yet quorum")
	}
	for _, a := range p.Actions {
		if a.Kind != "stop" {
			t.Errorf("without quorum the plan has %s %s", a.Kind, a.Resource)
		}
	}
	// This node down itself: it no longer counts itself.
	p, err = o.Plan(api.Simulation{NodeDown: []string{"n2"}})
	if err != nil || !p.Quorum {
		t.Errorf("n2 down, seen from n2: quorum %v, %v; want quorum (n1 and n3 remain)", p.Quorum, err)
	}

	for _, tt := range []struct {
		sim         api.Simulation
		field, says string
	}{
		{api.Simulation{NodeDown: []string{"n1", "n9"}}, "node_down[1]", `unknown node "n9"`},
		{api.Simulation{ResourceFail: []string{"nope"}}, "resource_fail[0]", `unknown resource "nope"`},
		{api.Simulation{ResourceFail: []string{"db", "g"}}, "resource_fail[1]", "is a group; name the member"},
	} {
		_, err := o.Plan(tt.sim)
		wantAPIError(t, err, 400, tt.field, tt.says)
	}
	st := testState()
	st.Resources["db"] = model.ResourceRecord{State: model.ResourceStopped}
	_, err = newOperator(t, "n2", newFakeStore("n2", "n1", st)).Plan(api.Simulation{ResourceFail: []string{"db"}})
	wantAPIError(t, err, 400, "resource_fail[0]", "db is not running anywhere")
	if d := cmp.Diff(before, s.State()); d != "" {
		t.Errorf("refused simulations changed the state (-before +after):\n%s", d)
	}
}
