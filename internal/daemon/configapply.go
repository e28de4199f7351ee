package daemon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/store"
)

// Config implements api.ConfigBackend.
func (n *node) Config() (api.ConfigInfo, error) {
	st := n.getStore()
	if st == nil {
		return api.ConfigInfo{}, unavailable("this node's store is not open yet; try again in a moment")
	}
	s := st.State()
	info := api.ConfigInfo{Version: s.ConfigVersion(), Summary: config.Summary(s.Effective(n.cfg.Cluster))}
	if s.Config != nil {
		info.At, info.By = s.Config.At, s.Config.By
	}
	return info, nil
}

// ApplyConfig implements api.ConfigBackend: `vigil config apply`.
func (n *node) ApplyConfig(ctx context.Context, req api.ConfigApply) (api.ConfigApplied, error) {
	reg := n.getAgents()
	if reg == nil {
		return api.ConfigApplied{}, unavailable("this node is still starting; nothing was changed (try again in a moment)")
	}
	next, err := parseApplied(req, n.cfg.Cluster, reg)
	if err != nil {
		return api.ConfigApplied{}, err
	}
	o := n.operator()
	st, err := o.state()
	if err != nil {
		return api.ConfigApplied{}, err
	}
	base := st.ConfigVersion()
	if req.IfMatch != nil && *req.IfMatch != base {
		return api.ConfigApplied{}, &api.Error{Status: http.StatusPreconditionFailed, Field: "If-Match",
			Message: fmt.Sprintf("the configuration is at version %d, not %d: someone applied a change since; look at it and apply again; nothing was changed", base, *req.IfMatch)}
	}
	out := api.ConfigApplied{Version: base, Changes: config.Diff(st.Effective(n.cfg.Cluster).ResourceConfig(), next)}
	if len(out.Changes) == 0 || req.DryRun {
		out.Actions = actions(o.schedule(withConfig(st, next, base), o.vote(nil).Quorate))
		return out, nil
	}
	change := store.ConfigChange{Resources: next, Base: base, At: time.Now().UTC(), By: req.By}
	if err := n.commitConfig(ctx, o, change); err != nil {
		return api.ConfigApplied{}, err
	}
	out.Version, out.Applied = base+1, true
	out.Actions = actions(o.schedule(withConfig(st, next, base), o.vote(nil).Quorate))
	n.log.Info("configuration applied", "version", out.Version, "by", req.By, "changes", out.Changes)
	return out, nil
}

// parseApplied validates a whole config file as the daemon would at
// start, with every resource checked by its kind's agent, and insists that
// only the resource part differs from the running configuration. Every
// problem is a 400 and nothing changes (invariant 5).
func parseApplied(req api.ConfigApply, running model.Config, reg agent.Registry) (model.ResourceConfig, error) {
	if !filepath.IsAbs(req.Path) {
		return model.ResourceConfig{}, &api.Error{Status: http.StatusBadRequest, Field: "path",
			Message: fmt.Sprintf("want the file's absolute path, not %q", req.Path)}
	}
	check := func(r model.Resource) error {
		a, err := reg.Lookup(r)
		if err != nil {
			return err
		}
		return a.Validate(r)
	}
	next, err := config.ParseWith(req.Path, filepath.Dir(req.Path), []byte(req.YAML), check)
	if err != nil {
		return model.ResourceConfig{}, &api.Error{Status: http.StatusBadRequest,
			Message: "the configuration is not valid; nothing was changed:\n" + err.Error()}
	}
	if diff := config.Restart(running, next); len(diff) > 0 {
		return model.ResourceConfig{}, &api.Error{Status: http.StatusBadRequest, Field: diff[0],
			Message: fmt.Sprintf("differs from the running configuration in %s; only options, resources, groups and constraints change at run time, the rest takes a restart of every daemon; nothing was changed", strings.Join(diff, ", "))}
	}
	return next.ResourceConfig(), nil
}

// withConfig is st as it will be once next is applied on base, for the
// plan shown with a change.
func withConfig(st model.ClusterState, next model.ResourceConfig, base uint64) model.ClusterState {
	_ = store.Command{Config: &store.ConfigChange{Resources: next, Base: base}}.ApplyTo(&st)
	return st
}

// commitConfig commits a config change through the leader: here if this
// node leads, else forwarded to it on each of its links. Without quorum
// or a leader it sends nothing (invariant 4).
func (n *node) commitConfig(ctx context.Context, o operator, change store.ConfigChange) error {
	if v := o.vote(nil); !v.Quorate {
		return unavailable("no quorum: this node counts %s; nothing was changed", v.Reasoned)
	}
	st := n.getStore()
	if st.IsLeader() {
		return applyConfigHere(st, change)
	}
	leader, ok := n.cfg.Cluster.Node(st.Leader())
	if !ok {
		return unavailable("no leader is elected yet; nothing was changed (try again in a moment)")
	}
	raw, err := json.Marshal(change)
	if err != nil {
		return err
	}
	err = onLinks(ctx, leader, n.dial, commitTimeout+time.Second,
		func(ctx context.Context, c *client.Client) error { return c.CommitConfig(ctx, raw) })
	var apiErr *api.Error
	switch {
	case err == nil:
		return nil
	case errors.As(err, &apiErr) && apiErr.Status == http.StatusConflict:
		return unavailable("leadership moved while forwarding to %s; nothing was changed (try again in a moment)", leader.Name)
	case errors.As(err, &apiErr):
		return apiErr
	}
	return unavailable("cannot reach the leader %s on any link; nothing was changed: %v", leader.Name, err)
}

// CommitConfig implements api.ConfigBackend: the leader commits a change
// a follower validated and forwarded. The store's own version check
// refuses one that another change beat to the commit.
func (n *node) CommitConfig(ctx context.Context, raw []byte) error {
	var change store.ConfigChange
	if err := api.DecodeStrict(raw, &change); err != nil {
		return err
	}
	if change.At.IsZero() {
		return &api.Error{Status: http.StatusBadRequest, Field: "at", Message: "a config change carries the time it was made"}
	}
	st := n.getStore()
	if st == nil {
		return unavailable("this node's store is not open yet")
	}
	if !st.IsLeader() {
		return api.Errorf(http.StatusConflict, "not the leader; the leader is %q", st.Leader())
	}
	return applyConfigHere(st, change)
}

// applyConfigHere commits change on this node, the leader.
func applyConfigHere(st *store.Store, change store.ConfigChange) error {
	err := st.Apply(store.Command{Config: &change}, commitTimeout)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrConflict):
		return &api.Error{Status: http.StatusPreconditionFailed, Field: "If-Match", Message: err.Error() + "; nothing was changed"}
	case errors.Is(err, store.ErrNotLeader):
		return unavailable("leadership was lost while committing; look at `vigil config show` before you apply again: %v", err)
	}
	return unavailable("commit failed; look at `vigil config show` before you apply again: %v", err)
}
