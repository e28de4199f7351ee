package scheduler

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/datadriven"

	"github.com/vigil-ha/vigil/internal/model"
)

// bigCIB, when set, makes TestPacemakerBig write the benchmark's cluster
// (by default 1,000 resources on 32 nodes) as a Pacemaker CIB to that
// file, for timing crm_simulate (testdata/pacemaker/run.sh does).
var (
	bigCIB       = flag.String("pacemaker-cib", "", "write a benchmark cluster (32 nodes) as a CIB to this file")
	bigResources = flag.Int("pacemaker-cib-resources", 1000, "the number of resources in -pacemaker-cib's cluster")
	bigSummary   = flag.String("pacemaker-summary", "", "compare vigil's placement of -pacemaker-cib's cluster with this crm_simulate output")
)

// TestPacemakerCases runs the comparison cases in testdata/pacemaker: each
// is a script whose plan is the expected output, and whose CIB (the same
// cluster in Pacemaker's terms) must match the .xml file beside it, so
// that run.sh feeds crm_simulate exactly what vigil scheduled. Nothing
// here needs Pacemaker.
func TestPacemakerCases(t *testing.T) {
	files, err := filepath.Glob("testdata/pacemaker/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases: %v", err)
	}
	rewrite := false
	if f := flag.Lookup("rewrite"); f != nil {
		rewrite = f.Value.String() == "true"
	}
	for _, path := range files {
		t.Run(strings.TrimSuffix(filepath.Base(path), ".txt"), func(t *testing.T) {
			datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
				sc := newScript()
				for _, line := range strings.Split(d.Input, "\n") {
					if err := sc.run(line); err != nil {
						d.Fatalf(t, "%s: %v", line, err)
					}
				}
				xmlPath := strings.TrimSuffix(path, ".txt") + ".xml"
				want := cib(sc.in)
				if rewrite {
					if err := os.WriteFile(xmlPath, []byte(want), 0o644); err != nil {
						t.Fatal(err)
					}
				} else if got, err := os.ReadFile(xmlPath); err != nil || !bytes.Equal(got, []byte(want)) {
					t.Errorf("%s is stale or missing (%v); run go test ./internal/scheduler -rewrite", xmlPath, err)
				}
				p := Schedule(sc.in)
				checkPlan(t, sc.in, p)
				return format(sc.in.Config, p, nil, false)
			})
		})
	}
}

func TestPacemakerBig(t *testing.T) {
	if *bigCIB == "" {
		t.Skip("set -pacemaker-cib=FILE to write the CIB")
	}
	in := benchInput(*bigResources, 32, 1)
	if err := os.WriteFile(*bigCIB, []byte(cib(in)), 0o644); err != nil {
		t.Fatal(err)
	}
	if *bigSummary == "" {
		return
	}
	out, err := os.ReadFile(*bigSummary)
	if err != nil {
		t.Fatal(err)
	}
	theirs := pacemakerPlacement(in, string(out))
	plan := Schedule(in)
	ours := plan.Placement
	score := func(id model.ResourceID, n model.NodeID) string {
		if r := in.Config.Resources[slices.IndexFunc(in.Config.Resources, func(r model.Resource) bool { return r.ID == id })]; r.Group != "" {
			id = r.Group
		}
		for _, ns := range plan.Scores[id] {
			if ns.Node == n {
				return ns.Score.String()
			}
		}
		return "-"
	}
	same, ties := 0, 0
	var diffs []string
	for _, r := range in.Config.Resources {
		o, p := ours[r.ID], theirs[r.ID]
		switch {
		case o == p:
			same++
		case o != "" && p != "" && score(r.ID, o) == score(r.ID, p):
			ties++
		default:
			diffs = append(diffs, fmt.Sprintf("%s: vigil %q (%s), pacemaker %q (%s)", r.ID, o, score(r.ID, o), p, score(r.ID, p)))
		}
	}
	fmt.Printf("placement: %d of %d resources the same, %d on another node of equal score (tie-break), %d other\n",
		same, len(in.Config.Resources), ties, len(diffs))
	for _, d := range diffs {
		fmt.Println("  " + d)
	}
}

// pacemakerPlacement applies crm_simulate's transition summary (Move,
// Start, Stop, Recover, Restart lines) to the state in, and returns where
// each resource ends up.
func pacemakerPlacement(in Input, summary string) map[model.ResourceID]model.NodeID {
	out := map[model.ResourceID]model.NodeID{}
	for _, r := range in.Config.Resources {
		rec := in.State.Resources[r.ID]
		if nr, ok := in.State.Nodes[rec.Node]; ok && nr.State == model.NodeOnline && rec.State != model.ResourceStopped {
			out[r.ID] = rec.Node
		} else {
			out[r.ID] = ""
		}
	}
	for _, line := range strings.Split(summary, "\n") {
		f := strings.Fields(strings.NewReplacer("(", " ", ")", " ", "->", " ").Replace(line))
		if len(f) < 3 || strings.Contains(line, "(blocked)") {
			continue // an unrunnable action: listed, never done
		}
		id := model.ResourceID(f[1])
		switch f[0] {
		case "Move", "Recover", "Start", "Restart":
			if len(f) >= 4 && f[0] != "Start" && f[0] != "Restart" && !strings.HasPrefix(f[3], "due") {
				out[id] = model.NodeID(f[3])
			} else {
				out[id] = model.NodeID(f[2])
			}
		case "Stop":
			out[id] = ""
		}
	}
	return out
}

// cib renders in as a Pacemaker 2.1 CIB: every resource an
// ocf:heartbeat:Dummy, the state as operation history (a start, a failed
// monitor, a failed stop), fail counts as transient node attributes, and
// Now as the CIB's execution-date. Fencing and startup probes are off, as
// vigil has neither yet.
func cib(in Input) string {
	var b strings.Builder
	cfg := in.Config
	quorum := 0
	if in.Quorum {
		quorum = 1
	}
	fmt.Fprintf(&b, "<cib crm_feature_set=\"3.16.1\" validate-with=\"pacemaker-3.9\" epoch=\"1\" num_updates=\"0\" admin_epoch=\"0\" have-quorum=\"%d\" dc-uuid=\"1\" execution-date=\"%d\">\n", quorum, in.Now.Unix())
	b.WriteString("  <configuration>\n    <crm_config>\n      <cluster_property_set id=\"cib-bootstrap-options\">\n")
	nqp := string(cfg.Options.NoQuorumPolicy)
	if nqp == "" {
		nqp = "stop"
	}
	nvpair(&b, "        ", "opt", "stonith-enabled", "false")
	nvpair(&b, "        ", "opt", "no-quorum-policy", nqp)
	// vigil does not probe nodes for resources it did not start there;
	// without this Pacemaker would add a probe per resource per node.
	nvpair(&b, "        ", "opt", "enable-startup-probes", "false")
	b.WriteString("      </cluster_property_set>\n    </crm_config>\n    <nodes>\n")
	for i, n := range cfg.Nodes {
		rec := in.State.Nodes[n.Name]
		attrs := maps2pairs(n.Attributes)
		if rec.Standby {
			attrs = append(attrs, [2]string{"standby", "on"})
		}
		if rec.Maintenance {
			attrs = append(attrs, [2]string{"maintenance", "on"})
		}
		if len(attrs) == 0 {
			fmt.Fprintf(&b, "      <node id=\"%d\" uname=\"%s\"/>\n", i+1, n.Name)
			continue
		}
		fmt.Fprintf(&b, "      <node id=\"%d\" uname=\"%s\">\n        <instance_attributes id=\"%s-attrs\">\n", i+1, n.Name, n.Name)
		for _, a := range attrs {
			nvpair(&b, "          ", string(n.Name), a[0], a[1])
		}
		b.WriteString("        </instance_attributes>\n      </node>\n")
	}
	b.WriteString("    </nodes>\n    <resources>\n")
	inGroup := map[model.ResourceID]bool{}
	groupAt := map[model.ResourceID]*model.Group{}
	for gi := range cfg.Groups {
		g := &cfg.Groups[gi]
		for _, m := range g.Members {
			inGroup[m] = true
		}
		if len(g.Members) > 0 {
			groupAt[g.Members[0]] = g
		}
	}
	byID := map[model.ResourceID]model.Resource{}
	for _, r := range cfg.Resources {
		byID[r.ID] = r
	}
	for _, r := range cfg.Resources {
		if g := groupAt[r.ID]; g != nil {
			fmt.Fprintf(&b, "      <group id=\"%s\">\n", g.ID)
			meta(&b, "        ", string(g.ID), g.Meta)
			for _, m := range g.Members {
				primitive(&b, "        ", byID[m])
			}
			b.WriteString("      </group>\n")
		} else if !inGroup[r.ID] {
			primitive(&b, "      ", r)
		}
	}
	b.WriteString("    </resources>\n    <constraints>\n")
	for _, l := range slices.Concat(cfg.Constraints.Locations, in.State.Runtime) {
		if l.Node != "" {
			fmt.Fprintf(&b, "      <rsc_location id=\"%s\" rsc=\"%s\" node=\"%s\" score=\"%s\"/>\n", l.ID, l.Resource, l.Node, l.Score)
			continue
		}
		fmt.Fprintf(&b, "      <rsc_location id=\"%s\" rsc=\"%s\">\n        <rule id=\"%s-rule\" score=\"%s\">\n          <expression id=\"%s-expr\" attribute=\"%s\" operation=\"eq\" value=\"%s\"/>\n        </rule>\n      </rsc_location>\n",
			l.ID, l.Resource, l.ID, l.Score, l.ID, l.Attribute, l.Value)
	}
	for _, c := range cfg.Constraints.Colocations {
		fmt.Fprintf(&b, "      <rsc_colocation id=\"%s\" rsc=\"%s\" with-rsc=\"%s\" score=\"%s\"/>\n", c.ID, c.Resource, c.With, c.Score)
	}
	for _, o := range cfg.Constraints.Orders {
		kind := "Mandatory"
		if o.Kind == model.OrderOptional {
			kind = "Optional"
		}
		fmt.Fprintf(&b, "      <rsc_order id=\"%s\" first=\"%s\" then=\"%s\" kind=\"%s\"/>\n", o.ID, o.First, o.Then, kind)
	}
	b.WriteString("    </constraints>\n    <rsc_defaults>\n      <meta_attributes id=\"rsc-options\">\n")
	nvpair(&b, "        ", "rsc-options", "resource-stickiness", cfg.Options.Stickiness.String())
	b.WriteString("      </meta_attributes>\n    </rsc_defaults>\n  </configuration>\n  <status>\n")
	for i, n := range cfg.Nodes {
		rec, ok := in.State.Nodes[n.Name]
		if !ok || rec.State != model.NodeOnline {
			fmt.Fprintf(&b, "    <node_state id=\"%d\" uname=\"%s\" in_ccm=\"false\" crmd=\"offline\" crm-debug-origin=\"vigil\" join=\"down\" expected=\"down\"/>\n", i+1, n.Name)
			continue
		}
		fmt.Fprintf(&b, "    <node_state id=\"%d\" uname=\"%s\" in_ccm=\"true\" crmd=\"online\" crm-debug-origin=\"vigil\" join=\"member\" expected=\"member\">\n", i+1, n.Name)
		var fails []string
		for _, r := range cfg.Resources {
			if fc, ok := in.State.FailCounts[r.ID][n.Name]; ok && fc.Count > 0 {
				fails = append(fails, fmt.Sprintf("fail-count-%s#monitor_10000=%d", r.ID, fc.Count),
					fmt.Sprintf("last-failure-%s#monitor_10000=%d", r.ID, fc.Last.Unix()))
			}
		}
		if len(fails) > 0 {
			fmt.Fprintf(&b, "      <transient_attributes id=\"%d\">\n        <instance_attributes id=\"status-%d\">\n", i+1, i+1)
			for _, f := range fails {
				k, v, _ := strings.Cut(f, "=")
				nvpair(&b, "          ", fmt.Sprintf("status-%d", i+1), k, v)
			}
			b.WriteString("        </instance_attributes>\n      </transient_attributes>\n")
		}
		fmt.Fprintf(&b, "      <lrm id=\"%d\">\n        <lrm_resources>\n", i+1)
		for _, r := range cfg.Resources {
			st, ok := in.State.Resources[r.ID]
			if !ok || st.Node != n.Name {
				continue
			}
			fmt.Fprintf(&b, "          <lrm_resource id=\"%s\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">\n", r.ID)
			t := in.Now.Unix()
			switch st.State {
			case model.ResourceStarted:
				op(&b, r.ID, n.Name, "start", 0, "0:0", 2, t)
			case model.ResourceFailed:
				op(&b, r.ID, n.Name, "start", 0, "0:0", 2, t)
				op(&b, r.ID, n.Name, "monitor", 10000, "0:7", 3, t)
			case model.ResourceBlocked:
				op(&b, r.ID, n.Name, "stop", 0, "2:1", 3, t)
			}
			b.WriteString("          </lrm_resource>\n")
		}
		b.WriteString("        </lrm_resources>\n      </lrm>\n    </node_state>\n")
	}
	b.WriteString("  </status>\n</cib>\n")
	return b.String()
}

func maps2pairs(m map[string]string) [][2]string {
	var out [][2]string
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}) {
		out = append(out, [2]string{k, m[k]})
	}
	return out
}

func nvpair(b *strings.Builder, indent, prefix, name, value string) {
	fmt.Fprintf(b, "%s<nvpair id=\"%s-%s\" name=\"%s\" value=\"%s\"/>\n", indent, prefix, strings.ReplaceAll(name, "#", "-"), name, value)
}

func meta(b *strings.Builder, indent, id string, m model.Meta) {
	var pairs [][2]string
	if m.Stickiness != nil {
		pairs = append(pairs, [2]string{"resource-stickiness", m.Stickiness.String()})
	}
	if m.MigrationThreshold > 0 {
		pairs = append(pairs, [2]string{"migration-threshold", fmt.Sprint(m.MigrationThreshold)})
	}
	if m.FailureTimeout > 0 {
		pairs = append(pairs, [2]string{"failure-timeout", fmt.Sprintf("%ds", int(m.FailureTimeout.Seconds()))})
	}
	if m.TargetRole == "stopped" {
		pairs = append(pairs, [2]string{"target-role", "Stopped"})
	}
	if len(pairs) == 0 {
		return
	}
	fmt.Fprintf(b, "%s<meta_attributes id=\"%s-meta\">\n", indent, id)
	for _, p := range pairs {
		nvpair(b, indent+"  ", id+"-meta", p[0], p[1])
	}
	fmt.Fprintf(b, "%s</meta_attributes>\n", indent)
}

func primitive(b *strings.Builder, indent string, r model.Resource) {
	fmt.Fprintf(b, "%s<primitive id=\"%s\" class=\"ocf\" provider=\"heartbeat\" type=\"Dummy\">\n", indent, r.ID)
	meta(b, indent+"  ", string(r.ID), r.Meta)
	fmt.Fprintf(b, "%s  <operations>\n%s    <op id=\"%s-monitor\" name=\"monitor\" interval=\"10s\"/>\n%s  </operations>\n%s</primitive>\n", indent, indent, r.ID, indent, indent)
}

// op writes one entry of operation history; magic is "op-status:rc".
func op(b *strings.Builder, r model.ResourceID, node model.NodeID, name string, interval int, magic string, call int, t int64) {
	key := fmt.Sprintf("%s_%s_%d", r, name, interval)
	id := key
	if name == "start" || name == "stop" {
		id = fmt.Sprintf("%s_last_0", r)
	}
	if magic != "0:0" {
		id = fmt.Sprintf("%s_last_failure_0", r)
	}
	status, rc, _ := strings.Cut(magic, ":")
	digest := "f2317cad3d54cec5d7d7aa7d0bf35cf8"
	if interval > 0 {
		digest = "4811cef7f7f94e3a35a70be7916cb2fd"
	}
	tk := fmt.Sprintf("%d:1:0:6cb5a4b0-6d1f-4c8e-9c2b-2f3f3a5d0f01", call)
	fmt.Fprintf(b, "            <lrm_rsc_op id=\"%s\" operation_key=\"%s\" operation=\"%s\" crm-debug-origin=\"vigil\" crm_feature_set=\"3.16.1\" transition-key=\"%s\" transition-magic=\"%s;%s\" exit-reason=\"\" on_node=\"%s\" call-id=\"%d\" rc-code=\"%s\" op-status=\"%s\" interval=\"%d\" last-rc-change=\"%d\" exec-time=\"1\" queue-time=\"0\" op-digest=\"%s\"/>\n",
		id, key, name, tk, magic, tk, node, call, rc, status, interval, t, digest)
}
