package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
)

// dialer makes this node's clients of its peers' APIs: over https with
// this node's certificate when the API takes TLS, with the cluster token.
type dialer struct {
	port  uint16
	token string
	tls   map[model.NodeID]*tls.Config // per peer; nil: plain HTTP
}

// newDialer reads the certificates node-to-node calls need, once.
func newDialer(cfg model.Config, self model.NodeID, token string) (dialer, error) {
	d := dialer{port: cfg.Ports.API, token: token}
	for _, nd := range cfg.Nodes {
		if nd.Name == self {
			continue
		}
		c, err := api.ClientTLS(cfg.API, string(self), string(nd.Name))
		if err != nil {
			return dialer{}, err
		}
		if c != nil {
			if d.tls == nil {
				d.tls = map[model.NodeID]*tls.Config{}
			}
			d.tls[nd.Name] = c
		}
	}
	return d, nil
}

// url is the API of peer on its address a.
func (d dialer) url(peer model.NodeID, a netip.Addr) string {
	scheme := "http://"
	if d.tls[peer] != nil {
		scheme = "https://"
	}
	return scheme + net.JoinHostPort(a.String(), strconv.Itoa(int(d.port)))
}

// client is a client of peer's API on its address a.
func (d dialer) client(peer model.NodeID, a netip.Addr, timeout time.Duration) (*client.Client, error) {
	return client.New(client.Config{URL: d.url(peer, a), Token: d.token, Timeout: timeout, TLS: d.tls[peer]})
}

// onLinks calls call with a client of each of nd's API addresses in turn,
// until one answers. It returns nil on success; the *api.Error of an
// answer that refused (another link would hear the same); or, if no link
// answered, every link's failure joined. It stops early when ctx ends.
// Every caller here sends to the leader what it must commit: reports,
// operator commands and config changes.
func onLinks(ctx context.Context, nd model.Node, d dialer, timeout time.Duration,
	call func(context.Context, *client.Client) error) error {
	var errs []error
	for _, a := range nd.Addresses {
		c, err := d.client(nd.Name, a, timeout)
		if err != nil {
			return err
		}
		err = call(ctx, c)
		c.Close()
		if err == nil {
			return nil
		}
		var apiErr *api.Error
		if errors.As(err, &apiErr) {
			return apiErr
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// onAllLinks calls call with a client of each of nd's API addresses at
// once, and returns nil as soon as one succeeds (which cancels the
// others), or every link's failure joined. It is for calls that must not
// wait on a lossy link while another works: a lease's reset and takeover.
func onAllLinks(ctx context.Context, nd model.Node, d dialer, timeout time.Duration,
	call func(context.Context, *client.Client) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make(chan error, len(nd.Addresses))
	for _, a := range nd.Addresses {
		c, err := d.client(nd.Name, a, timeout)
		if err != nil {
			return err
		}
		defer c.Close()
		go func() { errs <- call(ctx, c) }()
	}
	var all []error
	for range nd.Addresses {
		err := <-errs
		if err == nil {
			return nil
		}
		all = append(all, err)
	}
	return fmt.Errorf("%s: %w", nd.Name, errors.Join(all...))
}
