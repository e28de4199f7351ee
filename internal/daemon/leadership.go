package daemon

import (
	"context"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// yieldLeadership hands the raft leadership away from a leader that runs
// resources, to an online voter that runs none (a witness first), every
// so often until ctx ends; not on every change, so that a failover that
// places resources on the leader is not cut in two by a transfer between
// its claims. A holder that also leads costs an election on top of its
// own failover when it dies: the takeover round and the
// placement wait for a new leader (about a second), while a holder that
// does not lead is recovered within its lease. Two-node clusters keep
// their leader: their fence race relies on who leads.
func (n *node) yieldLeadership(ctx context.Context, every time.Duration) {
	if n.cfg.Cluster.Fencing.TwoNode {
		return
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		st := n.getStore()
		if st == nil || !st.IsLeader() {
			continue
		}
		state := st.State()
		to, ok := leadershipTarget(n.cfg.Cluster, n.cfg.Self, state, n.observe())
		if !ok {
			continue
		}
		n.log.Info("leadership handed to a node that runs nothing: this one runs resources", "to", to)
		if err := st.TransferLeadership(to); err != nil {
			n.log.Warn("hand the leadership over", "to", to, "err", err)
		}
	}
}

// leadershipTarget says to which node a leader self should hand the
// leadership: none unless self runs something as st records it; else an
// online voter (committed and observed) that runs nothing, a witness
// first, then in configuration order. It is pure.
func leadershipTarget(cfg model.Config, self model.NodeID, st model.ClusterState, observed map[model.NodeID]model.NodeState) (model.NodeID, bool) {
	if !st.Records(self) {
		return "", false
	}
	var best model.NodeID
	for _, nd := range cfg.Nodes {
		id := nd.Name
		if id == self || st.Records(id) || st.Nodes[id].State != model.NodeOnline || observed[id] != model.NodeOnline {
			continue
		}
		if nd.Witness {
			return id, true
		}
		if best == "" {
			best = id
		}
	}
	return best, best != ""
}
