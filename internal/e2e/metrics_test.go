package e2e

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// metrics fetches node's /metrics over its unix socket.
func (l *labT) metrics(node string) (string, error) {
	sock := filepath.Join(l.dir, node, "vigil.sock")
	c := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		}}}
	resp, err := c.Get("http://vigil/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET /metrics: %s: %s", resp.Status, b)
	}
	return string(b), err
}

// The metrics are there and change with a fault: after the holder is
// killed, a survivor shows it offline, counts the transition and the
// move, and has observed a failover duration.
func TestMetricsAfterAFault(t *testing.T) {
	l := newLab(t, 3)
	holder := l.answeredBy("the VIP answers", 30*time.Second, func(string) error { return nil })
	asker := others(three, holder)[0]
	before, err := l.metrics(asker)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		fmt.Sprintf(`vigil_node_state{node=%q,state="online"} 1`, holder),
		"vigil_quorum 1",
		`vigil_resource_state{kind="vip",node="` + holder + `",resource="web-ip",state="started"} 1`,
	} {
		if !strings.Contains(before, want) {
			t.Errorf("before the fault, /metrics of %s lacks %s", asker, want)
		}
	}
	l.must("lab", "kill", holder)
	l.eventually("the metrics show the failover", 30*time.Second, func() error {
		m, err := l.metrics(asker)
		if err != nil {
			return err
		}
		for _, want := range []string{
			fmt.Sprintf(`vigil_node_state{node=%q,state="offline"} 1`, holder),
			fmt.Sprintf(`vigil_node_transitions_total{node=%q,to="offline"} 1`, holder),
			`vigil_resource_moves_total{resource="web-ip"} 1`,
			`vigil_failover_duration_seconds_count{resource="web-ip"} 1`,
		} {
			if !strings.Contains(m, want) {
				return fmt.Errorf("no %s", want)
			}
		}
		return nil
	})
}
