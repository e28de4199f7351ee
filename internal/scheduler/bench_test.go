package scheduler

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// BenchmarkSchedule schedules realistic clusters: a quarter of the units
// are groups of two to four members; some units prefer a node or a rack,
// are colocated with or ordered after an earlier unit; most resources run,
// a few have failed, and one node is offline and another in standby.
func BenchmarkSchedule(b *testing.B) {
	for _, r := range []int{10, 1000, 10000} {
		for _, n := range []int{3, 32} {
			b.Run(fmt.Sprintf("resources=%d/nodes=%d", r, n), func(b *testing.B) {
				in := benchInput(r, n, 1)
				b.ReportAllocs()
				b.ResetTimer()
				var p model.Plan
				for b.Loop() {
					p = Schedule(in)
				}
				b.ReportMetric(float64(len(p.Actions)), "actions")
			})
		}
	}
}

// benchInput builds a cluster of about resources resources on nodes nodes,
// the same for the same seed.
func benchInput(resources, nodes int, seed uint64) Input {
	rng := rand.New(rand.NewPCG(seed, 42))
	now := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	in := Input{
		State: model.ClusterState{
			Nodes:      map[model.NodeID]model.NodeRecord{},
			Resources:  map[model.ResourceID]model.ResourceRecord{},
			FailCounts: map[model.ResourceID]map[model.NodeID]model.FailCount{},
		},
		Quorum: true,
		Now:    now,
	}
	cfg := &in.Config
	cfg.Options.Stickiness = 50
	for i := range nodes {
		name := model.NodeID(fmt.Sprintf("n%02d", i+1))
		cfg.Nodes = append(cfg.Nodes, model.Node{Name: name, Attributes: map[string]string{
			"rack": fmt.Sprintf("r%d", i%4),
			"zone": fmt.Sprintf("z%d", i%2),
		}})
		rec := model.NodeRecord{State: model.NodeOnline}
		switch {
		case nodes >= 3 && i == 1:
			rec.State = model.NodeOffline
		case nodes >= 3 && i == 2:
			rec.Standby = true
		}
		in.State.Nodes[name] = rec
	}
	node := func() model.NodeID { return cfg.Nodes[rng.IntN(nodes)].Name }
	var units []model.ResourceID
	for len(cfg.Resources) < resources {
		u := len(units)
		var members []model.ResourceID
		var id model.ResourceID
		if rng.IntN(4) == 0 {
			id = model.ResourceID(fmt.Sprintf("g%d", u))
			g := model.Group{ID: id, Meta: model.Meta{TargetRole: "started"}}
			for k := range 2 + rng.IntN(3) {
				m := model.ResourceID(fmt.Sprintf("g%d-m%d", u, k))
				g.Members = append(g.Members, m)
				members = append(members, m)
			}
			cfg.Groups = append(cfg.Groups, g)
		} else {
			id = model.ResourceID(fmt.Sprintf("r%d", u))
			members = []model.ResourceID{id}
		}
		var group model.ResourceID
		if len(members) > 1 || members[0] != id {
			group = id
		}
		at := node()
		running := rng.IntN(10) < 7
		for _, m := range members {
			r := model.Resource{ID: m, Kind: "exec", Group: group, Meta: model.Meta{TargetRole: "started", MigrationThreshold: 3}}
			if rng.IntN(50) == 0 {
				r.Meta.TargetRole = "stopped"
			}
			if rng.IntN(10) == 0 {
				r.Meta.FailureTimeout = 10 * time.Minute
			}
			cfg.Resources = append(cfg.Resources, r)
			if running {
				rec := model.ResourceRecord{State: model.ResourceStarted, Node: at, Since: now}
				if rng.IntN(50) == 0 {
					rec.State = model.ResourceFailed
					rec.Reason = "monitor failed"
					in.State.FailCounts[m] = map[model.NodeID]model.FailCount{at: {Count: 1 + rng.IntN(3), Last: now.Add(-time.Duration(rng.IntN(20)) * time.Minute)}}
				}
				in.State.Resources[m] = rec
			}
		}
		switch k := rng.IntN(20); {
		case k < 4:
			cfg.Constraints.Locations = append(cfg.Constraints.Locations, model.Location{
				ID: fmt.Sprintf("loc-%s", id), Resource: id, Node: node(), Score: model.Score(50 + rng.IntN(150))})
		case k < 6:
			cfg.Constraints.Locations = append(cfg.Constraints.Locations, model.Location{
				ID: fmt.Sprintf("loc-%s", id), Resource: id, Attribute: "rack", Value: fmt.Sprintf("r%d", rng.IntN(4)), Score: 100})
		case k < 7:
			cfg.Constraints.Locations = append(cfg.Constraints.Locations, model.Location{
				ID: fmt.Sprintf("ban-%s", id), Resource: id, Node: node(), Score: model.MinusInfinity})
		}
		if u > 0 {
			// Colocate with, or order after, a recent unit: chains stay short,
			// as in real clusters.
			other := units[max(0, u-1-rng.IntN(min(u, 20)))]
			switch k := rng.IntN(20); {
			case k < 2:
				cfg.Constraints.Colocations = append(cfg.Constraints.Colocations, model.Colocation{
					ID: fmt.Sprintf("col-%s", id), Resource: id, With: other, Score: model.Infinity})
			case k < 3:
				cfg.Constraints.Colocations = append(cfg.Constraints.Colocations, model.Colocation{
					ID: fmt.Sprintf("anti-%s", id), Resource: id, With: other, Score: model.MinusInfinity})
			case k < 4:
				cfg.Constraints.Colocations = append(cfg.Constraints.Colocations, model.Colocation{
					ID: fmt.Sprintf("near-%s", id), Resource: id, With: other, Score: 200})
			}
			switch k := rng.IntN(20); {
			case k < 2:
				cfg.Constraints.Orders = append(cfg.Constraints.Orders, model.Order{
					ID: fmt.Sprintf("ord-%s", id), First: other, Then: id, Kind: model.OrderMandatory})
			case k < 3:
				cfg.Constraints.Orders = append(cfg.Constraints.Orders, model.Order{
					ID: fmt.Sprintf("opt-%s", id), First: other, Then: id, Kind: model.OrderOptional})
			}
		}
		units = append(units, id)
	}
	if resources > 10 {
		in.State.Runtime = append(in.State.Runtime, model.Location{ID: "cli-ban-r0", Resource: units[0], Node: cfg.Nodes[0].Name, Score: model.MinusInfinity})
	}
	return in
}
