package daemon

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// restartSlack is added to a restart's stop and start timeouts for the
// default bound: detection, scheduling and reports take time too.
const restartSlack = 30 * time.Second

// restartBanID is the temporary ban a restart puts on node.
func restartBanID(r model.ResourceID, n model.NodeID) string {
	return runtimePrefix + "restart-" + string(r) + "-on-" + string(n)
}

// restart stops resource (or group) r and starts it again on the node
// where it runs, with the commands the store already has: the store has
// no restart command, and the executor restarts only what failed.
//
//  1. Ban r from every other node (cli-restart-R-on-NODE, -INFINITY),
//     so that it cannot go elsewhere; it keeps running where it is.
//  2. Ban it from its own node too: the scheduler places it nowhere and
//     the executor stops it (and what depends on it, as Pacemaker's
//     restart does). Wait until the committed state shows it stopped.
//  3. Lift the ban on its node: the only node left, where it starts
//     again. Wait until the committed state shows it started there.
//  4. Lift the other bans.
//
// If a step fails or the time runs out, every temporary ban is removed,
// so the cluster places r as it would have; the error says how far the
// restart came.
func (o operator) restart(ctx context.Context, st model.ClusterState, op api.Operation) (api.Outcome, error) {
	r := model.ResourceID(op.Resource)
	cfg := st.Effective(o.cfg)
	if !isResourceOrGroup(cfg, r) {
		return api.Outcome{}, &api.Error{Status: http.StatusNotFound, Field: "resource", Message: fmt.Sprintf("unknown resource or group %q", op.Resource)}
	}
	if op.Node != "" {
		return api.Outcome{}, &api.Error{Status: http.StatusBadRequest, Field: "node", Message: "a restart is in place: it takes no node"}
	}
	at, running := restartable(cfg, st, r)
	switch {
	case len(running) == 0:
		return api.Outcome{}, api.Errorf(http.StatusConflict, "%s is not running, so there is nothing to restart (`vigil resource cleanup %s` clears a failure)", r, r)
	case st.Nodes[at].Maintenance:
		return api.Outcome{}, api.Errorf(http.StatusConflict, "%s runs on %s, which is in maintenance: vigil stops and starts nothing there", r, at)
	}
	timeout := op.Timeout
	if timeout == 0 {
		timeout = restartSlack
		for _, m := range running {
			res, _ := resourceOf(cfg, m)
			timeout += res.Ops.StopTimeout + res.Ops.StartTimeout
		}
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	out := api.Outcome{Changes: []string{}}
	var added []string // the bans committed, for undoRestart
	commit := func(c store.Command) error {
		if err := o.commit(wctx, c); err != nil {
			return err
		}
		out.Changes = append(out.Changes, describe(c))
		if !c.Runtime.Remove {
			added = append(added, c.Runtime.Location.ID)
		}
		return nil
	}
	if err := o.restartSteps(wctx, r, at, running, commit); err != nil {
		if len(added) > 0 {
			err = o.undoRestart(ctx, r, added, err)
		}
		return api.Outcome{}, partial(err, out.Changes)
	}
	st, err := o.state()
	if err != nil {
		return api.Outcome{}, err
	}
	out.Message = fmt.Sprintf("%s restarted on %s", r, at)
	out.Actions = actions(o.schedule(st, o.vote(nil).Quorate))
	return out, nil
}

// restartable returns where r runs and its members that are started
// there (none if r is not running).
func restartable(cfg model.Config, st model.ClusterState, r model.ResourceID) (model.NodeID, []model.ResourceID) {
	var at model.NodeID
	var running []model.ResourceID
	for _, m := range members(cfg, r) {
		rec := st.Resources[m]
		if rec.State != model.ResourceStarted || rec.Node == "" || (at != "" && rec.Node != at) {
			continue
		}
		at = rec.Node
		running = append(running, m)
	}
	return at, running
}

func (o operator) restartSteps(ctx context.Context, r model.ResourceID, at model.NodeID, running []model.ResourceID, commit func(store.Command) error) error {
	for _, nd := range o.cfg.Nodes {
		if nd.Name != at {
			if err := commit(addLocation(restartBanID(r, nd.Name), r, nd.Name, model.MinusInfinity)); err != nil {
				return err
			}
		}
	}
	if err := commit(addLocation(restartBanID(r, at), r, at, model.MinusInfinity)); err != nil {
		return err
	}
	if err := o.await(ctx, "stop", func(st model.ClusterState) (bool, error) {
		for _, m := range running {
			rec := st.Resources[m]
			if rec.Node != at {
				continue
			}
			switch rec.State {
			case model.ResourceBlocked:
				return false, api.Errorf(http.StatusConflict, "%s could not be stopped on %s and is blocked: %s", m, at, rec.Reason)
			case model.ResourceStarted, model.ResourceFailed:
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	if err := commit(removeLocation(restartBanID(r, at))); err != nil {
		return err
	}
	if err := o.await(ctx, "start", func(st model.ClusterState) (bool, error) {
		for _, m := range running {
			rec := st.Resources[m]
			switch {
			case rec.State == model.ResourceFailed || rec.State == model.ResourceBlocked:
				return false, api.Errorf(http.StatusConflict, "%s did not start again on %s: %s (%s)", m, at, rec.State, rec.Reason)
			case rec.State != model.ResourceStarted || rec.Node != at:
				return false, nil
			}
		}
		return true, nil
	}); err != nil {
		return err
	}
	for _, nd := range o.cfg.Nodes {
		if nd.Name != at {
			if err := commit(removeLocation(restartBanID(r, nd.Name))); err != nil {
				return err
			}
		}
	}
	return nil
}

// await waits until done reports true (or an error) for the committed
// state as this node applies it, or ctx ends.
func (o operator) await(ctx context.Context, what string, done func(model.ClusterState) (bool, error)) error {
	for {
		changed := o.store.Changed() // before State, so no change is missed
		ok, err := done(o.store.State())
		if err != nil || ok {
			return err
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return api.Errorf(http.StatusGatewayTimeout, "timed out waiting for the %s", what)
			}
			return ctx.Err()
		case <-changed:
		}
	}
}

// undoRestart removes the temporary bans (added) of a restart that failed
// with cause: all of them, since this node's state may not show yet which
// are there, and removing an absent one changes nothing. It runs even when
// the request was cancelled, within its own bound.
func (o operator) undoRestart(ctx context.Context, r model.ResourceID, added []string, cause error) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*commitTimeout)
	defer cancel()
	var errs []error
	for _, id := range added {
		if err := o.commit(ctx, removeLocation(id)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return withMessage(cause, fmt.Sprintf("; the temporary bans could not all be removed (`vigil resource clear %s` removes them): %v", r, errors.Join(errs...)))
	}
	return withMessage(cause, "; the restart was abandoned and its temporary bans removed")
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
