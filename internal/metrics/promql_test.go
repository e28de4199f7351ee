package metrics

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// This file is a small PromQL reader for the docs tests: it tokenises an
// expression, checks that its brackets balance, that its strings end and
// that every function it calls exists, and returns the metrics it selects
// (with the labels they match on) and the labels it groups by. It is not a
// parser: the Prometheus one (prometheus/promql/parser) would raise the go
// directive and golang.org/x/sys, x/net and x/text past the versions
// ECOSYSTEM.md pins, for a test.

// ref is what an expression says about one metric.
type ref struct {
	metric string
	labels []string // the labels its selector matches on
}

// query is what readPromQL finds in an expression.
type query struct {
	refs     []ref
	grouping []string // labels of by, without, on and ignoring
}

type tokKind int

const (
	tIdent tokKind = iota
	tNumber
	tString
	tVar // a Grafana variable: $__rate_interval, ${instance}
	tPunct
)

type token struct {
	kind tokKind
	text string
}

// promqlFuncs are PromQL's functions and aggregation operators.
var promqlFuncs = strings.Fields(`
	abs absent absent_over_time acos acosh asin asinh atan atanh avg_over_time ceil changes clamp clamp_max
	clamp_min cos cosh count_over_time day_of_month day_of_week day_of_year days_in_month deg delta deriv
	exp floor histogram_avg histogram_count histogram_fraction histogram_quantile histogram_stddev
	histogram_stdvar histogram_sum holt_winters double_exponential_smoothing hour idelta increase irate
	label_join label_replace last_over_time ln log10 log2 mad_over_time max_over_time min_over_time minute
	month pi predict_linear present_over_time quantile_over_time rad rate resets round scalar sgn sin sinh
	sort sort_desc sort_by_label sort_by_label_desc sqrt stddev_over_time stdvar_over_time sum_over_time
	tan tanh time timestamp vector year
	sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio
	label_values query_result`)

// promqlAggregations may be followed by a by or without clause before
// their arguments.
var promqlAggregations = strings.Fields(`sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk limit_ratio`)

// promqlWords are keywords that are neither metrics nor functions.
var promqlWords = strings.Fields(`and or unless bool offset inf nan group_left group_right atan2 start end`)

func lexPromQL(expr string) ([]token, error) {
	var out []token
	var stack []byte
	closing := map[byte]byte{')': '(', ']': '[', '}': '{'}
	isIdent := func(c byte, first bool) bool {
		return c == '_' || c == ':' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || !first && '0' <= c && c <= '9'
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '#':
			for i < len(expr) && expr[i] != '\n' {
				i++
			}
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for ; j < len(expr) && expr[j] != c; j++ {
				if expr[j] == '\\' && c != '`' {
					j++
				}
			}
			if j >= len(expr) {
				return nil, fmt.Errorf("unterminated string at %d", i)
			}
			out = append(out, token{tString, expr[i+1 : j]})
			i = j + 1
		case c == '$':
			j := i + 1
			if j < len(expr) && expr[j] == '{' {
				k := strings.IndexByte(expr[j:], '}')
				if k < 0 {
					return nil, fmt.Errorf("unterminated ${ at %d", i)
				}
				j += k + 1
			} else {
				for j < len(expr) && isIdent(expr[j], false) {
					j++
				}
			}
			out = append(out, token{tVar, expr[i:j]})
			i = j
		case isIdent(c, true):
			j := i
			for j < len(expr) && isIdent(expr[j], false) {
				j++
			}
			out = append(out, token{tIdent, expr[i:j]})
			i = j
		case '0' <= c && c <= '9' || c == '.' && i+1 < len(expr) && '0' <= expr[i+1] && expr[i+1] <= '9':
			j := i
			for j < len(expr) && (isIdent(expr[j], false) || expr[j] == '.') {
				j++
			}
			out = append(out, token{tNumber, expr[i:j]})
			i = j
		case strings.IndexByte("([{", c) >= 0:
			stack = append(stack, c)
			out = append(out, token{tPunct, string(c)})
			i++
		case strings.IndexByte(")]}", c) >= 0:
			if len(stack) == 0 || stack[len(stack)-1] != closing[c] {
				return nil, fmt.Errorf("unbalanced %q at %d", c, i)
			}
			stack = stack[:len(stack)-1]
			out = append(out, token{tPunct, string(c)})
			i++
		default:
			i0 := i
			for _, op := range []string{"==", "!=", "=~", "!~", ">=", "<=", "=", ">", "<", "+", "-", "*", "/", "%", "^", "@", ",", ":"} {
				if strings.HasPrefix(expr[i:], op) {
					out = append(out, token{tPunct, op})
					i += len(op)
					break
				}
			}
			if i == i0 {
				return nil, fmt.Errorf("unexpected %q at %d", c, i)
			}
		}
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("unclosed %q", stack[len(stack)-1])
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty expression")
	}
	return out, nil
}

// readPromQL reads expr as the comment at the top of this file says.
func readPromQL(expr string) (query, error) {
	toks, err := lexPromQL(expr)
	if err != nil {
		return query{}, err
	}
	var q query
	at := func(i int) token {
		if i < len(toks) {
			return toks[i]
		}
		return token{}
	}
	// matchers reads the label matchers of a selector whose '{' is at i,
	// and returns them, the value of __name__ if one is matched, and the
	// index after the '}'.
	matchers := func(i int) (labels []string, name string, next int, err error) {
		i++
		for at(i).text != "}" {
			l, op, v := at(i), at(i+1), at(i+2)
			if l.kind != tIdent || !slices.Contains([]string{"=", "!=", "=~", "!~"}, op.text) || v.kind != tString {
				return nil, "", 0, fmt.Errorf("bad label matcher at %q %q %q", l.text, op.text, v.text)
			}
			if l.text == "__name__" && op.text == "=" {
				name = v.text
			} else {
				labels = append(labels, l.text)
			}
			i += 3
			if at(i).text == "," {
				i++
			}
		}
		return labels, name, i + 1, nil
	}
	for i := 0; i < len(toks); {
		t := toks[i]
		switch {
		case t.kind == tPunct && t.text == "[":
			for toks[i].text != "]" { // balanced: the lexer checked
				i++
			}
			i++
		case t.kind == tPunct && t.text == "{":
			labels, name, next, err := matchers(i)
			if err != nil {
				return query{}, err
			}
			if name == "" {
				return query{}, fmt.Errorf("a selector without a metric name")
			}
			q.refs = append(q.refs, ref{name, labels})
			i = next
		case t.kind != tIdent:
			i++
		case slices.Contains([]string{"by", "without", "on", "ignoring", "group_left", "group_right"}, t.text) && at(i+1).text == "(":
			i += 2
			for at(i).text != ")" {
				if at(i).kind == tIdent {
					if t.text != "group_left" && t.text != "group_right" {
						q.grouping = append(q.grouping, at(i).text)
					}
				} else if at(i).text != "," {
					return query{}, fmt.Errorf("bad label list after %s: %q", t.text, at(i).text)
				}
				i++
			}
			i++
		case at(i+1).text == "(" || slices.Contains(promqlAggregations, t.text):
			if !slices.Contains(promqlFuncs, t.text) {
				return query{}, fmt.Errorf("unknown function %s", t.text)
			}
			i++
		case slices.Contains(promqlWords, t.text):
			i++
		default:
			r := ref{metric: t.text}
			i++
			if at(i).text == "{" {
				labels, name, next, err := matchers(i)
				if err != nil {
					return query{}, err
				}
				if name != "" {
					return query{}, fmt.Errorf("%s has a __name__ matcher too", t.text)
				}
				r.labels, i = labels, next
			}
			q.refs = append(q.refs, r)
		}
	}
	return q, nil
}

func TestReadPromQL(t *testing.T) {
	tests := []struct {
		expr string
		want query
	}{
		{`vigil_quorum == 0`, query{refs: []ref{{metric: "vigil_quorum"}}}},
		{
			`max by (node) (vigil_node_committed_state{state="offline"}) == 1`,
			query{refs: []ref{{"vigil_node_committed_state", []string{"state"}}}, grouping: []string{"node"}},
		},
		{
			`histogram_quantile(0.95, sum by (le, route) (rate(vigil_api_request_duration_seconds_bucket{instance=~"$instance"}[$__rate_interval])))`,
			query{refs: []ref{{"vigil_api_request_duration_seconds_bucket", []string{"instance"}}}, grouping: []string{"le", "route"}},
		},
		{
			"max by (node) (vigil_fence_last{ok=\"false\"}) == 1\nor\nsum by (node) (increase(vigil_fence_actions_total{ok=\"false\"}[10m])) > 0",
			query{refs: []ref{{"vigil_fence_last", []string{"ok"}}, {"vigil_fence_actions_total", []string{"ok"}}}, grouping: []string{"node", "node"}},
		},
		{
			`sum without (instance) (a) / on (resource) group_left (kind) b{x!~'y', z="w"}[5m:30s] offset 1h`,
			query{refs: []ref{{metric: "a"}, {"b", []string{"x", "z"}}}, grouping: []string{"instance", "resource"}},
		},
		{`{__name__="vigil_info", node="n1"}`, query{refs: []ref{{"vigil_info", []string{"node"}}}}},
		{`label_values(vigil_info, instance)`, query{refs: []ref{{metric: "vigil_info"}, {metric: "instance"}}}},
		{`vigil_watchdog_present == 0 and vigil_lease_held == 1`, query{refs: []ref{{metric: "vigil_watchdog_present"}, {metric: "vigil_lease_held"}}}},
	}
	for _, tt := range tests {
		got, err := readPromQL(tt.expr)
		if err != nil {
			t.Errorf("readPromQL(%q): %v", tt.expr, err)
			continue
		}
		if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(query{}, ref{})); d != "" {
			t.Errorf("readPromQL(%q) (-want +got):\n%s", tt.expr, d)
		}
	}
	for _, bad := range []string{
		``, `sum(vigil_quorum`, `vigil_quorum)`, `rate(x[5m)`, `x{a="b"`, `x{a=b}`, `x{a="b}`, `rte(x[5m])`,
		`sum by (node, ) (x`, `{a="b"}`, `x ? y`,
	} {
		if _, err := readPromQL(bad); err == nil {
			t.Errorf("readPromQL(%q): no error", bad)
		}
	}
}
