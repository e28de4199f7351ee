// Package fence drives fencing devices: the executables of Debian's
// fence-agents (fence_ipmilan, fence_redfish, fence_dummy, …) through
// their standard protocol — the options as key=value lines on standard
// input, the result in the exit code — and fencing levels, tried in
// order until one succeeds. A fence that succeeded is what lets the
// survivors recover a node's resources before its lease has ended
// (invariant 1 of DESIGN.md). Device parameters that look like secrets
// never appear in errors or logs.
package fence

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Action is what a device is asked to do to a node.
type Action string

// The actions of the fence-agents protocol that vigil uses.
const (
	Off    Action = "off"    // power the node off: the usual fence
	On     Action = "on"     // power it on again
	Reboot Action = "reboot" // off, then on
	Status Action = "status" // is it on? (exit 0: on, 2: off)
)

// Device is one fencing device, as configured.
type Device struct {
	ID string
	// Agent is the fence agent's name in Dir (fence_ipmilan) or an
	// absolute path.
	Agent string
	// Params are passed as key=value lines (ip, username, password, …);
	// Plugs maps a node to the plug (port) that powers it, passed as
	// plug=…, for devices that fence several nodes.
	Params map[string]string
	Plugs  map[model.NodeID]string
	// Timeout bounds one action; 0 means DefaultTimeout.
	Timeout time.Duration
}

// Level is a fencing level: every device in it must succeed.
type Level []Device

// DefaultTimeout bounds an action whose device sets none.
const DefaultTimeout = 60 * time.Second

// DefaultDir is where Debian installs fence agents.
const DefaultDir = "/usr/sbin"

// Runner runs fence agents. The zero value uses DefaultDir and logs
// nothing.
type Runner struct {
	Dir string       // where agents named without a path live
	Log *slog.Logger // nil: discard
}

// ErrFailed marks a fence action that ran and did not succeed (as opposed
// to an agent that could not run at all).
var ErrFailed = errors.New("fence action failed")

// Power reports the power state a status action found.
type Power string

// The power states.
const (
	PowerOn  Power = "on"
	PowerOff Power = "off"
)

// Run performs action on node with dev and returns, for Status, the power
// state; for the others "". It blocks until the agent exits or its timeout
// (or ctx) ends it, killing its whole process group. A failure wraps
// ErrFailed and carries the tail of the agent's output, secrets redacted.
func (r Runner) Run(ctx context.Context, dev Device, action Action, node model.NodeID) (Power, error) {
	path, err := r.path(dev.Agent)
	if err != nil {
		return "", fmt.Errorf("fence %s with %s: %w", node, dev.ID, err)
	}
	timeout := dev.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path)
	cmd.Stdin = strings.NewReader(stdin(dev, action, node))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Dir = "/"
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 2 * time.Second
	start := time.Now()
	err = cmd.Run()
	if cmd.ProcessState == nil {
		return "", fmt.Errorf("fence %s %s with %s: %w", action, node, dev.ID, err)
	}
	code := cmd.ProcessState.ExitCode()
	r.log().Info("fence agent ran", "node", node, "device", dev.ID, "op", action, "exit", code, "took", time.Since(start).Round(time.Millisecond))
	tail := redact(lastLines(out.String(), 5), dev.Params)
	switch {
	case ctx.Err() != nil:
		return "", fmt.Errorf("fence %s %s with %s: %w: timed out after %s: %s", action, node, dev.ID, ErrFailed, timeout, tail)
	case action == Status && code == 0:
		return PowerOn, nil
	case action == Status && code == 2:
		return PowerOff, nil
	case err == nil:
		return "", nil
	case code > 0:
		return "", fmt.Errorf("fence %s %s with %s: %w: exit status %d: %s", action, node, dev.ID, ErrFailed, code, tail)
	}
	return "", fmt.Errorf("fence %s %s with %s: %w", action, node, dev.ID, err)
}

// Fence fences node: it tries each level in order, and within a level
// every device in order; the first level whose devices all succeed ends
// it, and its index is returned. If every level fails the error joins
// each level's failure, and the node must be taken as not fenced.
func (r Runner) Fence(ctx context.Context, node model.NodeID, levels []Level, action Action) (int, error) {
	var errs []error
	for i, lv := range levels {
		err := r.level(ctx, node, lv, action)
		if err == nil {
			r.log().Warn("node fenced", "node", node, "op", action, "level", i+1)
			return i, nil
		}
		errs = append(errs, fmt.Errorf("level %d: %w", i+1, err))
		if ctx.Err() != nil {
			break
		}
	}
	if len(levels) == 0 {
		errs = append(errs, errors.New("no fencing level is configured"))
	}
	return -1, fmt.Errorf("fence %s: %w", node, errors.Join(errs...))
}

func (r Runner) level(ctx context.Context, node model.NodeID, lv Level, action Action) error {
	if len(lv) == 0 {
		return errors.New("empty level")
	}
	for _, dev := range lv {
		if _, err := r.Run(ctx, dev, action, node); err != nil {
			return err
		}
	}
	return nil
}

func (r Runner) path(agent string) (string, error) {
	if agent == "" || strings.ContainsAny(agent, "\x00\n") {
		return "", fmt.Errorf("bad agent name %q", agent)
	}
	p := agent
	if !filepath.IsAbs(p) {
		if strings.Contains(p, "/") {
			return "", fmt.Errorf("agent %q: a name in %s or an absolute path", agent, r.dir())
		}
		p = filepath.Join(r.dir(), p)
	}
	fi, err := os.Stat(p)
	if err != nil {
		return "", fmt.Errorf("agent %s: %w (is fence-agents installed?)", agent, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("agent %s is not an executable file", p)
	}
	return p, nil
}

func (r Runner) dir() string {
	if r.Dir == "" {
		return DefaultDir
	}
	return r.Dir
}

func (r Runner) log() *slog.Logger {
	if r.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return r.Log
}

// stdin is the agent's input: action, the device's parameters sorted by
// name, and the node's plug if the device maps it.
func stdin(dev Device, action Action, node model.NodeID) string {
	var b strings.Builder
	fmt.Fprintf(&b, "action=%s\n", action)
	keys := make([]string, 0, len(dev.Params))
	for k := range dev.Params {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, dev.Params[k])
	}
	if plug, ok := dev.Plugs[node]; ok {
		fmt.Fprintf(&b, "plug=%s\n", plug)
	}
	return b.String()
}

// secretKey reports whether a parameter holds a secret.
func secretKey(k string) bool {
	k = strings.ToLower(k)
	for _, s := range []string{"pass", "secret", "key", "token", "community"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}

// redact replaces, in s, the values of every secret parameter.
func redact(s string, params map[string]string) string {
	for k, v := range params {
		if secretKey(k) && v != "" {
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return s
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
