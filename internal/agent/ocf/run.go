package ocf

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
)

// The OCF exit codes (resource-agents' ocf-returncodes).
const (
	exitSuccess       = 0
	exitGeneric       = 1
	exitArgs          = 2
	exitUnimplemented = 3
	exitPerm          = 4
	exitInstalled     = 5
	exitConfigured    = 6
	exitNotRunning    = 7
	exitRunningMaster = 8
	exitFailedMaster  = 9
)

// exitName returns the OCF name of an exit code.
func exitName(code int) string {
	switch code {
	case exitSuccess:
		return "OCF_SUCCESS"
	case exitGeneric:
		return "OCF_ERR_GENERIC"
	case exitArgs:
		return "OCF_ERR_ARGS"
	case exitUnimplemented:
		return "OCF_ERR_UNIMPLEMENTED"
	case exitPerm:
		return "OCF_ERR_PERM"
	case exitInstalled:
		return "OCF_ERR_INSTALLED"
	case exitConfigured:
		return "OCF_ERR_CONFIGURED"
	case exitNotRunning:
		return "OCF_NOT_RUNNING"
	case exitRunningMaster:
		return "OCF_RUNNING_PROMOTED"
	case exitFailedMaster:
		return "OCF_FAILED_PROMOTED"
	default:
		return "not an OCF exit code"
	}
}

// sanePath is the PATH agents run with: they call ip, sed, awk and the
// like by name.
const sanePath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// exitReasonPrefix marks the line an agent prints with ocf_exit_reason.
const exitReasonPrefix = "ocf-exit-reason:"

// Output limits: stdout is read whole up to maxStdout (meta-data is the
// only action whose stdout matters); of stderr only the tail is kept.
const (
	maxStdout  = 1 << 20
	stderrTail = 4 << 10
)

// lookPath finds an executable in sanePath. Unlike exec.LookPath it does
// not read this process's PATH.
func lookPath(name string) (string, error) {
	for _, dir := range filepath.SplitList(sanePath) {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in %s", name, sanePath)
}

// callEnv is what an action's environment is made of.
type callEnv struct {
	root, stateDir string
	ra             raRef
	action         string
	instance       model.ResourceID
	params         map[string]string // without "agent"
	timeout        time.Duration     // OCF_RESKEY_CRM_meta_timeout
	interval       time.Duration     // OCF_RESKEY_CRM_meta_interval
}

// environ returns the complete, sorted environment of an agent call, as
// Pacemaker's executor builds it. Nothing is inherited from vigil's own
// environment. meta-data gets no instance and no parameters.
func environ(c callEnv) []string {
	env := []string{
		"PATH=" + sanePath,
		"LC_ALL=C",
		"OCF_ROOT=" + c.root,
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_PROVIDER=" + c.ra.provider,
		"OCF_RESOURCE_TYPE=" + c.ra.typ,
		"OCF_EXIT_REASON_PREFIX=" + exitReasonPrefix,
		// Agents log to stderr, which vigil reads, not to syslog.
		"HA_LOGFACILITY=none",
		"HA_RSCTMP=" + c.stateDir,
	}
	if c.action != "meta-data" {
		env = append(env,
			"OCF_RESOURCE_INSTANCE="+string(c.instance),
			"OCF_RESKEY_CRM_meta_timeout="+strconv.FormatInt(c.timeout.Milliseconds(), 10),
			"OCF_RESKEY_CRM_meta_interval="+strconv.FormatInt(c.interval.Milliseconds(), 10),
		)
		for k, v := range c.params {
			env = append(env, "OCF_RESKEY_"+k+"="+v)
		}
	}
	sort.Strings(env)
	return env
}

// result is how an agent call ended.
type result struct {
	code   int
	stdout []byte
	stderr []byte // the tail
}

// err describes a failed action: "ocf monitor exit 1 (OCF_ERR_GENERIC):
// <why>", where why is the agent's exit reason if it gave one, else the
// tail of its stderr (or stdout).
func (res result) err(action string) error {
	return fmt.Errorf("ocf %s exit %d (%s): %s", action, res.code, exitName(res.code), res.detail())
}

// detail is the agent's last exit reason, or else the last lines of its
// stderr, or else of its stdout.
func (res result) detail() string {
	var reason string
	for _, line := range strings.Split(string(res.stderr), "\n") {
		if after, ok := strings.CutPrefix(strings.TrimSpace(line), exitReasonPrefix); ok {
			reason = strings.TrimSpace(after)
		}
	}
	if reason != "" {
		return reason
	}
	if t := agent.OutputTail(res.stderr); t != "" {
		return t
	}
	if t := agent.OutputTail(res.stdout); t != "" {
		return t
	}
	return "no output"
}

// call runs one action of r's agent and returns its exit code. The error
// is non-nil only when the agent did not run to an exit: it could not be
// started, it timed out, or ctx was cancelled (the error wraps ctx.Err()).
func (a *Agent) call(ctx context.Context, r model.Resource, ra raRef, action string, interval time.Duration) (result, error) {
	params := make(map[string]string, len(r.Params))
	for k, v := range r.Params {
		if k != "agent" {
			params[k] = v
		}
	}
	if err := os.MkdirAll(a.stateDir, 0o755); err != nil {
		return result{}, fmt.Errorf("ocf %s: state directory: %w", action, err)
	}
	if a.netns != "" {
		if _, err := os.Stat(filepath.Join("/run/netns", a.netns)); err != nil {
			return result{}, fmt.Errorf("ocf %s: network namespace %s: %w", action, a.netns, err)
		}
	}
	return a.exec(ctx, callEnv{
		root:     a.root,
		stateDir: a.stateDir,
		ra:       ra,
		action:   action,
		instance: r.ID,
		params:   params,
		interval: interval,
	})
}

// exec runs ra with one action in its own process group. When ctx ends
// first, the whole group is killed (SIGKILL, as Pacemaker does on a
// timeout) and the error says timeout.
//
// Output goes to memory files, not pipes: agents often leave a child
// behind that holds stdout or stderr (IPaddr2's background send_arp), and
// vigil must not wait for it, nor kill it with SIGPIPE.
func (a *Agent) exec(ctx context.Context, c callEnv) (result, error) {
	if err := ctx.Err(); err != nil {
		return result{}, fmt.Errorf("ocf %s not run: %w", c.action, err)
	}
	if d, ok := ctx.Deadline(); ok {
		c.timeout = max(time.Until(d), 0)
	}
	argv := []string{a.path(c.ra), c.action}
	if a.netns != "" && c.action != "meta-data" {
		argv = append([]string{a.ipPath, "netns", "exec", a.netns}, argv...)
	}
	stdout, err := memFile("ocf-stdout")
	if err != nil {
		return result{}, fmt.Errorf("ocf %s: %w", c.action, err)
	}
	defer stdout.Close()
	stderr, err := memFile("ocf-stderr")
	if err != nil {
		return result{}, fmt.Errorf("ocf %s: %w", c.action, err)
	}
	defer stderr.Close()

	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = environ(c)
	cmd.Dir = "/"
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		// The agent leads its process group; kill all of it.
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	runErr := cmd.Run()

	res := result{
		stdout: readHead(stdout, maxStdout),
		stderr: readTail(stderr, stderrTail),
	}
	if len(res.stderr) > 0 {
		a.log.Debug("ocf agent output", "resource", c.instance, "op", c.action, "agent", c.ra.String(), "stderr", string(bytes.TrimSpace(res.stderr)))
	}
	st := cmd.ProcessState
	if st != nil && st.Exited() {
		// The agent exited by itself, even if ctx ended meanwhile.
		res.code = st.ExitCode()
		return res, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil && cmd.Process != nil {
		word := "timeout"
		if errors.Is(ctxErr, context.Canceled) {
			word = "cancelled"
		}
		a.log.Warn("ocf agent killed", "resource", c.instance, "op", c.action, "agent", c.ra.String(),
			"reason", word, "after", time.Since(start).Round(time.Millisecond), "pgid", cmd.Process.Pid)
		return res, fmt.Errorf("ocf %s %s after %s (killed process group %d; %s): %w",
			c.action, word, c.timeout.Round(time.Millisecond), cmd.Process.Pid, res.detail(), ctxErr)
	}
	if runErr == nil {
		runErr = errors.New("no exit status")
	}
	return res, fmt.Errorf("ocf %s: run %s: %w", c.action, argv[0], runErr)
}

// memFile returns an anonymous in-memory file.
func memFile(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd %s: %w", name, err)
	}
	return os.NewFile(uintptr(fd), name), nil
}

// readHead returns up to n bytes from the start of f.
func readHead(f *os.File, n int64) []byte {
	b, _ := io.ReadAll(io.NewSectionReader(f, 0, n))
	return b
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
