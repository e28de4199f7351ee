package config

import (
	"fmt"
	"maps"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

// options decodes the options section over the defaults in o.
func (d *decoder) options(n *yaml.Node, path string, o *model.Options) {
	fields, _ := d.mapping(n, path, optionKeys())
	if v, ok := fields["no_quorum_policy"]; ok {
		if p, ok := oneOf(d, v, path+".no_quorum_policy", "policy", policies()); ok {
			o.NoQuorumPolicy = p
		}
	}
	if v, ok := fields["stickiness"]; ok {
		if s, ok := d.score(v, path+".stickiness"); ok {
			o.Stickiness = s
		}
	}
}

// resources decodes the resource list, one entry per item.
func (d *decoder) resources(n *yaml.Node, path string) []fileResource {
	items, ok := d.optionalList(n, path, "a list of resources")
	if !ok || len(items) == 0 {
		return nil
	}
	rs := make([]fileResource, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		r := &rs[i].r
		r.Ops, r.Meta = defaultOps(), defaultMeta()
		fields, ok := d.mapping(item, p, resourceKeys())
		if !ok {
			continue
		}
		d.require(fields, p, "id", "kind")
		idOK, kindOK, paramsOK := false, false, true
		if v, ok := fields["id"]; ok {
			var id string
			if id, idOK = d.id(v, p+".id"); idOK {
				r.ID = model.ResourceID(id)
			} else if v.Kind == yaml.ScalarNode {
				d.refusedIDs[v.Value] = true
			}
		}
		if v, ok := fields["kind"]; ok {
			r.Kind, kindOK = oneOf(d, v, p+".kind", "kind", kinds())
		}
		if v, ok := fields["params"]; ok {
			r.Params, paramsOK = d.scalarMap(v, p+".params", validParam, paramRule)
		}
		if v, ok := fields["ops"]; ok {
			d.ops(v, p+".ops", &r.Ops)
		}
		if v, ok := fields["meta"]; ok {
			d.meta(v, p+".meta", &r.Meta)
		}
		rs[i].checkable = idOK && kindOK && paramsOK
	}
	return rs
}

// ops decodes a resource's ops over the defaults in o.
func (d *decoder) ops(n *yaml.Node, path string, o *model.Ops) {
	fields, _ := d.mapping(n, path, opKeys())
	for _, of := range opFields(o) {
		v, ok := fields[of.key]
		if !ok {
			continue
		}
		p := path + "." + of.key
		if of.zeroOK {
			if dur, ok := d.durationOrZero(v, p, "off"); ok {
				*of.d = dur
			}
		} else if dur, ok := d.duration(v, p, 0); ok {
			*of.d = dur
		}
	}
}

// meta decodes a resource's or group's meta over the defaults in m.
func (d *decoder) meta(n *yaml.Node, path string, m *model.Meta) {
	fields, _ := d.mapping(n, path, metaKeys())
	if v, ok := fields["stickiness"]; ok {
		if s, ok := d.score(v, path+".stickiness"); ok {
			m.Stickiness = &s
		}
	}
	if v, ok := fields["migration_threshold"]; ok {
		if t, ok := d.threshold(v, path+".migration_threshold"); ok {
			m.MigrationThreshold = t
		}
	}
	if v, ok := fields["failure_timeout"]; ok {
		if dur, ok := d.durationOrZero(v, path+".failure_timeout", "never"); ok {
			m.FailureTimeout = dur
		}
	}
	if v, ok := fields["target_role"]; ok {
		if r, ok := oneOf(d, v, path+".target_role", "role", []string{targetStarted, targetStopped}); ok {
			m.TargetRole = r
		}
	}
}

// threshold decodes a migration threshold: a count of failures, where 0,
// INFINITY and any count at or beyond it mean never.
func (d *decoder) threshold(n *yaml.Node, path string) (int, bool) {
	const want = "a count of failures, or INFINITY for never"
	if !d.scalar(n, path, want) {
		return 0, false
	}
	s, msg := scoreOf(n)
	switch {
	case msg != "":
		d.report(path, n.Line, "expected %s, not %s", want, quote(n.Value))
	case s >= model.Infinity:
		return 0, true
	case s < 0:
		d.report(path, n.Line, "must not be negative, not %s; 0 or INFINITY means never", s)
	default:
		return int(s), true
	}
	return 0, false
}

// groups decodes the group list, one entry per item.
func (d *decoder) groups(n *yaml.Node, path string) []fileGroup {
	items, ok := d.optionalList(n, path, "a list of groups")
	if !ok || len(items) == 0 {
		return nil
	}
	gs := make([]fileGroup, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		g := &gs[i]
		g.meta = defaultMeta()
		fields, ok := d.mapping(item, p, groupKeys())
		if !ok {
			continue
		}
		d.require(fields, p, "id", "members")
		if v, ok := fields["id"]; ok {
			if id, ok := d.id(v, p+".id"); ok {
				g.id = model.ResourceID(id)
			} else if v.Kind == yaml.ScalarNode {
				d.refusedIDs[v.Value] = true
			}
		}
		if v, ok := fields["members"]; ok {
			g.members = d.members(v, p+".members")
		}
		if v, ok := fields["meta"]; ok {
			d.meta(v, p+".meta", &g.meta)
		}
	}
	return gs
}

func (d *decoder) members(n *yaml.Node, path string) []model.ResourceID {
	items, ok := d.list(n, path, "a list of resource ids")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.report(path, n.Line, "a group needs at least one member")
	}
	ms := make([]model.ResourceID, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		if s, ok := d.text(item, p, "a resource id"); ok {
			ms[i] = model.ResourceID(s)
		}
	}
	return ms
}

// names maps each valid resource and group id to its index in the
// config's Resources or Groups (the first, if it is repeated), and each
// group to the indexes of its resolved members.
type names struct {
	resources map[model.ResourceID]int
	groups    map[model.ResourceID]int
	members   [][]int // by group index
}

// expand returns the resources that id stands for: itself, or a group's
// members.
func (ns names) expand(id model.ResourceID) []int {
	if i, ok := ns.resources[id]; ok {
		return []int{i}
	}
	if g, ok := ns.groups[id]; ok {
		return ns.members[g]
	}
	return nil
}

func (ns names) exists(id model.ResourceID) bool {
	_, r := ns.resources[id]
	_, g := ns.groups[id]
	return r || g
}

// resolveResources checks the rules between resources and groups: ids
// unique in the namespace they share, and groups of existing resources,
// each in at most one group. It sets each member's Group. The results have
// one entry per item of the file.
func (d *decoder) resolveResources(frs []fileResource, fgs []fileGroup) ([]model.Resource, []model.Group, names) {
	ns := names{
		resources: make(map[model.ResourceID]int),
		groups:    make(map[model.ResourceID]int),
		members:   make([][]int, len(fgs)),
	}
	var rs []model.Resource
	var gs []model.Group
	first := make(map[model.ResourceID]string) // id -> where it is first
	for i, fr := range frs {
		rs = append(rs, fr.r)
		id := fr.r.ID
		if id == "" {
			continue
		}
		p := fmt.Sprintf("resources[%d]", i)
		if other, dup := first[id]; dup {
			d.at(p+".id", "duplicate id %q (also %s)", id, other)
			continue
		}
		first[id] = p
		ns.resources[id] = i
	}
	for i, fg := range fgs {
		gs = append(gs, model.Group{ID: fg.id, Meta: fg.meta})
		if fg.id == "" {
			continue
		}
		p := fmt.Sprintf("groups[%d]", i)
		if other, dup := first[fg.id]; dup {
			d.at(p+".id", "duplicate id %q (also %s)", fg.id, other)
			continue
		}
		first[fg.id] = p
		ns.groups[fg.id] = i
	}

	owner := make(map[int]string) // resource index -> the group that has it
	for gi, fg := range fgs {
		group := fmt.Sprintf("groups[%d]", gi)
		if fg.id != "" {
			group = fmt.Sprintf("group %q (groups[%d])", fg.id, gi)
		}
		listed := make(map[model.ResourceID]int)
		for j, m := range fg.members {
			if m == "" {
				continue
			}
			p := fmt.Sprintf("groups[%d].members[%d]", gi, j)
			if k, dup := listed[m]; dup {
				d.at(p, "%q is listed twice (also members[%d])", m, k)
				continue
			}
			listed[m] = j
			ri, isResource := ns.resources[m]
			_, isGroup := ns.groups[m]
			switch {
			case isGroup:
				d.at(p, "%q is a group; a group's members are resources", m)
				continue
			case !isResource:
				if !d.refusedIDs[string(m)] {
					d.at(p, "unknown resource %q", m)
				}
				continue
			}
			if other, taken := owner[ri]; taken {
				d.at(p, "%q is already a member of %s; a resource is in at most one group", m, other)
				continue
			}
			owner[ri] = group
			rs[ri].Group = fg.id
			gs[gi].Members = append(gs[gi].Members, m)
			ns.members[gi] = append(ns.members[gi], ri)
		}
	}
	return rs, gs, ns
}

// checkParams reports what check finds wrong with each resource that has
// no problem of its own, at the resource's line. Each error that check's
// error joins is a problem of its own.
func (d *decoder) checkParams(frs []fileResource, rs []model.Resource, check func(model.Resource) error) {
	for i, fr := range frs {
		if !fr.checkable {
			continue
		}
		r := rs[i]
		r.Params = maps.Clone(r.Params) // the check gets its own copy
		err := check(r)
		if err == nil {
			continue
		}
		p := fmt.Sprintf("resources[%d]", i)
		for _, msg := range messages(err) {
			d.report(p+".params", d.lines[p], "%s", msg)
		}
	}
}

// messages splits an error made by errors.Join into the messages of the
// errors it joins, recursively, and makes each one line.
func messages(err error) []string {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var parts []string
		var out []string
		for _, e := range j.Unwrap() {
			if e == nil {
				continue
			}
			parts = append(parts, e.Error())
			out = append(out, messages(e)...)
		}
		// errors.Join's message is its errors' messages, one per line;
		// another error with several wrapped (fmt.Errorf with two %w)
		// says more than its parts, and stays whole.
		if len(out) > 0 && strings.Join(parts, "\n") == err.Error() {
			return out
		}
	}
	msg := strings.TrimSpace(err.Error())
	if msg == "" {
		msg = "invalid parameters"
	}
	return []string{strings.ReplaceAll(msg, "\n", "; ")}
}
