package config

import (
	"fmt"
	"math"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

func detectionKeys() []string {
	return []string{"require", "window", "probe_interval", "probe_timeout", "checks", "damping"}
}
func checkKeys() []string {
	return []string{"name", "node", "tcp", "http", "status", "interval", "timeout"}
}
func dampingKeys() []string {
	return []string{"off", "penalty", "suppress", "reuse", "half_life", "max_hold"}
}

// Detection limits and defaults.
const (
	defaultRequire = 2 // two of three layers
	maxRequire     = 3 // heartbeats, the TCP probe, application checks
	// maxProbeTimeout is the bound below which a probe must time out:
	// Linux resends a lost SYN after 1s, so a longer probe would wait for
	// the resend instead of failing.
	maxProbeTimeout = time.Second
	// maxDefaultProbeTimeout caps the default probe timeout
	// (2*heartbeat_interval) for slow heartbeats, below maxProbeTimeout.
	maxDefaultProbeTimeout = 900 * time.Millisecond
	defaultCheckStatus     = 200
	defaultPenalty         = 1000
	defaultSuppress        = 2000
	defaultReuse           = 750
	defaultHalfLife        = time.Minute
	defaultMaxHold         = 5 * time.Minute
)

// defaultDetection is the detection section of a file that has none,
// for timing t.
func defaultDetection(t model.Timing) model.Detection {
	return model.Detection{
		Require:       defaultRequire,
		Window:        max(t.SuspectAfter, t.OfflineAfter-2*t.HeartbeatInterval), // as detect.DefaultWindow
		ProbeInterval: probeInterval(t),
		ProbeTimeout:  min(2*probeInterval(t), maxDefaultProbeTimeout),
		Damping:       defaultDamping(),
	}
}

// probeInterval is the default probe interval, as detect.DefaultProbeInterval.
func probeInterval(t model.Timing) time.Duration {
	return max(t.HeartbeatInterval, 50*time.Millisecond)
}

func defaultDamping() model.Damping {
	return model.Damping{Penalty: defaultPenalty, Suppress: defaultSuppress, Reuse: defaultReuse,
		HalfLife: defaultHalfLife, MaxHold: defaultMaxHold}
}

// defaultCheckPeriod is a check's interval and timeout when it sets none,
// as detect.DefaultCheckPeriod.
func defaultCheckPeriod(t model.Timing) time.Duration {
	return max(2*t.HeartbeatInterval, 200*time.Millisecond)
}

// fileDetection is the decoded detection section: nil fields were absent
// or reported.
type fileDetection struct {
	require                             *int
	window, probeInterval, probeTimeout *time.Duration
	checks                              []fileCheck
	off                                 bool
	penalty, suppress, reuse            *float64
	halfLife, maxHold                   *time.Duration
}

type fileCheck struct {
	name, node        *string
	tcp, http         *string
	status            *int
	interval, timeout *time.Duration
}

// detection decodes the detection section into f.detection.
func (d *decoder) detection(n *yaml.Node, path string, f *file) {
	fd := &f.detection
	fields, _ := d.mapping(n, path, detectionKeys())
	if v, ok := fields["require"]; ok {
		const msg = "expected an integer from 1 to 3: how many layers (heartbeats, tcp probe, checks) must agree"
		if k, ok := d.integer(v, path+".require", msg); ok {
			if k < 1 || k > maxRequire {
				d.report(path+".require", v.Line, "%s", msg)
			} else {
				fd.require = &k
			}
		}
	}
	for _, df := range []struct {
		key string
		p   **time.Duration
	}{{"window", &fd.window}, {"probe_interval", &fd.probeInterval}, {"probe_timeout", &fd.probeTimeout}} {
		if v, ok := fields[df.key]; ok {
			if t, ok := d.duration(v, path+"."+df.key, 0); ok {
				*df.p = &t
			}
		}
	}
	if fd.probeTimeout != nil && *fd.probeTimeout >= maxProbeTimeout {
		d.at(path+".probe_timeout", "%s is too long; must be under 1s, for Linux resends a lost SYN after 1s and a probe must fail rather than wait for it",
			formatDuration(*fd.probeTimeout))
		fd.probeTimeout = nil
	}
	if v, ok := fields["checks"]; ok {
		items, _ := d.optionalList(v, path+".checks", "a list of checks")
		for i, item := range items {
			fd.checks = append(fd.checks, d.check(item, fmt.Sprintf("%s.checks[%d]", path, i)))
		}
	}
	if v, ok := fields["damping"]; ok {
		d.damping(v, path+".damping", fd)
	}
}

// check decodes one application check.
func (d *decoder) check(n *yaml.Node, p string) fileCheck {
	var fc fileCheck
	d.lines[p] = n.Line
	fields, ok := d.mapping(n, p, checkKeys())
	if !ok {
		return fc
	}
	d.require(fields, p, "name", "node")
	if v, ok := fields["name"]; ok {
		if s, ok := d.id(v, p+".name"); ok {
			fc.name = &s
		}
	}
	if v, ok := fields["node"]; ok {
		fc.node = d.ref(v, p+".node", "a node name")
	}
	_, hasTCP := fields["tcp"]
	_, hasHTTP := fields["http"]
	switch {
	case hasTCP && hasHTTP:
		d.at(p+".http", "tcp and http are both set; a check is one or the other")
	case !hasTCP && !hasHTTP:
		d.at(p, "set tcp (host:port) or http (a URL)")
	}
	if v, ok := fields["tcp"]; ok {
		if s, ok := d.text(v, p+".tcp", "host:port"); ok {
			if msg := hostPort(s); msg != "" {
				d.report(p+".tcp", v.Line, "%s %s", quote(s), msg)
			} else {
				fc.tcp = &s
			}
		}
	}
	if v, ok := fields["http"]; ok {
		// The URL is not shown: it may carry credentials.
		if s, ok := d.text(v, p+".http", "an http or https URL"); ok {
			if !webURL(s) {
				d.report(p+".http", v.Line, "not an http or https URL with a host")
			} else {
				fc.http = &s
			}
		}
	}
	if v, ok := fields["status"]; ok {
		const msg = "expected an HTTP status from 100 to 599"
		if s, ok := d.integer(v, p+".status", msg); ok {
			switch {
			case s < 100 || s > 599:
				d.report(p+".status", v.Line, "%s", msg)
			case hasTCP && !hasHTTP:
				d.report(p+".status", v.Line, "status is for http checks; a tcp check is up when a connection opens")
			default:
				fc.status = &s
			}
		}
	}
	if v, ok := fields["interval"]; ok {
		if t, ok := d.duration(v, p+".interval", 0); ok {
			fc.interval = &t
		}
	}
	if v, ok := fields["timeout"]; ok {
		if t, ok := d.duration(v, p+".timeout", 0); ok {
			fc.timeout = &t
		}
	}
	return fc
}

// hostPort returns why s is not host:port with a port from 1 to 65535,
// or "" if it is.
func hostPort(s string) string {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return "is not host:port (write an IPv6 address as [2001:db8::1]:80)"
	}
	if host == "" {
		return "has no host"
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return "has no port from 1 to 65535"
	}
	return ""
}

// webURL reports whether s is an absolute http or https URL with a host.
func webURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && u.Hostname() != "" &&
		!strings.ContainsAny(s, " \t\r\n")
}

// damping decodes detection.damping into fd.
func (d *decoder) damping(n *yaml.Node, path string, fd *fileDetection) {
	fields, _ := d.mapping(n, path, dampingKeys())
	if v, ok := fields["off"]; ok {
		fd.off, _ = d.boolean(v, path+".off")
	}
	for _, df := range []struct {
		key string
		p   **float64
	}{{"penalty", &fd.penalty}, {"suppress", &fd.suppress}, {"reuse", &fd.reuse}} {
		if v, ok := fields[df.key]; ok {
			if x, ok := d.positive(v, path+"."+df.key); ok {
				*df.p = &x
			}
		}
	}
	for _, df := range []struct {
		key string
		p   **time.Duration
	}{{"half_life", &fd.halfLife}, {"max_hold", &fd.maxHold}} {
		if v, ok := fields[df.key]; ok {
			if t, ok := d.duration(v, path+"."+df.key, 0); ok {
				*df.p = &t
			}
		}
	}
}

// positive decodes a positive, finite number.
func (d *decoder) positive(n *yaml.Node, path string) (float64, bool) {
	const msg = "expected a positive number"
	var x float64
	if tag := n.ShortTag(); n.Kind != yaml.ScalarNode || (tag != "!!int" && tag != "!!float") || n.Decode(&x) != nil {
		d.report(path, n.Line, "%s", msg)
		return 0, false
	}
	if !(x > 0) || math.IsInf(x, 0) {
		d.report(path, n.Line, "%s, not %s", msg, n.Value)
		return 0, false
	}
	return x, true
}

// resolveDetection applies the file's detection section to the defaults
// of timing t and checks the rules between its values and the nodes.
func (d *decoder) resolveDetection(fd fileDetection, t model.Timing, nodes []model.Node) model.Detection {
	const path = "detection"
	det := defaultDetection(t)
	if fd.require != nil {
		det.Require = *fd.require
	}
	if fd.window != nil {
		det.Window = *fd.window
		if det.Window < t.HeartbeatInterval {
			d.at(path+".window", "window (%s) must be at least heartbeat_interval (%s)", formatDuration(det.Window), formatDuration(t.HeartbeatInterval))
		}
	}
	if fd.probeInterval != nil {
		det.ProbeInterval = *fd.probeInterval
	}
	if fd.probeTimeout != nil {
		det.ProbeTimeout = *fd.probeTimeout
	}
	known := map[model.NodeID]bool{}
	for _, n := range nodes {
		known[n.Name] = true
	}
	names := map[string]int{}
	period := defaultCheckPeriod(t)
	for i, fc := range fd.checks {
		p := fmt.Sprintf("%s.checks[%d]", path, i)
		c := model.Check{Interval: period, Timeout: period}
		if fc.name != nil {
			c.Name = *fc.name
			if j, dup := names[c.Name]; dup {
				d.at(p+".name", "duplicate check name %q (also %s.checks[%d])", c.Name, path, j)
			} else {
				names[c.Name] = i
			}
		}
		if fc.node != nil {
			c.Node = model.NodeID(*fc.node)
			if !known[c.Node] && !d.refusedNodes[*fc.node] {
				d.at(p+".node", "unknown node %s", quote(*fc.node))
			}
		}
		if fc.tcp != nil {
			c.TCP = *fc.tcp
		}
		if fc.http != nil {
			c.HTTP = *fc.http
			c.Status = defaultCheckStatus
		}
		if fc.status != nil {
			c.Status = *fc.status
		}
		if fc.interval != nil {
			c.Interval = *fc.interval
		}
		if fc.timeout != nil {
			c.Timeout = *fc.timeout
		}
		det.Checks = append(det.Checks, c)
	}
	det.Damping = d.resolveDamping(fd)
	return det
}

// resolveDamping applies the file's damping values to the defaults and
// checks the rules between them (those of detect.Damping.Validate). A
// broken rule is reported on a field it involves that the file sets, or
// on the section.
func (d *decoder) resolveDamping(fd fileDetection) model.Damping {
	const path = "detection.damping"
	dm := defaultDamping()
	dm.Off = fd.off
	for _, v := range []struct {
		from *float64
		to   *float64
	}{{fd.penalty, &dm.Penalty}, {fd.suppress, &dm.Suppress}, {fd.reuse, &dm.Reuse}} {
		if v.from != nil {
			*v.to = *v.from
		}
	}
	if fd.halfLife != nil {
		dm.HalfLife = *fd.halfLife
	}
	if fd.maxHold != nil {
		dm.MaxHold = *fd.maxHold
	}
	// refused: set in the file but reported; no rule is judged on it.
	refused := func(key string) bool {
		if !d.has(path + "." + key) {
			return false
		}
		switch key {
		case "suppress":
			return fd.suppress == nil
		case "reuse":
			return fd.reuse == nil
		case "half_life":
			return fd.halfLife == nil
		case "max_hold":
			return fd.maxHold == nil
		}
		return false
	}
	blame := func(keys ...string) string {
		for _, k := range keys {
			if d.has(path + "." + k) {
				return path + "." + k
			}
		}
		return path
	}
	num := func(x float64) string { return strconv.FormatFloat(x, 'g', -1, 64) }
	if refused("reuse") || refused("suppress") || refused("half_life") || refused("max_hold") {
		return dm
	}
	if dm.Reuse >= dm.Suppress {
		d.at(blame("reuse", "suppress"), "reuse (%s) must be below suppress (%s)", num(dm.Reuse), num(dm.Suppress))
		return dm
	}
	if dm.MaxHold < dm.HalfLife {
		d.at(blame("max_hold", "half_life"), "max_hold (%s) must be at least half_life (%s)", formatDuration(dm.MaxHold), formatDuration(dm.HalfLife))
		return dm
	}
	// The largest penalty is the one that decays to reuse in max_hold; if
	// it is not above suppress, nothing is ever damped.
	if ceiling := dm.Reuse * math.Exp2(float64(dm.MaxHold)/float64(dm.HalfLife)); ceiling <= dm.Suppress {
		d.at(blame("max_hold", "half_life", "suppress", "reuse"),
			"max_hold (%s) is too short for a penalty ever to exceed suppress: reuse * 2^(max_hold / half_life) = %.0f <= %s",
			formatDuration(dm.MaxHold), ceiling, num(dm.Suppress))
	}
	return dm
}

// formatDetection adds the detection section to root with the values
// that differ from the defaults of c's timing (a zero value is the
// default), if there are any.
func formatDetection(root *yaml.Node, c model.Config) {
	det, def := c.Detection, defaultDetection(c.Timing)
	sec := mapping()
	if det.Require != 0 && det.Require != def.Require {
		add(sec, "require", intNode(det.Require))
	}
	for _, v := range []struct {
		key      string
		got, def time.Duration
	}{{"window", det.Window, def.Window}, {"probe_interval", det.ProbeInterval, def.ProbeInterval},
		{"probe_timeout", det.ProbeTimeout, def.ProbeTimeout}} {
		if v.got != 0 && v.got != v.def {
			add(sec, v.key, strNode(formatDuration(v.got)))
		}
	}
	checks := &yaml.Node{Kind: yaml.SequenceNode}
	period := defaultCheckPeriod(c.Timing)
	for _, ch := range det.Checks {
		m := flowMapping()
		add(m, "name", strNode(ch.Name))
		add(m, "node", strNode(string(ch.Node)))
		if ch.TCP != "" {
			add(m, "tcp", strNode(ch.TCP))
		} else {
			add(m, "http", strNode(ch.HTTP))
			if ch.Status != 0 && ch.Status != defaultCheckStatus {
				add(m, "status", intNode(ch.Status))
			}
		}
		if ch.Interval != 0 && ch.Interval != period {
			add(m, "interval", strNode(formatDuration(ch.Interval)))
		}
		if ch.Timeout != 0 && ch.Timeout != period {
			add(m, "timeout", strNode(formatDuration(ch.Timeout)))
		}
		checks.Content = append(checks.Content, m)
	}
	addIf(sec, "checks", checks)
	dm, ddm := det.Damping, def.Damping
	damp := flowMapping()
	if dm.Off {
		add(damp, "off", &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool", Value: "true"})
	}
	for _, v := range []struct {
		key      string
		got, def float64
	}{{"penalty", dm.Penalty, ddm.Penalty}, {"suppress", dm.Suppress, ddm.Suppress}, {"reuse", dm.Reuse, ddm.Reuse}} {
		if v.got != 0 && v.got != v.def {
			add(damp, v.key, numberNode(v.got))
		}
	}
	for _, v := range []struct {
		key      string
		got, def time.Duration
	}{{"half_life", dm.HalfLife, ddm.HalfLife}, {"max_hold", dm.MaxHold, ddm.MaxHold}} {
		if v.got != 0 && v.got != v.def {
			add(damp, v.key, strNode(formatDuration(v.got)))
		}
	}
	addIf(sec, "damping", damp)
	addIf(root, "detection", sec)
}

// numberNode writes x as an integer when it is one, and in the shortest
// form that reads back as x otherwise.
func numberNode(x float64) *yaml.Node {
	if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!int", Value: strconv.FormatFloat(x, 'f', -1, 64)}
	}
	s := strconv.FormatFloat(x, 'g', -1, 64)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!float", Value: s}
}

// summaryDetection is Summary's detection line, "" if c's detection is
// the default.
func summaryDetection(c model.Config) string {
	det, def := c.Detection, defaultDetection(c.Timing)
	orDef := func(got, def time.Duration) time.Duration {
		if got == 0 {
			return def
		}
		return got
	}
	req := det.Require
	if req == 0 {
		req = def.Require
	}
	window := orDef(det.Window, def.Window)
	if req == def.Require && window == def.Window && orDef(det.ProbeInterval, def.ProbeInterval) == def.ProbeInterval &&
		orDef(det.ProbeTimeout, def.ProbeTimeout) == def.ProbeTimeout && len(det.Checks) == 0 && !det.Damping.Off &&
		!dampingDiffers(det.Damping, def.Damping) {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "detection: %d of 3 layers, window %s, ", req, formatDuration(window))
	if len(det.Checks) == 0 {
		b.WriteString("no checks")
	} else {
		b.WriteString(plural(len(det.Checks), "check", "checks"))
	}
	if det.Damping.Off {
		b.WriteString(", damping off")
	}
	b.WriteString("\n")
	return b.String()
}

// dampingDiffers reports whether dm has a value, not zero, that
// differs from def.
func dampingDiffers(dm, def model.Damping) bool {
	differs := func(got, def float64) bool { return got != 0 && got != def }
	return differs(dm.Penalty, def.Penalty) || differs(dm.Suppress, def.Suppress) || differs(dm.Reuse, def.Reuse) ||
		dm.HalfLife != 0 && dm.HalfLife != def.HalfLife || dm.MaxHold != 0 && dm.MaxHold != def.MaxHold
}
