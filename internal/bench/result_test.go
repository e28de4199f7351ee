package bench

import (
	"bytes"
	"encoding/json"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// checkGolden compares got with testdata/name, or rewrites it under -update.
func checkGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/bench -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s\nIf the change is intended, rerun with -update and read the diff.", path, d)
	}
}

// fixedReport is a report as a run with --compare keepalived and a soak
// would give it.
func fixedReport() Report {
	trial := func(system string, f Fault, outages ...float64) Result {
		r := Result{System: system, Fault: f}
		var ds []time.Duration
		for _, o := range outages {
			ds = append(ds, time.Duration(o*float64(time.Millisecond)))
			r.TrialLog = append(r.TrialLog, Trial{From: "n1", To: "n2", OutageMS: o, Sent: int(o / 10), Failed: int(o/10) - 1, GapMS: 10.4})
		}
		r.Trials = len(outages)
		r.summarize(ds)
		r.SamplerGapMS = 11.2
		return r
	}
	ka := trial("keepalived", DaemonKill, 0, 0, 0)
	ka.DoubleHolderMS, ka.Unresolved = 6030.3, 3
	soak := Result{System: "vigil", Fault: Soak, Trials: 1, OutagesMS: []float64{21.5, 30.2}, Outage: Summarize(ms(21.5, 30.2)),
		Soak: &SoakRun{LossPercent: 20, LossOn: LossOnHolder, Holder: "n1", DurationS: 30, ThresholdMS: 1000, Probes: 3000, Failed: 2, Outages: 2}}
	kaSoak := soak
	kaSoak.System, kaSoak.FalseFailovers = "keepalived", 1
	kaSoak.Soak = &SoakRun{LossPercent: 20, LossOn: LossOnHolder, Holder: "n1", DurationS: 30, ThresholdMS: 1000, Probes: 2990, Failed: 40, Moves: 1, Outages: 3}
	return Report{Results: []Result{
		trial("vigil", NodeKill, 1103.1, 1124, 980.5),
		trial("vigil", DaemonKill, 1031.7, 1122.7, 1050),
		soak,
		trial("keepalived", NodeKill, 2762.7, 3010.2, 2950),
		ka,
		kaSoak,
	}}
}

func TestWriteTable(t *testing.T) {
	var b bytes.Buffer
	if err := WriteTable(&b, fixedReport()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "table.golden", b.String())
}

func TestWriteJSON(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixedReport()); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "report.json.golden", b.String())
}

// The JSON keeps the shape the issue gives, whatever fields are added.
func TestJSONShape(t *testing.T) {
	var b bytes.Buffer
	if err := WriteJSON(&b, fixedReport()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Results []map[string]json.RawMessage `json:"results"`
	}
	if err := json.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Results) != 6 {
		t.Fatalf("%d results, want 6", len(doc.Results))
	}
	for i, r := range doc.Results {
		for _, k := range []string{"system", "fault", "trials", "outage_ms", "false_failovers", "double_holder_ms"} {
			if _, ok := r[k]; !ok {
				t.Errorf("results[%d] has no %q", i, k)
			}
		}
		var st map[string]float64
		if err := json.Unmarshal(r["outage_ms"], &st); err != nil {
			t.Errorf("results[%d].outage_ms: %v", i, err)
		}
		keys := make([]string, 0, len(st))
		for k := range st {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if d := cmp.Diff([]string{"max", "median", "min", "p90"}, keys); d != "" {
			t.Errorf("results[%d].outage_ms keys (-want +got):\n%s", i, d)
		}
		var fault string
		_ = json.Unmarshal(r["fault"], &fault)
		if !slices.Contains([]string{"node-kill", "daemon-kill", "service-kill", "soak"}, fault) {
			t.Errorf("results[%d].fault = %q", i, fault)
		}
	}
	var empty bytes.Buffer
	if err := WriteJSON(&empty, Report{}); err != nil {
		t.Fatal(err)
	}
	if got := empty.String(); got != "{\n  \"results\": []\n}\n" {
		t.Errorf("an empty report is %q, want results: []", got)
	}
}

func TestKeepalivedConfig(t *testing.T) {
	for _, c := range []struct {
		golden string
		index  int
		advert time.Duration
	}{
		{"keepalived-master.conf.golden", 0, time.Second},
		{"keepalived-backup-100ms.conf.golden", 2, 100 * time.Millisecond},
	} {
		t.Run(c.golden, func(t *testing.T) {
			cfg := KeepalivedConfig{
				Node: "n" + string(rune('1'+c.index)), Index: c.index,
				Self:      netip.MustParseAddr("198.18.0." + string(rune('1'+c.index))),
				VIP:       DefaultVIP,
				AdvertInt: c.advert,
				Check:     "/usr/local/bin/vigil probe --timeout 500ms http://127.0.0.1:8080/",
			}
			for i := range 3 {
				if i != c.index {
					cfg.Peers = append(cfg.Peers, netip.MustParseAddr("198.18.0."+string(rune('1'+i))))
				}
			}
			checkGolden(t, c.golden, string(cfg.Render()))
		})
	}
}
