package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// post POSTs body to w's webhook once, within ctx. No error it returns
// holds the URL's userinfo or query, or a header.
func (r *Runner) post(ctx context.Context, w *worker, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.alert.Webhook, bytes.NewReader(body))
	if err != nil { // New checked the URL; the message may hold it
		return &permanentError{fmt.Errorf("POST %s: invalid request", w.target)}
	}
	for k, v := range w.alert.Headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "vigil-alert")
	resp, err := r.client.Do(req)
	if err != nil {
		if ue := (*url.Error)(nil); errors.As(err, &ue) {
			err = ue.Err // its message holds the whole URL
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("POST %s: timed out after %v", w.target, w.alert.Timeout)
		}
		return fmt.Errorf("POST %s: %w", w.target, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code <= 299:
		return nil
	case code >= 500 || code == http.StatusTooManyRequests:
		return fmt.Errorf("POST %s: %s", w.target, resp.Status)
	default:
		return &permanentError{fmt.Errorf("POST %s: %s (not retried)", w.target, resp.Status)}
	}
}
