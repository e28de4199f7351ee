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

// Renew sends a lease renewal to the leader's POST /v1/internal/renew.
func (c *Client) Renew(ctx context.Context, r api.Renew) error {
	var ok map[string]bool
	return c.do(ctx, http.MethodPost, "/v1/internal/renew", r, &ok)
}
