package config

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/vigil-ha/vigil/internal/model"
)

// Restart lists the sections in which next differs from running outside
// the resource part: what `vigil config apply` cannot change while the
// daemons run (they read it at start, detection, alerts and api included;
// a token compares by its value, not by the file it came from). Empty means next may be applied.
// data_dir is not compared: it is per node, and a flag may override it.
func Restart(running, next model.Config) []string {
	var out []string
	if running.Version != next.Version {
		out = append(out, "version")
	}
	if running.Cluster != next.Cluster {
		out = append(out, "cluster")
	}
	if !bytes.Equal(running.Secret, next.Secret) {
		out = append(out, "secret")
	}
	if !slices.EqualFunc(running.Nodes, next.Nodes, func(a, b model.Node) bool {
		return a.Name == b.Name && slices.Equal(a.Addresses, b.Addresses) && maps.Equal(a.Attributes, b.Attributes)
	}) {
		out = append(out, "nodes")
	}
	if running.Timing != next.Timing {
		out = append(out, "timing")
	}
	if running.Ports != next.Ports {
		out = append(out, "ports")
	}
	if !sameDetection(running.Detection, next.Detection) {
		out = append(out, "detection")
	}
	if !slices.EqualFunc(running.Alerts, next.Alerts, func(a, b model.Alert) bool {
		return a.ID == b.ID && a.Script == b.Script && a.Webhook == b.Webhook && slices.Equal(a.Kinds, b.Kinds) &&
			a.Timeout == b.Timeout && a.Retries == b.Retries && maps.Equal(a.Headers, b.Headers)
	}) {
		out = append(out, "alerts")
	}
	if running.API.TLSMode != next.API.TLSMode || running.API.TLSDir != next.API.TLSDir ||
		!slices.EqualFunc(running.API.Tokens, next.API.Tokens, func(a, b model.Token) bool {
			return a.Name == b.Name && a.Role == b.Role && bytes.Equal(a.Secret, b.Secret)
		}) {
		out = append(out, "api")
	}
	return out
}

func sameDetection(a, b model.Detection) bool {
	return slices.Equal(a.Checks, b.Checks) && a.Window == b.Window && a.Require == b.Require && a.ProbeInterval == b.ProbeInterval &&
		a.ProbeTimeout == b.ProbeTimeout && a.Damping == b.Damping
}

// Diff describes how the resource part changes from old to next, one line
// per resource, group, constraint and option that changes: "+ resource db
// (exec)" added, "- group web" removed, "~ resource web-ip: params, ops"
// changed (naming the fields). Lines come in the order of next's file,
// then what was removed in the order of old's. No change gives nil.
func Diff(old, next model.ResourceConfig) []string {
	var out []string
	out = append(out, diffByID("resource", old.Resources, next.Resources,
		func(r model.Resource) string { return string(r.ID) },
		func(r model.Resource) string { return " (" + r.Kind + ")" },
		func(a, b model.Resource) []string {
			return changed(
				"kind", a.Kind == b.Kind,
				"params", maps.Equal(a.Params, b.Params),
				"ops", a.Ops == b.Ops,
				"meta", sameMeta(a.Meta, b.Meta),
				"group", a.Group == b.Group)
		})...)
	out = append(out, diffByID("group", old.Groups, next.Groups,
		func(g model.Group) string { return string(g.ID) },
		func(g model.Group) string { return fmt.Sprintf(" %v", g.Members) },
		func(a, b model.Group) []string {
			return changed("members", slices.Equal(a.Members, b.Members), "meta", sameMeta(a.Meta, b.Meta))
		})...)
	out = append(out, diffByID("location", old.Constraints.Locations, next.Constraints.Locations,
		func(l model.Location) string { return l.ID }, func(l model.Location) string { return " " + describeLocation(l) },
		func(a, b model.Location) []string { return changed("", a == b) })...)
	out = append(out, diffByID("colocation", old.Constraints.Colocations, next.Constraints.Colocations,
		func(c model.Colocation) string { return c.ID },
		func(c model.Colocation) string { return fmt.Sprintf(" %s with %s (%s)", c.Resource, c.With, c.Score) },
		func(a, b model.Colocation) []string { return changed("", a == b) })...)
	out = append(out, diffByID("order", old.Constraints.Orders, next.Constraints.Orders,
		func(o model.Order) string { return o.ID },
		func(o model.Order) string { return fmt.Sprintf(" %s then %s (%s)", o.First, o.Then, o.Kind) },
		func(a, b model.Order) []string { return changed("", a == b) })...)
	if old.Options.NoQuorumPolicy != next.Options.NoQuorumPolicy {
		out = append(out, fmt.Sprintf("~ options.no_quorum_policy: %s -> %s", old.Options.NoQuorumPolicy, next.Options.NoQuorumPolicy))
	}
	if old.Options.Stickiness != next.Options.Stickiness {
		out = append(out, fmt.Sprintf("~ options.stickiness: %s -> %s", old.Options.Stickiness, next.Options.Stickiness))
	}
	return out
}

// diffByID compares two lists of things with ids.
func diffByID[T any](what string, old, next []T, id func(T) string, describe func(T) string, fields func(a, b T) []string) []string {
	var out []string
	before := map[string]T{}
	for _, o := range old {
		before[id(o)] = o
	}
	after := map[string]bool{}
	for _, n := range next {
		after[id(n)] = true
		o, ok := before[id(n)]
		switch f := fields(o, n); {
		case !ok:
			out = append(out, "+ "+what+" "+id(n)+describe(n))
		case len(f) == 1 && f[0] == "":
			out = append(out, "~ "+what+" "+id(n)+":"+describe(n))
		case len(f) > 0:
			out = append(out, fmt.Sprintf("~ %s %s: %s", what, id(n), strings.Join(f, ", ")))
		}
	}
	for _, o := range old {
		if !after[id(o)] {
			out = append(out, "- "+what+" "+id(o))
		}
	}
	return out
}

// changed takes pairs of (name, same) and returns the names that differ.
// A constraint, compared whole, passes the name "": a change is then shown
// with the new definition.
func changed(pairs ...any) []string {
	var out []string
	for i := 0; i+1 < len(pairs); i += 2 {
		if !pairs[i+1].(bool) {
			out = append(out, pairs[i].(string))
		}
	}
	return out
}

func sameMeta(a, b model.Meta) bool {
	sa, sb := a.Stickiness, b.Stickiness
	if (sa == nil) != (sb == nil) || (sa != nil && *sa != *sb) {
		return false
	}
	a.Stickiness, b.Stickiness = nil, nil
	return a == b
}

func describeLocation(l model.Location) string {
	if l.Node != "" {
		return fmt.Sprintf("%s on %s (%s)", l.Resource, l.Node, l.Score)
	}
	return fmt.Sprintf("%s on %s=%s (%s)", l.Resource, l.Attribute, l.Value, l.Score)
}
