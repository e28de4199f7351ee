package daemon

import (
	"fmt"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/detect"
	"github.com/vigil-ha/vigil/internal/model"
)

// Status implements api.Backend.
func (n *node) Status() api.Status {
	snap := n.det.Snapshot()
	obs := map[model.NodeID]model.NodeState{n.cfg.Self: model.NodeOnline}
	verdicts := map[model.NodeID]detect.Verdict{}
	for _, v := range n.live.Verdicts() {
		obs[v.Peer] = v.State
		verdicts[v.Peer] = v
	}
	v := n.vote(obs)
	s := api.Status{
		Cluster:      n.cfg.Cluster.Cluster,
		Node:         string(n.cfg.Self),
		Quorum:       v.Quorate,
		QuorumDetail: api.Quorum{Voters: v.Voters, Needed: v.Needed, Present: v.Present},
		Resources:    []api.Resource{},
		Profile:      n.cfg.Cluster.Timing.Profile,
		Time:         time.Now().UTC(),
		Heartbeat: api.Counters{
			Sent: snap.Counters.Sent, SendErrors: snap.Counters.SendErrors, Received: snap.Counters.Received, Malformed: snap.Counters.Malformed,
			Forged: snap.Counters.Forged, Replayed: snap.Counters.Replayed, Stale: snap.Counters.Stale,
			UnknownSender: snap.Counters.UnknownSender, WrongReceiver: snap.Counters.WrongReceiver,
		},
	}
	var committed model.ClusterState
	if st := n.getStore(); st != nil {
		s.Leader = string(st.Leader())
		committed = st.State()
		i := st.Info()
		s.Raft = api.Raft{State: i.State, Term: i.Term, LastIndex: i.LastIndex, CommitIndex: i.CommitIndex, AppliedIndex: i.AppliedIndex, Refused: i.Refused}
	} else {
		s.Raft.State = "Starting"
	}
	peers := map[model.NodeID]int{}
	for i, p := range snap.Peers {
		peers[p.Name] = i
	}
	for _, nd := range n.cfg.Cluster.Nodes {
		out := api.Node{Name: string(nd.Name), State: string(obs[nd.Name]), Committed: string(committed.Nodes[nd.Name].State),
			Standby: committed.Nodes[nd.Name].Standby, Maintenance: committed.Nodes[nd.Name].Maintenance}
		if f := committed.Nodes[nd.Name].Fence; f != nil && f.OK {
			out.Fence = fmt.Sprintf("fenced at %s (%s)", f.At.Format("15:04:05"), f.By)
		} else if f != nil {
			out.Fence = fmt.Sprintf("fencing FAILED at %s: %s", f.At.Format("15:04:05"), f.Reason)
		}
		if p := n.getPair(); p != nil {
			if news := p.Status(nd.Name); news != "" {
				out.Fence = news // newer than anything committed: the pair is split
			}
		}
		for _, a := range nd.Addresses {
			out.Addresses = append(out.Addresses, a.String())
		}
		if nd.Name == n.cfg.Self {
			out.Self = true
			for i, a := range nd.Addresses {
				out.Links = append(out.Links, api.Link{Index: i, Address: a.String(), State: string(model.NodeOnline)})
			}
		} else if i, ok := peers[nd.Name]; ok {
			if v, ok := verdicts[nd.Name]; ok {
				out.Detection = v.Reason
				if v.Damped {
					out.Damped = v.Damp.Reason
				}
			}
			p := snap.Peers[i]
			out.LastHeard = p.LastHeard
			for _, l := range p.Links {
				out.Links = append(out.Links, api.Link{
					Index: l.Index, Address: l.Address.String(), State: string(l.State),
					Loss: l.Loss, RTTMillis: float64(l.RTT.Microseconds()) / 1000,
				})
			}
		}
		s.Nodes = append(s.Nodes, out)
	}
	s.Resources = resources(committed.Effective(n.cfg.Cluster), committed)
	if k := n.keeper; k != nil {
		left := k.Remaining(time.Now())
		s.Lease = api.Lease{Held: left > 0, RemainingMillis: float64(left.Microseconds()) / 1000}
	}
	if n.watchdog != nil {
		s.Watchdog = n.watchdog.Path()
	}
	return s
}

// resources is the status of every configured resource in committed.
func resources(cfg model.Config, st model.ClusterState) []api.Resource {
	out := []api.Resource{}
	for _, r := range cfg.Resources {
		rec := st.Resources[r.ID]
		state := rec.State
		if state == "" {
			state = model.ResourceStopped
		}
		fails := 0
		for _, fc := range st.FailCounts[r.ID] {
			fails += fc.Count
		}
		out = append(out, api.Resource{
			ID: string(r.ID), Kind: r.Kind, Group: string(r.Group), State: string(state), Node: string(rec.Node),
			Target: string(st.Targets[r.ID]), FailCount: fails, Reason: rec.Reason,
		})
	}
	return out
}

// RaftState implements api.Backend.
func (n *node) RaftState() api.RaftState {
	has := n.hadState
	if st := n.getStore(); st != nil {
		has = has || st.Info().LastIndex > 0
	}
	return api.RaftState{Node: string(n.cfg.Self), HasState: has}
}
