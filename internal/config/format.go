package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

// Format renders c as a canonical version-1 file, which Parse accepts and
// decodes to a Config equal to c (for a c that Parse produced). If
// secretFile is not empty the file names it in secret_file instead of
// holding the secret. An API token read from a file is written as its
// token_file; an inline token, and webhook headers, are written inline, as
// the secret is: the output is a config file, to be kept as safe as one. Timing is written as the profile plus the fields that
// differ from it; options, resources, groups and constraints only with
// the values that differ from the defaults; everything else in full. Map
// keys are sorted. As in the model, a zero value that has a default (a
// resource's Ops, a zero timeout, an empty TargetRole or NoQuorumPolicy)
// stands for the default (detection's from c.Timing, as Parse fills them
// in); only a resource's Group comes from c.Groups, and an alert's Retries
// is written unless it is the default 3 (0 means no retries).
func Format(c model.Config, secretFile string) []byte {
	root := mapping()
	add(root, "version", intNode(c.Version))
	add(root, "cluster", strNode(c.Cluster))
	if secretFile != "" {
		add(root, "secret_file", strNode(secretFile))
	} else {
		add(root, "secret", strNode(string(c.Secret)))
	}
	add(root, "data_dir", strNode(c.DataDir))

	nodes := &yaml.Node{Kind: yaml.SequenceNode}
	for _, n := range c.Nodes {
		addrs := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, a := range n.Addresses {
			addrs.Content = append(addrs.Content, strNode(a.String()))
		}
		node := mapping()
		add(node, "name", strNode(string(n.Name)))
		add(node, "addresses", addrs)
		if len(n.Attributes) > 0 {
			attrs := valueMap(n.Attributes)
			attrs.Style = yaml.FlowStyle
			add(node, "attributes", attrs)
		}
		if n.Witness {
			add(node, "witness", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
		}
		nodes.Content = append(nodes.Content, node)
	}
	add(root, "nodes", nodes)

	timing := mapping()
	add(timing, "profile", strNode(c.Timing.Profile))
	for _, tf := range overrides(c.Timing) {
		add(timing, tf.key, strNode(formatDuration(*tf.d)))
	}
	add(root, "timing", timing)

	ports := mapping()
	for _, pf := range portFields(&c.Ports) {
		add(ports, pf.key, intNode(int(*pf.port)))
	}
	add(root, "ports", ports)
	formatResources(root, c)
	formatFencing(root, c.Fencing)
	formatDetection(root, c)
	formatAlerts(root, c.Alerts)
	formatAPI(root, c.API)

	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(root); err != nil {
		// Every node above is a plain string, integer, list or mapping,
		// which the encoder always accepts.
		panic(fmt.Sprintf("config: format: %v", err))
	}
	if err := enc.Close(); err != nil {
		panic(fmt.Sprintf("config: format: %v", err))
	}
	return buf.Bytes()
}

// formatResources adds the options, resources, groups and constraints
// sections to root, each only if it holds something.
func formatResources(root *yaml.Node, c model.Config) {
	options := mapping()
	if p := c.Options.NoQuorumPolicy; p != "" && p != defaultOptions().NoQuorumPolicy {
		add(options, "no_quorum_policy", strNode(string(p)))
	}
	if c.Options.Stickiness != 0 {
		add(options, "stickiness", scoreNode(c.Options.Stickiness))
	}
	addIf(root, "options", options)

	resources := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range c.Resources {
		res := mapping()
		add(res, "id", strNode(string(r.ID)))
		add(res, "kind", strNode(r.Kind))
		if len(r.Params) > 0 {
			add(res, "params", valueMap(r.Params))
		}
		ops := mapping()
		if r.Ops != (model.Ops{}) { // the zero Ops are the defaults
			for _, of := range opFields(&r.Ops) {
				if *of.d != of.def && (*of.d != 0 || of.zeroOK) {
					add(ops, of.key, strNode(formatDuration(*of.d)))
				}
			}
		}
		addIf(res, "ops", ops)
		addIf(res, "meta", metaNode(r.Meta))
		resources.Content = append(resources.Content, res)
	}
	addIf(root, "resources", resources)

	groups := &yaml.Node{Kind: yaml.SequenceNode}
	for _, g := range c.Groups {
		group := mapping()
		add(group, "id", strNode(string(g.ID)))
		members := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
		for _, m := range g.Members {
			members.Content = append(members.Content, strNode(string(m)))
		}
		add(group, "members", members)
		addIf(group, "meta", metaNode(g.Meta))
		groups.Content = append(groups.Content, group)
	}
	addIf(root, "groups", groups)

	cons := mapping()
	locations := &yaml.Node{Kind: yaml.SequenceNode}
	for _, l := range c.Constraints.Locations {
		loc := flowMapping()
		add(loc, "id", strNode(l.ID))
		add(loc, "resource", strNode(string(l.Resource)))
		if l.Attribute != "" {
			add(loc, "attribute", strNode(l.Attribute))
			add(loc, "value", valueNode(l.Value))
		} else {
			add(loc, "node", strNode(string(l.Node)))
		}
		add(loc, "score", scoreNode(l.Score))
		locations.Content = append(locations.Content, loc)
	}
	addIf(cons, "locations", locations)
	colocations := &yaml.Node{Kind: yaml.SequenceNode}
	for _, co := range c.Constraints.Colocations {
		m := flowMapping()
		add(m, "id", strNode(co.ID))
		add(m, "resource", strNode(string(co.Resource)))
		add(m, "with", strNode(string(co.With)))
		add(m, "score", scoreNode(co.Score))
		colocations.Content = append(colocations.Content, m)
	}
	addIf(cons, "colocations", colocations)
	orders := &yaml.Node{Kind: yaml.SequenceNode}
	for _, o := range c.Constraints.Orders {
		m := flowMapping()
		add(m, "id", strNode(o.ID))
		add(m, "first", strNode(string(o.First)))
		add(m, "then", strNode(string(o.Then)))
		if o.Kind != "" && o.Kind != orderKinds()[0] {
			add(m, "kind", strNode(string(o.Kind)))
		}
		orders.Content = append(orders.Content, m)
	}
	addIf(cons, "orders", orders)
	addIf(root, "constraints", cons)
}

// metaNode is the meta section of m, with the values that are not the
// defaults.
func metaNode(m model.Meta) *yaml.Node {
	meta := mapping()
	if m.Stickiness != nil {
		add(meta, "stickiness", scoreNode(*m.Stickiness))
	}
	if m.MigrationThreshold != 0 {
		add(meta, "migration_threshold", intNode(m.MigrationThreshold))
	}
	if m.FailureTimeout != 0 {
		add(meta, "failure_timeout", strNode(formatDuration(m.FailureTimeout)))
	}
	if m.TargetRole != "" && m.TargetRole != targetStarted {
		add(meta, "target_role", strNode(m.TargetRole))
	}
	return meta
}

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

func flowMapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode, Style: yaml.FlowStyle} }

// addIf adds the mapping or list v to m if it is not empty.
func addIf(m *yaml.Node, key string, v *yaml.Node) {
	if len(v.Content) > 0 {
		add(m, key, v)
	}
}

// valueMap is a mapping of params or attributes, in key order.
func valueMap(values map[string]string) *yaml.Node {
	m := mapping()
	for _, k := range slices.Sorted(maps.Keys(values)) {
		add(m, k, valueNode(values[k]))
	}
	return m
}

// valueNode writes a param or attribute value plain when YAML reads it
// back as a number, boolean or date (which Parse takes as written), and
// as a string otherwise.
func valueNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Value: s}
	switch tag := n.ShortTag(); tag {
	case "!!int", "!!float", "!!bool", "!!timestamp":
		n.Tag = tag
		return n
	}
	return strNode(s)
}

// scoreNode writes a finite score as an integer, and an infinite one by
// name.
func scoreNode(s model.Score) *yaml.Node {
	if s >= model.Infinity || s <= model.MinusInfinity {
		return strNode(s.String())
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatInt(int64(s), 10)}
}

func add(m *yaml.Node, key string, v *yaml.Node) {
	m.Content = append(m.Content, strNode(key), v)
}

// strNode is a string scalar; the encoder quotes it if it would otherwise
// read as another type. Bytes that are not UTF-8, which only a secret or a
// !!binary value can hold, are written as !!binary.
func strNode(s string) *yaml.Node {
	if !utf8.ValidString(s) {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!binary", Value: base64.StdEncoding.EncodeToString([]byte(s))}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
}

func intNode(i int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.Itoa(i)}
}

// Summary is the short text `vigil config validate` prints for a valid
// config: a few lines, each ending in a newline, without the secret. For
// example:
//
//	cluster demo: 3 nodes (n1 n2 n3), 2 links
//	profile lan (heartbeat 25ms, suspect 75ms, offline 150ms)
//	ports hb 5405/udp raft 5406/tcp api 5407/tcp
//	data_dir /var/lib/vigil
//	resources: 3 (2 in 1 group), constraints: 2 locations, 1 colocation, 1 order; no-quorum-policy stop
//
// A line listing the timing overrides follows the profile if there are any.
// The resources line is there if there are resources or options that
// are not the defaults; it ends with the cluster's stickiness if that is
// not 0. Lines for detection, alerts and the API follow when those are not
// the defaults, naming no URL, header or token:
//
//	detection: 2 of 3 layers, window 500ms, 2 checks
//	alerts: page (script, 3 kinds), hook (webhook, every kind)
//	api: tls required, 2 tokens (grafana read-only, ops operator)
func Summary(c model.Config) string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = string(n.Name)
		if n.Witness {
			names[i] += "(witness)"
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s: %s (%s), %s\n", c.Cluster,
		plural(len(c.Nodes), "node", "nodes"), strings.Join(names, " "), plural(c.Links(), "link", "links"))

	t := c.Timing
	fmt.Fprintf(&b, "profile %s (heartbeat %s, suspect %s, offline %s)\n", t.Profile,
		formatDuration(t.HeartbeatInterval), formatDuration(t.SuspectAfter), formatDuration(t.OfflineAfter))
	if changed := overrides(t); len(changed) > 0 {
		list := make([]string, len(changed))
		for i, tf := range changed {
			list[i] = tf.key + " " + formatDuration(*tf.d)
		}
		fmt.Fprintf(&b, "overrides: %s\n", strings.Join(list, ", "))
	}

	b.WriteString("ports")
	p := c.Ports
	for _, pf := range portFields(&p) {
		key := pf.key
		if key == "heartbeat" {
			key = "hb"
		}
		fmt.Fprintf(&b, " %s %d/%s", key, *pf.port, pf.proto)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "data_dir %s\n", c.DataDir)
	if len(c.Fencing.Devices) > 0 {
		var per []string
		for _, n := range c.Nodes {
			var lv []string
			for _, level := range c.Fencing.FenceLevels(n.Name) {
				var ids []string
				for _, dev := range level {
					ids = append(ids, dev.ID)
				}
				lv = append(lv, strings.Join(ids, "+"))
			}
			if len(lv) == 0 {
				lv = []string{"none"}
			}
			per = append(per, string(n.Name)+" by "+strings.Join(lv, ", then "))
		}
		fmt.Fprintf(&b, "fencing: %s\n", strings.Join(per, "; "))
	}
	if c.Fencing.TwoNode {
		fmt.Fprintf(&b, "two_node: on a split each node fences the other; the node running less waits %s\n", formatDuration(c.Fencing.PriorityDelay))
	} else if c.Fencing.PriorityDelay > 0 {
		fmt.Fprintf(&b, "priority_fencing_delay %s\n", formatDuration(c.Fencing.PriorityDelay))
	}
	o := c.Options
	if o.NoQuorumPolicy == "" {
		o.NoQuorumPolicy = defaultOptions().NoQuorumPolicy
	}
	if len(c.Resources) > 0 || o != defaultOptions() {
		fmt.Fprintf(&b, "resources: %d", len(c.Resources))
		if len(c.Groups) > 0 {
			members := 0
			for _, g := range c.Groups {
				members += len(g.Members)
			}
			fmt.Fprintf(&b, " (%d in %s)", members, plural(len(c.Groups), "group", "groups"))
		}
		var cons []string
		for _, k := range []struct {
			n         int
			one, many string
		}{
			{len(c.Constraints.Locations), "location", "locations"},
			{len(c.Constraints.Colocations), "colocation", "colocations"},
			{len(c.Constraints.Orders), "order", "orders"},
		} {
			if k.n > 0 {
				cons = append(cons, plural(k.n, k.one, k.many))
			}
		}
		if len(cons) == 0 {
			cons = []string{"none"}
		}
		fmt.Fprintf(&b, ", constraints: %s; no-quorum-policy %s", strings.Join(cons, ", "), o.NoQuorumPolicy)
		if o.Stickiness != 0 {
			fmt.Fprintf(&b, ", stickiness %s", o.Stickiness)
		}
		b.WriteString("\n")
	}
	b.WriteString(summaryDetection(c))
	b.WriteString(summaryAlerts(c.Alerts))
	b.WriteString(summaryAPI(c.API))
	return b.String()
}

// overrides returns t's fields that differ from its profile (all of them
// for an unknown profile), pointing into a copy of t.
func overrides(t model.Timing) []timingField {
	base, _ := Profile(t.Profile)
	baseFields := timingFields(&base)
	var out []timingField
	for i, tf := range timingFields(&t) {
		if *tf.d != *baseFields[i].d {
			out = append(out, tf)
		}
	}
	return out
}

// formatDuration is time.Duration.String without its trailing zero units:
// 1m rather than 1m0s. time.ParseDuration reads both.
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
