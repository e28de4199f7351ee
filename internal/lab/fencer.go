package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The lab's fencing device. A real cluster fences a node through its
// power switch or BMC with a fence agent from Debian's fence-agents
// (fence_ipmilan…); the lab gives its cluster one such agent of its own,
// DIR/fence_vigil_lab, written by Up, that runs `vigil lab --name NAME
// fence-agent` and speaks the same protocol, so that the daemons fence lab
// nodes through the very code path (internal/fence) that drives
// fence_ipmilan.
//
// Protocol (fence-agents'): key=value lines on standard input; blank
// lines and lines starting with # are skipped; unknown keys are ignored
// with a warning; a value in double quotes loses them. action (alias
// option) is off, on, reboot, status, monitor, list or metadata; plug
// (alias port) names the node. The exit code is the answer: 0 success, 1
// failure, and for status 0 on, 2 off. Unlike fence-agents, which default
// to reboot, a request without an action is refused: a fencing device
// should do nothing it was not asked to.
//
// Power. A node is on while anything runs in its namespace (its daemon, a
// resource it started, a process frozen by Kill): that is what status
// reports, so that status never says off while something of the node
// could still act (DESIGN.md invariant 1). off cuts the node's cables (its
// host-side veths down, as Kill does), SIGKILLs every process in its
// namespace until none is left and removes every address there but its
// own (as a watchdog reset does), and records it off in DIR/fencer.json;
// StartDaemon refuses a node the fencer holds off. on does what Revive
// does and clears the record; on for a node that is not held off and whose
// daemon runs does nothing ("Already ON").
//
// The device can be broken on purpose (SetFencer, `vigil lab fencer
// broken`): off, on, reboot and status then fail and change nothing, as a
// BMC that answers its network but cannot switch power; monitor, list and
// metadata still answer. Every request, with its outcome, is appended to
// DIR/fencer.log.
//
// The agent runs wherever a daemon runs it: inside a node's network
// namespace, in the host's mount and PID namespaces. /proc, pidfds, the
// lab's files and `ip -n`/`ip netns exec` work from there; the host-side
// links and the watchdogs live in the host's network namespace, which
// Open enters through nsenter (see execHost) when lab.json records
// another namespace than the caller's.
//
// Requests are serialized by an flock on DIR/fencer.lock, across
// processes; Revive and StartDaemon take it too. The lock comes before
// Lab.mu.

// FencerState says whether the lab's fencing device works.
type FencerState string

// The states of the lab's fencing device.
const (
	FencerWorking FencerState = "working" // off, on, reboot and status do their work
	FencerBroken  FencerState = "broken"  // they fail (exit 1) and change nothing
)

// Fencer is the lab's fencing device, as Lab.Fencer reports it.
type Fencer struct {
	Agent string               // the fence agent, FenceAgentPath
	Log   string               // DIR/fencer.log
	State FencerState          // working or broken
	Off   map[string]time.Time // the nodes it holds off, and since when
}

// fencerFile is DIR/fencer.json, written only under DIR/fencer.lock.
type fencerFile struct {
	State FencerState          `json:"state,omitempty"` // "" means working
	Off   map[string]time.Time `json:"off,omitempty"`
}

const (
	fenceAgentName = "fence_vigil_lab"
	// maxFenceInput bounds a request: fence-agents' are a few lines.
	maxFenceInput = 64 << 10
	// fenceLockPoll is how often a request waiting for the lock retries.
	fenceLockPoll = 10 * time.Millisecond
	// fenceKillRounds bounds the rescans of off: a process may fork while
	// its siblings are being killed.
	fenceKillRounds = 10
	// fenceOffRounds bounds the attempts of off to empty a node.
	fenceOffRounds = 3
)

// FenceAgentPath returns DIR/fence_vigil_lab, the lab's fence agent: an
// executable (mode 0755) that a daemon runs by absolute path, as it runs
// fence_ipmilan, from any node's namespace.
func (l *Lab) FenceAgentPath() string { return filepath.Join(l.Dir, fenceAgentName) }

func (l *Lab) fencerFilePath() string { return filepath.Join(l.Dir, "fencer.json") }
func (l *Lab) fencerLogPath() string  { return filepath.Join(l.Dir, "fencer.log") }
func (l *Lab) fencerLockPath() string { return filepath.Join(l.Dir, "fencer.lock") }

// fenceAgentScript is the text of DIR/fence_vigil_lab.
func fenceAgentScript(bin, lab string) string {
	return fmt.Sprintf(`#!/bin/sh
# %s: the fencing device of vigil lab %s, written by 'vigil lab up'.
# A fence agent (the fence-agents protocol): key=value lines on stdin,
# action=off|on|reboot|status|monitor|list|metadata and plug=NODE; exit 0
# on success, for status 0 on and 2 off. Run it as root, from the host or
# from any node's namespace.
exec %s lab --name %s fence-agent
`, fenceAgentName, lab, shellQuote(bin), shellQuote(lab))
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// writeFencer lays out a new lab's fencing device: the agent, a working
// device that holds no node off, an empty log.
func (l *Lab) writeFencer() error {
	if err := writeFile(l.FenceAgentPath(), []byte(fenceAgentScript(l.fenceBinary, l.Name)), 0o755); err != nil {
		return err
	}
	if err := os.Remove(l.fencerFilePath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return os.WriteFile(l.fencerLogPath(), nil, 0o644)
}

func readFencerFile(path string) (fencerFile, error) {
	var f fencerFile
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil // a new lab, or one from before the fencer
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// lockFile takes an exclusive flock on path (created if need be), waiting
// while ctx lasts and at most opTimeout, and returns its release. Two
// callers exclude each other also within one process.
func lockFile(ctx context.Context, path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(opTimeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil // closing releases the lock
		}
		if !errors.Is(err, unix.EWOULDBLOCK) && !errors.Is(err, unix.EINTR) {
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, err)
		}
		if !time.Now().Before(deadline) {
			f.Close()
			return nil, fmt.Errorf("lock %s: still held by another fence action after %s", path, opTimeout)
		}
		t := time.NewTimer(fenceLockPoll)
		select {
		case <-ctx.Done():
			t.Stop()
			f.Close()
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-t.C:
		}
	}
}

// Fencer reports the lab's fencing device.
func (l *Lab) Fencer() (Fencer, error) {
	f, err := readFencerFile(l.fencerFilePath())
	if err != nil {
		return Fencer{}, fmt.Errorf("lab %s: fencer: %w", l.Name, err)
	}
	st := f.State
	if st == "" {
		st = FencerWorking
	}
	return Fencer{Agent: l.FenceAgentPath(), Log: l.fencerLogPath(), State: st, Off: f.Off}, nil
}

// FencerLog returns the last lines lines of DIR/fencer.log, or "".
func (l *Lab) FencerLog(lines int) string {
	if lines <= 0 {
		return ""
	}
	return tail(l.fencerLogPath(), lines)
}

// SetFencer breaks or mends the lab's fencing device, and says so in its
// log. It is idempotent. It waits for a fence action in progress.
func (l *Lab) SetFencer(ctx context.Context, s FencerState) error {
	if s != FencerWorking && s != FencerBroken {
		return fmt.Errorf("lab %s: fencer state %q: want %s or %s", l.Name, s, FencerWorking, FencerBroken)
	}
	unlock, err := lockFile(ctx, l.fencerLockPath())
	if err != nil {
		return fmt.Errorf("lab %s: fencer %s: %w", l.Name, s, err)
	}
	defer unlock()
	f, err := readFencerFile(l.fencerFilePath())
	if err != nil {
		return fmt.Errorf("lab %s: fencer %s: %w", l.Name, s, err)
	}
	f.State = s
	if s == FencerWorking {
		f.State = "" // the default
	}
	if err := writeJSON(l.fencerFilePath(), f); err != nil {
		return fmt.Errorf("lab %s: fencer %s: %w", l.Name, s, err)
	}
	_ = appendFile(l.fencerLogPath(), fmt.Sprintf("%s device %s\n", logTime(time.Now()), s))
	l.log.Info("fencer set", "lab", l.Name, "state", s)
	return nil
}

// heldOff reports whether the fencer holds node off. The caller holds
// the fencer lock.
func (l *Lab) heldOff(node string) (bool, error) {
	f, err := readFencerFile(l.fencerFilePath())
	if err != nil {
		return false, err
	}
	_, off := f.Off[node]
	return off, nil
}

// release forgets that the fencer held node off, once something powered
// it on. The caller holds the fencer lock.
func (l *Lab) release(node string) error {
	f, err := readFencerFile(l.fencerFilePath())
	if err != nil {
		return err
	}
	if _, ok := f.Off[node]; !ok {
		return nil
	}
	delete(f.Off, node)
	return writeJSON(l.fencerFilePath(), f)
}

// FenceAgent answers one request of the fence-agents protocol read from
// stdin (see the protocol above) and returns the exit code: 0 success, 1
// failure, for status 0 on and 2 off. It writes the agent's answer to
// stdout and errors and warnings to stderr, and logs the request to
// DIR/fencer.log. A bad request is refused (exit 1) and changes nothing.
// It blocks while another request on the lab runs, and for at most the
// time its action takes (bounded: see off and Revive).
func (l *Lab) FenceAgent(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	nodes := make([]string, len(l.Nodes))
	for i, n := range l.Nodes {
		nodes[i] = n.Name
	}
	f := fencer{
		lab: l.Name, nodes: nodes, power: labPower{l}, now: time.Now,
		statePath: l.fencerFilePath(), logPath: l.fencerLogPath(), lockPath: l.fencerLockPath(),
	}
	return f.serve(ctx, stdin, stdout, stderr)
}

// The actions of the protocol that the lab's agent knows.
const (
	fenceOff      = "off"
	fenceOn       = "on"
	fenceReboot   = "reboot"
	fenceStatus   = "status"
	fenceMonitor  = "monitor"
	fenceList     = "list"
	fenceMetadata = "metadata"
)

var fenceActions = []string{fenceOff, fenceOn, fenceReboot, fenceStatus, fenceMonitor, fenceList, fenceMetadata}

// powerAction reports whether action switches or reads a node's power,
// and so needs a plug and a working device.
func powerAction(action string) bool {
	return action == fenceOff || action == fenceOn || action == fenceReboot || action == fenceStatus
}

// fenceRequest is one parsed request.
type fenceRequest struct {
	action  string
	plug    string   // "" if none was given
	ignored []string // unknown keys, in input order
}

// parseFenceRequest reads a request: at most maxFenceInput bytes of
// key=value lines. It returns every problem it finds, joined, and then a
// request that must not be acted on.
func parseFenceRequest(r io.Reader) (fenceRequest, error) {
	var req fenceRequest
	b, err := io.ReadAll(io.LimitReader(r, maxFenceInput+1))
	if err != nil {
		return req, fmt.Errorf("read the request: %w", err)
	}
	if len(b) > maxFenceInput {
		return req, fmt.Errorf("request longer than %d bytes", maxFenceInput)
	}
	var errs []error
	set := func(field *string, key, value string, line int) {
		switch {
		case value == "":
			errs = append(errs, fmt.Errorf("line %d: %s has no value", line, key))
		case *field != "" && *field != value:
			errs = append(errs, fmt.Errorf("line %d: %s=%s contradicts %s given before", line, key, value, *field))
		default:
			*field = value
		}
	}
	for i, line := range strings.Split(string(b), "\n") { // bounded by maxFenceInput
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		key, value, _ := strings.Cut(line, "=")
		key = strings.ReplaceAll(strings.ToLower(strings.TrimSpace(key)), "-", "_")
		value = strings.TrimSpace(value)
		if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
			value = value[1 : len(value)-1]
		}
		switch key {
		case "action", "option": // option: fence-agents' old name
			set(&req.action, key, strings.ToLower(value), i+1)
		case "plug", "port":
			set(&req.plug, key, value, i+1)
		case "nodename": // Pacemaker's; fence-agents skip it silently
		default:
			req.ignored = append(req.ignored, key)
		}
	}
	switch {
	case req.action == "" && len(errs) == 0:
		errs = append(errs, fmt.Errorf("no action= line: want one of %s", strings.Join(fenceActions, ", ")))
	case req.action != "" && !slices.Contains(fenceActions, req.action):
		errs = append(errs, fmt.Errorf("unknown action %q: want one of %s", req.action, strings.Join(fenceActions, ", ")))
	case powerAction(req.action) && req.plug == "" && len(errs) == 0:
		errs = append(errs, fmt.Errorf("action=%s needs plug= (or port=): the node", req.action))
	}
	return req, errors.Join(errs...)
}

// power is what the fencer does to nodes: labPower on a real lab, a
// recording fake in tests. Its methods block until done; the fencer
// serializes them.
type power interface {
	// off powers node off; it is idempotent.
	off(ctx context.Context, node string) error
	// on powers node on (a boot: its daemon starts afresh).
	on(ctx context.Context, node string) error
	// probe reports what of node runs.
	probe(ctx context.Context, node string) (nodePower, error)
}

// nodePower is what runs of a node.
type nodePower struct {
	procs  int  // live processes in its namespace (the daemon among them)
	daemon bool // its daemon runs
}

// fencer answers requests for one lab.
type fencer struct {
	lab                          string
	nodes                        []string
	power                        power
	now                          func() time.Time
	statePath, logPath, lockPath string
}

// serve does FenceAgent's work.
func (f fencer) serve(ctx context.Context, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(ctx, 2*opTimeout)
	defer cancel()
	req, err := parseFenceRequest(stdin)
	for _, k := range req.ignored {
		fmt.Fprintf(stderr, "WARNING: Parse error: Ignoring unknown option '%s'\n", k)
	}
	if err == nil && powerAction(req.action) && !slices.Contains(f.nodes, req.plug) {
		err = fmt.Errorf("plug %q is not a node of lab %s (%s)", req.plug, f.lab, strings.Join(f.nodes, ", "))
	}
	if err != nil {
		f.logf(req, 1, "rejected: %s", oneLine(err))
		for line := range strings.Lines(err.Error()) {
			fmt.Fprintf(stderr, "ERROR: %s", line)
		}
		fmt.Fprintln(stderr)
		return 1
	}
	switch req.action {
	case fenceMetadata:
		io.WriteString(stdout, fenceMetadataXML)
		f.logf(req, 0, "ok")
		return 0
	case fenceList:
		for _, n := range f.nodes {
			fmt.Fprintf(stdout, "%s,%s\n", n, n)
		}
		f.logf(req, 0, "ok")
		return 0
	case fenceMonitor:
		f.logf(req, 0, "ok")
		return 0
	}
	code, outcome, err := f.switchPower(ctx, req, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %s %s: %s\n", req.action, req.plug, oneLine(err))
	}
	f.logf(req, code, "%s", outcome)
	return code
}

// switchPower does a power action under the lock and returns the exit
// code, the outcome for the log and the error to report, if any.
func (f fencer) switchPower(ctx context.Context, req fenceRequest, stdout io.Writer) (int, string, error) {
	unlock, err := lockFile(ctx, f.lockPath)
	if err != nil {
		return 1, "failed: " + oneLine(err), err
	}
	defer unlock()
	st, err := readFencerFile(f.statePath)
	if err != nil {
		return 1, "failed: " + oneLine(err), err
	}
	if st.State == FencerBroken {
		mend := "vigil lab fencer working"
		if f.lab != defaultName {
			mend = "vigil lab --name " + f.lab + " fencer working"
		}
		return 1, "failed: device broken", fmt.Errorf("lab fencer is broken (%s to mend it)", mend)
	}
	node := req.plug
	switch req.action {
	case fenceStatus:
		p, err := f.power.probe(ctx, node)
		if err != nil {
			return 1, "failed: " + oneLine(err), err
		}
		if p.procs > 0 {
			fmt.Fprintln(stdout, "Status: ON")
			return 0, "on", nil
		}
		fmt.Fprintln(stdout, "Status: OFF")
		return 2, "off", nil
	case fenceOff:
		was, err := f.off(ctx, &st, node)
		if err != nil {
			return 1, "failed: " + oneLine(err), err
		}
		if was {
			fmt.Fprintln(stdout, "Success: Already OFF")
			return 0, "ok: already off", nil
		}
		fmt.Fprintln(stdout, "Success: Powered OFF")
		return 0, "ok: powered off", nil
	case fenceOn:
		was, err := f.on(ctx, &st, node)
		if err != nil {
			return 1, "failed: " + oneLine(err), err
		}
		if was {
			fmt.Fprintln(stdout, "Success: Already ON")
			return 0, "ok: already on", nil
		}
		fmt.Fprintln(stdout, "Success: Powered ON")
		return 0, "ok: powered on", nil
	case fenceReboot:
		if _, err := f.off(ctx, &st, node); err != nil {
			return 1, "failed: off: " + oneLine(err), err
		}
		// As fence-agents: once off, the node is fenced; a failure to
		// power it on again does not fail the reboot.
		if _, err := f.on(ctx, &st, node); err != nil {
			fmt.Fprintln(stdout, "Success: Rebooted")
			return 0, "ok: rebooted, but on failed: " + oneLine(err), fmt.Errorf("powered off, but not on again: %w", err)
		}
		fmt.Fprintln(stdout, "Success: Rebooted")
		return 0, "ok: rebooted", nil
	}
	return 1, "failed: unknown action", fmt.Errorf("unknown action %q", req.action) // parseFenceRequest let none through
}

// off records node off, then powers it off, and reports whether it was
// off already: held off and nothing of it running. It does the work even
// then: off is idempotent, and cheap on a node that is off. The record
// comes first, so that nothing (StartDaemon) starts the node while it is
// powered off, even if powering off fails half-way.
func (f fencer) off(ctx context.Context, st *fencerFile, node string) (bool, error) {
	p, err := f.power.probe(ctx, node)
	if err != nil {
		return false, err
	}
	_, held := st.Off[node]
	if !held {
		if st.Off == nil {
			st.Off = map[string]time.Time{}
		}
		st.Off[node] = f.now().UTC()
		if err := writeJSON(f.statePath, st); err != nil {
			return false, err
		}
	}
	if err := f.power.off(ctx, node); err != nil {
		return false, err
	}
	return held && p.procs == 0, nil
}

// on powers node on unless it is on already, not held off and its daemon
// running, then clears the record; it reports whether it was on already.
func (f fencer) on(ctx context.Context, st *fencerFile, node string) (bool, error) {
	_, held := st.Off[node]
	if !held {
		p, err := f.power.probe(ctx, node)
		if err != nil {
			return false, err
		}
		if p.daemon {
			return true, nil
		}
	}
	if err := f.power.on(ctx, node); err != nil {
		return false, err
	}
	if !held {
		return false, nil
	}
	delete(st.Off, node)
	return false, writeJSON(f.statePath, st)
}

// logf appends one line for req to the log: time, action, plug, exit code
// and outcome. A log that cannot be written does not fail the request.
func (f fencer) logf(req fenceRequest, code int, format string, args ...any) {
	action, plug := req.action, req.plug
	if action == "" {
		action = "-"
	}
	if plug == "" {
		plug = "-"
	}
	line := fmt.Sprintf("%s action=%s plug=%s exit=%d %s\n", logTime(f.now()), action, plug, code, fmt.Sprintf(format, args...))
	_ = appendFile(f.logPath, line)
}

func logTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

// oneLine joins the lines of err's message with "; ".
func oneLine(err error) string {
	return strings.Join(strings.Split(strings.TrimSpace(err.Error()), "\n"), "; ")
}

// fenceMetadataXML is the answer to action=metadata, in the form of
// fence-agents' (and Pacemaker's stonith_admin --metadata).
const fenceMetadataXML = `<?xml version="1.0" ?>
<resource-agent name="fence_vigil_lab" shortdesc="Fence agent for vigil lab nodes">
<longdesc>fence_vigil_lab powers off and on the nodes of a vigil lab (network namespaces on one machine): off cuts the node's links, kills every process in its namespace and removes its floating addresses; on boots it again. 'vigil lab fencer broken' makes the device fail on purpose.</longdesc>
<vendor-url>https://github.com/vigil-ha/vigil</vendor-url>
<parameters>
	<parameter name="action" unique="0" required="1">
		<content type="string" />
		<shortdesc lang="en">Fencing action: off, on, reboot, status, monitor, list or metadata</shortdesc>
	</parameter>
	<parameter name="plug" unique="0" required="1" obsoletes="port">
		<content type="string" />
		<shortdesc lang="en">The lab node to act on (n1, n2, ...)</shortdesc>
	</parameter>
	<parameter name="port" unique="0" required="0" deprecated="1">
		<content type="string" />
		<shortdesc lang="en">The lab node to act on (an alias of plug)</shortdesc>
	</parameter>
</parameters>
<actions>
	<action name="on" automatic="0" />
	<action name="off" />
	<action name="reboot" />
	<action name="status" />
	<action name="monitor" />
	<action name="list" />
	<action name="metadata" />
</actions>
</resource-agent>
`

// labPower is the fencer's power over a real lab's nodes.
type labPower struct{ l *Lab }

// off cuts the node's cables (as Kill does), SIGKILLs every process in its
// namespace until none is left, and removes its stray addresses (as a
// watchdog reset does). Invariant 1 rests on it: once off returns nil,
// nothing of the node runs, and no floating IP of it is left.
func (p labPower) off(ctx context.Context, node string) error {
	l := p.l
	n, err := l.record(node)
	if err != nil {
		return err
	}
	if _, err := l.host.Run(ctx, linkScript(l, node, "down"), "ip", "-batch", "-"); err != nil {
		return err
	}
	// The daemon, killed without disarming its watchdog, makes the
	// watchdog reset the node meanwhile, and each reset kills the other's
	// `ip -n` commands, which run inside the namespace. A watchdog resets
	// once per daemon: a second round finds it done.
	var errs []error
	for range fenceOffRounds {
		err := l.killAll(ctx, n)
		if err == nil {
			err = l.dropStrayAddrs(ctx, n)
		}
		if err == nil {
			l.log.Warn("node fenced", "node", node, "op", "off")
			return nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return errors.Join(errs...)
}

// on does what Revive does, on the lab's state as lab.json has it now (a
// daemon may have been started by another process since l was opened).
// It first waits for the node's watchdog to be done with a reset that
// off set off (as in reboot), so that neither kills the other's commands.
func (p labPower) on(ctx context.Context, node string) error {
	l := p.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return err
	}
	if err := l.awaitWatchdog(node); err != nil {
		return err
	}
	if err := l.revive(ctx, node); err != nil {
		return err
	}
	l.log.Info("node powered on", "node", node, "op", "on")
	return nil
}

func (p labPower) probe(_ context.Context, node string) (nodePower, error) {
	l := p.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.refresh(); err != nil {
		return nodePower{}, err
	}
	i, err := l.node(node)
	if err != nil {
		return nodePower{}, err
	}
	n := l.Nodes[i]
	id, err := netnsID(n.Netns)
	if err != nil {
		return nodePower{}, err
	}
	ps := procsIn([]nsID{id})
	live := 0
	for _, pr := range ps {
		if info, err := readProc(pr.pid); err == nil && !info.dead() {
			live++
		}
	}
	releaseAll(ps)
	return nodePower{procs: live, daemon: l.daemonPID(n) != 0}, nil
}

// record returns the node's record.
func (l *Lab) record(node string) (Node, error) {
	i, err := l.node(node)
	if err != nil {
		return Node{}, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.Nodes[i], nil
}

// killAll SIGKILLs every process in the node's namespace (this one
// excepted) and rescans, up to fenceKillRounds times, until none is left.
func (l *Lab) killAll(ctx context.Context, n Node) error {
	id, err := netnsID(n.Netns)
	if err != nil {
		return err
	}
	for range fenceKillRounds {
		ps := procsIn([]nsID{id})
		if len(ps) == 0 {
			return nil
		}
		err := kill(ctx, ps)
		releaseAll(ps)
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return fmt.Errorf("processes still appear in %s after %d rounds of SIGKILL", n.Netns, fenceKillRounds)
}

// refresh reloads the daemons' PIDs and the watchdogs from lab.json, which
// another process (a fence agent, `vigil lab revive`) may have changed
// since l was opened. The caller holds l.mu.
func (l *Lab) refresh() error {
	st, err := readState(l.Dir)
	if err != nil {
		return err
	}
	if st.Name != l.Name {
		return fmt.Errorf("%s holds lab %q", filepath.Join(l.Dir, "lab.json"), st.Name)
	}
	if len(st.Nodes) != len(l.Nodes) {
		return fmt.Errorf("%s has %d nodes, not %d", filepath.Join(l.Dir, "lab.json"), len(st.Nodes), len(l.Nodes))
	}
	// Only the PIDs change: the rest of a node is fixed at Up, and read
	// without l.mu (l.node).
	for i, n := range st.Nodes {
		if n.Name != l.Nodes[i].Name || n.Netns != l.Nodes[i].Netns {
			return fmt.Errorf("%s: node %d is %s in %s, not %s in %s", filepath.Join(l.Dir, "lab.json"), i, n.Name, n.Netns, l.Nodes[i].Name, l.Nodes[i].Netns)
		}
	}
	for i, n := range st.Nodes {
		l.Nodes[i].PID = n.PID
	}
	if st.Args != nil {
		l.args = st.Args
	}
	l.start = st.Start
	if l.start == nil {
		l.start = map[string]uint64{}
	}
	l.dogs = st.Watchdogs
	if l.dogs == nil {
		l.dogs = map[string]watchdogRef{}
	}
	return nil
}

// OffNodes returns the nodes the fencer holds off, sorted.
func (f Fencer) OffNodes() []string { return slices.Sorted(maps.Keys(f.Off)) }
