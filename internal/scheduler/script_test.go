package scheduler

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// The test script language. A `schedule` directive's input describes a
// cluster, one statement a line (# starts a comment):
//
//	nodes n1 n2 n3                  nodes, online, in this order
//	attr n1 rack=a ssd=yes          node attributes
//	offline n2 | standby n2 | maintenance n2 | absent n2
//	resource web stickiness=100 migration-threshold=3 failure-timeout=10m target-role=stopped kind=exec
//	resources a b c                 plain resources
//	group g ip web [meta as for resource]   members not yet declared are declared here
//	location web n1 100 [id=prefer-n1]      or: location web rack=a 100
//	runtime web n1 -INFINITY [id=cli-ban-web-n1]
//	colocate web with ip INFINITY [id=web-with-ip]
//	order db then web [optional] [id=db-then-web]
//	option stickiness=100 no-quorum-policy=freeze
//	state web started n1 | state web failed n1 reason="monitor failed" | state web blocked n1
//	fail web n1 count=3 [ago=5m]    a fail count; the last failure `ago` before now
//	quorum no
//	now +10m                        move the clock (fail counts keep their time)
//	apply                           schedule, print the plan, and apply its actions to the state
//
// The directive prints the plan: actions, placement, why, and with
// `schedule scores` every score (or `scores=(web,g)` only those).

// script is a cluster being described.
type script struct {
	in Input
}

// t0 is the scripts' clock at the start.
var t0 = time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)

func newScript() *script {
	return &script{in: Input{
		State: model.ClusterState{
			Nodes:      map[model.NodeID]model.NodeRecord{},
			Resources:  map[model.ResourceID]model.ResourceRecord{},
			FailCounts: map[model.ResourceID]map[model.NodeID]model.FailCount{},
		},
		Quorum: true,
		Now:    t0,
	}}
}

// fields splits a line into words; "double quotes" keep spaces.
func fields(line string) []string {
	var out []string
	var cur strings.Builder
	in, have := false, false
	for _, r := range line {
		switch {
		case r == '"':
			in, have = !in, true
		case r == ' ' && !in:
			if have {
				out = append(out, cur.String())
			}
			cur.Reset()
			have = false
		default:
			cur.WriteRune(r)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}

// kv splits key=value words off the end of ws.
func kv(ws []string) ([]string, map[string]string) {
	m := map[string]string{}
	var pos []string
	for _, w := range ws {
		if k, v, ok := strings.Cut(w, "="); ok {
			m[k] = v
		} else {
			pos = append(pos, w)
		}
	}
	return pos, m
}

func (sc *script) run(line string) error {
	if i := strings.Index(line, "#"); i >= 0 {
		line = line[:i]
	}
	ws := fields(strings.TrimSpace(line))
	if len(ws) == 0 {
		return nil
	}
	cmd, args := ws[0], ws[1:]
	cfg := &sc.in.Config
	st := &sc.in.State
	switch cmd {
	case "nodes":
		for _, n := range args {
			cfg.Nodes = append(cfg.Nodes, model.Node{Name: model.NodeID(n), Attributes: map[string]string{}})
			st.Nodes[model.NodeID(n)] = model.NodeRecord{State: model.NodeOnline}
		}
	case "attr":
		pos, m := kv(args)
		if len(pos) != 1 {
			return fmt.Errorf("attr NODE k=v...")
		}
		i := slices.IndexFunc(cfg.Nodes, func(n model.Node) bool { return n.Name == model.NodeID(pos[0]) })
		if i < 0 {
			return fmt.Errorf("unknown node %s", pos[0])
		}
		maps.Copy(cfg.Nodes[i].Attributes, m)
	case "offline", "standby", "maintenance", "absent":
		for _, n := range args {
			id := model.NodeID(n)
			rec := st.Nodes[id]
			switch cmd {
			case "offline":
				rec.State = model.NodeOffline
			case "standby":
				rec.Standby = true
			case "maintenance":
				rec.Maintenance = true
			}
			if cmd == "absent" {
				delete(st.Nodes, id)
			} else {
				st.Nodes[id] = rec
			}
		}
	case "online":
		for _, n := range args {
			st.Nodes[model.NodeID(n)] = model.NodeRecord{State: model.NodeOnline}
		}
	case "resource", "resources":
		pos, m := kv(args)
		meta, kind, err := parseMeta(m)
		if err != nil {
			return err
		}
		for _, id := range pos {
			cfg.Resources = append(cfg.Resources, model.Resource{ID: model.ResourceID(id), Kind: kind, Meta: meta})
		}
	case "group":
		pos, m := kv(args)
		meta, _, err := parseMeta(m)
		if err != nil || len(pos) < 2 {
			return fmt.Errorf("group ID MEMBER... [meta]: %v", err)
		}
		g := model.Group{ID: model.ResourceID(pos[0]), Meta: meta}
		for _, mem := range pos[1:] {
			id := model.ResourceID(mem)
			i := slices.IndexFunc(cfg.Resources, func(r model.Resource) bool { return r.ID == id })
			if i < 0 {
				cfg.Resources = append(cfg.Resources, model.Resource{ID: id, Kind: "exec", Meta: model.Meta{TargetRole: "started"}})
				i = len(cfg.Resources) - 1
			}
			cfg.Resources[i].Group = g.ID
			g.Members = append(g.Members, id)
		}
		cfg.Groups = append(cfg.Groups, g)
	case "location", "runtime":
		pos, m := kv(args)
		if len(pos) == 2 && len(m) > 0 {
			// location web rack=a 100: the attribute is the one key=value
			// that is not id.
			var attrs []string
			for _, k := range slices.Sorted(maps.Keys(m)) {
				if k != "id" {
					attrs = append(attrs, k+"="+m[k])
				}
			}
			if len(attrs) != 1 {
				return fmt.Errorf("%s: one attribute=value, not %v", cmd, attrs)
			}
			pos = []string{pos[0], attrs[0], pos[1]}
		}
		if len(pos) != 3 {
			return fmt.Errorf("%s RESOURCE NODE|ATTR=VALUE SCORE [id=ID]", cmd)
		}
		score, err := model.ParseScore(pos[2])
		if err != nil {
			return err
		}
		l := model.Location{Resource: model.ResourceID(pos[0]), Score: score}
		where := pos[1]
		if a, v, ok := strings.Cut(pos[1], "="); ok {
			l.Attribute, l.Value = a, v
			where = v
		} else {
			l.Node = model.NodeID(pos[1])
		}
		l.ID = m["id"]
		if l.ID == "" {
			verb := "prefer"
			if score < 0 {
				verb = "avoid"
			}
			if cmd == "runtime" {
				verb = "cli-" + map[bool]string{true: "ban", false: "prefer"}[score < 0]
			}
			l.ID = fmt.Sprintf("%s-%s-%s", verb, pos[0], where)
		}
		if cmd == "runtime" {
			st.Runtime = append(st.Runtime, l)
		} else {
			cfg.Constraints.Locations = append(cfg.Constraints.Locations, l)
		}
	case "colocate":
		pos, m := kv(args)
		if len(pos) != 4 || pos[1] != "with" {
			return fmt.Errorf("colocate R with W SCORE [id=ID]")
		}
		score, err := model.ParseScore(pos[3])
		if err != nil {
			return err
		}
		id := m["id"]
		if id == "" {
			id = pos[0] + "-with-" + pos[2]
		}
		cfg.Constraints.Colocations = append(cfg.Constraints.Colocations, model.Colocation{ID: id, Resource: model.ResourceID(pos[0]), With: model.ResourceID(pos[2]), Score: score})
	case "order":
		pos, m := kv(args)
		if len(pos) < 3 || pos[1] != "then" {
			return fmt.Errorf("order FIRST then THEN [optional] [id=ID]")
		}
		o := model.Order{ID: m["id"], First: model.ResourceID(pos[0]), Then: model.ResourceID(pos[2]), Kind: model.OrderMandatory}
		if len(pos) == 4 && pos[3] == "optional" {
			o.Kind = model.OrderOptional
		}
		if o.ID == "" {
			o.ID = pos[0] + "-then-" + pos[2]
		}
		cfg.Constraints.Orders = append(cfg.Constraints.Orders, o)
	case "option":
		_, m := kv(args)
		for k, v := range m {
			switch k {
			case "stickiness":
				s, err := model.ParseScore(v)
				if err != nil {
					return err
				}
				cfg.Options.Stickiness = s
			case "no-quorum-policy":
				cfg.Options.NoQuorumPolicy = model.NoQuorumPolicy(v)
			default:
				return fmt.Errorf("unknown option %s", k)
			}
		}
	case "state":
		pos, m := kv(args)
		if len(pos) < 2 {
			return fmt.Errorf("state R STATE [NODE] [reason=...]")
		}
		rec := model.ResourceRecord{State: model.ResourceState(pos[1]), Reason: m["reason"], Since: sc.in.Now}
		if len(pos) > 2 {
			rec.Node = model.NodeID(pos[2])
		}
		st.Resources[model.ResourceID(pos[0])] = rec
	case "fail":
		pos, m := kv(args)
		if len(pos) != 2 {
			return fmt.Errorf("fail R NODE count=N [ago=D]")
		}
		n, err := strconv.Atoi(m["count"])
		if err != nil {
			return fmt.Errorf("fail: count: %v", err)
		}
		last := sc.in.Now
		if a := m["ago"]; a != "" {
			d, err := time.ParseDuration(a)
			if err != nil {
				return err
			}
			last = last.Add(-d)
		}
		r := model.ResourceID(pos[0])
		if st.FailCounts[r] == nil {
			st.FailCounts[r] = map[model.NodeID]model.FailCount{}
		}
		st.FailCounts[r][model.NodeID(pos[1])] = model.FailCount{Count: n, Last: last}
	case "quorum":
		sc.in.Quorum = len(args) == 0 || args[0] != "no"
	case "held":
		// held NODE +DURATION: NODE's lease may be valid until now+DURATION.
		if len(args) != 2 {
			return fmt.Errorf("held NODE +DURATION")
		}
		d, err := time.ParseDuration(strings.TrimPrefix(args[1], "+"))
		if err != nil {
			return err
		}
		if sc.in.Held == nil {
			sc.in.Held = map[model.NodeID]time.Time{}
		}
		sc.in.Held[model.NodeID(args[0])] = sc.in.Now.Add(d)
	case "now":
		if len(args) != 1 {
			return fmt.Errorf("now +DURATION")
		}
		d, err := time.ParseDuration(strings.TrimPrefix(args[0], "+"))
		if err != nil {
			return err
		}
		sc.in.Now = sc.in.Now.Add(d)
	default:
		return fmt.Errorf("unknown statement %q", cmd)
	}
	return nil
}

func parseMeta(m map[string]string) (model.Meta, string, error) {
	meta := model.Meta{TargetRole: "started"}
	kind := "exec"
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch k {
		case "stickiness":
			s, err := model.ParseScore(v)
			if err != nil {
				return meta, "", err
			}
			meta.Stickiness = &s
		case "migration-threshold":
			n, err := strconv.Atoi(v)
			if err != nil {
				return meta, "", err
			}
			meta.MigrationThreshold = n
		case "failure-timeout":
			d, err := time.ParseDuration(v)
			if err != nil {
				return meta, "", err
			}
			meta.FailureTimeout = d
		case "target-role":
			meta.TargetRole = v
		case "kind":
			kind = v
		default:
			return meta, "", fmt.Errorf("unknown meta %s", k)
		}
	}
	return meta, kind, nil
}

// apply carries out a plan's actions on the state, as executors that
// succeed at everything would.
func (sc *script) apply(p model.Plan) {
	for _, a := range p.Actions {
		rec := sc.in.State.Resources[a.Resource]
		switch a.Kind {
		case model.ActionStop:
			rec = model.ResourceRecord{State: model.ResourceStopped}
		default:
			rec = model.ResourceRecord{State: model.ResourceStarted, Node: a.Node}
		}
		rec.Since = sc.in.Now
		sc.in.State.Resources[a.Resource] = rec
	}
}

// format renders a plan for a script: actions, placement (in
// configuration order), reasons, and the scores of the ids asked for.
func format(cfg model.Config, p model.Plan, scores []model.ResourceID, all bool) string {
	var b strings.Builder
	if len(p.Actions) == 0 {
		b.WriteString("actions: none\n")
	} else {
		b.WriteString("actions:\n")
	}
	for i, a := range p.Actions {
		fmt.Fprintf(&b, "  %d %s", i, a.Kind)
		switch a.Kind {
		case model.ActionMove:
			fmt.Fprintf(&b, " %s %s -> %s", a.Resource, a.From, a.Node)
		default:
			fmt.Fprintf(&b, " %s on %s", a.Resource, a.Node)
		}
		if len(a.After) > 0 {
			var s []string
			for _, j := range a.After {
				s = append(s, strconv.Itoa(j))
			}
			fmt.Fprintf(&b, " after %s", strings.Join(s, ","))
		}
		fmt.Fprintf(&b, ": %s\n", a.Reason)
	}
	b.WriteString("placement:")
	for _, r := range cfg.Resources {
		n := p.Placement[r.ID]
		if n == "" {
			n = "-"
		}
		fmt.Fprintf(&b, " %s=%s", r.ID, n)
	}
	b.WriteString("\n")
	for _, r := range cfg.Resources {
		if w, ok := p.Why[r.ID]; ok {
			fmt.Fprintf(&b, "why %s: %s\n", r.ID, w)
		}
	}
	if all {
		scores = nil
		for _, r := range cfg.Resources {
			scores = append(scores, r.ID)
		}
		for _, g := range cfg.Groups {
			scores = append(scores, g.ID)
		}
	}
	for _, id := range scores {
		fmt.Fprintf(&b, "scores %s:\n", id)
		for _, ns := range p.Scores[id] {
			fmt.Fprintf(&b, "  %s %s", ns.Node, ns.Score)
			for i, t := range ns.Terms {
				sep := ", "
				if i == 0 {
					sep = ": "
				}
				fmt.Fprintf(&b, "%s%s (%s)", sep, t.Reason, t.Score)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}
