package config

import (
	"bytes"
	"encoding/base64"
	"fmt"
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
// holding the secret. Timing is written as the profile plus the fields that
// differ from it; everything else is written out in full.
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

func mapping() *yaml.Node { return &yaml.Node{Kind: yaml.MappingNode} }

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
//	profile lan (heartbeat 100ms, suspect 300ms, offline 700ms)
//	ports hb 5405/udp raft 5406/tcp api 5407/tcp
//	data_dir /var/lib/vigil
//
// A line listing the timing overrides follows the profile if there are any.
func Summary(c model.Config) string {
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = string(n.Name)
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
