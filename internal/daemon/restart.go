package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/executor"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// restartSlack is added to a restart's stop and start timeouts for the
// default bound: commits, reports and the executor's tick take time too.
const restartSlack = 30 * time.Second

// restart stops resource (or group) r and starts it again on the node
// where it runs, with what depends on it there (executor.RestartSet), and
// returns once it runs again.
//
// It commits one store.Restart naming r and that node; the executor there
// stops and starts everything in one operation, so the cluster never sees
// r stopped and places nothing anew meanwhile. A request that cannot be
// carried out is refused before anything is committed: r unknown, not
// started anywhere, on a node in maintenance, or with a part blocked.
// Once committed, the request stands (there is nothing to undo): if the
// time runs out first, or a part fails, the error says so and where
// things are.
func (o operator) restart(ctx context.Context, st model.ClusterState, op api.Operation) (api.Outcome, error) {
	r := model.ResourceID(op.Resource)
	cfg := st.Effective(o.cfg)
	if !isResourceOrGroup(cfg, r) {
		return api.Outcome{}, &api.Error{Status: http.StatusNotFound, Field: "resource", Message: fmt.Sprintf("unknown resource or group %q", op.Resource)}
	}
	if op.Node != "" {
		return api.Outcome{}, &api.Error{Status: http.StatusBadRequest, Field: "node", Message: "a restart is in place: it takes no node"}
	}
	at, was, err := restartable(cfg, st, r)
	if err != nil {
		return api.Outcome{}, err
	}
	timeout := op.Timeout
	if timeout == 0 {
		timeout = restartSlack
		for _, m := range was {
			res, _ := resourceOf(cfg, m.id)
			timeout += res.Ops.StopTimeout + res.Ops.StartTimeout
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cmd := store.Command{Restart: &store.Restart{Resource: r, Node: at, At: o.now().UTC()}}
	if err := o.commit(wctx, cmd); err != nil {
		return api.Outcome{}, err
	}
	changes := []string{fmt.Sprintf("restart %s on %s", r, at)}
	if err := o.awaitRestart(wctx, at, was); err != nil {
		return api.Outcome{}, partial(err, changes)
	}
	st, err = o.state()
	if err != nil {
		return api.Outcome{}, err
	}
	out := api.Outcome{Message: fmt.Sprintf("%s restarted on %s", r, at), Changes: changes}
	if len(was) > 1 {
		ids := make([]string, len(was))
		for i, m := range was {
			ids[i] = string(m.id)
		}
		out.Message += " (" + strings.Join(ids, ", ") + ")"
	}
	out.Actions = actions(o.schedule(st, o.vote(nil).Quorate))
	return out, nil
}

// restarted is one resource a restart stops and starts again, with its
// record before.
type restarted struct {
	id  model.ResourceID
	rec model.ResourceRecord
}

// restartable returns where r runs and what a restart of it stops and
// starts again there (in start order, with their records now), or the
// 409 that says why it cannot be restarted. It is pure.
func restartable(cfg model.Config, st model.ClusterState, r model.ResourceID) (model.NodeID, []restarted, error) {
	var at model.NodeID
	for _, m := range members(cfg, r) {
		if rec := st.Resources[m]; rec.State == model.ResourceStarted && rec.Node != "" {
			at = rec.Node
			break
		}
	}
	if at == "" {
		return "", nil, api.Errorf(http.StatusConflict, "%s is not running, so there is nothing to restart (`vigil resource cleanup %s` clears a failure)", r, r)
	}
	if st.Nodes[at].Maintenance {
		return "", nil, api.Errorf(http.StatusConflict, "%s runs on %s, which is in maintenance: vigil stops and starts nothing there", r, at)
	}
	var was []restarted
	for _, m := range executor.RestartSet(cfg, r) {
		rec := st.Resources[m]
		switch {
		case rec.Node != at:
		case rec.State == model.ResourceBlocked:
			return "", nil, api.Errorf(http.StatusConflict, "%s is blocked on %s (%s), so %s cannot be stopped there; `vigil resource cleanup %s` first", m, at, rec.Reason, r, m)
		case rec.State == model.ResourceStarted:
			was = append(was, restarted{m, rec})
		}
	}
	return at, was, nil
}

// awaitRestart waits until this node's committed state shows every
// resource of was started on at again, newer than its record before
// (both records come from at's clock, so no clock skew between nodes
// matters), or one of them failed or blocked, or ctx ends.
func (o operator) awaitRestart(ctx context.Context, at model.NodeID, was []restarted) error {
	for {
		changed := o.store.Changed() // before State, so no change is missed
		st := o.store.State()
		var pending []string
		for _, m := range was {
			rec := st.Resources[m.id]
			if !rec.Since.After(m.rec.Since) {
				pending = append(pending, fmt.Sprintf("%s (not yet stopped and started)", m.id))
				continue
			}
			switch {
			case rec.State == model.ResourceStarted && rec.Node == at:
			case rec.State == model.ResourceBlocked:
				return api.Errorf(http.StatusConflict, "%s could not be stopped on %s and is blocked: %s (`vigil resource cleanup %s` when it is safe)", m.id, at, rec.Reason, m.id)
			case rec.State == model.ResourceFailed:
				return api.Errorf(http.StatusConflict, "%s did not start again on %s: %s; the cluster recovers it as any failure", m.id, rec.Node, rec.Reason)
			case rec.State == model.ResourceStarted:
				return api.Errorf(http.StatusConflict, "%s runs on %s now, not on %s: it was moved meanwhile", m.id, rec.Node, at)
			default:
				pending = append(pending, fmt.Sprintf("%s (%s)", m.id, rec.State))
			}
		}
		if len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return api.Errorf(http.StatusGatewayTimeout, "timed out waiting for the restart on %s; still waiting for %s (it may yet happen: `vigil resource show` tells)", at, strings.Join(pending, ", "))
			}
			return ctx.Err()
		case <-changed:
		}
	}
}

// withMessage appends more to err's message, keeping an *api.Error's
// status and field.
func withMessage(err error, more string) error {
	var e *api.Error
	if errors.As(err, &e) {
		return &api.Error{Status: e.Status, Field: e.Field, Message: e.Message + more}
	}
	return fmt.Errorf("%w%s", err, more)
}
