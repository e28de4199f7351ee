package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"

	"github.com/vigil-ha/vigil/internal/api"
)

// Plan fetches GET /v1/plan: what the scheduler decides now.
func (c *Client) Plan(ctx context.Context) (api.Plan, error) {
	var p api.Plan
	err := c.get(ctx, "/v1/plan", &p)
	return p, err
}

// Explain fetches GET /v1/explain/{id} for a resource or group.
func (c *Client) Explain(ctx context.Context, id string) (api.Explanation, error) {
	var x api.Explanation
	err := c.get(ctx, "/v1/explain/"+url.PathEscape(id), &x)
	return x, err
}

// Simulate sends POST /v1/simulate: the plan after sim's hypothetical
// changes. It changes nothing.
func (c *Client) Simulate(ctx context.Context, sim api.Simulation) (api.Plan, error) {
	var p api.Plan
	err := c.do(ctx, http.MethodPost, "/v1/simulate", sim, &p)
	return p, err
}

// Operate sends an operator's change to its endpoint: a node change to
// /v1/nodes/{node}/{op}, a resource change to /v1/resources/{id}/{op}. It
// returns once the daemon has committed it. Operation.Timeout is sent for
// a restart only; the client's own timeout must be longer for the answer
// to arrive.
func (c *Client) Operate(ctx context.Context, op api.Operation) (api.Outcome, error) {
	var (
		path string
		body any
	)
	switch {
	case slices.Contains(api.NodeOps(), op.Kind):
		path, body = "/v1/nodes/"+url.PathEscape(op.Node)+"/"+string(op.Kind), struct{}{}
	case op.Kind == api.OpRestart:
		req := api.RestartRequest{}
		if op.Timeout > 0 {
			req.Timeout = op.Timeout.String()
		}
		path, body = "/v1/resources/"+url.PathEscape(op.Resource)+"/restart", req
	case slices.Contains(api.ResourceOps(), op.Kind):
		path, body = "/v1/resources/"+url.PathEscape(op.Resource)+"/"+string(op.Kind), api.TargetRequest{Node: op.Node}
	default:
		return api.Outcome{}, fmt.Errorf("client: unknown operation %q", op.Kind)
	}
	if op.Kind != api.OpRestart && op.Timeout != 0 {
		return api.Outcome{}, errors.New("client: only a restart takes a timeout")
	}
	var out api.Outcome
	err := c.do(ctx, http.MethodPost, path, body, &out)
	return out, err
}

// Command forwards a store command (its JSON) to the leader's POST
// /v1/internal/command. Daemons use it; an operator uses Operate.
func (c *Client) Command(ctx context.Context, command json.RawMessage) error {
	var ok map[string]bool
	return c.do(ctx, http.MethodPost, "/v1/internal/command", command, &ok)
}
