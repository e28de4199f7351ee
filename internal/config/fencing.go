package config

import (
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

func fencingKeys() []string {
	return []string{"devices", "levels", "two_node", "priority_fencing_delay"}
}
func deviceKeys() []string { return []string{"id", "agent", "nodes", "plugs", "params", "timeout"} }
func levelKeys() []string  { return []string{"node", "devices"} }

// defaultFenceTimeout bounds one fence action whose device sets none.
const defaultFenceTimeout = 60 * time.Second

// defaultTwoNodeDelay is the priority fencing delay of a two-node cluster
// that sets none: longer than an IPMI or Redfish power-off takes, so that
// the node running the service has fenced its peer before the peer's turn.
const defaultTwoNodeDelay = 5 * time.Second

// fileFencing is the decoded fencing section. Node and device references
// are judged in resolveFencing, once the nodes are known.
type fileFencing struct {
	devices []fileDevice
	levels  []fileLevel
	twoNode bool
	delay   *time.Duration // nil: not given
}

type fileDevice struct {
	d     model.FenceDevice // ID "" when absent or reported
	nodes []string          // as written
	plugs map[string]string // by node name, as written
}

type fileLevel struct {
	node    *string
	devices []string
}

// fencing decodes the fencing section.
func (d *decoder) fencing(n *yaml.Node, path string, f *file) {
	fields, _ := d.mapping(n, path, fencingKeys())
	if v, ok := fields["two_node"]; ok {
		if b, ok := d.boolean(v, path+".two_node"); ok {
			f.fencing.twoNode = b
		}
	}
	if v, ok := fields["priority_fencing_delay"]; ok {
		if t, ok := d.duration(v, path+".priority_fencing_delay", 0); ok {
			f.fencing.delay = &t
		}
	}
	if v, ok := fields["devices"]; ok {
		items, _ := d.optionalList(v, path+".devices", "a list of fence devices")
		for i, item := range items {
			p := fmt.Sprintf("%s.devices[%d]", path, i)
			d.lines[p] = item.Line
			var fd fileDevice
			fd.d.Timeout = defaultFenceTimeout
			df, ok := d.mapping(item, p, deviceKeys())
			if !ok {
				f.fencing.devices = append(f.fencing.devices, fd)
				continue
			}
			d.require(df, p, "id", "agent")
			if v, ok := df["id"]; ok {
				if id, ok := d.id(v, p+".id"); ok {
					fd.d.ID = id
				}
			}
			if v, ok := df["agent"]; ok {
				if a, ok := d.text(v, p+".agent", "a fence agent (fence_ipmilan) or an absolute path"); ok {
					if strings.Contains(a, "/") && !filepath.IsAbs(a) || strings.ContainsAny(a, "\x00\n") {
						d.report(p+".agent", v.Line, "%s: give the agent's name in /usr/sbin (fence_ipmilan) or an absolute path", quote(a))
					} else {
						fd.d.Agent = a
					}
				}
			}
			if v, ok := df["nodes"]; ok {
				items, _ := d.optionalList(v, p+".nodes", "a list of node names")
				for j, it := range items {
					if s, ok := d.text(it, fmt.Sprintf("%s.nodes[%d]", p, j), "a node name"); ok {
						d.lines[fmt.Sprintf("%s.nodes[%d]", p, j)] = it.Line
						fd.nodes = append(fd.nodes, s)
					}
				}
			}
			if v, ok := df["plugs"]; ok {
				fd.plugs, _ = d.scalarMap(v, p+".plugs", validName, "a node name")
			}
			if v, ok := df["params"]; ok {
				fd.d.Params, _ = d.scalarMap(v, p+".params", validParam, paramRule)
			}
			if v, ok := df["timeout"]; ok {
				if t, ok := d.duration(v, p+".timeout", 0); ok {
					fd.d.Timeout = t
				}
			}
			f.fencing.devices = append(f.fencing.devices, fd)
		}
	}
	if v, ok := fields["levels"]; ok {
		items, _ := d.optionalList(v, path+".levels", "a list of levels (node and devices)")
		for i, item := range items {
			p := fmt.Sprintf("%s.levels[%d]", path, i)
			d.lines[p] = item.Line
			var fl fileLevel
			lf, ok := d.mapping(item, p, levelKeys())
			if ok {
				d.require(lf, p, "node", "devices")
				if v, ok := lf["node"]; ok {
					fl.node = d.ref(v, p+".node", "a node name")
				}
				if v, ok := lf["devices"]; ok {
					devs, _ := d.list(v, p+".devices", "a list of device ids")
					if v.Kind == yaml.SequenceNode && len(devs) == 0 {
						d.report(p+".devices", v.Line, "a level needs at least one device")
					}
					for j, it := range devs {
						dp := fmt.Sprintf("%s.devices[%d]", p, j)
						d.lines[dp] = it.Line
						if s, ok := d.text(it, dp, "a device id"); ok {
							fl.devices = append(fl.devices, s)
						}
					}
				}
			}
			f.fencing.levels = append(f.fencing.levels, fl)
		}
	}
}

// resolveFencing checks the references of the fencing section: device ids
// unique, nodes known, levels naming known devices that cover the node.
func (d *decoder) resolveFencing(ff fileFencing, nodes []model.Node) model.Fencing {
	known := map[model.NodeID]bool{}
	for _, n := range nodes {
		if n.Name != "" {
			known[n.Name] = true
		}
	}
	var out model.Fencing
	devs := map[string]int{}
	for i, fd := range ff.devices {
		p := fmt.Sprintf("fencing.devices[%d]", i)
		dev := fd.d
		if dev.ID != "" {
			if j, dup := devs[dev.ID]; dup {
				d.at(p+".id", "duplicate device id %q (also fencing.devices[%d])", dev.ID, j)
			} else {
				devs[dev.ID] = i
			}
		}
		for j, n := range fd.nodes {
			if !known[model.NodeID(n)] {
				d.at(fmt.Sprintf("%s.nodes[%d]", p, j), "unknown node %s", quote(n))
				continue
			}
			dev.Nodes = append(dev.Nodes, model.NodeID(n))
		}
		for _, n := range slices.Sorted(maps.Keys(fd.plugs)) {
			if !known[model.NodeID(n)] {
				d.at(join(p+".plugs", n), "unknown node %s", quote(n))
				continue
			}
			if len(dev.Nodes) > 0 && !slices.Contains(dev.Nodes, model.NodeID(n)) {
				d.at(join(p+".plugs", n), "node %s is not in this device's nodes", n)
				continue
			}
			if dev.Plugs == nil {
				dev.Plugs = map[model.NodeID]string{}
			}
			dev.Plugs[model.NodeID(n)] = fd.plugs[n]
		}
		out.Devices = append(out.Devices, dev)
	}
	for i, fl := range ff.levels {
		p := fmt.Sprintf("fencing.levels[%d]", i)
		if fl.node == nil {
			continue
		}
		node := model.NodeID(*fl.node)
		if !known[node] {
			d.at(p+".node", "unknown node %s", quote(*fl.node))
			continue
		}
		for j, id := range fl.devices {
			k, ok := devs[id]
			switch {
			case !ok:
				d.at(fmt.Sprintf("%s.devices[%d]", p, j), "unknown device %s", quote(id))
			case len(out.Devices[k].Nodes) > 0 && !slices.Contains(out.Devices[k].Nodes, node):
				d.at(fmt.Sprintf("%s.devices[%d]", p, j), "device %s does not fence %s (its nodes: %v)", id, node, out.Devices[k].Nodes)
			}
		}
		if out.Levels == nil {
			out.Levels = map[model.NodeID][][]string{}
		}
		out.Levels[node] = append(out.Levels[node], fl.devices)
	}
	if ff.delay != nil {
		out.PriorityDelay = *ff.delay
	}
	if ff.twoNode {
		out.TwoNode = true
		if ff.delay == nil {
			out.PriorityDelay = defaultTwoNodeDelay
		}
		d.checkTwoNode(out, nodes)
	}
	return out
}

// checkTwoNode judges two_node: two nodes, neither a witness, each covered
// by a fencing device, for the survivor of a split is the node that fenced
// the other.
func (d *decoder) checkTwoNode(f model.Fencing, nodes []model.Node) {
	const p = "fencing.two_node"
	if len(nodes) != 2 {
		d.at(p, "two_node needs exactly 2 nodes, found %d; with 3 or more, a majority decides", len(nodes))
		return
	}
	for _, n := range nodes {
		switch {
		case n.Witness:
			d.at(p, "two_node is for two nodes without a witness, but %s is a witness; with a witness, quorum decides: remove two_node", n.Name)
		case n.Name != "" && len(f.FenceLevels(n.Name)) == 0:
			d.at(p, "two_node needs a fencing device that covers %s: on a split each node fences the other", n.Name)
		}
	}
}

// formatFencing adds c's fencing section to root, if it has one.
func formatFencing(root *yaml.Node, f model.Fencing) {
	if len(f.Devices) == 0 && len(f.Levels) == 0 && !f.TwoNode && f.PriorityDelay == 0 {
		return
	}
	sec := mapping()
	if f.TwoNode {
		add(sec, "two_node", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	if f.PriorityDelay != 0 && !(f.TwoNode && f.PriorityDelay == defaultTwoNodeDelay) {
		add(sec, "priority_fencing_delay", strNode(formatDuration(f.PriorityDelay)))
	}
	devs := &yaml.Node{Kind: yaml.SequenceNode}
	for _, dev := range f.Devices {
		m := mapping()
		add(m, "id", strNode(dev.ID))
		add(m, "agent", strNode(dev.Agent))
		if len(dev.Nodes) > 0 {
			ns := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, n := range dev.Nodes {
				ns.Content = append(ns.Content, strNode(string(n)))
			}
			add(m, "nodes", ns)
		}
		if len(dev.Plugs) > 0 {
			plugs := map[string]string{}
			for n, p := range dev.Plugs {
				plugs[string(n)] = p
			}
			add(m, "plugs", valueMap(plugs))
		}
		if len(dev.Params) > 0 {
			add(m, "params", valueMap(dev.Params))
		}
		if dev.Timeout != 0 && dev.Timeout != defaultFenceTimeout {
			add(m, "timeout", strNode(formatDuration(dev.Timeout)))
		}
		devs.Content = append(devs.Content, m)
	}
	add(sec, "devices", devs)
	if len(f.Levels) > 0 {
		lvs := &yaml.Node{Kind: yaml.SequenceNode}
		nodes := make([]string, 0, len(f.Levels))
		for n := range f.Levels {
			nodes = append(nodes, string(n))
		}
		slices.Sort(nodes)
		for _, n := range nodes {
			for _, ids := range f.Levels[model.NodeID(n)] {
				m := mapping()
				add(m, "node", strNode(n))
				l := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
				for _, id := range ids {
					l.Content = append(l.Content, strNode(id))
				}
				add(m, "devices", l)
				lvs.Content = append(lvs.Content, m)
			}
		}
		add(sec, "levels", lvs)
	}
	add(root, "fencing", sec)
}
