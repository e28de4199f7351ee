package client

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// Events returns the events q selects, oldest first (GET /v1/events).
func (c *Client) Events(ctx context.Context, q api.EventQuery) ([]api.Event, error) {
	v := url.Values{}
	if q.After > 0 {
		v.Set("after", strconv.FormatUint(q.After, 10))
	}
	if !q.Since.IsZero() {
		v.Set("since", q.Since.UTC().Format(time.RFC3339))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	path := "/v1/events"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	var out api.Events
	err := c.get(ctx, path, &out)
	return out.Events, err
}

// Stream follows GET /v1/stream until ctx ends or the daemon closes it,
// calling onEvent for each new event and onStatus (if not nil) for each
// status. It returns nil when ctx ends.
func (c *Client) Stream(ctx context.Context, onEvent func(api.Event), onStatus func(api.Status)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/stream", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "text/event-stream")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	// No overall timeout: a stream lasts as long as it is followed.
	resp, err := (&http.Client{Transport: c.http.Transport}).Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("%w at %s: %v", ErrUnreachable, c.where, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		e := &api.Error{}
		if json.Unmarshal(body, e) != nil || e.Message == "" {
			e = &api.Error{Status: resp.StatusCode, Message: strings.TrimSpace(string(body))}
		}
		return e
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	var kind string
	var data []string
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if err := dispatch(kind, strings.Join(data, "\n"), onEvent, onStatus); err != nil {
				return err
			}
			kind, data = "", nil
		case strings.HasPrefix(line, "event:"):
			kind = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:"):
			data = append(data, strings.TrimPrefix(strings.TrimPrefix(line, "data:"), " "))
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("stream from %s: %w", c.where, err)
	}
	return fmt.Errorf("%w at %s: the stream ended", ErrUnreachable, c.where)
}

func dispatch(kind, data string, onEvent func(api.Event), onStatus func(api.Status)) error {
	switch {
	case kind == "event" && onEvent != nil:
		var e api.Event
		if err := json.Unmarshal([]byte(data), &e); err != nil {
			return fmt.Errorf("stream: bad event: %w", err)
		}
		onEvent(e)
	case kind == "status" && onStatus != nil:
		var s api.Status
		if err := json.Unmarshal([]byte(data), &s); err != nil {
			return fmt.Errorf("stream: bad status: %w", err)
		}
		onStatus(s)
	}
	return nil
}
