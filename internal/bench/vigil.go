package bench

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/lab"
)

// Vigil is vigil's own daemons on a lab that runs the demo group "web"
// (`vigil lab up`): the floating IP web-ip, then web-server. A node kill is
// Lab.Kill and then Lab.Revive; a daemon kill is SIGKILL of the holder's
// daemon and then Lab.Revive; a service kill is SIGKILL of web-server on
// the holder, which the executor restarts in place, and then `vigil
// resource cleanup web-server`, so that the failures never reach the
// group's migration-threshold.
type Vigil struct {
	Lab *lab.Lab
	// SettleLimit bounds Ready; default 90s.
	SettleLimit time.Duration
}

var _ System = (*Vigil)(nil)

// The demo's resources, as `vigil lab up` configures them.
const (
	demoIP      = "web-ip"
	demoService = "web-server"
)

// Name returns "vigil".
func (v *Vigil) Name() string { return "vigil" }

// Ready waits until, for a whole second, every node answers with quorum
// and the same leader, counts every node online as committed, and lists
// web-ip and web-server started on one node; it returns that node.
func (v *Vigil) Ready(ctx context.Context) (string, error) {
	limit := v.SettleLimit
	if limit == 0 {
		limit = 90 * time.Second
	}
	deadline := time.Now().Add(limit)
	var since time.Time
	var why error
	for time.Now().Before(deadline) {
		var on string
		on, why = v.settled(ctx)
		switch {
		case why != nil:
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= time.Second:
			return on, nil
		}
		if err := sleep(ctx, 100*time.Millisecond); err != nil {
			return "", err
		}
	}
	return "", fmt.Errorf("vigil did not settle within %s: %v\n%s", limit, why, v.Logs())
}

func (v *Vigil) settled(ctx context.Context) (string, error) {
	nodes := v.Lab.Status()
	leader, on := "", ""
	for _, n := range nodes {
		if n.PID == 0 {
			return "", fmt.Errorf("%s: daemon not running", n.Name)
		}
		s, err := v.status(ctx, n.Name)
		if err != nil {
			return "", fmt.Errorf("status of %s: %w", n.Name, err)
		}
		if !s.Quorum || s.Leader == "" || (leader != "" && s.Leader != leader) {
			return "", fmt.Errorf("%s: quorum %v, leader %q (others: %q)", n.Name, s.Quorum, s.Leader, leader)
		}
		leader = s.Leader
		for _, m := range nodes {
			i := slices.IndexFunc(s.Nodes, func(x api.Node) bool { return x.Name == m.Name })
			if i < 0 || s.Nodes[i].Committed != "online" {
				return "", fmt.Errorf("%s: %s is not committed online", n.Name, m.Name)
			}
		}
		for _, id := range []string{demoIP, demoService} {
			i := slices.IndexFunc(s.Resources, func(r api.Resource) bool { return r.ID == id })
			if i < 0 {
				return "", fmt.Errorf("%s does not list %s: is this a demo lab (vigil lab up)?", n.Name, id)
			}
			r := s.Resources[i]
			if on == "" {
				on = r.Node
			}
			if r.State != "started" || r.Node != on || r.Target != on {
				return "", fmt.Errorf("%s: %s is %s on %q, target %q; want started on %q", n.Name, id, r.State, r.Node, r.Target, on)
			}
		}
	}
	if on == "" {
		return "", fmt.Errorf("lab %s has no nodes", v.Lab.Name)
	}
	return on, nil
}

func (v *Vigil) status(ctx context.Context, node string) (api.Status, error) {
	c, err := client.New(client.Config{Socket: v.Lab.SocketPath(node), Timeout: time.Second})
	if err != nil {
		return api.Status{}, err
	}
	defer c.Close()
	return c.Status(ctx)
}

// Inject does f to node.
func (v *Vigil) Inject(_ context.Context, f Fault, node string) error {
	switch f {
	case NodeKill:
		return v.Lab.Kill(node)
	case DaemonKill:
		n, err := v.Lab.Node(node)
		if err != nil {
			return err
		}
		if n.PID == 0 {
			return fmt.Errorf("the daemon of %s is not running", node)
		}
		start, err := startTime(n.PID)
		if err != nil {
			return fmt.Errorf("the daemon of %s: %w", node, err)
		}
		return signalPID(n.PID, start, unix.SIGKILL)
	case ServiceKill:
		n, err := v.Lab.Node(node)
		if err != nil {
			return err
		}
		return KillService(filepath.Join(n.Dir, "data", "exec", demoService+".pid"))
	}
	return fmt.Errorf("vigil: no fault %q", f)
}

// Recover reboots node after a node or daemon kill, and clears the
// service's failures after a service kill once it runs again.
func (v *Vigil) Recover(ctx context.Context, f Fault, node string) error {
	switch f {
	case NodeKill, DaemonKill:
		return v.Lab.Revive(node)
	case ServiceKill:
		if _, err := v.Ready(ctx); err != nil {
			return err
		}
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		cmd, err := v.Lab.Command(cctx, node, v.Lab.Binary, "resource", "cleanup", demoService)
		if err != nil {
			return err
		}
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("vigil resource cleanup %s on %s: %w: %s", demoService, node, err, strings.TrimSpace(string(out)))
		}
		return nil
	}
	return fmt.Errorf("vigil: no fault %q", f)
}

// Moves: after a node or daemon kill another node must answer; after a
// service kill the same node restarts it.
func (v *Vigil) Moves(f Fault) bool { return f != ServiceKill }

// Logs is the tail of every node's daemon log.
func (v *Vigil) Logs() string {
	var b strings.Builder
	for _, n := range v.Lab.Nodes {
		fmt.Fprintf(&b, "--- %s (%s) ---\n%s", n.Name, v.Lab.LogPath(n.Name), v.Lab.LogTail(n.Name, 15))
	}
	return b.String()
}
