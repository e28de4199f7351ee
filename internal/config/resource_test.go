package config

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

func score(s model.Score) *model.Score { return &s }

// TestParseResources checks the decoded resources, groups, constraints and
// options of testdata/good/resources.yaml field by field, with their
// defaults, which the golden file shows only as text.
func TestParseResources(t *testing.T) {
	c, err := parseFile(t, "testdata/good/resources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	wantNodes := []model.Node{
		{Name: "n1", Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.1")},
			Attributes: map[string]string{"rack": "a", "ssd": "yes", "zone.id": "1"}},
		{Name: "n2", Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.2")},
			Attributes: map[string]string{"rack": "b", "ssd": "true", "weight": "0x10"}},
		{Name: "n3", Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.3")}},
	}
	if d := cmp.Diff(wantNodes, c.Nodes, equateAddr); d != "" {
		t.Errorf("nodes (-want +got):\n%s", d)
	}
	if d := cmp.Diff(model.Options{NoQuorumPolicy: model.NoQuorumFreeze, Stickiness: model.Infinity}, c.Options); d != "" {
		t.Errorf("options (-want +got):\n%s", d)
	}
	defOps := model.Ops{StartTimeout: 20 * time.Second, StopTimeout: 20 * time.Second,
		MonitorInterval: 10 * time.Second, MonitorTimeout: 20 * time.Second}
	started := model.Meta{TargetRole: "started"}
	wantResources := []model.Resource{
		{ID: "web-ip", Kind: "vip", Group: "web", Ops: defOps, Meta: started,
			Params: map[string]string{"address": "198.18.0.100/24", "arp_count": "5", "interface": "eth0"}},
		{ID: "web-svc", Kind: "systemd", Group: "web",
			Params: map[string]string{"unit": "nginx.service"},
			Ops: model.Ops{StartTimeout: 20 * time.Second, StopTimeout: time.Minute,
				MonitorInterval: 0, MonitorTimeout: 20 * time.Second},
			Meta: model.Meta{Stickiness: score(100), TargetRole: "started"}},
		{ID: "db", Kind: "ocf",
			Params: map[string]string{"agent": "heartbeat:pgsql", "pgctl": "/usr/lib/postgresql/16/bin/pg_ctl",
				"cidr_netmask": "24", "ns:key": "x: y", "empty": "", "ratio": "1.50", "enabled": "false"},
			Ops: model.Ops{StartTimeout: 20 * time.Second, StopTimeout: 20 * time.Second,
				MonitorInterval: 30 * time.Second, MonitorTimeout: 90 * time.Second},
			Meta: model.Meta{Stickiness: score(-50), MigrationThreshold: 3, FailureTimeout: time.Minute, TargetRole: "started"}},
		{ID: "Backup.job_1", Kind: "exec", Group: "batch", Ops: defOps,
			Params: map[string]string{"command": "exec /usr/local/bin/backup --all", "check_http": "http://198.18.0.100:8080/"},
			Meta:   model.Meta{TargetRole: "stopped"}},
		{ID: "report", Kind: "script", Ops: defOps, Meta: started},
	}
	if d := cmp.Diff(wantResources, c.Resources); d != "" {
		t.Errorf("resources (-want +got):\n%s", d)
	}
	wantGroups := []model.Group{
		{ID: "web", Members: []model.ResourceID{"web-ip", "web-svc"},
			Meta: model.Meta{Stickiness: score(model.Infinity), MigrationThreshold: 2, TargetRole: "started"}},
		{ID: "batch", Members: []model.ResourceID{"Backup.job_1"}, Meta: started},
	}
	if d := cmp.Diff(wantGroups, c.Groups); d != "" {
		t.Errorf("groups (-want +got):\n%s", d)
	}
	wantConstraints := model.Constraints{
		Locations: []model.Location{
			{ID: "prefer-n1", Resource: "web", Node: "n1", Score: 100},
			{ID: "no-rack-b", Resource: "web", Attribute: "rack", Value: "b", Score: model.MinusInfinity},
			{ID: "db-on-ssd", Resource: "db", Attribute: "ssd", Value: "true", Score: model.Infinity},
			{ID: "report-anywhere", Resource: "report", Node: "n3", Score: 0},
		},
		Colocations: []model.Colocation{
			{ID: "db-with-web", Resource: "db", With: "web", Score: model.Infinity},
			{ID: "batch-apart", Resource: "batch", With: "db", Score: -200},
		},
		Orders: []model.Order{
			{ID: "ip-then-db", First: "web-ip", Then: "db", Kind: model.OrderMandatory},
			{ID: "web-then-batch", First: "web", Then: "batch", Kind: model.OrderMandatory},
			{ID: "db-then-web-svc", First: "db", Then: "web-svc", Kind: model.OrderOptional},
		},
	}
	if d := cmp.Diff(wantConstraints, c.Constraints); d != "" {
		t.Errorf("constraints (-want +got):\n%s", d)
	}
}

// TestScores checks every way a score may be written.
func TestScores(t *testing.T) {
	tests := []struct {
		yaml string
		want model.Score
	}{
		{"0", 0}, {"100", 100}, {"-100", -100}, {`"42"`, 42}, {"0x10", 16},
		{"999999", 999999}, {"1000000", model.Infinity}, {"-5000000", model.MinusInfinity},
		{"INFINITY", model.Infinity}, {"+INFINITY", model.Infinity}, {`"+INFINITY"`, model.Infinity},
		{"-INFINITY", model.MinusInfinity}, {"infinity", model.Infinity}, {"-inf", model.MinusInfinity},
	}
	for _, tt := range tests {
		data := header + nodes + "secret: \"0123456789abcdef\"\noptions: {stickiness: " + tt.yaml + "}\n"
		c, err := Parse("vigil.yaml", "", []byte(data))
		if err != nil {
			t.Errorf("stickiness %s: %v", tt.yaml, err)
			continue
		}
		if c.Options.Stickiness != tt.want {
			t.Errorf("stickiness %s = %v, want %v", tt.yaml, c.Options.Stickiness, tt.want)
		}
	}
}

// TestMigrationThreshold checks the counts that mean never.
func TestMigrationThreshold(t *testing.T) {
	for yaml, want := range map[string]int{"0": 0, "3": 3, `"3"`: 3, "INFINITY": 0, "+INFINITY": 0, "1000000": 0, "999999": 999999} {
		data := header + nodes + "secret: \"0123456789abcdef\"\nresources:\n  - {id: a, kind: exec, meta: {migration_threshold: " + yaml + "}}\n"
		c, err := Parse("vigil.yaml", "", []byte(data))
		if err != nil {
			t.Errorf("migration_threshold %s: %v", yaml, err)
			continue
		}
		if got := c.Resources[0].Meta.MigrationThreshold; got != want {
			t.Errorf("migration_threshold %s = %d, want %d", yaml, got, want)
		}
	}
}

const checkedFile = header + nodes + `secret: "0123456789abcdef"
resources:
  - id: web-ip
    kind: vip
    params: {address: 198.18.0.300/24, arp_count: x}
  - id: web-svc
    kind: exec
    params: {command: /bin/true}
  - id: db
    kind: docker
    params: {image: postgres}
  - id: cache
    kind: exec
    params: {command: {nested: map}}
  - id: app
    kind: exec
    params: {command: run}
groups:
  - id: web
    members: [web-ip, web-svc]
`

// TestParseWith checks that each error the check joins becomes a problem
// at its resource's line, that the check sees each valid resource with its
// defaults and group, and never one with a problem of its own.
func TestParseWith(t *testing.T) {
	var seen []string
	check := func(r model.Resource) error {
		seen = append(seen, fmt.Sprintf("%s %s group=%q monitor=%s", r.ID, r.Kind, r.Group, r.Ops.MonitorInterval))
		r.Params["mutated"] = "by the check" // must not reach the config
		switch r.ID {
		case "web-ip":
			return errors.Join(
				errors.New(`params.address: "198.18.0.300/24" is not an IP prefix`),
				errors.Join(errors.New("params.arp_count: not a number"), nil),
			)
		case "app":
			// Several wrapped errors that are not a join: one problem,
			// on one line.
			return fmt.Errorf("params.command: %w and %w", errors.New("not found"), errors.New("line one\nline two"))
		}
		return nil
	}
	_, err := ParseWith("vigil.yaml", "", []byte(checkedFile), check)
	want := `vigil.yaml:10: resources[0].params: params.address: "198.18.0.300/24" is not an IP prefix
vigil.yaml:10: resources[0].params: params.arp_count: not a number
vigil.yaml:17: resources[2].kind: unknown kind "docker" (known: vip, exec, ocf, systemd, script)
vigil.yaml:21: resources[3].params.command: expected a string, number or boolean, found a mapping
vigil.yaml:22: resources[4].params: params.command: not found and line one; line two`
	if err == nil || err.Error() != want {
		t.Errorf("ParseWith error:\n%v\nwant:\n%s", err, want)
	}
	var e *Error
	if errors.As(err, &e) && len(e.Problems) > 1 {
		if p := e.Problems[1]; p.Line != 10 || p.Path != "resources[0].params" {
			t.Errorf("second problem %+v, want line 10 and path resources[0].params", p)
		}
	}
	wantSeen := []string{
		`web-ip vip group="web" monitor=10s`,
		`web-svc exec group="web" monitor=10s`,
		`app exec group="" monitor=10s`,
	}
	if d := cmp.Diff(wantSeen, seen); d != "" {
		t.Errorf("check called with (-want +got):\n%s", d)
	}

	// A check that finds nothing leaves a valid file valid, and its copy
	// of the params is its own.
	good := strings.Replace(checkedFile, "kind: docker", "kind: exec", 1)
	good = strings.Replace(good, "{command: {nested: map}}", "{command: x}", 1)
	c, err := ParseWith("vigil.yaml", "", []byte(good), func(r model.Resource) error {
		r.Params["mutated"] = "by the check"
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range c.Resources {
		if _, ok := r.Params["mutated"]; ok {
			t.Errorf("the check changed %s's params", r.ID)
		}
	}
	// Parse is ParseWith without a check.
	plain, err := Parse("vigil.yaml", "", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(plain, c, equateAddr); d != "" {
		t.Errorf("Parse and ParseWith differ (-Parse +ParseWith):\n%s", d)
	}
}

func TestLoadWith(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(checkedFile), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := LoadWith(path, func(r model.Resource) error {
		if r.ID == "web-svc" {
			return errors.New("params.command: not allowed")
		}
		return nil
	})
	if err == nil || !strings.Contains(err.Error(), path+":13: resources[1].params: params.command: not allowed") {
		t.Errorf("LoadWith = %v, want the check's problem at %s:13", err, path)
	}
}

// TestFormatCanonical checks that Format leaves out every default, however
// the file spelled it.
func TestFormatCanonical(t *testing.T) {
	data := header + nodes + `secret: "0123456789abcdef"
options: {no_quorum_policy: stop, stickiness: 0}
resources:
  - id: a
    kind: exec
    params: {}
    ops: {start_timeout: 20s, stop_timeout: 20000ms, monitor_interval: 10s, monitor_timeout: 0.33333m}
    meta: {migration_threshold: INFINITY, failure_timeout: 0s, target_role: started}
  - id: b
    kind: exec
groups:
  - {id: g, members: [a], meta: {migration_threshold: 0}}
constraints:
  locations: []
  colocations:
  orders:
    - {id: o, first: a, then: b, kind: mandatory}
`
	c, err := Parse("vigil.yaml", "", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	out := string(Format(c, ""))
	want := `resources:
  - id: a
    kind: exec
    ops:
      monitor_timeout: 19.9998s
  - id: b
    kind: exec
groups:
  - id: g
    members: [a]
constraints:
  orders:
    - {id: o, first: a, then: b}
`
	if _, tail, _ := strings.Cut(out, "  api: 5407\n"); tail != want {
		t.Errorf("Format:\n%s\nwant it to end with:\n%s", out, want)
	}
}

// TestFormatZeroDefaults checks that a config built by hand, with zero
// values where the model documents defaults, formats to a file that
// parses with those defaults.
func TestFormatZeroDefaults(t *testing.T) {
	base, err := parseFile(t, "testdata/good/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	c := base
	c.Resources = []model.Resource{
		{ID: "web-ip", Kind: "vip", Group: "web", Params: map[string]string{"address": "198.18.0.100/24"}},
		{ID: "web-svc", Kind: "exec", Group: "web",
			Ops: model.Ops{StopTimeout: time.Minute, MonitorInterval: 0}}, // monitoring off
	}
	c.Groups = []model.Group{{ID: "web", Members: []model.ResourceID{"web-ip", "web-svc"}, Meta: model.Meta{MigrationThreshold: 3}}}
	got, err := Parse("formatted.yaml", "", Format(c, ""))
	if err != nil {
		t.Fatalf("%v\n%s", err, Format(c, ""))
	}
	defOps := defaultOps()
	want := c
	want.Options = model.Options{NoQuorumPolicy: model.NoQuorumStop}
	want.Resources = []model.Resource{
		{ID: "web-ip", Kind: "vip", Group: "web", Params: map[string]string{"address": "198.18.0.100/24"},
			Ops: defOps, Meta: model.Meta{TargetRole: "started"}},
		{ID: "web-svc", Kind: "exec", Group: "web",
			Ops:  model.Ops{StartTimeout: 20 * time.Second, StopTimeout: time.Minute, MonitorTimeout: 20 * time.Second},
			Meta: model.Meta{TargetRole: "started"}},
	}
	want.Groups = []model.Group{{ID: "web", Members: []model.ResourceID{"web-ip", "web-svc"},
		Meta: model.Meta{MigrationThreshold: 3, TargetRole: "started"}}}
	if d := cmp.Diff(want, got, equateAddr); d != "" {
		t.Errorf("Parse(Format(c)) (-want +got):\n%s", d)
	}
}

// TestRoundTripValues checks that params and attribute values survive
// Format and Parse however YAML would otherwise read them.
func TestRoundTripValues(t *testing.T) {
	values := []string{
		"", " ", "~", "null", "Null", "yes", "no", "on", "true", "True", "false", "0", "-0", "0x10", "0o17", "017",
		"1_000", "+1", "1e3", "1.50", ".5", ".inf", "-.inf", ".nan", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
		"-", "- x", "--- x", "...", "?", "? x", ":", "a: b", "a:b", "#x", "x #y", "x#y", "*a", "&a", "!a", "!!str",
		"%x", "@x", "`x", "{", "}", "[", "]", ",", "a, b", "'", `"`, "\\", "<<", "=", "|", ">", "\t", " x", "x ",
		"line\nbreak", "trailing\n", "\u2028", "é", "\xff\xfe", "\x00", "http://x:80/?a=1&b=2#f", "a\r\nb",
	}
	keys := []string{"-", ":", "a:", "...", "-a", "1", "true", "null", ".inf", "0x10", "a.b", "a-b", "a_b", "::", "-:"}
	c, err := parseFile(t, "testdata/good/minimal.yaml")
	if err != nil {
		t.Fatal(err)
	}
	params := make(map[string]string)
	for i, v := range values {
		params[fmt.Sprintf("v%02d", i)] = v
	}
	for i, k := range keys {
		params[k] = values[i]
	}
	attrs := make(map[string]string)
	for i, v := range values {
		attrs[fmt.Sprintf("a%02d", i)] = v
	}
	c.Nodes[0].Attributes = attrs
	c.Resources = []model.Resource{{ID: "r", Kind: "exec", Params: params, Ops: defaultOps(), Meta: defaultMeta()}}
	for i, v := range values {
		c.Constraints.Locations = append(c.Constraints.Locations,
			model.Location{ID: fmt.Sprintf("l%02d", i), Resource: "r", Attribute: "a", Value: v, Score: model.Score(i - 30)})
	}
	c.Options = defaultOptions()
	out := Format(c, "")
	got, err := Parse("formatted.yaml", "", out)
	if err != nil {
		t.Fatalf("Parse(Format(c)): %v\n%s", err, out)
	}
	if d := cmp.Diff(c, got, equateAddr); d != "" {
		t.Errorf("(-want +got):\n%s\n%s", d, out)
	}
}

func TestSummaryResources(t *testing.T) {
	c, err := parseFile(t, "testdata/good/resources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(Summary(c), "\n")
	want := "resources: 5 (3 in 2 groups), constraints: 4 locations, 2 colocations, 3 orders; no-quorum-policy freeze, stickiness INFINITY"
	if got := lines[len(lines)-2]; got != want {
		t.Errorf("last line %q, want %q", got, want)
	}
	c.Groups, c.Constraints, c.Options = nil, model.Constraints{}, defaultOptions()
	c.Resources = c.Resources[:1]
	c.Constraints.Orders = []model.Order{{}}
	want = "resources: 1, constraints: 1 order; no-quorum-policy stop"
	if lines := strings.Split(Summary(c), "\n"); lines[len(lines)-2] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-2], want)
	}
	c.Constraints = model.Constraints{}
	want = "resources: 1, constraints: none; no-quorum-policy stop"
	if lines := strings.Split(Summary(c), "\n"); lines[len(lines)-2] != want {
		t.Errorf("last line %q, want %q", lines[len(lines)-2], want)
	}
}

// TestOrderCyclesAgainstClosure compares the cycles Parse reports with
// those of the transitive closure of every member-to-member order, on
// many small random configs.
func TestOrderCyclesAgainstClosure(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 3000 {
		n := 2 + rng.IntN(5)
		group := make([]int, n) // -1 or the group's number
		var members [2][]int
		for i := range n {
			group[i] = rng.IntN(4) - 2 // half in no group
			if group[i] >= 0 {
				members[group[i]] = append(members[group[i]], i)
			}
		}
		names := make([]string, 0, n+2)
		for i := range n {
			names = append(names, fmt.Sprintf("r%d", i))
		}
		var b strings.Builder
		b.WriteString(header + nodes + "secret: \"0123456789abcdef\"\nresources:\n")
		for i := range n {
			fmt.Fprintf(&b, "  - {id: r%d, kind: exec}\n", i)
		}
		var groups []int
		b.WriteString("groups:\n")
		for g, ms := range members {
			if len(ms) == 0 {
				continue
			}
			groups = append(groups, g)
			names = append(names, fmt.Sprintf("g%d", g))
			fmt.Fprintf(&b, "  - {id: g%d, members: [", g)
			for _, m := range ms {
				fmt.Fprintf(&b, "r%d, ", m)
			}
			b.WriteString("]}\n")
		}
		// expand returns the resources a name stands for.
		expand := func(name string) []int {
			var i int
			fmt.Sscanf(name[1:], "%d", &i)
			if name[0] == 'r' {
				return []int{i}
			}
			return members[i]
		}
		before := make([][]bool, n) // before[u][v]: u starts before v
		for u := range n {
			before[u] = make([]bool, n)
		}
		for _, ms := range members {
			for k := 1; k < len(ms); k++ {
				before[ms[k-1]][ms[k]] = true
			}
		}
		b.WriteString("constraints:\n  orders:\n")
		for o := range 1 + rng.IntN(5) {
			first, then := names[rng.IntN(len(names))], names[rng.IntN(len(names))]
			kind := "mandatory"
			if rng.IntN(4) == 0 {
				kind = "optional"
			}
			fmt.Fprintf(&b, "    - {id: o%d, first: %s, then: %s, kind: %s}\n", o, first, then, kind)
			if kind == "mandatory" {
				for _, u := range expand(first) {
					for _, v := range expand(then) {
						before[u][v] = true
					}
				}
			}
		}
		_, err := Parse("vigil.yaml", "", []byte(b.String()))
		var e *Error
		if err != nil && !errors.As(err, &e) {
			t.Fatal(err)
		}
		got, other := 0, false
		if e != nil {
			for _, p := range e.Problems {
				if strings.Contains(p.Msg, "form a cycle") {
					got++
				} else {
					other = true
				}
			}
		}
		if other {
			continue // an order of a resource after itself or its group
		}
		for k := range n {
			for u := range n {
				for v := range n {
					before[u][v] = before[u][v] || before[u][k] && before[k][v]
				}
			}
		}
		want := 0 // the sets of resources that all start before each other
		for v := range n {
			lowest := v
			for u := range n {
				if before[u][v] && before[v][u] && u < lowest {
					lowest = u
				}
			}
			if lowest == v && before[v][v] {
				want++
			}
		}
		if got != want {
			t.Fatalf("round %d: %d cycles reported, want %d:\n%s\n%v", round, got, want, b.String(), err)
		}
	}
}
