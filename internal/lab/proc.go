package lab

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// netnsDir is where iproute2 mounts named network namespaces.
const netnsDir = "/run/netns"

// nsID identifies a network namespace by its nsfs inode.
type nsID struct{ dev, ino uint64 }

func statID(path string) (nsID, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nsID{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return nsID{}, fmt.Errorf("stat %s: no inode", path)
	}
	return nsID{dev: st.Dev, ino: st.Ino}, nil
}

// netnsID returns the identity of the named network namespace.
func netnsID(ns string) (nsID, error) { return statID(filepath.Join(netnsDir, ns)) }

// procInfo is what the lab reads from /proc/PID/stat.
type procInfo struct {
	state byte // R, S, D, T, t, Z, X…
	ppid  int
	sid   int
	start uint64 // clock ticks after boot
}

func (p procInfo) dead() bool { return p.state == 'Z' || p.state == 'X' }

func readProc(pid int) (procInfo, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return procInfo{}, err
	}
	// "pid (comm) state ppid pgrp session … starttime(22) …"; comm may hold spaces and parentheses.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 || len(f[0]) != 1 {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: malformed", pid)
	}
	p := procInfo{state: f[0][0]}
	var errs [3]error
	p.ppid, errs[0] = strconv.Atoi(f[1])
	p.sid, errs[1] = strconv.Atoi(f[3])
	p.start, errs[2] = strconv.ParseUint(f[19], 10, 64)
	if err := errors.Join(errs[:]...); err != nil {
		return procInfo{}, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return p, nil
}

// alive reports whether pid is a live (not zombie) process started at start
// (0: unchecked) inside the namespace id.
func alive(pid int, start uint64, id nsID) bool {
	if pid <= 0 {
		return false
	}
	p, err := readProc(pid)
	if err != nil || p.dead() || (start != 0 && p.start != start) {
		return false
	}
	got, err := statID(fmt.Sprintf("/proc/%d/ns/net", pid))
	return err == nil && got == id
}

// proc is a process pinned by a pidfd, so that signals reach it and never a
// later process that reuses its PID.
type proc struct {
	pid   int
	fd    int
	child bool // our child and a session leader: a daemon we spawned, ours to reap
}

// pin opens a pidfd on pid and then checks that it is in namespace id and,
// if start is not 0, started at start. ok is false if it is not (or is gone).
func pin(pid int, start uint64, id nsID) (proc, bool) {
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return proc{}, false
	}
	// Checked after pinning: the pidfd now names this very process.
	p, err := readProc(pid)
	ns, nerr := statID(fmt.Sprintf("/proc/%d/ns/net", pid))
	if err != nil || nerr != nil || ns != id || (start != 0 && p.start != start) {
		unix.Close(fd)
		return proc{}, false
	}
	return proc{pid: pid, fd: fd, child: p.ppid == os.Getpid() && p.sid == pid}, true
}

// pinStarted opens a pidfd on pid, in whatever namespace, if it is a live
// process started at start (not 0: the start time is what tells it from a
// later process that reuses the PID).
func pinStarted(pid int, start uint64) (proc, bool) {
	if pid <= 0 || start == 0 {
		return proc{}, false
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return proc{}, false
	}
	p, err := readProc(pid)
	if err != nil || p.dead() || p.start != start {
		unix.Close(fd)
		return proc{}, false
	}
	return proc{pid: pid, fd: fd, child: p.ppid == os.Getpid() && p.sid == pid}, true
}

// running reports whether pid is a live (not zombie) process started at
// start (0: unchecked), in whatever namespace.
func running(pid int, start uint64) bool {
	if pid <= 0 {
		return false
	}
	p, err := readProc(pid)
	return err == nil && !p.dead() && (start == 0 || p.start == start)
}

func (p proc) signal(sig unix.Signal) error {
	err := unix.PidfdSendSignal(p.fd, sig, nil, 0)
	if errors.Is(err, unix.ESRCH) {
		return nil // already gone
	}
	if err != nil {
		return fmt.Errorf("signal %d %v: %w", p.pid, sig, err)
	}
	return nil
}

// exited reports whether the process has exited (a zombie counts).
func (p proc) exited() bool {
	fds := []unix.PollFd{{Fd: int32(p.fd), Events: unix.POLLIN}}
	n, err := unix.Poll(fds, 0)
	return err == nil && n > 0
}

// release reaps the process if it is a daemon we spawned and has exited, then
// closes the pidfd.
func (p proc) release() {
	if p.child && p.exited() {
		var info unix.Siginfo
		_ = unix.Waitid(unix.P_PIDFD, p.fd, &info, unix.WEXITED|unix.WNOHANG, nil)
	}
	unix.Close(p.fd)
}

// reapZombie reaps pid if it is a dead daemon we spawned: a zombie that is
// our child and a session leader. Other zombies are left to their parents.
func reapZombie(pid int) {
	if pid <= 0 {
		return
	}
	if p, err := readProc(pid); err == nil && p.state == 'Z' && p.ppid == os.Getpid() && p.sid == pid {
		var ws unix.WaitStatus
		_, _ = unix.Wait4(pid, &ws, unix.WNOHANG, nil)
	}
}

func releaseAll(ps []proc) {
	for _, p := range ps {
		p.release()
	}
}

// procsIn pins every process (but this one) whose network namespace is one of ids.
func procsIn(ids []nsID) []proc {
	if len(ids) == 0 {
		return nil
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	self := os.Getpid()
	var ps []proc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == self {
			continue
		}
		got, err := statID(fmt.Sprintf("/proc/%d/ns/net", pid))
		if err != nil {
			continue // gone, or a zombie (its namespaces are released)
		}
		for _, id := range ids {
			if got == id {
				if p, ok := pin(pid, 0, id); ok {
					ps = append(ps, p)
				}
				break
			}
		}
	}
	return ps
}

// waitExit waits up to d (and while ctx lasts) for every process to exit and
// returns those still running.
func waitExit(ctx context.Context, ps []proc, d time.Duration) []proc {
	const tick = 20 * time.Millisecond
	deadline := time.Now().Add(d)
	for {
		var left []proc
		for _, p := range ps {
			if !p.exited() {
				left = append(left, p)
			}
		}
		if len(left) == 0 || !time.Now().Before(deadline) || ctx.Err() != nil {
			return left
		}
		ps = left
		t := time.NewTimer(min(tick, time.Until(deadline)))
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// terminate ends ps: SIGTERM (with SIGCONT, so that a frozen process sees
// it), up to grace for them to exit, then SIGKILL and up to 2 s more. It
// releases ps and reports the processes that survived.
func terminate(ctx context.Context, ps []proc, grace time.Duration) error {
	defer releaseAll(ps)
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.signal(unix.SIGTERM), p.signal(unix.SIGCONT))
	}
	left := waitExit(ctx, ps, grace)
	return errors.Join(append(errs, kill(ctx, left))...)
}

// kill SIGKILLs ps and waits up to 2 s for them to exit. It does not release ps.
func kill(ctx context.Context, ps []proc) error {
	if len(ps) == 0 {
		return nil
	}
	var errs []error
	for _, p := range ps {
		errs = append(errs, p.signal(unix.SIGKILL))
	}
	// Even after ctx is done: SIGKILL takes effect at once, unless a process
	// sits in uninterruptible sleep.
	left := waitExit(context.WithoutCancel(ctx), ps, 2*time.Second)
	for _, p := range left {
		errs = append(errs, fmt.Errorf("process %d survived SIGKILL", p.pid))
	}
	return errors.Join(errs...)
}
