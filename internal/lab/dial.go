package lab

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// Dial connects over TCP to address (a literal IP:port) from inside the
// network namespace of node ("client" for the client namespace), as a
// process in it would, so that a program on the host reaches the lab's
// addresses. The connection stays in that namespace; this process and its
// other goroutines stay where they are. It blocks until connected, ctx is
// done or the dial fails, and is safe for concurrent use.
func (l *Lab) Dial(ctx context.Context, node, address string) (net.Conn, error) {
	// A literal address: a name would be resolved by goroutines, on
	// threads, outside the namespace.
	if _, err := netip.ParseAddrPort(address); err != nil {
		return nil, fmt.Errorf("lab %s: dial %s from %s: want IP:PORT: %w", l.Name, address, node, err)
	}
	ns, err := l.netns(node)
	if err != nil {
		return nil, fmt.Errorf("lab %s: dial %s: %w", l.Name, address, err)
	}
	var c net.Conn
	err = inNetns(ns, func() error {
		var d net.Dialer
		var err error
		c, err = d.DialContext(ctx, "tcp", address)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("lab %s: dial %s from %s: %w", l.Name, address, node, err)
	}
	return c, nil
}

// inNetns runs f on an OS thread of its own that has entered the named
// network namespace, and waits for it. Sockets that f creates belong to
// that namespace for their whole life. The thread returns to this
// process's namespace after f; if it cannot, it stays locked and ends with
// its goroutine, so no other goroutine ever runs in the namespace. (Go
// starts new threads from a clean template thread, never from a locked
// one, so none inherits the namespace.)
func inNetns(ns string, f func() error) error {
	target, err := os.Open(filepath.Join(netnsDir, ns))
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", ns, err)
	}
	defer target.Close()
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		back, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("this thread's network namespace: %w", err)
			return
		}
		defer back.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("enter network namespace %s: %w", ns, err)
			return
		}
		ferr := f()
		if err := unix.Setns(int(back.Fd()), unix.CLONE_NEWNET); err != nil {
			// Still in ns: the thread stays locked and exits with us.
			done <- ferr
			return
		}
		runtime.UnlockOSThread()
		done <- ferr
	}()
	return <-done
}
