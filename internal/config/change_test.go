package config

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

func TestDiff(t *testing.T) {
	base, err := Load("testdata/good/resources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	old := base.ResourceConfig()
	if d := Diff(old, old); d != nil {
		t.Fatalf("Diff of a config with itself = %q", d)
	}

	next := base.ResourceConfig()
	next.Resources = append([]model.Resource{}, next.Resources...)
	ip := next.Resources[0]
	ip.Params = map[string]string{"address": "198.18.0.101/24", "arp_count": "5", "interface": "eth0"}
	ip.Ops.MonitorInterval = time.Second
	next.Resources[0] = ip
	next.Resources = append(next.Resources[:3], next.Resources[4:]...) // drop the 4th (Backup.job_1) ...
	next.Resources = append(next.Resources, model.Resource{ID: "cache", Kind: "exec", Params: map[string]string{"command": "exec memcached"}})
	next.Groups = next.Groups[:1] // ... and its group batch
	next.Constraints.Locations = append([]model.Location{}, next.Constraints.Locations...)
	next.Constraints.Locations[0].Score = 200
	next.Constraints.Colocations = next.Constraints.Colocations[:1]
	next.Constraints.Orders = next.Constraints.Orders[:2]
	next.Options.Stickiness = 0
	want := []string{
		"~ resource web-ip: params, ops",
		"+ resource cache (exec)",
		"- resource Backup.job_1",
		"- group batch",
		"~ location prefer-n1: web on n1 (200)",
		"- colocation batch-apart",
		"- order db-then-web-svc",
		"~ options.stickiness: INFINITY -> 0",
	}
	if d := cmp.Diff(want, Diff(old, next)); d != "" {
		t.Errorf("Diff (-want +got):\n%s", d)
	}
}

func TestRestart(t *testing.T) {
	base, err := Load("testdata/good/resources.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if r := Restart(base, base); r != nil {
		t.Fatalf("Restart of a config with itself = %q", r)
	}
	next := base
	next.Resources = nil
	next.DataDir = "/elsewhere"
	if r := Restart(base, next); r != nil {
		t.Errorf("resources and data_dir need no restart, got %q", r)
	}
	next.Nodes = append([]model.Node{}, base.Nodes...)
	next.Nodes[0].Addresses = []netip.Addr{netip.MustParseAddr("198.18.0.9")}
	next.Timing.HeartbeatInterval *= 2
	next.Secret = []byte("another secret of 16+ bytes")
	if got := strings.Join(Restart(base, next), " "); got != "secret nodes timing" {
		t.Errorf("Restart = %q, want secret nodes timing", got)
	}
}
