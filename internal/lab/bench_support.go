package lab

import (
	"context"
	"fmt"
)

// Reset does to a node what a hardware reset does to a machine, short of
// booting it again: it SIGKILLs every process in the node's namespace and
// removes every address there but the node's own lab addresses (a
// floating IP does not survive a reset). Links and nftables rules stay, and
// no daemon is started. Benchmarks use it to clear a node before they run
// another HA stack on it (see internal/bench).
func (l *Lab) Reset(node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	i, err := l.node(node)
	if err != nil {
		return fmt.Errorf("lab %s: reset: %w", l.Name, err)
	}
	if err := l.reset(ctx, l.Nodes[i]); err != nil {
		return fmt.Errorf("lab %s: reset %s: %w", l.Name, node, err)
	}
	l.log.Info("node reset", "node", node)
	return nil
}

// PowerOn brings power back after Kill, as Revive does, but starts no vigil
// daemon: it SIGKILLs every process in the node's namespace, sets its veths
// up and removes every address but its own lab addresses. A benchmark that
// runs another HA stack on the lab nodes starts that stack itself.
func (l *Lab) PowerOn(node string) error {
	ctx, cancel := context.WithTimeout(context.Background(), opTimeout)
	defer cancel()
	l.mu.Lock()
	defer l.mu.Unlock()
	i, err := l.node(node)
	if err != nil {
		return fmt.Errorf("lab %s: power on: %w", l.Name, err)
	}
	n := l.Nodes[i]
	if err := l.killNetns(ctx, n); err != nil {
		return fmt.Errorf("lab %s: power on %s: %w", l.Name, node, err)
	}
	if _, err := l.host.Run(ctx, linkScript(l, node, "up"), "ip", "-batch", "-"); err != nil {
		return fmt.Errorf("lab %s: power on %s: links: %w", l.Name, node, err)
	}
	if err := l.dropStrayAddrs(ctx, n); err != nil {
		return fmt.Errorf("lab %s: power on %s: %w", l.Name, node, err)
	}
	l.log.Info("node powered on", "node", node)
	return nil
}
