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
			st := model.ClusterState{Nodes: online, Resources: tc.records, Targets: tc.targets, Epoch: 5, PlacedEpoch: 5}
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
