// Package client is the Go client of vigil's HTTP API, over the local unix
// socket or a node's HTTP address with a token. The CLI and the lab use it.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// Config says how to reach a daemon: Socket, or URL (with Token).
type Config struct {
	Socket  string        // path of the daemon's unix socket
	URL     string        // e.g. http://198.18.0.1:5407, used when Socket is ""
	Token   string        // bearer token for URL
	Timeout time.Duration // per request; default 5s
	// TLS, for an https URL: the client certificate and the cluster CA
	// it trusts (pki.ClientConfig). Nil: the system's defaults.
	TLS *tls.Config
}

// Client talks to one daemon. It is safe for concurrent use.
type Client struct {
	base  string
	token string
	http  *http.Client
	where string
}

// ErrUnreachable wraps every failure to reach the daemon at all (as opposed
// to an answer that is an error), so the CLI can say "is it running?".
var ErrUnreachable = errors.New("daemon unreachable")

// New returns a client for cfg.
func New(cfg Config) (*Client, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 5 * time.Second
	}
	c := &Client{token: cfg.Token, http: &http.Client{Timeout: cfg.Timeout}}
	switch {
	case cfg.Socket != "":
		sock := cfg.Socket
		c.base, c.where = "http://vigil", sock
		c.http.Transport = &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}
	case cfg.URL != "":
		c.base, c.where = strings.TrimRight(cfg.URL, "/"), cfg.URL
		c.http.Transport = &http.Transport{TLSClientConfig: cfg.TLS}
	default:
		return nil, errors.New("client: neither a socket nor a URL")
	}
	return c, nil
}

// Where is the socket path or URL the client talks to.
func (c *Client) Where() string { return c.where }

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Status fetches GET /v1/status.
func (c *Client) Status(ctx context.Context) (api.Status, error) {
	var s api.Status
	err := c.get(ctx, "/v1/status", &s)
	return s, err
}

// RaftState fetches GET /v1/raft/state.
func (c *Client) RaftState(ctx context.Context) (api.RaftState, error) {
	var s api.RaftState
	err := c.get(ctx, "/v1/raft/state", &s)
	return s, err
}

// Report sends an executor's report (POST /v1/internal/report).
func (c *Client) Report(ctx context.Context, r api.Report) error {
	var ok map[string]bool
	return c.do(ctx, http.MethodPost, "/v1/internal/report", r, &ok)
}

func (c *Client) get(ctx context.Context, path string, out any) error {
	return c.do(ctx, http.MethodGet, path, nil, out)
}

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	return c.doWith(ctx, method, path, nil, in, out)
}

// doWith is do with extra request headers.
func (c *Client) doWith(ctx context.Context, method, path string, header http.Header, in, out any) error {
	var reqBody io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		reqBody = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, reqBody)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.where, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		e := &api.Error{}
		if json.Unmarshal(body, e) != nil || e.Message == "" {
			e = &api.Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
		}
		return e
	}
	if err := json.Unmarshal(body, out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
