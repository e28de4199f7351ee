package executor

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

func res(id string, group string) model.Resource {
	return model.Resource{ID: model.ResourceID(id), Kind: "fake", Group: model.ResourceID(group),
		Ops: model.Ops{StartTimeout: time.Second, StopTimeout: time.Second, MonitorInterval: time.Second, MonitorTimeout: time.Second}}
}

// cluster: ip and web in group g (ip first), db ordered before g.
func testConfig() model.Config {
	return model.Config{
		Resources: []model.Resource{res("db", ""), res("ip", "g"), res("web", "g")},
		Groups:    []model.Group{{ID: "g", Members: []model.ResourceID{"ip", "web"}}},
		Constraints: model.Constraints{Orders: []model.Order{
			{ID: "db-then-g", First: "db", Then: "g", Kind: model.OrderMandatory},
		}},
	}
}

type h = map[model.ResourceID]model.Health

const (
	run  = model.HealthRunning
	stop = model.HealthStopped
	fail = model.HealthFailed
)

func started(n string) model.ResourceRecord {
	return model.ResourceRecord{Node: model.NodeID(n), State: model.ResourceStarted}
}

func TestDecide(t *testing.T) {
	online := map[model.NodeID]model.NodeRecord{"n1": {State: "online"}, "n2": {State: "online"}}
	for _, tc := range []struct {
		name    string
		nodes   map[model.NodeID]model.NodeRecord
		targets map[model.ResourceID]model.NodeID
		records map[model.ResourceID]model.ResourceRecord
		local   h
		busy    []model.ResourceID
		quorum  bool
		stale   bool
		boot    uint64 // this daemon's incarnation
		gens    map[model.NodeID]uint64
		policy  model.NoQuorumPolicy
		want    string
	}{
		{name: "probe first, nothing else",
			local: h{"db": stop}, quorum: true,
			want: "probe ip; probe web"},
		{name: "start what has no predecessor; the rest waits",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			local:   h{"db": stop, "ip": stop, "web": stop}, quorum: true,
			want: "start db"},
		{name: "group start follows the order and the group",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1")},
			local:   h{"db": run, "ip": stop, "web": stop}, quorum: true,
			want: "start ip"},
		{name: "a member waits for the one before it to run here, not elsewhere",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": started("n2")},
			local:   h{"db": run, "ip": stop, "web": stop}, quorum: true,
			want: ""},
		{name: "a member starts once the one before it runs here, before its report commits",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": {Node: "n1", State: model.ResourceStarting}},
			local:   h{"db": run, "ip": run, "web": stop}, quorum: true,
			want: "start web"},
		{name: "but not while it is still starting here",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": {Node: "n1", State: model.ResourceStarting}},
			local:   h{"db": run, "ip": stop, "web": stop}, quorum: true, busy: []model.ResourceID{"ip"},
			want: ""},
		{name: "second member after the first",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": started("n1")},
			local:   h{"db": run, "ip": run, "web": stop}, quorum: true,
			want: "start web"},
		{name: "a start waits while the old node still has it",
			targets: map[model.ResourceID]model.NodeID{"db": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n2")},
			local:   h{"db": stop, "ip": stop, "web": stop}, quorum: true,
			want: ""},
		{name: "or the cluster took over the old node's lease since",
			nodes:   map[model.NodeID]model.NodeRecord{"n1": {State: "online"}, "n2": {State: "online"}},
			targets: map[model.ResourceID]model.NodeID{"db": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": {Node: "n2", State: model.ResourceStarted, Gen: 0}},
			gens:    map[model.NodeID]uint64{"n2": 1},
			local:   h{"db": stop, "ip": stop, "web": stop}, quorum: true,
			want: "start db"},
		{name: "unless the old node is offline",
			nodes:   map[model.NodeID]model.NodeRecord{"n1": {State: "online"}, "n2": {State: "offline"}},
			targets: map[model.ResourceID]model.NodeID{"db": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n2")},
			local:   h{"db": stop, "ip": stop, "web": stop}, quorum: true,
			want: "start db"},
		{name: "stops go in reverse: dependents first",
			targets: map[model.ResourceID]model.NodeID{},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": started("n1"), "web": started("n1")},
			local:   h{"db": run, "ip": run, "web": run}, quorum: true,
			want: "stop web"},
		{name: "then the member before it",
			targets: map[model.ResourceID]model.NodeID{},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": started("n1")},
			local:   h{"db": run, "ip": run, "web": stop}, quorum: true,
			want: "stop ip"},
		{name: "a failed resource placed here is recovered in place",
			targets: map[model.ResourceID]model.NodeID{"db": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": {Node: "n1", State: model.ResourceFailed, Reason: "monitor: exit 7"}},
			local:   h{"db": fail, "ip": stop, "web": stop}, quorum: true,
			want: "restart db"},
		{name: "a failed member whose predecessor stopped here is stopped, not restarted",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": {State: model.ResourceStopped},
				"web": {Node: "n1", State: model.ResourceFailed, Reason: "monitor: exit 7"}},
			local: h{"db": run, "ip": stop, "web": fail}, quorum: true,
			want: "start ip; stop web"},
		{name: "and restarted in place once its predecessor runs here",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"},
			records: map[model.ResourceID]model.ResourceRecord{"db": started("n1"), "ip": started("n1"),
				"web": {Node: "n1", State: model.ResourceFailed, Reason: "monitor: exit 7"}},
			local: h{"db": run, "ip": run, "web": fail}, quorum: true,
			want: "restart web"},
		{name: "a failed resource placed elsewhere is stopped here",
			targets: map[model.ResourceID]model.NodeID{"db": "n2"},
			records: map[model.ResourceID]model.ResourceRecord{"db": {Node: "n1", State: model.ResourceFailed}},
			local:   h{"db": fail, "ip": stop, "web": stop}, quorum: true,
			want: "stop db"},
		{name: "a stale placement is not acted on",
			targets: map[model.ResourceID]model.NodeID{"db": "n2"},
			local:   h{"db": run, "ip": stop, "web": stop}, quorum: true, stale: true,
			want: ""},
		{name: "a restarted daemon acts on nothing before its boot is committed",
			nodes:   map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 7}, "n2": {State: "online"}},
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "web": "n2"},
			local:   h{"db": stop, "ip": stop, "web": run}, quorum: true, boot: 8,
			want: ""},
		{name: "and acts once it is",
			nodes:   map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 8}, "n2": {State: "online"}},
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "web": "n2"},
			local:   h{"db": stop, "ip": stop, "web": run}, quorum: true, boot: 8,
			want: "start db; stop web"},
		{name: "an uncommitted boot does not hold back the no-quorum stop",
			nodes:   map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 7}},
			targets: map[model.ResourceID]model.NodeID{"db": "n1"},
			local:   h{"db": run, "ip": stop, "web": stop}, quorum: false, boot: 8,
			want: "stop db"},
		{name: "blocked: hands off",
			targets: map[model.ResourceID]model.NodeID{},
			records: map[model.ResourceID]model.ResourceRecord{"db": {Node: "n1", State: model.ResourceBlocked}},
			local:   h{"db": fail, "ip": stop, "web": stop}, quorum: true,
			want: ""},
		{name: "busy resources wait for their operation",
			targets: map[model.ResourceID]model.NodeID{"db": "n1"},
			local:   h{"db": stop, "ip": stop, "web": stop}, busy: []model.ResourceID{"db"}, quorum: true,
			want: ""},
		{name: "no quorum, policy stop: stop everything here, start nothing",
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1"},
			local:   h{"db": run, "ip": stop, "web": run}, quorum: false,
			want: "stop db; stop web"},
		{name: "no quorum, policy freeze: touch nothing",
			targets: map[model.ResourceID]model.NodeID{"ip": "n1"},
			local:   h{"db": run, "ip": stop, "web": run}, quorum: false, policy: model.NoQuorumFreeze,
			want: ""},
		{name: "maintenance: touch nothing, not even probes",
			nodes: map[model.NodeID]model.NodeRecord{"n1": {State: "online", Maintenance: true}},
			local: h{}, quorum: true,
			want: ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Options.NoQuorumPolicy = tc.policy
			st := model.ClusterState{Nodes: online, Resources: tc.records, Targets: tc.targets, Epoch: 5, PlacedEpoch: 5, LeaseGens: tc.gens}
			if tc.nodes != nil {
				st.Nodes = tc.nodes
			}
			if tc.stale {
				st.PlacedEpoch = 4
			}
			busy := map[model.ResourceID]bool{}
			for _, b := range tc.busy {
				busy[b] = true
			}
			var got []string
			for _, o := range decide(view{self: "n1", cfg: cfg, st: st, local: tc.local, busy: busy, quorum: tc.quorum, boot: tc.boot}) {
				got = append(got, string(o.kind)+" "+string(o.res.ID))
			}
			if d := cmp.Diff(tc.want, strings.Join(got, "; ")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// A configuration applied at run time stops, with the definition they run
// with, the resources it removes and those whose parameters it changes.
func TestReconfigure(t *testing.T) {
	cfg := testConfig()
	changed := res("web", "g")
	changed.Params = map[string]string{"port": "8081"}
	cfg.Resources[2] = changed
	cfg.Resources = cfg.Resources[1:] // db removed
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 3}}}
	ran := map[model.ResourceID]model.Resource{"db": res("db", ""), "ip": res("ip", "g"), "web": res("web", "g")}
	for _, tc := range []struct {
		name  string
		local h
		busy  []model.ResourceID
		boot  uint64
		want  string
	}{
		{"removed and changed are stopped with their old definition", h{"db": run, "ip": run, "web": run}, nil, 3,
			"stop db (removed from the configuration) params=map[]; stop web (parameters changed) params=map[]"},
		{"what is already stopped or busy is left alone", h{"db": stop, "ip": run, "web": run}, []model.ResourceID{"web"}, 3, ""},
		{"nothing before this incarnation is committed", h{"db": run, "ip": run, "web": run}, nil, 4, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			busy := map[model.ResourceID]bool{}
			for _, b := range tc.busy {
				busy[b] = true
			}
			var got []string
			for _, o := range reconfigure(view{self: "n1", cfg: cfg, st: st, local: tc.local, busy: busy, quorum: true, boot: tc.boot}, ran) {
				got = append(got, fmt.Sprintf("%s params=%v", o, o.res.Params))
			}
			if d := cmp.Diff(tc.want, strings.Join(got, "; ")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRestartSet(t *testing.T) {
	withColocation := func(c model.Colocation) model.Config {
		cfg := testConfig()
		cfg.Resources = append(cfg.Resources, res("mon", ""), res("log", ""))
		cfg.Constraints.Colocations = append(cfg.Constraints.Colocations, c)
		return cfg
	}
	for _, tc := range []struct {
		name string
		cfg  model.Config
		id   model.ResourceID
		want string
	}{
		{"the last member: itself", testConfig(), "web", "web"},
		{"a member: itself and the members after it", testConfig(), "ip", "ip,web"},
		{"a group: every member", testConfig(), "g", "ip,web"},
		{"the First of a mandatory order: and the Then side (here a group)", testConfig(), "db", "db,ip,web"},
		{"an optional order is no dependency", func() model.Config {
			cfg := testConfig()
			cfg.Constraints.Orders[0].Kind = model.OrderOptional
			return cfg
		}(), "db", "db"},
		{"colocated with it at INFINITY", withColocation(model.Colocation{ID: "c", Resource: "mon", With: "web", Score: model.Infinity}), "ip", "ip,web,mon"},
		{"colocated with its group at INFINITY", withColocation(model.Colocation{ID: "c", Resource: "mon", With: "g", Score: model.Infinity}), "web", "web,mon"},
		{"a finite colocation is no dependency", withColocation(model.Colocation{ID: "c", Resource: "mon", With: "web", Score: 500}), "web", "web"},
		{"nothing depends on it", withColocation(model.Colocation{ID: "c", Resource: "mon", With: "web", Score: model.Infinity}), "mon", "mon"},
		{"an order against a colocation: as configured", func() model.Config {
			cfg := withColocation(model.Colocation{ID: "c", Resource: "mon", With: "log", Score: model.Infinity})
			cfg.Constraints.Orders = append(cfg.Constraints.Orders, model.Order{ID: "o", First: "mon", Then: "log", Kind: model.OrderMandatory})
			return cfg
		}(), "log", "mon,log"},
		{"unknown", testConfig(), "nope", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, id := range RestartSet(tc.cfg, tc.id) {
				got = append(got, string(id))
			}
			if d := cmp.Diff(tc.want, strings.Join(got, ",")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestRestarts(t *testing.T) {
	here := map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n1", "web": "n1"}
	allRun := h{"db": run, "ip": run, "web": run}
	type seen = map[model.ResourceID]uint64
	req := func(count uint64, node model.NodeID) model.RestartRequest {
		return model.RestartRequest{Count: count, Node: node}
	}
	for _, tc := range []struct {
		name        string
		requests    map[model.ResourceID]model.RestartRequest
		seen        seen
		targets     map[model.ResourceID]model.NodeID
		records     map[model.ResourceID]model.ResourceRecord
		local       h
		busy        []model.ResourceID
		noQuorum    bool
		maintenance bool
		stale       bool
		boot        uint64 // this daemon's; the committed one is 7
		want        string
		wantSeen    seen
	}{
		{name: "before this incarnation is committed: nothing, and nothing seen yet",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(3, "n1")}, boot: 8,
			want: "", wantSeen: nil},
		{name: "once it is, what was requested before is history",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(3, "n1")}, boot: 7,
			want: "", wantSeen: seen{"web": 3}},
		{name: "a new request restarts",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(4, "n1")}, seen: seen{"web": 3},
			want: "restart web (restart requested by operator)", wantSeen: seen{"web": 4}},
		{name: "a member restarts the members after it",
			requests: map[model.ResourceID]model.RestartRequest{"ip": req(1, "n1")}, seen: seen{},
			want: "restart ip,web (restart requested by operator)", wantSeen: seen{"ip": 1}},
		{name: "a group restarts every member",
			requests: map[model.ResourceID]model.RestartRequest{"g": req(1, "n1")}, seen: seen{},
			want: "restart ip,web (restart requested by operator)", wantSeen: seen{"g": 1}},
		{name: "the First of an order restarts the Then side here",
			requests: map[model.ResourceID]model.RestartRequest{"db": req(1, "n1")}, seen: seen{},
			want: "restart db,ip,web (restart requested by operator)", wantSeen: seen{"db": 1}},
		{name: "a dependent that runs elsewhere is left alone",
			requests: map[model.ResourceID]model.RestartRequest{"db": req(1, "n1")}, seen: seen{},
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n2", "web": "n2"}, local: h{"db": run, "ip": stop, "web": stop},
			want: "restart db (restart requested by operator)", wantSeen: seen{"db": 1}},
		{name: "a failed dependent is restarted with it",
			requests: map[model.ResourceID]model.RestartRequest{"ip": req(1, "n1")}, seen: seen{}, local: h{"db": run, "ip": run, "web": fail},
			want: "restart ip,web (restart requested by operator)", wantSeen: seen{"ip": 1}},
		{name: "the same count again: nothing",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(4, "n1")}, seen: seen{"web": 4},
			want: "", wantSeen: seen{"web": 4}},
		{name: "another node's request is only noted",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(2, "n2")}, seen: seen{"web": 1},
			want: "", wantSeen: seen{"web": 2}},
		{name: "in maintenance it lapses",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(2, "n1")}, seen: seen{"web": 1}, maintenance: true,
			want: "lapse web: node in maintenance", wantSeen: seen{"web": 2}},
		{name: "without quorum it lapses",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(2, "n1")}, seen: seen{"web": 1}, noQuorum: true,
			want: "lapse web: no quorum", wantSeen: seen{"web": 2}},
		{name: "not running here, it lapses",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(1, "n1")}, seen: seen{}, local: h{"db": run, "ip": run, "web": stop},
			want: "lapse web: not running here", wantSeen: seen{"web": 1}},
		{name: "a dependent blocked here: it lapses",
			requests: map[model.ResourceID]model.RestartRequest{"ip": req(1, "n1")}, seen: seen{},
			records: map[model.ResourceID]model.ResourceRecord{"web": {Node: "n1", State: model.ResourceBlocked}},
			want:    "lapse ip: web is blocked here (a stop failed)", wantSeen: seen{"ip": 1}},
		{name: "a stale placement: it waits",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(1, "n1")}, seen: seen{}, stale: true,
			want: "", wantSeen: seen{"web": 0}},
		{name: "a busy dependent: it waits",
			requests: map[model.ResourceID]model.RestartRequest{"ip": req(1, "n1")}, seen: seen{}, busy: []model.ResourceID{"web"},
			want: "", wantSeen: seen{"ip": 0}},
		{name: "an unprobed dependent: it waits",
			requests: map[model.ResourceID]model.RestartRequest{"ip": req(1, "n1")}, seen: seen{}, local: h{"db": run, "ip": run},
			want: "", wantSeen: seen{"ip": 0}},
		{name: "a dependent leaving this node: it waits for its stop",
			requests: map[model.ResourceID]model.RestartRequest{"db": req(1, "n1")}, seen: seen{},
			targets: map[model.ResourceID]model.NodeID{"db": "n1", "ip": "n2", "web": "n2"},
			want:    "", wantSeen: seen{"db": 0}},
		{name: "a removed resource is forgotten, and a count that went down (removed, added again) is new",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(1, "n1")}, seen: seen{"web": 5, "gone": 2},
			want: "restart web (restart requested by operator)", wantSeen: seen{"web": 1}},
		{name: "several, by resource; one that overlaps an earlier one waits for it",
			requests: map[model.ResourceID]model.RestartRequest{"web": req(1, "n1"), "ip": req(1, "n1"), "db": req(1, "n2")}, seen: seen{},
			want: "restart ip,web (restart requested by operator)", wantSeen: seen{"db": 1, "ip": 1, "web": 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := model.ClusterState{
				Nodes:     map[model.NodeID]model.NodeRecord{"n1": {State: "online", Boot: 7, Maintenance: tc.maintenance}, "n2": {State: "online"}},
				Resources: tc.records, Targets: here, Restarts: tc.requests, Epoch: 5, PlacedEpoch: 5,
			}
			if tc.targets != nil {
				st.Targets = tc.targets
			}
			if tc.stale {
				st.PlacedEpoch = 4
			}
			local := allRun
			if tc.local != nil {
				local = tc.local
			}
			busy := map[model.ResourceID]bool{}
			for _, b := range tc.busy {
				busy[b] = true
			}
			v := view{self: "n1", cfg: testConfig(), st: st, local: local, busy: busy, quorum: !tc.noQuorum, boot: tc.boot}
			ops, gotSeen, lapsed := restarts(v, tc.seen)
			var got []string
			for _, o := range ops {
				got = append(got, o.String())
				if o.res.ID != o.chain[0].ID {
					t.Errorf("%s: res %s is not the chain's first", o, o.res.ID)
				}
			}
			for _, l := range lapsed {
				got = append(got, fmt.Sprintf("lapse %s: %s", l.resource, l.why))
			}
			if d := cmp.Diff(tc.want, strings.Join(got, "; ")); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
			if d := cmp.Diff(tc.wantSeen, gotSeen); d != "" {
				t.Errorf("seen (-want +got):\n%s", d)
			}
		})
	}
}

// The lease gate: when the lease must be given up everything that may run
// here stops at once, whatever the order constraints; while a start could
// not be stopped in time, nothing starts; maintenance is hands off.
func TestLeaseGate(t *testing.T) {
	cfg := testConfig()
	st := model.ClusterState{Nodes: map[model.NodeID]model.NodeRecord{"n1": {State: "online"}}}
	ops := []op{{kind: opStart, res: res("web", "g")}, {kind: opRestart, res: res("db", "")}, {kind: opMonitor, res: res("ip", "g")}, {kind: opProbe, res: res("x", "")}}
	str := func(os []op) string {
		var s []string
		for _, o := range os {
			s = append(s, string(o.kind)+" "+string(o.res.ID))
		}
		return strings.Join(s, "; ")
	}
	v := view{self: "n1", cfg: cfg, st: st, local: h{"db": run, "ip": run, "web": stop}, busy: map[model.ResourceID]bool{}}
	if got := str(leaseGate(v, ops, nil, true, false)); got != "start web; restart db; monitor ip; probe x" {
		t.Errorf("a valid lease changes nothing: %s", got)
	}
	if got := str(leaseGate(v, ops, nil, false, false)); got != "monitor ip; probe x" {
		t.Errorf("no room to start: %s", got)
	}
	removed := map[model.ResourceID]model.Resource{"old": res("old", "")}
	v.local["old"] = run
	if got := str(leaseGate(v, ops, removed, false, true)); got != "stop db; stop ip; stop old; probe x" {
		t.Errorf("the lease ends: %s", got)
	}
	v.st.Nodes["n1"] = model.NodeRecord{State: "online", Maintenance: true}
	if got := str(leaseGate(v, ops, nil, false, true)); got != str(ops) {
		t.Errorf("maintenance: %s", got)
	}
}
