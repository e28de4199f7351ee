package config

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/model"
)

func alertKeys() []string {
	return []string{"id", "script", "webhook", "kinds", "timeout", "retries", "headers"}
}

// Alert limits and defaults.
const (
	defaultAlertTimeout = 10 * time.Second
	maxAlertTimeout     = 5 * time.Minute
	defaultAlertRetries = 3
	maxAlertRetries     = 10
)

// alerts decodes the alerts list, one entry per item, over the defaults;
// an alert's ID, Script or Webhook is empty when absent or reported.
func (d *decoder) alerts(n *yaml.Node, path string) []model.Alert {
	items, _ := d.optionalList(n, path, "a list of alerts")
	var out []model.Alert
	for i, item := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = item.Line
		fa := model.Alert{Timeout: defaultAlertTimeout, Retries: defaultAlertRetries}
		fields, ok := d.mapping(item, p, alertKeys())
		if !ok {
			out = append(out, fa)
			continue
		}
		d.require(fields, p, "id")
		if v, ok := fields["id"]; ok {
			if id, ok := d.id(v, p+".id"); ok {
				fa.ID = id
			}
		}
		_, hasScript := fields["script"]
		_, hasHook := fields["webhook"]
		switch {
		case hasScript && hasHook:
			d.at(p+".webhook", "script and webhook are both set; keep one")
		case !hasScript && !hasHook:
			d.at(p, "set script (an absolute path) or webhook (a URL)")
		}
		if v, ok := fields["script"]; ok {
			if s, ok := d.text(v, p+".script", "an absolute path"); ok {
				switch {
				case !filepath.IsAbs(s):
					d.report(p+".script", v.Line, "%s is not an absolute path", quote(s))
				case strings.ContainsAny(s, "\x00\n"):
					d.report(p+".script", v.Line, "a path holds no NUL or line break")
				default:
					fa.Script = filepath.Clean(s)
				}
			}
		}
		if v, ok := fields["webhook"]; ok {
			// The URL is never shown: its userinfo or query may hold a token.
			if s, ok := d.text(v, p+".webhook", "an http or https URL"); ok {
				if webURL(s) {
					fa.Webhook = s
				} else {
					d.report(p+".webhook", v.Line, "not an http or https URL with a host")
				}
			}
		}
		if v, ok := fields["kinds"]; ok {
			fa.Kinds = d.eventKinds(v, p+".kinds")
		}
		if v, ok := fields["timeout"]; ok {
			if t, ok := d.duration(v, p+".timeout", 0); ok {
				if t > maxAlertTimeout {
					d.report(p+".timeout", v.Line, "%s is too long; at most %s", formatDuration(t), formatDuration(maxAlertTimeout))
				} else {
					fa.Timeout = t
				}
			}
		}
		if v, ok := fields["retries"]; ok {
			msg := fmt.Sprintf("expected an integer from 0 to %d", maxAlertRetries)
			if r, ok := d.integer(v, p+".retries", msg); ok {
				if r < 0 || r > maxAlertRetries {
					d.report(p+".retries", v.Line, "%s", msg)
				} else {
					fa.Retries = r
				}
			}
		}
		if v, ok := fields["headers"]; ok {
			if hasScript && !hasHook {
				d.at(p+".headers", "headers are for a webhook; a script gets the event in its environment")
			} else {
				fa.Headers = d.headers(v, p+".headers")
			}
		}
		out = append(out, fa)
	}
	return out
}

// eventKinds decodes an alert's kinds: each a kind of event or a prefix,
// ending in ".", of at least one.
func (d *decoder) eventKinds(n *yaml.Node, path string) []string {
	items, ok := d.list(n, path, "a list of event kinds (node.offline) or prefixes (fence.)")
	if !ok {
		return nil
	}
	if len(items) == 0 {
		d.report(path, n.Line, "an empty list matches no event; leave kinds out for every kind")
		return nil
	}
	var out []string
	first := map[string]int{}
	for i, it := range items {
		p := fmt.Sprintf("%s[%d]", path, i)
		d.lines[p] = it.Line
		s, ok := d.text(it, p, "an event kind")
		if !ok {
			continue
		}
		if j, dup := first[s]; dup {
			d.report(p, it.Line, "repeated kind (also %s[%d])", path, j)
			continue
		}
		first[s] = i
		if msg := kindProblem(s); msg != "" {
			d.report(p, it.Line, "%s", msg)
			continue
		}
		out = append(out, s)
	}
	return out
}

// kindProblem says why s is neither a kind of event nor a prefix of one
// ending in ".", or returns "".
func kindProblem(s string) string {
	var subjects []string
	for _, k := range model.EventKinds() {
		if string(k) == s || strings.HasSuffix(s, ".") && strings.HasPrefix(string(k), s) {
			return ""
		}
		subject, _, _ := strings.Cut(string(k), ".")
		if !slices.Contains(subjects, subject+".") {
			subjects = append(subjects, subject+".")
		}
	}
	if strings.HasSuffix(s, ".") {
		return fmt.Sprintf("no event kind starts with %s (kinds start with %s)", quote(s), strings.Join(subjects, ", "))
	}
	return fmt.Sprintf("unknown event kind %s (kinds start with %s; a prefix ends in \".\")", quote(s), strings.Join(subjects, ", "))
}

// headers decodes a webhook's headers. No message shows a value (a
// token), nor a name that is not one (it may be a misplaced value).
func (d *decoder) headers(n *yaml.Node, path string) map[string]string {
	if isNull(n) || d.alias(n, path) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		d.report(path, n.Line, "expected a mapping of header names to values, found %s", describe(n))
		return nil
	}
	var out map[string]string
	first := map[string]int{} // canonical name -> line
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || !headerName(k.Value) {
			d.report(path, k.Line, "not a header name: use letters, digits and !#$%%&'*+-.^_`|~ (the name is not shown, for it may be a value)")
			continue
		}
		p := join(path, k.Value)
		canon := strings.ToLower(k.Value)
		if line, dup := first[canon]; dup {
			d.report(p, k.Line, "repeated header (first on line %d)", line)
			continue
		}
		first[canon] = k.Line
		d.lines[p] = k.Line
		switch canon {
		case "content-type", "content-length", "host", "transfer-encoding", "connection":
			d.report(p, k.Line, "vigil sets this header itself")
			continue
		}
		s, ok := d.value(v, p)
		if !ok {
			continue
		}
		if strings.ContainsAny(s, "\x00\r\n") {
			d.report(p, v.Line, "a header value holds no NUL or line break (the value is not shown)")
			continue
		}
		if out == nil {
			out = map[string]string{}
		}
		out[k.Value] = s
	}
	return out
}

// headerName reports whether s is an HTTP field name (RFC 9110 token).
func headerName(s string) bool {
	if s == "" || len(s) > 256 {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// resolveAlerts checks that alert ids are unique.
func (d *decoder) resolveAlerts(alerts []model.Alert) []model.Alert {
	ids := map[string]int{}
	for i, a := range alerts {
		if id := a.ID; id != "" {
			if j, dup := ids[id]; dup {
				d.at(fmt.Sprintf("alerts[%d].id", i), "duplicate alert id %q (also alerts[%d])", id, j)
			} else {
				ids[id] = i
			}
		}
	}
	return alerts
}

// formatAlerts adds the alerts section to root, if there are alerts.
func formatAlerts(root *yaml.Node, alerts []model.Alert) {
	list := &yaml.Node{Kind: yaml.SequenceNode}
	for _, a := range alerts {
		m := mapping()
		add(m, "id", strNode(a.ID))
		if a.Script != "" {
			add(m, "script", strNode(a.Script))
		} else {
			add(m, "webhook", strNode(a.Webhook))
		}
		if len(a.Kinds) > 0 {
			ks := &yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle}
			for _, k := range a.Kinds {
				ks.Content = append(ks.Content, strNode(k))
			}
			add(m, "kinds", ks)
		}
		if a.Timeout != 0 && a.Timeout != defaultAlertTimeout {
			add(m, "timeout", strNode(formatDuration(a.Timeout)))
		}
		if a.Retries != defaultAlertRetries {
			add(m, "retries", intNode(a.Retries))
		}
		if len(a.Headers) > 0 {
			add(m, "headers", valueMap(a.Headers))
		}
		list.Content = append(list.Content, m)
	}
	addIf(root, "alerts", list)
}

// summaryAlerts is Summary's alerts line, "" if there are none. It
// shows neither URLs nor headers.
func summaryAlerts(alerts []model.Alert) string {
	if len(alerts) == 0 {
		return ""
	}
	var each []string
	for _, a := range alerts {
		how := "script"
		if a.Script == "" {
			how = "webhook"
		}
		kinds := "every kind"
		if len(a.Kinds) > 0 {
			kinds = plural(len(a.Kinds), "kind", "kinds")
		}
		each = append(each, fmt.Sprintf("%s (%s, %s)", a.ID, how, kinds))
	}
	return "alerts: " + strings.Join(each, ", ") + "\n"
}
