package daemon

import (
	"context"
	"errors"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
)

// onLinks calls call with a client of each of nd's API addresses in turn,
// with the cluster token, until one answers. It returns nil on success;
// the *api.Error of an answer that refused (another link would hear the
// same); or, if no link answered, every link's failure joined. It stops
// early when ctx ends. Every caller here sends to the leader what it must
// commit: reports, renewals, operator commands and config changes.
func onLinks(ctx context.Context, nd model.Node, port uint16, token string, timeout time.Duration,
	call func(context.Context, *client.Client) error) error {
	var errs []error
	for _, a := range nd.Addresses {
		c, err := client.New(client.Config{URL: apiURL(a, port), Token: token, Timeout: timeout})
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
