package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
)

// opsBackend serves a fixed status and plan (the web stack of the
// scheduler's explain script: web failed on n1 for the third time, so
// the group g moves to n2) and records the operations it is sent. It
// refuses unknown names as the daemon does; refuse, if set, answers every
// operation.
type opsBackend struct {
	fakeBackend
	mu     sync.Mutex
	ops    []api.Operation
	sims   []api.Simulation
	refuse *api.Error
}

func newOpsBackend() *opsBackend { return &opsBackend{fakeBackend: fakeBackend{resourceStatus()}} }

// Status is the status set last, which a test may change between runs.
func (b *opsBackend) Status() api.Status {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}

var at = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func term(s model.Score, reason string) api.ScoreTerm { return api.ScoreTerm{Score: s, Reason: reason} }

func stackPlan() api.Plan {
	minf := model.MinusInfinity
	standby := api.NodeScore{Node: "n3", Score: minf, Terms: []api.ScoreTerm{term(minf, "node in standby")}}
	return api.Plan{
		Node: "n2", Quorum: true, Epoch: 12, Time: at, Simulated: []string{},
		Resources: []api.PlannedResource{
			{ID: "db", Kind: "ocf", State: "started", Node: "n1", Target: "n1", Placement: "n1",
				Scores: []api.NodeScore{
					{Node: "n1", Score: 250, Terms: []api.ScoreTerm{term(200, "location db-rack-a where rack=a"), term(100, "stickiness"), term(-50, "g avoids it (colocation near-db)")}},
					{Node: "n2", Score: minf, Terms: []api.ScoreTerm{term(minf, "location cli-ban-db-on-n2")}},
					standby,
				},
				FailCounts: []api.FailCount{},
				Constraints: []api.Location{
					{ID: "db-rack-a", Attribute: "rack", Value: "a", Score: 200},
					{ID: "cli-ban-db-on-n2", Node: "n2", Score: minf, Runtime: true},
				}},
			{ID: "g", Kind: "group", Members: []string{"ip", "web"}, Target: "n1", Placement: "n2",
				Scores: []api.NodeScore{
					{Node: "n2", Score: 0, Terms: []api.ScoreTerm{}},
					{Node: "n1", Score: minf, Terms: []api.ScoreTerm{term(50, "with db (colocation near-db)"), term(100, "ip: stickiness"),
						term(100, "web: stickiness"), term(minf, "web: failcount 3 >= migration-threshold 3")}},
					standby,
				},
				FailCounts: []api.FailCount{}, Constraints: []api.Location{}},
			{ID: "ip", Kind: "vip", Group: "g", State: "started", Node: "n1", Target: "n1", Placement: "n2",
				Scores: []api.NodeScore{
					{Node: "n1", Score: 150, Terms: []api.ScoreTerm{term(50, "with db (colocation near-db)"), term(100, "stickiness")}},
					{Node: "n2", Score: 0, Terms: []api.ScoreTerm{}},
					standby,
				},
				FailCounts: []api.FailCount{}, Constraints: []api.Location{}},
			{ID: "web", Kind: "exec", Group: "g", State: "failed", Node: "n1", Target: "n1", Placement: "n2",
				Scores: []api.NodeScore{
					{Node: "n2", Score: 0, Terms: []api.ScoreTerm{}},
					{Node: "n1", Score: minf, Terms: []api.ScoreTerm{term(50, "with db (colocation near-db)"), term(100, "stickiness"),
						term(minf, "failcount 3 >= migration-threshold 3")}},
					standby,
				},
				FailCounts:  []api.FailCount{{Node: "n1", Count: 3, Last: at.Add(-time.Minute)}},
				Constraints: []api.Location{}},
			{ID: "report", Kind: "script", State: "stopped", Target: "", Placement: "", Why: "target-role is stopped",
				Scores: []api.NodeScore{}, FailCounts: []api.FailCount{}, Constraints: []api.Location{}},
		},
		Actions: []api.Action{
			{Index: 0, Kind: "stop", Resource: "web", Node: "n1", Reason: "move to n2: recover: monitor failed; web: failcount 3 >= migration-threshold 3"},
			{Index: 1, Kind: "move", Resource: "ip", Node: "n2", From: "n1", After: []int{0}, Reason: "web: failcount 3 >= migration-threshold 3"},
			{Index: 2, Kind: "start", Resource: "web", Node: "n2", After: []int{0, 1}, Reason: "move from n1: recover: monitor failed; web: failcount 3 >= migration-threshold 3"},
		},
	}
}

func (b *opsBackend) known(r string) bool {
	for _, pr := range stackPlan().Resources {
		if pr.ID == r {
			return true
		}
	}
	return false
}

func (b *opsBackend) Plan(sim api.Simulation) (api.Plan, error) {
	p := stackPlan()
	for i, n := range sim.NodeDown {
		if n != "n1" && n != "n2" && n != "n3" {
			return api.Plan{}, &api.Error{Status: 400, Field: fmt.Sprintf("node_down[%d]", i), Message: fmt.Sprintf("unknown node %q", n)}
		}
		p.Simulated = append(p.Simulated, "node "+n+" down")
	}
	for _, r := range sim.ResourceFail {
		p.Simulated = append(p.Simulated, r+" fails on n1 (fail count there 3 -> 4)")
	}
	p.Quorum = len(sim.NodeDown) < 2
	b.mu.Lock()
	b.sims = append(b.sims, sim)
	b.mu.Unlock()
	return p, nil
}

func (b *opsBackend) Operate(_ context.Context, op api.Operation) (api.Outcome, error) {
	if op.Resource != "" && !b.known(op.Resource) {
		return api.Outcome{}, &api.Error{Status: 404, Field: "resource", Message: fmt.Sprintf("unknown resource or group %q", op.Resource)}
	}
	if op.Node == "n9" {
		return api.Outcome{}, &api.Error{Status: 404, Field: "node", Message: `unknown node "n9"`}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.refuse != nil {
		return api.Outcome{}, b.refuse
	}
	b.ops = append(b.ops, op)
	switch op.Kind {
	case api.OpBan:
		return api.Outcome{
			Message: "web is banned from n1 (constraint cli-ban-web-on-n1 until `vigil resource clear web`, even if n1 is the last node left)",
			Changes: []string{"add location cli-ban-web-on-n1: web -INFINITY on n1"},
			Actions: stackPlan().Actions,
		}, nil
	case api.OpUnstandby:
		return api.Outcome{Message: "n2 is out of standby: it may run resources again (it already was; nothing changed)", Changes: []string{}, Actions: []api.Action{}}, nil
	}
	return api.Outcome{Message: string(op.Kind) + " done", Changes: []string{"a change"}, Actions: []api.Action{}}, nil
}

func (b *opsBackend) recorded() []api.Operation {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ops
}

func TestOperatorGolden(t *testing.T) {
	sock := serveAPI(t, newOpsBackend())
	tests := []struct {
		golden string
		args   []string
	}{
		{"explain-web", []string{"explain", "web"}},
		{"explain-group", []string{"explain", "g"}},
		{"explain-stopped", []string{"explain", "report"}},
		{"resource-show-db", []string{"resource", "show", "db"}},
		{"resource-show-web", []string{"resource", "show", "web"}},
		{"resource-list", []string{"resource", "list"}},
		{"simulate", []string{"simulate", "--node-down", "n3", "--resource-fail", "web"}},
		{"simulate-now", []string{"simulate"}},
		{"simulate-no-quorum", []string{"simulate", "--node-down", "n1", "--node-down", "n3"}},
		{"resource-ban", []string{"resource", "ban", "web", "n1"}},
		{"node-unstandby", []string{"node", "unstandby", "n2"}},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			r := runCLI(t, map[string]string{"VIGIL_SOCKET": sock}, tt.args...)
			if r.code != ExitOK {
				t.Fatalf("exit %d, stderr: %s", r.code, r.stderr)
			}
			checkGolden(t, tt.golden, r.stdout)
		})
	}
}

// TestOperatorCommands: each command sends the operation it names.
func TestOperatorCommands(t *testing.T) {
	b := newOpsBackend()
	sock := serveAPI(t, b)
	tests := []struct {
		args []string
		want api.Operation
	}{
		{[]string{"node", "standby", "n2"}, api.Operation{Kind: api.OpStandby, Node: "n2"}},
		{[]string{"node", "unstandby", "n2"}, api.Operation{Kind: api.OpUnstandby, Node: "n2"}},
		{[]string{"node", "maintenance", "n3"}, api.Operation{Kind: api.OpMaintenance, Node: "n3"}},
		{[]string{"node", "maintenance", "n3", "--off"}, api.Operation{Kind: api.OpUnmaintenance, Node: "n3"}},
		{[]string{"node", "unmaintenance", "n3"}, api.Operation{Kind: api.OpUnmaintenance, Node: "n3"}},
		{[]string{"resource", "move", "web", "n2"}, api.Operation{Kind: api.OpMove, Resource: "web", Node: "n2"}},
		{[]string{"resource", "move", "g"}, api.Operation{Kind: api.OpMove, Resource: "g"}},
		{[]string{"resource", "ban", "web"}, api.Operation{Kind: api.OpBan, Resource: "web"}},
		{[]string{"resource", "ban", "web", "n1"}, api.Operation{Kind: api.OpBan, Resource: "web", Node: "n1"}},
		{[]string{"resource", "clear", "web"}, api.Operation{Kind: api.OpClear, Resource: "web"}},
		{[]string{"resource", "clear", "web", "--node", "n1"}, api.Operation{Kind: api.OpClear, Resource: "web", Node: "n1"}},
		{[]string{"resource", "cleanup", "web"}, api.Operation{Kind: api.OpCleanup, Resource: "web"}},
		{[]string{"resource", "cleanup", "web", "--node", "n1"}, api.Operation{Kind: api.OpCleanup, Resource: "web", Node: "n1"}},
		{[]string{"resource", "restart", "db"}, api.Operation{Kind: api.OpRestart, Resource: "db", Timeout: defaultRestartTimeout}},
		{[]string{"resource", "restart", "db", "--timeout", "5m"}, api.Operation{Kind: api.OpRestart, Resource: "db", Timeout: 5 * time.Minute}},
		// --socket works on the group command too.
		{[]string{"resource", "--socket", sock, "cleanup", "db"}, api.Operation{Kind: api.OpCleanup, Resource: "db"}},
		{[]string{"node", "standby", "--socket", sock, "n1"}, api.Operation{Kind: api.OpStandby, Node: "n1"}},
	}
	var want []api.Operation
	for _, tt := range tests {
		r := runCLI(t, map[string]string{"VIGIL_SOCKET": sock}, tt.args...)
		if r.code != ExitOK {
			t.Errorf("vigil %s: exit %d, stderr: %s", strings.Join(tt.args, " "), r.code, r.stderr)
			continue
		}
		want = append(want, tt.want)
	}
	if d := cmp.Diff(want, b.recorded()); d != "" {
		t.Errorf("operations (-want +got):\n%s", d)
	}
}

// TestOperatorJSON: -o json prints the API's answer, which decodes back.
func TestOperatorJSON(t *testing.T) {
	sock := serveAPI(t, newOpsBackend())
	vars := map[string]string{"VIGIL_SOCKET": sock}

	r := runCLI(t, vars, "explain", "web", "-o", "json")
	var x api.Explanation
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &x) != nil {
		t.Fatalf("explain -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	want, _ := stackPlan().Explain("web")
	if d := cmp.Diff(want, x); d != "" {
		t.Errorf("explain -o json (-served +printed):\n%s", d)
	}

	r = runCLI(t, vars, "simulate", "--node-down", "n1", "-o", "json")
	var p api.Plan
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &p) != nil || p.Simulated[0] != "node n1 down" {
		t.Fatalf("simulate -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, vars, "resource", "ban", "web", "n1", "-o", "json")
	var out api.Outcome
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &out) != nil || len(out.Changes) != 1 || len(out.Actions) != 3 {
		t.Fatalf("ban -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, vars, "resource", "list", "-o", "json")
	var list struct {
		Resources []api.Resource `json:"resources"`
	}
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &list) != nil {
		t.Fatalf("list -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if d := cmp.Diff(resourceStatus().Resources, list.Resources); d != "" {
		t.Errorf("list -o json (-status +printed):\n%s", d)
	}

	r = runCLI(t, vars, "resource", "show", "db", "-o", "json")
	var pr api.PlannedResource
	if r.code != ExitOK || json.Unmarshal([]byte(r.stdout), &pr) != nil || pr.ID != "db" || len(pr.Constraints) != 2 {
		t.Fatalf("show -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = runCLI(t, vars, "node", "standby", "n1", "-o", "json")
	if r.code != ExitOK || !strings.Contains(r.stdout, `"changes": [`) {
		t.Fatalf("node standby -o json: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

func TestOperatorExitCodes(t *testing.T) {
	b := newOpsBackend()
	sock := serveAPI(t, b)
	vars := map[string]string{"VIGIL_SOCKET": sock}
	missing := filepath.Join(t.TempDir(), "none.sock")
	tests := []struct {
		name   string
		vars   map[string]string
		args   []string
		code   int
		stderr []string
	}{
		{"unknown resource", vars, []string{"resource", "ban", "nope", "n1"}, ExitUsage, []string{`resource: unknown resource or group "nope"`}},
		{"unknown node", vars, []string{"node", "standby", "n9"}, ExitUsage, []string{`node: unknown node "n9"`}},
		{"explain unknown", vars, []string{"explain", "nope"}, ExitUsage, []string{`resource: no resource or group "nope"`}},
		{"simulate unknown node", vars, []string{"simulate", "--node-down", "n9"}, ExitUsage, []string{`node_down[0]: unknown node "n9"`}},
		{"move with three arguments", vars, []string{"resource", "move", "web", "n1", "n2"}, ExitUsage, []string{"vigil resource move", "accepts between 1 and 2 arg(s)"}},
		{"node without a node", vars, []string{"node", "standby"}, ExitUsage, []string{"vigil node standby", "accepts 1 arg(s)"}},
		{"explain without a resource", vars, []string{"explain"}, ExitUsage, []string{"vigil explain"}},
		{"simulate with an argument", vars, []string{"simulate", "n1"}, ExitUsage, []string{"vigil simulate"}},
		{"restart with a zero timeout", vars, []string{"resource", "restart", "web", "--timeout", "0s"}, ExitUsage, []string{"--timeout must be positive"}},
		{"output yaml", vars, []string{"resource", "ban", "web", "-o", "yaml"}, ExitUsage, []string{`--output must be table or json`}},
		{"unreachable", map[string]string{"VIGIL_SOCKET": missing}, []string{"resource", "move", "web", "n2"}, ExitUnreachable,
			[]string{"cannot reach the vigil daemon at " + missing + ": is it running? (systemctl status vigil) — set --socket or VIGIL_SOCKET to reach another",
				"no such file or directory"}},
		{"unreachable explain", map[string]string{"VIGIL_SOCKET": missing}, []string{"explain", "web"}, ExitUnreachable, []string{"cannot reach the vigil daemon"}},
		{"unreachable node", map[string]string{"VIGIL_SOCKET": missing}, []string{"node", "standby", "n1"}, ExitUnreachable, []string{"cannot reach the vigil daemon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.vars, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("stderr does not mention %q:\n%s", s, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout %q, want nothing", r.stdout)
			}
		})
	}
	if ops := b.recorded(); len(ops) != 0 {
		t.Errorf("refused commands were applied: %v", ops)
	}

	// The cluster's refusals: no quorum, no leader, a conflict. Each has
	// its exit code, and says what the node asked sees.
	noQuorum := &api.Error{Status: http.StatusServiceUnavailable, Message: "no quorum: this node counts 1 of 3 voters present, 2 needed; nothing was changed"}
	for _, tc := range []struct {
		name   string
		status func(*api.Status)
		refuse *api.Error
		code   int
		stderr string
	}{
		{"no quorum", minority, noQuorum, ExitNoQuorum,
			"vigil: the cluster has no quorum as n2 sees it: 1 of 3 voters present (n2), 2 needed; nothing was changed\n"},
		{"no quorum, regained since", nil, noQuorum, ExitNoQuorum,
			"vigil: the cluster had no quorum as the daemon at " + sock + " saw it: no quorum: this node counts 1 of 3 voters present, 2 needed; nothing was changed\n"},
		{"no leader", nil, &api.Error{Status: http.StatusServiceUnavailable, Message: "no leader is elected yet; nothing was changed (try again in a moment)"},
			ExitNoQuorum, "vigil: no leader is elected yet; nothing was changed (try again in a moment)\n"},
		{"starting", nil, &api.Error{Status: http.StatusServiceUnavailable, Message: "this node's store is not open yet; nothing was changed (try again in a moment)"},
			ExitFailure, "vigil: this node's store is not open yet; nothing was changed (try again in a moment)\n"},
		{"conflict", nil, &api.Error{Status: http.StatusConflict, Message: "n1 is online, not offline: confirm-down is for a lost node you know is powered off"},
			ExitConflict, "vigil: n1 is online, not offline: confirm-down is for a lost node you know is powered off\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.mu.Lock()
			b.refuse = tc.refuse
			b.s = resourceStatus()
			if tc.status != nil {
				tc.status(&b.s)
			}
			b.mu.Unlock()
			r := runCLI(t, vars, "node", "standby", "n1")
			if r.code != tc.code || r.stderr != tc.stderr || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and stderr %q", r.code, r.stdout, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}

// minority makes s the view of a node that sees only itself of three.
func minority(s *api.Status) {
	s.Quorum, s.Leader = false, ""
	s.QuorumDetail = api.Quorum{Voters: 3, Needed: 2, Present: []string{"n2"}}
}

func TestOperatorHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string
	}{
		{[]string{"--help"}, []string{"resource", "node", "explain", "simulate"}},
		{[]string{"resource", "--help"}, []string{"Examples:", "cli-prefer-ID", "cli-ban-ID-on-NODE", "list", "show", "move", "ban", "clear", "cleanup", "restart"}},
		{[]string{"resource", "move", "--help"}, []string{"Examples:", "vigil resource move web n2", "--output", "--socket"}},
		{[]string{"resource", "ban", "--help"}, []string{"Examples:", "vigil resource ban web n1"}},
		{[]string{"resource", "clear", "--help"}, []string{"Examples:", "--node"}},
		{[]string{"resource", "cleanup", "--help"}, []string{"Examples:", "vigil resource cleanup web --node n1"}},
		{[]string{"resource", "restart", "--help"}, []string{"Examples:", "--timeout", "one committed command"}},
		{[]string{"resource", "list", "--help"}, []string{"Examples:", "-o json"}},
		{[]string{"resource", "show", "--help"}, []string{"Examples:", "vigil resource show web"}},
		{[]string{"node", "--help"}, []string{"Examples:", "standby", "unstandby", "maintenance", "unmaintenance"}},
		{[]string{"node", "maintenance", "--help"}, []string{"Examples:", "--off"}},
		{[]string{"node", "standby", "--help"}, []string{"Examples:", "vigil node standby n2"}},
		{[]string{"explain", "--help"}, []string{"Examples:", "crm_simulate", "vigil explain web"}},
		{[]string{"simulate", "--help"}, []string{"Examples:", "--node-down", "--resource-fail", "repeatable"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.code != ExitOK {
				t.Errorf("exit %d\nstderr: %s", r.code, r.stderr)
			}
			for _, s := range tt.want {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("help does not mention %q:\n%s", s, r.stdout)
				}
			}
		})
	}
}
