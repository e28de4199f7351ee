package metrics

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/vigil-ha/vigil/internal/api"
)

// docs is the repository's docs directory.
var docs = filepath.Join("..", "..", "docs")

// exported returns every series name a daemon's registry exposes after one
// collection over a realistic status, with the labels each can carry: a
// histogram's _bucket (with le), _sum and _count, a summary's name (with
// quantile), _sum and _count. The labels Prometheus adds to every target
// (instance, job) are included, and so is up.
func exported(t *testing.T) map[string][]string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	src := &fakeSource{s: with(cluster(), func(s *api.Status) { node(s, "n3").Fence = "fenced at 12:00:01 (level 1 (ipmi))" })}
	if _, err := NewCollector(reg, src); err != nil {
		t.Fatal(err)
	}
	w, err := NewWatcher(WatcherConfig{Registry: reg, Source: src})
	if err != nil {
		t.Fatal(err)
	}
	w.observe(t0)
	ops, err := NewOperations(reg)
	if err != nil {
		t.Fatal(err)
	}
	ops.Observe("vip", "start", ResultOK, 30*time.Millisecond)
	q, err := NewRequests(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewHandler(backend{src: src}, "")
	q.Refused("tcp", "unauthenticated", h.Refused.Load)
	q.Wrap(h, "unix").ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/status", nil))
	if err := RegisterRuntime(reg); err != nil {
		t.Fatal(err)
	}
	Handler(reg) // registers promhttp_metric_handler_errors_total
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{"up": {"instance", "job"}}
	for _, mf := range mfs {
		labels := []string{"instance", "job"}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if !slices.Contains(labels, l.GetName()) {
					labels = append(labels, l.GetName())
				}
			}
		}
		name := mf.GetName()
		switch mf.GetType() {
		case dto.MetricType_HISTOGRAM:
			out[name+"_bucket"] = append(slices.Clone(labels), "le")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		case dto.MetricType_SUMMARY:
			out[name] = append(slices.Clone(labels), "quantile")
			out[name+"_sum"], out[name+"_count"] = labels, labels
		default:
			out[name] = labels
		}
	}
	return out
}

// checkExpr checks that expr reads as PromQL and that every metric it
// selects, every label it matches on and every label it groups by exists.
func checkExpr(t *testing.T, where, expr string, have map[string][]string) {
	t.Helper()
	q, err := readPromQL(expr)
	if err != nil {
		t.Errorf("%s: %v in %q", where, err, expr)
		return
	}
	var labels []string // of every metric it selects
	for _, r := range q.refs {
		ls, ok := have[r.metric]
		if !ok {
			t.Errorf("%s: metric %s does not exist (in %q)", where, r.metric, expr)
			continue
		}
		labels = append(labels, ls...)
		for _, l := range r.labels {
			if !slices.Contains(ls, l) {
				t.Errorf("%s: %s has no label %s (in %q)", where, r.metric, l, expr)
			}
		}
	}
	for _, l := range q.grouping {
		if len(labels) > 0 && !slices.Contains(labels, l) {
			t.Errorf("%s: grouping by %s, a label none of its metrics has (in %q)", where, l, expr)
		}
	}
}

// ruleFile is a Prometheus rules file, as far as these rules use it.
type ruleFile struct {
	Groups []struct {
		Name     string `yaml:"name"`
		Interval string `yaml:"interval"`
		Rules    []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// TestAlertRules checks docs/prometheus/vigil-alerts.yml: it decodes
// strictly, has the alerts the issue asks for, each with a for, a severity,
// a summary and a description, and every expression names metrics and
// labels that exist.
func TestAlertRules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(docs, "prometheus", "vigil-alerts.yml"))
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	var f ruleFile
	if err := dec.Decode(&f); err != nil {
		t.Fatalf("vigil-alerts.yml: %v", err)
	}
	have := exported(t)
	var alerts []string
	for _, g := range f.Groups {
		if g.Name == "" || len(g.Rules) == 0 {
			t.Errorf("group %q: a group needs a name and rules", g.Name)
		}
		for _, r := range g.Rules {
			where := "alert " + r.Alert
			if r.Alert == "" {
				t.Errorf("group %s: a rule without an alert name", g.Name)
			}
			if slices.Contains(alerts, r.Alert) {
				t.Errorf("%s: defined twice", where)
			}
			alerts = append(alerts, r.Alert)
			if _, err := time.ParseDuration(r.For); err != nil {
				t.Errorf("%s: for %q: %v", where, r.For, err)
			}
			if s := r.Labels["severity"]; !slices.Contains([]string{"critical", "warning", "info"}, s) {
				t.Errorf("%s: severity %q, want critical, warning or info", where, s)
			}
			for _, a := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[a]) == "" {
					t.Errorf("%s: no %s annotation", where, a)
				}
			}
			checkExpr(t, where, r.Expr, have)
		}
	}
	for _, want := range []string{"NodeDown", "QuorumLost", "ResourceFailed", "FenceFailed", "LinkDown", "HighHeartbeatLoss"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s", want)
		}
	}
}

// TestGrafanaDashboard checks docs/grafana/vigil-dashboard.json: it is a
// dashboard with a title and uid, every panel but a row has a query, and
// every query (panels, annotations, variables) names metrics and labels
// that exist.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(docs, "grafana", "vigil-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title         string            `json:"title"`
		UID           string            `json:"uid"`
		SchemaVersion int               `json:"schemaVersion"`
		Panels        []json.RawMessage `json:"panels"`
		Templating    struct {
			List []struct {
				Name  string `json:"name"`
				Type  string `json:"type"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("vigil-dashboard.json: %v", err)
	}
	if dash.Title == "" || dash.UID == "" || dash.SchemaVersion == 0 || len(dash.Panels) == 0 {
		t.Fatalf("vigil-dashboard.json: title %q, uid %q, schemaVersion %d, %d panels: not a dashboard",
			dash.Title, dash.UID, dash.SchemaVersion, len(dash.Panels))
	}
	have := exported(t)

	type panel struct {
		ID      int               `json:"id"`
		Type    string            `json:"type"`
		Title   string            `json:"title"`
		Panels  []json.RawMessage `json:"panels"`
		Targets []struct {
			Expr  string `json:"expr"`
			RefID string `json:"refId"`
		} `json:"targets"`
	}
	ids := map[int]string{}
	queries := 0
	var walk func(raw []json.RawMessage)
	walk = func(raw []json.RawMessage) {
		for _, r := range raw {
			var p panel
			if err := json.Unmarshal(r, &p); err != nil {
				t.Errorf("panel: %v", err)
				continue
			}
			where := "panel " + p.Title
			if other, dup := ids[p.ID]; dup {
				t.Errorf("%s: id %d is also %s's", where, p.ID, other)
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				walk(p.Panels)
				continue
			}
			if p.Title == "" || len(p.Targets) == 0 {
				t.Errorf("panel %d (%s): a panel needs a title and a query", p.ID, p.Type)
			}
			for _, tg := range p.Targets {
				if tg.RefID == "" {
					t.Errorf("%s: a target without a refId", where)
				}
				checkExpr(t, where, tg.Expr, have)
				queries++
			}
		}
	}
	walk(dash.Panels)

	var annotations struct {
		Annotations struct {
			List []struct {
				Name string `json:"name"`
				Expr string `json:"expr"`
			} `json:"list"`
		} `json:"annotations"`
	}
	if err := json.Unmarshal(b, &annotations); err != nil {
		t.Fatal(err)
	}
	for _, a := range annotations.Annotations.List {
		if a.Expr != "" {
			checkExpr(t, "annotation "+a.Name, a.Expr, have)
			queries++
		}
	}

	labelValues := regexp.MustCompile(`^label_values\((.+),\s*([A-Za-z_][A-Za-z0-9_]*)\)$`)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		q, _ := v.Query.(string)
		if m, ok := v.Query.(map[string]any); ok {
			q, _ = m["query"].(string)
		}
		m := labelValues.FindStringSubmatch(strings.TrimSpace(q))
		if m == nil {
			t.Errorf("variable %s: query %q: want label_values(<metric>, <label>)", v.Name, q)
			continue
		}
		where := "variable " + v.Name
		checkExpr(t, where, m[1], have)
		if r, err := readPromQL(m[1]); err == nil && len(r.refs) == 1 && !slices.Contains(have[r.refs[0].metric], m[2]) {
			t.Errorf("%s: %s has no label %s", where, r.refs[0].metric, m[2])
		}
		queries++
	}
	if queries < 20 {
		t.Errorf("the dashboard has %d queries; did the walk miss some?", queries)
	}
}

// TestMetricsDoc checks that docs/metrics.md lists every vigil_ metric the
// registry has, and names none it does not.
func TestMetricsDoc(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(docs, "metrics.md"))
	if err != nil {
		t.Fatal(err)
	}
	have := exported(t)
	named := map[string]bool{}
	for _, n := range regexp.MustCompile(`\bvigil_[a-z_]+[a-z]`).FindAllString(string(b), -1) {
		named[n] = true
		if have[n] == nil && have[n+"_bucket"] == nil {
			t.Errorf("metrics.md names %s, which does not exist", n)
		}
	}
	for n := range have {
		if !strings.HasPrefix(n, "vigil_") {
			continue
		}
		base := strings.TrimSuffix(n, "_bucket")
		for _, suffix := range []string{"_sum", "_count"} {
			if b, ok := strings.CutSuffix(n, suffix); ok && have[b+"_bucket"] != nil {
				base = b
			}
		}
		if !named[base] {
			t.Errorf("metrics.md does not list %s", base)
		}
	}
}
