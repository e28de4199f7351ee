// Package exec supervises one long-running child process per resource of
// kind "exec": it starts a /bin/sh -c command line in a process group of
// its own, with its output appended to a log file, waits until its health
// checks pass, and stops the whole group with a signal, then SIGKILL.
//
// A pid file (<StateDir>/<id>.pid: PID, start time from /proc/PID/stat and
// the kernel boot ID) ties a resource to its process across daemon
// restarts: a new Agent on the same StateDir adopts a process the previous
// daemon started (Monitor sees it, Start does not start a second one, Stop
// stops it), and a PID reused by another process, or a reboot, is never
// taken for it.
//
// Parameters:
//
//	command            required  run with /bin/sh -c (use "exec prog …" so the
//	                             process is the program, not a shell)
//	user               optional  user name or uid to run as (and its groups)
//	dir                /         working directory, absolute
//	env                optional  "K=V,K2=V2" added to PATH, HOME, USER, LOGNAME
//	                             and VIGIL_RESOURCE (values cannot hold commas)
//	check_http         optional  URL; a GET must answer check_http_status
//	check_http_status  200
//	check_tcp          optional  host:port that must accept a connection
//	check_command      optional  /bin/sh -c command, run as the service; exit 0
//	                             is healthy
//	stop_signal        TERM      TERM, SIGTERM or a number
//	stop_grace         10s       then SIGKILL to the process group
//	start_settle       200ms     without checks: how long the process must stay
//	                             up for Start to succeed
//
// With several checks, all must pass. Checks bound Start (it returns once
// they pass) and Monitor (a failing check is Failed, with its reason).
package exec

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	osexec "os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
)

// Config configures an Agent. Zero fields take the documented defaults.
type Config struct {
	// StateDir holds each resource's pid file and log (<id>.pid,
	// <id>.log). It must survive a daemon restart for adoption to work.
	// Default DefaultStateDir. Created when a resource starts.
	StateDir string
	// Log receives starts, stops and SIGKILL escalations. Default: discard.
	Log *slog.Logger
}

// DefaultStateDir is Config.StateDir's default.
const DefaultStateDir = "/var/lib/vigil/exec"

// defaultOpTimeout bounds an operation whose context has no deadline and
// whose resource sets no timeout for it: model.Ops's documented default.
const defaultOpTimeout = 20 * time.Second

// Bounds of the waits.
const (
	// checkAttemptTimeout bounds one round of health checks while starting.
	checkAttemptTimeout = 5 * time.Second
	// killWait is how long Stop waits for a process group to die after
	// SIGKILL, even past its context: SIGKILL is not refused, only slowed
	// (a process in uninterruptible sleep).
	killWait = 2 * time.Second
	// reapWait is how long Monitor waits for this daemon's reaper to
	// collect the status of a child that has just exited.
	reapWait = 200 * time.Millisecond
)

// Agent runs exec resources. It implements agent.Agent and is safe for
// concurrent use. It reaps the processes it starts: one goroutine per
// child waits for it and records how it ended; that goroutine lives
// exactly as long as the child. A child outlives the Agent (and the
// daemon): that is what lets the next daemon adopt it.
type Agent struct {
	stateDir string
	boot     string // this boot's ID
	log      *slog.Logger
	http     *http.Client

	mu       sync.Mutex
	children map[model.ResourceID]*child
	// seen holds, per resource, the process this Agent last saw alive
	// (started or adopted): only its end is a failure.
	seen map[model.ResourceID]pidfile
}

// child is a process this Agent started.
type child struct {
	pid   int
	start uint64
	done  chan struct{} // closed once reaped
	// status says how it ended ("exited with status 3"); set before done
	// is closed.
	status string
}

// New returns an Agent for cfg, or an error naming every impossible field.
func New(cfg Config) (*Agent, error) {
	a := &Agent{
		stateDir: cfg.StateDir,
		log:      cfg.Log,
		http:     newHTTPClient(),
		children: make(map[model.ResourceID]*child),
		seen:     make(map[model.ResourceID]pidfile),
	}
	if a.stateDir == "" {
		a.stateDir = DefaultStateDir
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	if !filepath.IsAbs(a.stateDir) {
		return nil, fmt.Errorf("exec config: StateDir %q is not an absolute path", a.stateDir)
	}
	a.stateDir = filepath.Clean(a.stateDir)
	boot, err := readBootID()
	if err != nil {
		return nil, fmt.Errorf("exec config: boot id: %w", err)
	}
	a.boot = boot
	return a, nil
}

// Validate checks r's parameters, naming every problem. It does not look
// at the node: an unknown user or a missing directory is Start's error.
func (a *Agent) Validate(r model.Resource) error {
	_, err := a.parse(r)
	return err
}

func (a *Agent) parse(r model.Resource) (spec, error) {
	s, err := parse(r.Params)
	if !validID(string(r.ID)) {
		err = errors.Join(fmt.Errorf("resource id %q cannot name a pid file (letters, digits, '.', '_', '-')", r.ID), err)
	}
	return s, err
}

// path is the state file of id with the given extension.
func (a *Agent) path(id model.ResourceID, ext string) string {
	return filepath.Join(a.stateDir, string(id)+ext)
}

// Start runs r's command and returns once its health checks pass (or,
// with none, once it has stayed up for start_settle). If the process exits
// first, or ctx ends first, its process group is killed and Start fails,
// quoting the end of its log. Starting a resource whose process runs
// (started by this daemon or a previous one) is nil.
func (a *Agent) Start(ctx context.Context, r model.Resource) error {
	s, err := a.parse(r)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	ctx, cancel := opContext(ctx, r.Ops.StartTimeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s: not started: %w", r.ID, err)
	}
	pidPath := a.path(r.ID, ".pid")
	switch pf, err := readPidfile(pidPath); {
	case err == nil:
		l, err := pf.check(a.boot)
		if err != nil {
			return fmt.Errorf("start %s: %w", r.ID, err)
		}
		if l == alive {
			a.watch(r.ID, pf) // adopted from an earlier daemon
			return nil
		}
		if l == exited {
			if m, _ := groupMembers(pf.pid); len(m) > 0 {
				return fmt.Errorf("start %s: process group %d of the previous run still has processes %v; stop it first", r.ID, pf.pid, m)
			}
		}
		if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("start %s: stale pid file: %w", r.ID, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	cred, env, err := identity(r.ID, s)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	c, logOff, err := a.spawn(r.ID, s, cred, env)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	if err := a.awaitReady(ctx, s, c, env, cred); err != nil {
		a.killNow(r.ID, c)
		if rerr := os.Remove(pidPath); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
			err = errors.Join(err, rerr)
		}
		a.forget(r.ID, c)
		if t := a.logTail(r.ID, logOff); t != "" {
			err = fmt.Errorf("%w; log: %s", err, t)
		}
		a.log.Warn("exec start failed", "resource", r.ID, "pid", c.pid, "err", err)
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	return nil
}

// spawn starts s's command for id, writes its pid file and starts its
// reaper. It returns the child and the offset in the log where this run's
// output begins.
func (a *Agent) spawn(id model.ResourceID, s spec, cred *syscall.Credential, env []string) (*child, int64, error) {
	if err := os.MkdirAll(a.stateDir, 0o750); err != nil {
		return nil, 0, fmt.Errorf("state directory: %w", err)
	}
	logf, err := os.OpenFile(a.path(id, ".log"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return nil, 0, fmt.Errorf("log: %w", err)
	}
	defer logf.Close() // the child has its own copy
	fmt.Fprintf(logf, "--- vigil: starting %s at %s\n", id, time.Now().Format(time.RFC3339))
	off, _ := logf.Seek(0, io.SeekEnd)

	// The log is a file, not a pipe: no copying goroutine, and the
	// process does not depend on vigil to write its output.
	cmd := osexec.Command("/bin/sh", "-c", s.command)
	cmd.Env = env
	cmd.Dir = dirOf(s)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		return nil, 0, fmt.Errorf("run /bin/sh -c: %w", err)
	}
	pid := cmd.Process.Pid
	// Not reaped yet, so the stat is there even if it already exited.
	st, err := readStat(pid)
	c := &child{pid: pid, start: st.start, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		c.status = "ended"
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok {
			c.status = describe(ws)
		}
		close(c.done)
	}()
	if err == nil {
		err = writePidfile(a.path(id, ".pid"), pidfile{pid: pid, start: st.start, boot: a.boot})
	}
	if err != nil {
		_ = syscall.Kill(-pid, syscall.SIGKILL)
		<-c.done
		return nil, 0, fmt.Errorf("pid file: %w", err)
	}
	a.mu.Lock()
	a.children[id] = c
	a.mu.Unlock()
	a.log.Info("exec started", "resource", id, "pid", pid)
	return c, off, nil
}

// awaitReady waits until s's checks pass, or, with none, until the
// process has stayed up for start_settle. It fails if the process exits
// first or ctx ends (ctx always has a deadline).
func (a *Agent) awaitReady(ctx context.Context, s spec, c *child, env []string, cred *syscall.Credential) error {
	exited := func(when string) error { return fmt.Errorf("process %d %s %s", c.pid, c.status, when) }
	if !s.hasChecks() {
		t := time.NewTimer(s.startSettle)
		defer t.Stop()
		select {
		case <-c.done:
			return exited("within start_settle " + s.startSettle.String())
		case <-ctx.Done():
			return fmt.Errorf("process %d not settled: %w", c.pid, ctx.Err())
		case <-t.C:
		}
		select {
		case <-c.done:
			return exited("within start_settle " + s.startSettle.String())
		default:
			return nil
		}
	}
	// Checks are cheap next to a failover: the first retries come soon,
	// since a service typically listens within milliseconds of its exec.
	poll := 10 * time.Millisecond
	for range 10000 { // ctx's deadline ends it first
		actx, cancel := context.WithTimeout(ctx, checkAttemptTimeout)
		err := a.checks(actx, s, env, cred)
		cancel()
		select {
		case <-c.done:
			return exited("during start")
		default:
		}
		if err == nil {
			return nil
		}
		t := time.NewTimer(poll)
		select {
		case <-c.done:
			t.Stop()
			return exited("during start")
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("health checks did not pass in time (last: %v): %w", err, ctx.Err())
		case <-t.C:
		}
		poll = min(2*poll, time.Second)
	}
	return errors.New("health checks never passed")
}

// killNow SIGKILLs c's process group and waits (bounded) for c to be
// reaped.
func (a *Agent) killNow(id model.ResourceID, c *child) {
	_ = syscall.Kill(-c.pid, syscall.SIGKILL)
	t := time.NewTimer(killWait)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		a.log.Warn("exec process survives SIGKILL", "resource", id, "pid", c.pid)
	}
}

// forget drops c from the children, if it is still id's.
func (a *Agent) forget(id model.ResourceID, c *child) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.children[id] == c {
		delete(a.children, id)
	}
}

// logTail returns the end of what id's log holds from offset off.
func (a *Agent) logTail(id model.ResourceID, off int64) string {
	f, err := os.Open(a.path(id, ".log"))
	if err != nil {
		return ""
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() <= off {
		return ""
	}
	from := max(off, fi.Size()-4096)
	b, _ := io.ReadAll(io.NewSectionReader(f, from, fi.Size()-from))
	return agent.OutputTail(b)
}

// Stop sends stop_signal to r's process group, waits up to stop_grace
// (bounded by ctx) for every process in it to exit, then SIGKILLs the
// group and waits up to killWait more (even past ctx). It then removes the
// pid file. With no pid file, or a process already gone, Stop is nil.
// Parameters that no longer parse do not prevent a stop: the defaults
// (TERM, 10s) are used.
func (a *Agent) Stop(ctx context.Context, r model.Resource) error {
	if !validID(string(r.ID)) {
		return fmt.Errorf("stop %s: resource id cannot name a pid file", r.ID)
	}
	ctx, cancel := opContext(ctx, r.Ops.StopTimeout)
	defer cancel()
	sig, grace := DefaultStopSignal, DefaultStopGrace
	if s, err := parse(r.Params); err == nil {
		sig, grace = s.stopSignal, s.stopGrace
	} else {
		a.log.Warn("exec stop with the default signal and grace: bad parameters", "resource", r.ID, "err", err)
	}
	pidPath := a.path(r.ID, ".pid")
	pf, err := readPidfile(pidPath)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	l, err := pf.check(a.boot)
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	if l != replaced {
		if err := a.terminate(ctx, r.ID, pf.pid, sig, grace); err != nil {
			return fmt.Errorf("stop %s: %w", r.ID, err)
		}
	}
	if err := os.Remove(pidPath); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	a.mu.Lock()
	delete(a.children, r.ID)
	delete(a.seen, r.ID)
	a.mu.Unlock()
	return nil
}

// terminate empties process group pgid: sig, up to grace, then SIGKILL.
func (a *Agent) terminate(ctx context.Context, id model.ResourceID, pgid int, sig syscall.Signal, grace time.Duration) error {
	members, err := groupMembers(pgid)
	if err != nil {
		return fmt.Errorf("process group %d: %w", pgid, err)
	}
	if len(members) == 0 {
		return nil
	}
	if err := syscall.Kill(-pgid, sig); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("signal process group %d: %w", pgid, err)
	}
	if waitEmpty(ctx, pgid, grace) {
		a.log.Info("exec stopped", "resource", id, "pgid", pgid, "signal", signalName(sig))
		return nil
	}
	left, _ := groupMembers(pgid)
	a.log.Warn("exec stop escalated to SIGKILL", "resource", id, "pgid", pgid,
		"signal", signalName(sig), "grace", grace, "survivors", left)
	if err := syscall.Kill(-pgid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill process group %d: %w", pgid, err)
	}
	if waitEmpty(context.Background(), pgid, killWait) {
		return nil
	}
	left, _ = groupMembers(pgid)
	return fmt.Errorf("process group %d still has processes %v %s after SIGKILL", pgid, left, killWait)
}

// waitEmpty waits up to d, or until ctx ends, for group pgid to have no
// live member, and reports whether it has none.
func waitEmpty(ctx context.Context, pgid int, d time.Duration) bool {
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	poll := 10 * time.Millisecond
	for range 100000 { // the deadline ends it first
		if m, err := groupMembers(pgid); err == nil && len(m) == 0 {
			return true
		}
		t := time.NewTimer(poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return false
		case <-deadline.C:
			t.Stop()
			m, err := groupMembers(pgid)
			return err == nil && len(m) == 0
		case <-t.C:
		}
		poll = min(2*poll, 100*time.Millisecond)
	}
	return false
}

// Monitor reports Stopped when r has no pid file, Failed when its process
// is gone though its pid file says it should run ("exited with status N"
// when this daemon reaped it) or when a health check fails, and Running
// otherwise. It never changes anything (a dead process's pid file stays
// until Stop).
func (a *Agent) Monitor(ctx context.Context, r model.Resource) (model.Health, error) {
	s, err := a.parse(r)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	ctx, cancel := opContext(ctx, r.Ops.MonitorTimeout)
	defer cancel()
	pf, err := readPidfile(a.path(r.ID, ".pid"))
	if errors.Is(err, os.ErrNotExist) {
		return model.HealthStopped, nil
	}
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	l, err := pf.check(a.boot)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	if l != alive {
		if !a.watched(r.ID, pf) {
			// A pid file of a run this Agent never saw alive: the process
			// ended while no daemon watched, or before the node rebooted.
			// Nothing runs, and nothing failed under our eyes: stopped, as
			// a Pacemaker probe says "not running". Start clears the file.
			return model.HealthStopped, nil
		}
		return model.HealthFailed, fmt.Errorf("monitor %s: %s", r.ID, a.goneReason(r.ID, pf, l))
	}
	a.watch(r.ID, pf)
	if s.hasChecks() {
		cred, env, err := identity(r.ID, s)
		if err != nil {
			return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
		}
		if err := a.checks(ctx, s, env, cred); err != nil {
			return model.HealthFailed, fmt.Errorf("monitor %s: process %d runs but %w", r.ID, pf.pid, err)
		}
	}
	return model.HealthRunning, nil
}

// watch records that pf's process was seen alive as id's.
func (a *Agent) watch(id model.ResourceID, pf pidfile) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.seen[id] = pf
}

// watched reports whether this Agent started pf's process for id or saw it
// alive: then its end is a failure, not a leftover.
func (a *Agent) watched(id model.ResourceID, pf pidfile) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	c := a.children[id]
	s, ok := a.seen[id]
	return (c != nil && c.pid == pf.pid && c.start == pf.start) || (ok && s.pid == pf.pid && s.start == pf.start)
}

// goneReason says what became of the process of pf.
func (a *Agent) goneReason(id model.ResourceID, pf pidfile, l liveness) string {
	a.mu.Lock()
	c := a.children[id]
	a.mu.Unlock()
	if c != nil && c.pid == pf.pid && c.start == pf.start {
		t := time.NewTimer(reapWait)
		defer t.Stop()
		select {
		case <-c.done:
			return fmt.Sprintf("process %d %s", pf.pid, c.status)
		case <-t.C:
		}
	}
	if l == replaced {
		return fmt.Sprintf("process %d is gone (its PID now belongs to another process)", pf.pid)
	}
	return fmt.Sprintf("process %d is gone (exit status unknown: not started by this daemon)", pf.pid)
}

// identity returns the credentials and environment r's processes run
// with. Nothing comes from vigil's own environment.
func identity(id model.ResourceID, s spec) (*syscall.Credential, []string, error) {
	env := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "VIGIL_RESOURCE=" + string(id)}
	var cred *syscall.Credential
	var u *user.User
	if s.user == "" {
		u, _ = user.LookupId(strconv.Itoa(os.Getuid())) // for HOME; optional
	} else {
		var err error
		if _, nerr := strconv.Atoi(s.user); nerr == nil {
			u, err = user.LookupId(s.user)
		} else {
			u, err = user.Lookup(s.user)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("params.user: %w", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("params.user: %s has uid %q, gid %q", s.user, u.Uid, u.Gid)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		gids, _ := u.GroupIds()
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	if u != nil {
		env = append(env, "HOME="+u.HomeDir, "USER="+u.Username, "LOGNAME="+u.Username)
	}
	env = append(env, s.env...) // later entries win
	return cred, env, nil
}

func dirOf(s spec) string {
	if s.dir == "" {
		return "/"
	}
	return s.dir
}

func signalName(sig syscall.Signal) string {
	if n := unix.SignalName(sig); n != "" {
		return n
	}
	return strconv.Itoa(int(sig))
}

// opContext gives ctx a deadline if it has none: the resource's timeout
// for the operation, or defaultOpTimeout. No operation is unbounded.
func opContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	if d <= 0 {
		d = defaultOpTimeout
	}
	return context.WithTimeout(ctx, d)
}
