// Package script runs LSB init scripts (/etc/init.d style) as resources of
// kind "script": Start runs `path start`, Stop `path stop` and Monitor
// `path status`, and the exit code says what happened, as the LSB Core
// specification (section 20.2, "Init Script Actions") defines it.
//
// Parameters:
//
//	path  required  absolute path of an executable script
//	args  optional  extra arguments after the action, split on white space
//	                (no quoting)
//
// Monitor maps the status exit code: 0 Running, 3 Stopped; 1 ("dead and
// pid file exists"), 2 ("dead and lock file exists"), 4 (unknown) and any
// other code are Failed, with the script's output as the reason.
//
// Every action runs in a process group of its own, with a clean
// environment (PATH, LC_ALL=C, VIGIL_RESOURCE) in /, and is bounded by its
// context: when the context ends the whole group is killed.
package script

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	osexec "os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
)

// Config configures an Agent. Zero fields take the documented defaults.
type Config struct {
	// Log receives the scripts' output (at debug level) and the kills of
	// scripts that outlived their context. Default: discard.
	Log *slog.Logger
}

// defaultOpTimeout bounds an action whose context has no deadline and
// whose resource sets no timeout for it: model.Ops's documented default.
const defaultOpTimeout = 20 * time.Second

// sanePath is the PATH scripts run with.
const sanePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// outputTail is how much of a script's output is kept (the end).
const outputTail = 4 << 10

// Agent runs LSB scripts. It implements agent.Agent and is safe for
// concurrent use; it holds no state between calls.
type Agent struct {
	log *slog.Logger
}

// New returns an Agent for cfg.
func New(cfg Config) (*Agent, error) {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{log: log}, nil
}

// spec is a script resource's parameters, parsed.
type spec struct {
	path string
	args []string
}

// parse checks r's parameters and that path is an executable file, and
// joins every problem.
func parse(p map[string]string) (spec, error) {
	var errs []error
	var unknown []string
	for k := range p {
		if k != "path" && k != "args" {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("params.%s: not a script parameter (known: args, path)", k))
	}
	s := spec{path: p["path"], args: strings.Fields(p["args"])}
	switch fi, err := os.Stat(s.path); {
	case s.path == "":
		errs = append(errs, errors.New("params.path: required (e.g. /etc/init.d/nginx)"))
	case !filepath.IsAbs(s.path):
		errs = append(errs, fmt.Errorf("params.path: %q is not an absolute path", s.path))
	case err != nil:
		errs = append(errs, fmt.Errorf("params.path: %w", err))
	case !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0:
		errs = append(errs, fmt.Errorf("params.path: %s is not an executable file", s.path))
	}
	return s, errors.Join(errs...)
}

// Validate checks r's parameters, and that its script is an executable
// file here (it reads, and runs nothing).
func (a *Agent) Validate(r model.Resource) error {
	_, err := parse(r.Params)
	return err
}

// Start runs `path start`: exit 0 is started (LSB: also when it already
// ran); anything else is an error quoting the end of the script's output.
func (a *Agent) Start(ctx context.Context, r model.Resource) error {
	return a.act(ctx, r, "start", r.Ops.StartTimeout)
}

// Stop runs `path stop`: exit 0 is stopped (LSB: also when it was not
// running); anything else is an error, and the resource may still run.
func (a *Agent) Stop(ctx context.Context, r model.Resource) error {
	return a.act(ctx, r, "stop", r.Ops.StopTimeout)
}

func (a *Agent) act(ctx context.Context, r model.Resource, action string, timeout time.Duration) error {
	s, err := parse(r.Params)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, r.ID, err)
	}
	ctx, cancel := opContext(ctx, timeout)
	defer cancel()
	res, err := a.run(ctx, r.ID, s, action)
	if err != nil {
		return fmt.Errorf("%s %s: %w", action, r.ID, err)
	}
	if res.code != 0 {
		return fmt.Errorf("%s %s: %s %s: exit %d: %s", action, r.ID, s.path, action, res.code, res.detail())
	}
	return nil
}

// Monitor runs `path status` and maps its exit code (see statusHealth).
// A script that cannot run or times out is Failed.
func (a *Agent) Monitor(ctx context.Context, r model.Resource) (model.Health, error) {
	s, err := parse(r.Params)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	ctx, cancel := opContext(ctx, r.Ops.MonitorTimeout)
	defer cancel()
	res, err := a.run(ctx, r.ID, s, "status")
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	h, meaning := statusHealth(res.code)
	if h == model.HealthFailed {
		return h, fmt.Errorf("monitor %s: %s status: exit %d (%s): %s", r.ID, s.path, res.code, meaning, res.detail())
	}
	return h, nil
}

// statusHealth maps an LSB status exit code to a health and the code's
// meaning in the LSB specification.
func statusHealth(code int) (model.Health, string) {
	switch code {
	case 0:
		return model.HealthRunning, "program is running or service is OK"
	case 1:
		return model.HealthFailed, "program is dead and /var/run pid file exists"
	case 2:
		return model.HealthFailed, "program is dead and /var/lock lock file exists"
	case 3:
		return model.HealthStopped, "program is not running"
	case 4:
		return model.HealthFailed, "program or service status is unknown"
	}
	if code >= 150 && code <= 199 {
		return model.HealthFailed, "reserved for application use"
	}
	return model.HealthFailed, "not an LSB status code"
}

// result is how a script ended.
type result struct {
	code   int
	output []byte // the tail of stdout and stderr, interleaved
}

// detail is the last lines of the output, or "no output".
func (res result) detail() string {
	if t := agent.OutputTail(res.output); t != "" {
		return t
	}
	return "no output"
}

// run runs `path action args…` in its own process group. The error is
// non-nil only when the script did not run to an exit: it could not start,
// or ctx ended first (then the group was SIGKILLed and the error wraps
// ctx.Err()).
//
// Output goes to an in-memory file, not a pipe: a script that starts a
// daemon often leaves it holding stdout, and vigil must neither wait for
// it nor kill it with SIGPIPE.
func (a *Agent) run(ctx context.Context, id model.ResourceID, s spec, action string) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, fmt.Errorf("%s %s not run: %w", s.path, action, err)
	}
	fd, err := unix.MemfdCreate("script-output", unix.MFD_CLOEXEC)
	if err != nil {
		return result{}, fmt.Errorf("memfd: %w", err)
	}
	out := os.NewFile(uintptr(fd), "script-output")
	defer out.Close()

	cmd := osexec.CommandContext(ctx, s.path, append([]string{action}, s.args...)...)
	cmd.Env = []string{"PATH=" + sanePath, "LC_ALL=C", "VIGIL_RESOURCE=" + string(id)}
	cmd.Dir = "/"
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()
	res := result{output: readTail(out, outputTail)}
	if len(res.output) > 0 {
		a.log.Debug("script output", "resource", id, "op", action, "output", strings.TrimSpace(string(res.output)))
	}
	if st := cmd.ProcessState; st != nil && st.Exited() {
		res.code = st.ExitCode()
		return res, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && cmd.Process != nil {
		a.log.Warn("script killed", "resource", id, "op", action, "after", time.Since(start).Round(time.Millisecond), "pgid", cmd.Process.Pid, "err", ctxErr)
		return res, fmt.Errorf("%s %s: killed process group %d after %s (%s): %w",
			s.path, action, cmd.Process.Pid, time.Since(start).Round(time.Millisecond), res.detail(), ctxErr)
	}
	if runErr == nil {
		runErr = errors.New("no exit status")
	}
	return res, fmt.Errorf("%s %s: %w", s.path, action, runErr)
}

// readTail returns up to the last n bytes of f.
func readTail(f *os.File, n int64) []byte {
	fi, err := f.Stat()
	if err != nil {
		return nil
	}
	off := max(fi.Size()-n, 0)
	b, _ := io.ReadAll(io.NewSectionReader(f, off, fi.Size()-off))
	return b
}

// opContext gives ctx a deadline if it has none: the resource's timeout
// for the operation, or defaultOpTimeout. No action is unbounded.
func opContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	if d <= 0 {
		d = defaultOpTimeout
	}
	return context.WithTimeout(ctx, d)
}
