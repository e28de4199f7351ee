package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// Report implements api.Backend: the leader commits an executor's report.
// A follower refuses with 409 naming the leader, so the sender retries there.
func (n *node) Report(ctx context.Context, r api.Report) error {
	rep, err := n.fromAPI(r)
	if err != nil {
		return err
	}
	st := n.getStore()
	if st == nil {
		return api.Errorf(http.StatusServiceUnavailable, "the store is not open yet")
	}
	if !st.IsLeader() {
		return api.Errorf(http.StatusConflict, "not the leader; the leader is %q", st.Leader())
	}
	err = st.Apply(store.Command{Report: &rep}, reportTimeout(ctx))
	if errors.Is(err, store.ErrClaimed) {
		return api.Errorf(http.StatusConflict, "%v", err)
	}
	return err
}

func reportTimeout(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return time.Until(d)
	}
	return 5 * time.Second
}

// fromAPI checks a report from the wire: known resource and node, a state.
func (n *node) fromAPI(r api.Report) (store.Report, error) {
	bad := func(field, format string, args ...any) error {
		return &api.Error{Status: http.StatusBadRequest, Field: field, Message: fmt.Sprintf(format, args...)}
	}
	known := false
	if st := n.getStore(); st != nil {
		_, known = st.State().Effective(n.cfg.Cluster).Resource(model.ResourceID(r.Resource))
	}
	switch {
	case !known:
		return store.Report{}, bad("resource", "unknown resource %q", r.Resource)
	case !n.isNode(model.NodeID(r.Node)):
		return store.Report{}, bad("node", "unknown node %q", r.Node)
	case r.FailBy < 0:
		return store.Report{}, bad("fail_by", "must not be negative")
	}
	switch model.ResourceState(r.State) {
	case model.ResourceStarting, model.ResourceStarted, model.ResourceStopped, model.ResourceFailed, model.ResourceBlocked:
	default:
		return store.Report{}, bad("state", "want starting, started, stopped, failed or blocked, not %q", r.State)
	}
	return store.Report{Resource: model.ResourceID(r.Resource), Node: model.NodeID(r.Node), State: model.ResourceState(r.State),
		Reason: r.Reason, At: r.At, FailBy: r.FailBy}, nil
}

func (n *node) isNode(id model.NodeID) bool {
	_, ok := n.cfg.Cluster.Node(id)
	return ok
}

// leaderPoll is how often a report in flight checks that its leader still
// leads.
const leaderPoll = 20 * time.Millisecond

// reporter delivers this node's executor reports: committed directly when
// this node leads, else sent to the leader on each of its links in turn.
type reporter struct{ n *node }

func (r reporter) Report(ctx context.Context, rep store.Report) error {
	st := r.n.getStore()
	if st == nil {
		return errors.New("store not open")
	}
	if st.IsLeader() {
		return st.Apply(store.Command{Report: &rep}, reportTimeout(ctx))
	}
	leader, ok := r.n.cfg.Cluster.Node(st.Leader())
	if !ok {
		return errors.New("no leader to report to")
	}
	wire := api.Report{Resource: string(rep.Resource), Node: string(rep.Node), State: string(rep.State),
		Reason: rep.Reason, At: rep.At, FailBy: rep.FailBy}
	// A leader that died leaves each link to time out; give up as soon as
	// another leads, so that the report goes there at once.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		t := time.NewTicker(leaderPoll)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if st.Leader() != leader.Name {
					cancel()
					return
				}
			}
		}
	}()
	err := onLinks(ctx, leader, r.n.dial, 2*time.Second,
		func(ctx context.Context, c *client.Client) error { return c.Report(ctx, wire) })
	if err != nil {
		return fmt.Errorf("report %s to leader %s: %w", rep.Resource, leader.Name, err)
	}
	return nil
}
