package config

import (
	"fmt"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

// constraints decodes the constraints section into f.
func (d *decoder) constraints(n *yaml.Node, path string, f *file) {
	fields, _ := d.mapping(n, path, constraintKeys())
	if v, ok := fields["locations"]; ok {
		f.locations = d.locations(v, path+".locations")
	}
	if v, ok := fields["colocations"]; ok {
		f.colocations = d.colocations(v, path+".colocations")
	}
	if v, ok := fields["orders"]; ok {
		f.orders = d.orders(v, path+".orders")
	}
}

// constraintItems returns the mapping of each item of a constraint list,
// by index; a nil map stands for an item that is not a mapping.
func (d *decoder) constraintItems(n *yaml.Node, path, want string, keys []string, required ...string) []map[string]*yaml.Node {
	items, ok := d.optionalList(n, path, want)
	if !ok || len(items) == 0 {
		return nil
	}
	out := make([]map[string]*yaml.Node, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		fields, ok := d.mapping(item, p, keys)
		if !ok {
			continue
		}
		d.require(fields, p, required...)
		if fields == nil {
			fields = make(map[string]*yaml.Node)
		}
		out[i] = fields
	}
	return out
}

const targetWant = "a resource or group id"

func (d *decoder) locations(n *yaml.Node, path string) []fileLocation {
	items := d.constraintItems(n, path, "a list of location constraints", locationKeys(), "id", "resource", "score")
	ls := make([]fileLocation, len(items))
	for i, fields := range items {
		if fields == nil {
			continue
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		l := &ls[i]
		l.id = d.constraintID(fields, p)
		if v, ok := fields["resource"]; ok {
			l.resource = d.ref(v, p+".resource", targetWant)
		}
		if v, ok := fields["node"]; ok {
			l.node = d.ref(v, p+".node", "a node name")
		}
		if v, ok := fields["attribute"]; ok {
			if s, ok := d.text(v, p+".attribute", "a node attribute name"); ok {
				if validAttr(s) {
					l.attribute = &s
				} else {
					d.report(p+".attribute", v.Line, "%s is not a valid attribute name: %s", quote(s), attrRule)
				}
			}
		}
		if v, ok := fields["value"]; ok {
			if s, ok := d.value(v, p+".value"); ok {
				l.value = &s
			}
		}
		if v, ok := fields["score"]; ok {
			if s, ok := d.score(v, p+".score"); ok {
				l.score = &s
			}
		}
		_, node := fields["node"]
		_, attr := fields["attribute"]
		_, value := fields["value"]
		switch {
		case node && attr:
			d.at(p+".attribute", "node and attribute are both set; keep one")
		case node && value:
			d.at(p+".value", "value goes with attribute, not node")
		case attr && !value:
			d.at(p+".value", "required with attribute")
		case value && !attr:
			d.at(p+".value", "value without attribute; name the attribute it matches")
		case !node && !attr:
			d.at(p+".node", "required: set node, or attribute and value")
		}
	}
	return ls
}

func (d *decoder) colocations(n *yaml.Node, path string) []fileColocation {
	items := d.constraintItems(n, path, "a list of colocation constraints", colocationKeys(), "id", "resource", "with", "score")
	cs := make([]fileColocation, len(items))
	for i, fields := range items {
		if fields == nil {
			continue
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		c := &cs[i]
		c.id = d.constraintID(fields, p)
		if v, ok := fields["resource"]; ok {
			c.resource = d.ref(v, p+".resource", targetWant)
		}
		if v, ok := fields["with"]; ok {
			c.with = d.ref(v, p+".with", targetWant)
		}
		if v, ok := fields["score"]; ok {
			if s, ok := d.score(v, p+".score"); ok {
				c.score = &s
			}
		}
	}
	return cs
}

func (d *decoder) orders(n *yaml.Node, path string) []fileOrder {
	items := d.constraintItems(n, path, "a list of order constraints", orderKeys(), "id", "first", "then")
	list := make([]fileOrder, len(items))
	for i, fields := range items {
		if fields == nil {
			continue
		}
		p := fmt.Sprintf("%s[%d]", path, i)
		o := &list[i]
		o.id = d.constraintID(fields, p)
		if v, ok := fields["first"]; ok {
			o.first = d.ref(v, p+".first", targetWant)
		}
		if v, ok := fields["then"]; ok {
			o.then = d.ref(v, p+".then", targetWant)
		}
		o.kind = orderKinds()[0]
		if v, ok := fields["kind"]; ok {
			o.kind, _ = oneOf(d, v, p+".kind", "kind", orderKinds())
		}
	}
	return list
}

func (d *decoder) constraintID(fields map[string]*yaml.Node, path string) *string {
	v, ok := fields["id"]
	if !ok {
		return nil
	}
	s, ok := d.id(v, path+".id")
	if !ok {
		return nil
	}
	return &s
}

// resolveConstraints checks the rules between constraints and what they
// name: ids unique among all constraints, resources, groups and nodes
// that exist, no resource placed or ordered relative to itself or its own
// group, and no cycle of mandatory orders. Only the constraints without
// problems are in the result.
func (d *decoder) resolveConstraints(f file, nodes []model.Node, rs []model.Resource, gs []model.Group, ns names) model.Constraints {
	var c model.Constraints
	ids := make(map[string]string) // id -> where it is first
	uniqueID := func(id *string, p string) bool {
		if id == nil {
			return false
		}
		if other, dup := ids[*id]; dup {
			d.at(p+".id", "duplicate id %q (also %s)", *id, other)
			return false
		}
		ids[*id] = p
		return true
	}
	// target resolves a reference to a resource or group.
	target := func(s *string, p string) (model.ResourceID, bool) {
		if s == nil {
			return "", false
		}
		id := model.ResourceID(*s)
		if !ns.exists(id) {
			if !d.refusedIDs[*s] {
				d.at(p, "unknown resource or group %q", *s)
			}
			return "", false
		}
		return id, true
	}
	// related reports a constraint between a resource and its own group.
	related := func(a, b model.ResourceID, p, why string) bool {
		for _, pair := range [][2]model.ResourceID{{a, b}, {b, a}} {
			if i, ok := ns.resources[pair[0]]; ok && rs[i].Group != "" && rs[i].Group == pair[1] {
				d.at(p, "%q is a member of group %q, %s", pair[0], pair[1], why)
				return true
			}
		}
		return false
	}

	for i, fl := range f.locations {
		p := fmt.Sprintf("constraints.locations[%d]", i)
		ok := uniqueID(fl.id, p)
		res, rok := target(fl.resource, p+".resource")
		if fl.node != nil {
			if !slices.ContainsFunc(nodes, func(n model.Node) bool { return n.Name == model.NodeID(*fl.node) }) {
				if !d.refusedNodes[*fl.node] {
					d.at(p+".node", "unknown node %q", *fl.node)
				}
				ok = false
			}
		}
		byNode := fl.node != nil && fl.attribute == nil && fl.value == nil
		byAttr := fl.node == nil && fl.attribute != nil && fl.value != nil
		if !ok || !rok || fl.score == nil || !byNode && !byAttr {
			continue
		}
		l := model.Location{ID: *fl.id, Resource: res, Score: *fl.score}
		if byNode {
			l.Node = model.NodeID(*fl.node)
		} else {
			l.Attribute, l.Value = *fl.attribute, *fl.value
		}
		c.Locations = append(c.Locations, l)
	}

	for i, fc := range f.colocations {
		p := fmt.Sprintf("constraints.colocations[%d]", i)
		ok := uniqueID(fc.id, p)
		res, rok := target(fc.resource, p+".resource")
		if fc.resource != nil && fc.with != nil && *fc.resource == *fc.with {
			d.at(p+".with", "%q cannot be colocated with itself", *fc.with)
			continue
		}
		with, wok := target(fc.with, p+".with")
		rel := rok && wok && related(res, with, p+".with", "which keeps its members together")
		if !ok || !rok || !wok || rel || fc.score == nil {
			continue
		}
		c.Colocations = append(c.Colocations, model.Colocation{ID: *fc.id, Resource: res, With: with, Score: *fc.score})
	}

	for i, fo := range f.orders {
		p := fmt.Sprintf("constraints.orders[%d]", i)
		ok := uniqueID(fo.id, p)
		first, fok := target(fo.first, p+".first")
		if fo.first != nil && fo.then != nil && *fo.first == *fo.then {
			d.at(p+".then", "first and then are both %q; an order needs two resources", *fo.then)
			continue
		}
		then, tok := target(fo.then, p+".then")
		rel := fok && tok && related(first, then, p+".then", "which starts its members in the order it lists them")
		if !ok || !fok || !tok || rel || fo.kind == "" {
			continue
		}
		c.Orders = append(c.Orders, model.Order{ID: *fo.id, First: first, Then: then, Kind: fo.kind})
	}
	d.checkOrderCycles(rs, gs, ns, c.Orders)
	return c
}

// orderEdge says that one resource starts before another, and why: an
// order constraint (first and then as the file names them, resources or
// groups), or a group's implicit order of its members.
type orderEdge struct {
	from, to    int // resource indexes
	first, then model.ResourceID
	group       model.ResourceID // the group whose order it is; "" for a constraint
}

// orderGraph is the relation "starts before" between resources, by
// mandatory orders and groups. A group stands for all its members: an
// order from a group is an order from each of its members, to each of the
// resources the order's then stands for. The graph keeps each order once
// instead of every pair it relates, which between two large groups would
// be many.
type orderGraph struct {
	chain  []*orderEdge // resource -> the edge to the next member of its group
	starts [][]int      // resource -> the orders whose first stands for it
	orders []model.Order
	thens  [][]int // order -> the resources its then stands for
	// reduced has an edge from the last resource of each order's first to
	// the first of its then, and the chain edges. As a group's members are
	// chained, it relates the same resources as the whole graph, with
	// O(resources + orders) edges.
	reduced [][]int
}

func newOrderGraph(rs []model.Resource, gs []model.Group, ns names, orders []model.Order) *orderGraph {
	g := &orderGraph{chain: make([]*orderEdge, len(rs)), starts: make([][]int, len(rs)), reduced: make([][]int, len(rs))}
	for gi, ms := range ns.members {
		group := gs[gi].ID
		if group == "" { // reported; name it by its place
			group = model.ResourceID(fmt.Sprintf("groups[%d]", gi))
		}
		for k := 1; k < len(ms); k++ {
			u, v := ms[k-1], ms[k]
			g.chain[u] = &orderEdge{from: u, to: v, first: rs[u].ID, then: rs[v].ID, group: group}
			g.reduced[u] = append(g.reduced[u], v)
		}
	}
	for _, o := range orders {
		firsts, thens := ns.expand(o.First), ns.expand(o.Then)
		if o.Kind != model.OrderMandatory || len(firsts) == 0 || len(thens) == 0 {
			continue
		}
		oi := len(g.orders)
		g.orders = append(g.orders, o)
		g.thens = append(g.thens, thens)
		for _, u := range firsts {
			g.starts[u] = append(g.starts[u], oi)
		}
		last := firsts[len(firsts)-1]
		g.reduced[last] = append(g.reduced[last], thens[0])
	}
	return g
}

// checkOrderCycles reports every cycle of mandatory orders: one for each
// set of resources that all must start before each other, named by a
// shortest cycle through the first of them in the file.
func (d *decoder) checkOrderCycles(rs []model.Resource, gs []model.Group, ns names, orders []model.Order) {
	g := newOrderGraph(rs, gs, ns, orders)
	for _, scc := range components(g.reduced) {
		// No resource is ordered before itself (first and then differ,
		// and are not a group and its member), so a cycle has two or
		// more.
		if len(scc) > 1 {
			d.at("constraints.orders", "mandatory orders form a cycle: %s", describeCycle(rs, g.shortestCycle(scc)))
		}
	}
}

// components returns the strongly connected components of the graph
// (Tarjan's algorithm), each sorted, ordered by their lowest node.
func components(out [][]int) [][]int {
	n := len(out)
	index := make([]int, n) // 0: not visited; else visit order + 1
	low := make([]int, n)
	onStack := make([]bool, n)
	var stack []int
	comp := make([]int, n) // node -> component number
	ncomp := 0
	next := 1
	var visit func(v int)
	visit = func(v int) {
		index[v], low[v] = next, next
		next++
		stack = append(stack, v)
		onStack[v] = true
		for _, w := range out[v] {
			switch {
			case index[w] == 0:
				visit(w)
				low[v] = min(low[v], low[w])
			case onStack[w]:
				low[v] = min(low[v], index[w])
			}
		}
		if low[v] != index[v] {
			return
		}
		for {
			w := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			onStack[w] = false
			comp[w] = ncomp
			if w == v {
				break
			}
		}
		ncomp++
	}
	for v := range n {
		if index[v] == 0 {
			visit(v)
		}
	}
	// Each sorted, ordered by lowest node: deterministic, in file order.
	byComp := make([][]int, ncomp)
	var order []int // component numbers by lowest node
	for v := range n {
		c := comp[v]
		if byComp[c] == nil {
			order = append(order, c)
		}
		byComp[c] = append(byComp[c], v)
	}
	sorted := make([][]int, len(order))
	for i, c := range order {
		sorted[i] = byComp[c]
	}
	return sorted
}

// shortestCycle returns a shortest cycle through the lowest resource of
// scc, a strongly connected component of at least two, as its edges in
// order. Of edges to the same resource it takes a group's before an
// order's, and orders in file order.
func (g *orderGraph) shortestCycle(scc []int) []orderEdge {
	in := make(map[int]bool, len(scc))
	for _, v := range scc {
		in[v] = true
	}
	start := scc[0]
	via := make(map[int]orderEdge) // resource -> the edge the search reached it by
	used := make([]bool, len(g.orders))
	queue := []int{start}
	for len(queue) > 0 {
		u := queue[0]
		queue = queue[1:]
		var out []orderEdge
		if e := g.chain[u]; e != nil {
			out = append(out, *e)
		}
		for _, oi := range g.starts[u] {
			// The search meets resources in order of distance, so the
			// first resource to use an order reaches all its thens
			// soonest; later ones need not look again.
			if used[oi] {
				continue
			}
			used[oi] = true
			o := g.orders[oi]
			for _, v := range g.thens[oi] {
				out = append(out, orderEdge{from: u, to: v, first: o.First, then: o.Then})
			}
		}
		for _, e := range out {
			if !in[e.to] {
				continue
			}
			if e.to == start {
				cycle := []orderEdge{e}
				for v := u; v != start; v = via[v].from {
					cycle = append(cycle, via[v])
				}
				slices.Reverse(cycle)
				return cycle
			}
			if _, seen := via[e.to]; !seen {
				via[e.to] = e
				queue = append(queue, e.to)
			}
		}
	}
	panic("config: a strongly connected component without a cycle")
}

// describeCycle renders a cycle with the names the file uses: between two
// edges that name the same resource or group, that name; where one names a
// group and the other its member, the member "(in group)". A cycle that
// goes through the implicit order of a group's members says so.
func describeCycle(rs []model.Resource, cycle []orderEdge) string {
	k := len(cycle)
	junction := func(i int) (string, bool) {
		in, out := cycle[(i+k-1)%k].then, cycle[i].first
		if in == out {
			return string(in), true
		}
		r := rs[cycle[i].from].ID
		g := in
		if g == r {
			g = out
		}
		return fmt.Sprintf("%s (in %s)", r, g), false
	}
	start := 0
	for i := range k {
		if _, same := junction(i); same {
			start = i
			break
		}
	}
	var steps []string
	for j := 0; j <= k; j++ {
		s, _ := junction((start + j) % k)
		steps = append(steps, s)
	}
	var groups []string
	for _, e := range cycle {
		if e.group != "" && !slices.Contains(groups, string(e.group)) {
			groups = append(groups, string(e.group))
		}
	}
	s := strings.Join(steps, " -> ")
	switch len(groups) {
	case 0:
	case 1:
		s += fmt.Sprintf(" (group %s starts its members in order)", groups[0])
	default:
		s += fmt.Sprintf(" (groups %s start their members in order)", strings.Join(groups, ", "))
	}
	return s
}
