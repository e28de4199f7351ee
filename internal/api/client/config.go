package client

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/vigil-ha/vigil/internal/api"
)

// Config fetches GET /v1/config: the configuration version in force.
func (c *Client) Config(ctx context.Context) (api.ConfigInfo, error) {
	var info api.ConfigInfo
	err := c.get(ctx, "/v1/config", &info)
	return info, err
}

// ApplyConfig sends POST /v1/config, with If-Match when req.IfMatch is set.
func (c *Client) ApplyConfig(ctx context.Context, req api.ConfigApply) (api.ConfigApplied, error) {
	var h http.Header
	if req.IfMatch != nil {
		h = http.Header{"If-Match": {strconv.Quote(strconv.FormatUint(*req.IfMatch, 10))}}
	}
	var out api.ConfigApplied
	err := c.doWith(ctx, http.MethodPost, "/v1/config", h, req, &out)
	return out, err
}

// CommitConfig forwards a config change (a store command's JSON) to the
// leader's POST /v1/internal/config.
func (c *Client) CommitConfig(ctx context.Context, change []byte) error {
	var ok map[string]bool
	return c.do(ctx, http.MethodPost, "/v1/internal/config", json.RawMessage(change), &ok)
}

// RetireLease asks the node to retire a generation of a peer's lease, at
// POST /v1/internal/lease/retire; it answers once every grant it made of
// it has certainly ended.
func (c *Client) RetireLease(ctx context.Context, r api.LeaseGen) error {
	var ok map[string]bool
	return c.do(ctx, http.MethodPost, "/v1/internal/lease/retire", r, &ok)
}

// ResetLease sends a node's reset of its lease generation to the leader's
// POST /v1/internal/lease/reset.
func (c *Client) ResetLease(ctx context.Context, r api.LeaseGen) error {
	var ok map[string]bool
	return c.do(ctx, http.MethodPost, "/v1/internal/lease/reset", r, &ok)
}
