package config

import (
	"errors"
	"fmt"
	"io"
	"net/netip"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

// decoder walks a YAML document against the version-1 schema. It records
// the line of every field it sees, by path, so that later checks can report
// on the field they judge, and collects every problem instead of stopping at
// the first.
type decoder struct {
	name     string
	lines    map[string]int // path -> line of the key (or list item)
	problems []Problem
	// refusedNodes and refusedIDs are node names and resource or group
	// ids the file writes but that were reported as invalid: a reference to
	// one is not reported again as unknown.
	refusedNodes map[string]bool
	refusedIDs   map[string]bool
}

func newDecoder(name string) *decoder {
	return &decoder{name: name, lines: make(map[string]int),
		refusedNodes: make(map[string]bool), refusedIDs: make(map[string]bool)}
}

// report records a problem at an explicit line.
func (d *decoder) report(path string, line int, format string, args ...any) {
	d.problems = append(d.problems, Problem{File: d.name, Line: line, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// at records a problem on a path, at the line of the path or, if the path
// is not in the file (a default), of its nearest ancestor that is.
func (d *decoder) at(path string, format string, args ...any) {
	d.report(path, d.lineOf(path), format, args...)
}

func (d *decoder) lineOf(path string) int {
	for {
		if line, ok := d.lines[path]; ok {
			return line
		}
		i := strings.LastIndexAny(path, ".[")
		if i < 0 {
			return d.lines[""]
		}
		path = path[:i]
	}
}

// has reports whether the file has the key at path, whatever its value.
func (d *decoder) has(path string) bool {
	_, ok := d.lines[path]
	return ok
}

// document parses data, which must hold one YAML document whose top level is
// a mapping, and decodes it. It returns false if there is nothing to decode.
func (d *decoder) document(data []byte) (file, bool) {
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			d.report("", 0, "file is empty; expected a mapping with version, cluster, secret and nodes")
		} else {
			d.syntax(err)
		}
		return file{}, false
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case errors.Is(err, io.EOF):
	case err != nil:
		d.syntax(err)
		return file{}, false
	default:
		d.report("", next.Line, "a second YAML document (after ---); a config file holds one")
		return file{}, false
	}
	root := &doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		d.report("", root.Line, "expected a mapping with version, cluster, secret and nodes, found %s", describe(root))
		return file{}, false
	}
	return d.root(root)
}

// syntax reports a YAML syntax error, on its line if it names one.
func (d *decoder) syntax(err error) {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if num, text, ok := strings.Cut(rest, ": "); ok {
			if line, err := strconv.Atoi(num); err == nil {
				d.report("", line, "invalid YAML: %s", text)
				return
			}
		}
	}
	d.report("", 0, "invalid YAML: %s", msg)
}

// root decodes the top-level mapping. It returns false, after one problem,
// for a version it does not know: the rest of such a file follows another
// schema, and judging it by this one would only mislead.
func (d *decoder) root(n *yaml.Node) (file, bool) {
	d.lines[""] = n.Line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		var got int
		if k.Value == "version" && v.ShortTag() == "!!int" && v.Decode(&got) == nil && got != version {
			d.report("version", k.Line, "unsupported version %d; this vigil reads version %d", got, version)
			return file{}, false
		}
	}
	fields, _ := d.mapping(n, "", rootKeys())
	var f file
	if v, ok := fields["version"]; ok {
		d.integer(v, "version", "expected an integer (1)") // 1, if one: see above
	}
	d.require(fields, "", "version", "cluster", "nodes")
	if v, ok := fields["cluster"]; ok {
		f.cluster = d.ident(v, "cluster")
	}
	if v, ok := fields["secret"]; ok {
		f.secret = d.secret(v, "secret")
	}
	if v, ok := fields["secret_file"]; ok {
		if s, ok := d.text(v, "secret_file", "a file name"); ok {
			f.secretFile = &s
		}
	}
	if v, ok := fields["data_dir"]; ok {
		f.dataDir = d.dataDir(v, "data_dir")
	}
	if v, ok := fields["nodes"]; ok {
		f.nodes = d.nodes(v, "nodes")
	}
	f.timing = make(map[string]time.Duration)
	if v, ok := fields["timing"]; ok {
		d.timing(v, "timing", &f)
	}
	f.ports = make(map[string]uint16)
	if v, ok := fields["ports"]; ok {
		d.ports(v, "ports", f.ports)
	}
	f.options = defaultOptions()
	if v, ok := fields["options"]; ok {
		d.options(v, "options", &f.options)
	}
	if v, ok := fields["resources"]; ok {
		f.resources = d.resources(v, "resources")
	}
	if v, ok := fields["groups"]; ok {
		f.groups = d.groups(v, "groups")
	}
	if v, ok := fields["constraints"]; ok {
		d.constraints(v, "constraints", &f)
	}
	if v, ok := fields["fencing"]; ok {
		d.fencing(v, "fencing", &f)
	}
	if v, ok := fields["detection"]; ok {
		d.detection(v, "detection", &f)
	}
	if v, ok := fields["alerts"]; ok {
		f.alerts = d.alerts(v, "alerts")
	}
	if v, ok := fields["api"]; ok {
		d.api(v, "api", &f)
	}
	return f, true
}

// mapping checks that n is a mapping (null counts as an empty one), records
// the line of each key, reports unknown and repeated keys, and returns the
// value of each known key. It returns false if n is not a mapping.
func (d *decoder) mapping(n *yaml.Node, path string, known []string) (map[string]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	if d.alias(n, path) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.report(path, n.Line, "expected a mapping with %s, found %s", strings.Join(known, ", "), describe(n))
		return nil, false
	}
	fields := make(map[string]*yaml.Node)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.report(path, k.Line, "expected a field name, found %s", describe(k))
			continue
		}
		p := join(path, k.Value)
		switch {
		case !slices.Contains(known, k.Value):
			d.report(p, k.Line, "unknown field (known: %s)", strings.Join(known, ", "))
		case fields[k.Value] != nil:
			d.report(p, k.Line, "repeated field (first on line %d)", d.lines[p])
		default:
			d.lines[p] = k.Line
			fields[k.Value] = v
		}
	}
	return fields, true
}

// require reports each key that fields lacks, on the line of the mapping.
func (d *decoder) require(fields map[string]*yaml.Node, path string, keys ...string) {
	for _, k := range keys {
		if _, ok := fields[k]; !ok {
			d.report(join(path, k), d.lines[path], "required")
		}
	}
}

// boolean returns the value of n, which must be true or false.
func (d *decoder) boolean(n *yaml.Node, path string) (bool, bool) {
	var b bool
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" || n.Decode(&b) != nil {
		d.report(path, n.Line, "expected true or false")
		return false, false
	}
	return b, true
}

// text returns the string value of the scalar n; want says what was
// expected, for the message when n is something else.
func (d *decoder) text(n *yaml.Node, path, want string) (string, bool) {
	if !d.scalar(n, path, want) {
		return "", false
	}
	var s string
	if err := n.Decode(&s); err != nil {
		if n.ShortTag() == "!!binary" {
			want = "base64 after !!binary"
		}
		d.report(path, n.Line, "expected %s", want)
		return "", false
	}
	return s, true
}

// scalar reports whether n is a scalar with a value, and reports a problem
// if it is not.
func (d *decoder) scalar(n *yaml.Node, path, want string) bool {
	switch {
	case d.alias(n, path):
	case n.Kind != yaml.ScalarNode:
		d.report(path, n.Line, "expected %s, found %s", want, describe(n))
	case isNull(n):
		d.report(path, n.Line, "missing value; expected %s", want)
	default:
		return true
	}
	return false
}

// integer decodes a YAML integer; msg is the whole message if n is not one.
func (d *decoder) integer(n *yaml.Node, path, msg string) (int, bool) {
	var i int
	if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" || n.Decode(&i) != nil {
		d.report(path, n.Line, "%s", msg)
		return 0, false
	}
	return i, true
}

// ident decodes a cluster or node name.
func (d *decoder) ident(n *yaml.Node, path string) *string {
	s, ok := d.text(n, path, "a name")
	if !ok {
		return nil
	}
	if !validName(s) {
		d.report(path, n.Line, "%s is not a valid name: use 1 to 32 characters from a-z, 0-9 and '-', starting with a letter", quote(s))
		return nil
	}
	return &s
}

// secret decodes an inline secret. Its value never appears in a message.
func (d *decoder) secret(n *yaml.Node, path string) *string {
	s, ok := d.text(n, path, "a string")
	if !ok {
		return nil
	}
	if len(s) < minSecret {
		d.report(path, n.Line, "too short: %d bytes, need at least %d", len(s), minSecret)
		return nil
	}
	return &s
}

func (d *decoder) dataDir(n *yaml.Node, path string) *string {
	s, ok := d.text(n, path, "an absolute path")
	if !ok {
		return nil
	}
	if !filepath.IsAbs(s) {
		d.report(path, n.Line, "%s is not an absolute path", quote(s))
		return nil
	}
	s = filepath.Clean(s)
	return &s
}

// nodes decodes the node list. It returns nil if n is not a list, and
// otherwise one entry per item, so that indexes match the file.
func (d *decoder) nodes(n *yaml.Node, path string) []fileNode {
	items, ok := d.list(n, path, "a list of nodes")
	if !ok {
		return nil
	}
	switch {
	case len(items) == 0:
		d.report(path, n.Line, "at least one node is required")
	case len(items) > maxNodes:
		d.report(path, n.Line, "%d nodes; at most %d are supported", len(items), maxNodes)
	}
	nodes := make([]fileNode, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		fields, ok := d.mapping(item, p, nodeKeys())
		if !ok {
			continue
		}
		d.require(fields, p, "name", "addresses")
		if v, ok := fields["name"]; ok {
			nodes[i].name = d.ident(v, p+".name")
			if nodes[i].name == nil && v.Kind == yaml.ScalarNode {
				d.refusedNodes[v.Value] = true
			}
		}
		if v, ok := fields["addresses"]; ok {
			nodes[i].addrs = d.addresses(v, p+".addresses")
		}
		if v, ok := fields["attributes"]; ok {
			nodes[i].attrs, _ = d.scalarMap(v, p+".attributes", validAttr, attrRule)
		}
		if v, ok := fields["witness"]; ok {
			nodes[i].witness, _ = d.boolean(v, p+".witness")
		}
	}
	return nodes
}

// list returns the items of the sequence n, reporting anything else.
func (d *decoder) list(n *yaml.Node, path, want string) ([]*yaml.Node, bool) {
	if n.Kind == yaml.SequenceNode {
		return n.Content, true
	}
	if d.scalar(n, path, want) { // a scalar with a value: say which
		d.report(path, n.Line, "expected %s, found %s", want, describe(n))
	}
	return nil, false
}

// optionalList is list for an optional section, where null (no value)
// is an empty list.
func (d *decoder) optionalList(n *yaml.Node, path, want string) ([]*yaml.Node, bool) {
	if isNull(n) {
		return nil, true
	}
	return d.list(n, path, want)
}

// alias reports whether n is an alias, and reports it as a problem. Aliases
// are refused: the schema gains nothing from them, and refusing them rules
// out cycles and alias bombs.
func (d *decoder) alias(n *yaml.Node, path string) bool {
	if n.Kind != yaml.AliasNode {
		return false
	}
	d.report(path, n.Line, "YAML aliases (*%s) are not supported; write the value", n.Value)
	return true
}

func (d *decoder) addresses(n *yaml.Node, path string) []netip.Addr {
	items, ok := d.list(n, path, "a list of IP addresses, one per link")
	if !ok {
		return nil
	}
	switch {
	case len(items) == 0:
		d.report(path, n.Line, "at least one address is required")
	case len(items) > maxLinks:
		d.report(path, n.Line, "%d addresses; at most %d links are supported", len(items), maxLinks)
	}
	addrs := make([]netip.Addr, len(items))
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		addrs[i] = d.address(item, p)
	}
	return addrs
}

// address decodes one node address. It returns the zero Addr after
// reporting a problem.
func (d *decoder) address(n *yaml.Node, path string) netip.Addr {
	s, ok := d.text(n, path, "an IP address")
	if !ok {
		return netip.Addr{}
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		if p, err := netip.ParsePrefix(s); err == nil {
			d.report(path, n.Line, "a prefix, not an IP address; write %s", p.Addr())
		} else {
			d.report(path, n.Line, "not an IP address")
		}
		return netip.Addr{}
	}
	var why string
	switch {
	case a.Zone() != "":
		why = "has a zone (%" + a.Zone() + "); node addresses take none"
	case a.Is4In6():
		why = "an IPv4-mapped IPv6 address; write " + a.Unmap().String()
	case a.IsUnspecified():
		why = "the unspecified address; give the node's own address"
	case a.IsMulticast():
		why = "a multicast address; give the node's own unicast address"
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		why = "the broadcast address; give the node's own address"
	default:
		return a
	}
	d.report(path, n.Line, "%s", why)
	return netip.Addr{}
}

// timing decodes the timing section into f.profile and f.timing.
func (d *decoder) timing(n *yaml.Node, path string, f *file) {
	fields, _ := d.mapping(n, path, timingKeys())
	if v, ok := fields["profile"]; ok {
		if s, ok := d.text(v, path+".profile", "lan or wan"); ok {
			if _, known := Profile(s); known {
				f.profile = &s
			} else {
				d.report(path+".profile", v.Line, "unknown profile %s (known: lan, wan)", quote(s))
			}
		}
	}
	for _, tf := range timingFields(&model.Timing{}) {
		v, ok := fields[tf.key]
		if !ok {
			continue
		}
		if dur, ok := d.duration(v, path+"."+tf.key, tf.min); ok {
			f.timing[tf.key] = dur
		}
	}
}

// duration decodes a positive duration of at least min.
func (d *decoder) duration(n *yaml.Node, path string, min time.Duration) (time.Duration, bool) {
	dur, ok := d.anyDuration(n, path)
	switch {
	case !ok:
	case dur <= 0:
		d.report(path, n.Line, "must be positive, not %s", formatDuration(dur))
	case dur < min:
		d.report(path, n.Line, "%s is too short; at least %s", formatDuration(dur), formatDuration(min))
	default:
		return dur, true
	}
	return 0, false
}

// durationOrZero decodes a duration that is 0 or positive; zero says what
// 0 means ("off", "never"), for the message.
func (d *decoder) durationOrZero(n *yaml.Node, path, zero string) (time.Duration, bool) {
	dur, ok := d.anyDuration(n, path)
	if ok && dur < 0 {
		d.report(path, n.Line, "must be 0s (%s) or positive, not %s", zero, formatDuration(dur))
		return 0, false
	}
	return dur, ok
}

func (d *decoder) anyDuration(n *yaml.Node, path string) (time.Duration, bool) {
	s, ok := d.text(n, path, "a duration like 300ms or 3s")
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(s)
	if err != nil {
		d.report(path, n.Line, "not a duration (%s); use Go syntax like 300ms or 3s", quote(s))
		return 0, false
	}
	return dur, true
}

// id decodes a resource, group or constraint id.
func (d *decoder) id(n *yaml.Node, path string) (string, bool) {
	s, ok := d.text(n, path, "an id")
	if !ok {
		return "", false
	}
	if !validID(s) {
		d.report(path, n.Line, "%s is not a valid id: use 1 to %d characters from A-Z, a-z, 0-9, '_', '.' and '-', starting with a letter", quote(s), maxIDLen)
		return "", false
	}
	return s, true
}

// ref decodes a reference to a resource, group or node, whose existence
// is judged later; want names what it refers to.
func (d *decoder) ref(n *yaml.Node, path, want string) *string {
	s, ok := d.text(n, path, want)
	if !ok {
		return nil
	}
	return &s
}

// oneOf decodes a string that must be one of known.
func oneOf[T ~string](d *decoder, n *yaml.Node, path, what string, known []T) (T, bool) {
	names := make([]string, len(known))
	for i, k := range known {
		names[i] = string(k)
	}
	want := "one of " + strings.Join(names, ", ")
	if len(names) == 2 {
		want = names[0] + " or " + names[1]
	}
	s, ok := d.text(n, path, want)
	if !ok {
		return "", false
	}
	for _, k := range known {
		if string(k) == s {
			return k, true
		}
	}
	d.report(path, n.Line, "unknown %s %s (known: %s)", what, quote(s), strings.Join(names, ", "))
	return "", false
}

// value decodes a parameter or attribute value: a string as it reads, and
// a number, boolean or date as it is written (0x10 stays "0x10").
func (d *decoder) value(n *yaml.Node, path string) (string, bool) {
	const want = "a string, number or boolean"
	if !d.scalar(n, path, want) {
		return "", false
	}
	switch n.ShortTag() {
	case "!!int", "!!float", "!!bool", "!!timestamp":
		return n.Value, true
	}
	return d.text(n, path, want)
}

// scalarMap decodes a mapping of names to scalar values (parameters,
// attributes). keyOK judges each name; rule says what a name may be. It
// returns nil for an absent or empty mapping, and false if it reported a
// problem.
func (d *decoder) scalarMap(n *yaml.Node, path string, keyOK func(string) bool, rule string) (map[string]string, bool) {
	if isNull(n) {
		return nil, true
	}
	if d.alias(n, path) {
		return nil, false
	}
	if n.Kind != yaml.MappingNode {
		d.report(path, n.Line, "expected a mapping of names to values, found %s", describe(n))
		return nil, false
	}
	var m map[string]string
	ok := true
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode {
			d.report(path, k.Line, "expected a name, found %s", describe(k))
			ok = false
			continue
		}
		p := join(path, k.Value)
		if first, dup := d.lines[p]; dup {
			d.report(p, k.Line, "repeated field (first on line %d)", first)
			ok = false
			continue
		}
		d.lines[p] = k.Line
		if !keyOK(k.Value) {
			d.report(p, k.Line, "%s is not a valid name: %s", quote(k.Value), rule)
			ok = false
			continue
		}
		s, vok := d.value(v, p)
		if !vok {
			ok = false
			continue
		}
		if m == nil {
			m = make(map[string]string)
		}
		m[k.Value] = s
	}
	return m, ok
}

// score decodes a placement score: an integer, or INFINITY, +INFINITY or
// -INFINITY, as a YAML integer or string.
func (d *decoder) score(n *yaml.Node, path string) (model.Score, bool) {
	const want = "a score (an integer, INFINITY or -INFINITY)"
	if !d.scalar(n, path, want) {
		return 0, false
	}
	s, msg := scoreOf(n)
	if msg != "" {
		d.report(path, n.Line, "%s", msg)
		return 0, false
	}
	return s, true
}

// scoreOf reads the scalar n as a score, or returns a message saying why
// it is not one.
func scoreOf(n *yaml.Node) (model.Score, string) {
	const want = "an integer, INFINITY or -INFINITY"
	switch n.ShortTag() {
	case "!!int":
		var i int64
		if err := n.Decode(&i); err != nil {
			return 0, fmt.Sprintf("%s is out of range; use %s", quote(n.Value), want)
		}
		s, _ := model.ParseScore(strconv.FormatInt(i, 10))
		return s, ""
	case "!!str":
		s, err := model.ParseScore(n.Value)
		if err != nil {
			return 0, fmt.Sprintf("%s is not a score; use %s", quote(n.Value), want)
		}
		return s, ""
	}
	return 0, fmt.Sprintf("expected %s, found %s", want, describe(n))
}

func (d *decoder) ports(n *yaml.Node, path string, ports map[string]uint16) {
	fields, _ := d.mapping(n, path, portKeys())
	for _, k := range portKeys() {
		v, ok := fields[k]
		if !ok {
			continue
		}
		p, ok := d.integer(v, path+"."+k, "expected an integer from 1 to 65535")
		if !ok {
			continue
		}
		if p < 1 || p > 65535 {
			d.report(path+"."+k, v.Line, "expected an integer from 1 to 65535")
			continue
		}
		ports[k] = uint16(p)
	}
}

// validName reports whether s is a valid cluster or node name: 1 to 32
// characters from a-z, 0-9 and '-', starting with a letter.
func validName(s string) bool {
	if len(s) < 1 || len(s) > 32 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// validID reports whether s is a valid resource, group or constraint id:
// 1 to 64 characters from A-Z, a-z, 0-9, '_', '.' and '-', starting with a
// letter.
func validID(s string) bool {
	if len(s) < 1 || len(s) > maxIDLen || !isLetter(s[0]) {
		return false
	}
	for _, c := range []byte(s) {
		if !isLetter(c) && (c < '0' || c > '9') && c != '_' && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

const (
	attrRule  = "use 1 to 32 characters from a-z, 0-9, '_', '.' and '-'"
	paramRule = "use a-z, 0-9, '_', '.', '-' and ':'"
)

// validAttr reports whether s is a valid node attribute name.
func validAttr(s string) bool {
	return len(s) >= 1 && len(s) <= maxAttrKeyLen && lowerName(s, "_.-")
}

// validParam reports whether s is a valid parameter name.
func validParam(s string) bool { return len(s) >= 1 && lowerName(s, "_.-:") }

// lowerName reports whether s has only a-z, 0-9 and the bytes of extra.
func lowerName(s, extra string) bool {
	for _, c := range []byte(s) {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && strings.IndexByte(extra, c) < 0 {
			return false
		}
	}
	return true
}

// plainKey reports whether key can stand in a path unquoted.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for _, c := range []byte(key) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' && c != '-' {
			return false
		}
	}
	return true
}

func isNull(n *yaml.Node) bool {
	return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null"
}

// describe names n's kind for a message, without its value, which could be
// a secret.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "nothing"
		}
		return "a scalar"
	}
	return "nothing"
}

// join appends key to path, quoting keys that would make the path
// ambiguous.
func join(path, key string) string {
	if !plainKey(key) {
		return path + "[" + quote(key) + "]"
	}
	if path == "" {
		return key
	}
	return path + "." + key
}

// quote quotes s for a message, shortening it if it is long.
func quote(s string) string {
	const max = 40
	if utf8.RuneCountInString(s) > max {
		s = string([]rune(s)[:max]) + "…"
	}
	return strconv.Quote(s)
}
