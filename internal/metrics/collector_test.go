package metrics

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/vigil-ha/vigil/internal/api"
)

var rewrite = flag.Bool("rewrite", false, "rewrite the golden files in testdata")

// exposition gathers reg and returns its text exposition.
func exposition(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	var b bytes.Buffer
	for _, mf := range mfs {
		if _, err := expfmt.MetricFamilyToText(&b, mf); err != nil {
			t.Fatal(err)
		}
	}
	return b.String()
}

// golden compares got with testdata/name, or rewrites it with -rewrite.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *rewrite {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -rewrite to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s (-want +got; -rewrite updates it):\n%s", path, d)
	}
}

// TestCollector checks everything the collector exports for a healthy
// cluster, against testdata/collector.txt.
func TestCollector(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, &fakeSource{s: cluster()}); err != nil {
		t.Fatal(err)
	}
	golden(t, "collector.txt", exposition(t, reg))
}

// TestCollectorDegraded checks the series that depend on what a status
// holds: no leader, a node down with a fence, a failed resource, no RTT, a
// state this package does not know.
func TestCollectorDegraded(t *testing.T) {
	s := with(cluster(), func(s *api.Status) {
		s.Leader, s.Quorum = "", false
		s.QuorumDetail.Present = []string{"n1"}
		s.Raft.State = "Candidate"
		n2 := node(s, "n2")
		n2.State, n2.Committed, n2.Fence = "offline", "offline", "fencing FAILED at 12:00:09: timeout"
		for i := range n2.Links {
			n2.Links[i].State, n2.Links[i].Loss, n2.Links[i].RTTMillis = "offline", 1, 0
		}
		n3 := node(s, "n3")
		n3.State, n3.Committed, n3.Fence = "isolated", "", "fencing n3 in 2s (two-node split)"
		db := resource(s, "db")
		db.State, db.Target, db.FailCount = "failed", "", 3
		s.Lease, s.Watchdog = api.Lease{}, ""
	})
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, &fakeSource{s: s}); err != nil {
		t.Fatal(err)
	}
	golden(t, "collector_degraded.txt", exposition(t, reg))
}

func TestCollectorEmptyStatus(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, &fakeSource{}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Gather(); err != nil {
		t.Fatalf("gather a starting node's status: %v", err)
	}
}

func TestNewCollectorValidates(t *testing.T) {
	if _, err := NewCollector(nil, &fakeSource{}); err == nil {
		t.Error("NewCollector without a registry: no error")
	}
	if _, err := NewCollector(prometheus.NewRegistry(), nil); err == nil {
		t.Error("NewCollector without a source: no error")
	}
	reg := prometheus.NewRegistry()
	if _, err := NewCollector(reg, &fakeSource{}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCollector(reg, &fakeSource{}); err == nil {
		t.Error("a second collector on the same registry: no error")
	}
}
