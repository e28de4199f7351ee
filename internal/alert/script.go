package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// scriptPath is the PATH a script runs with.
const scriptPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// waitDelay bounds how long a script's output is awaited after it exits
// or is killed, for a child that keeps its stdout open.
const waitDelay = time.Second

// runScript runs w's script once, until ctx (the attempt's timeout) ends,
// when its process group is killed.
func (r *Runner) runScript(ctx context.Context, w *worker, ev model.Event, attempt int, body []byte) error {
	cmd := exec.CommandContext(ctx, w.alert.Script)
	cmd.Env = r.env(w.alert, ev, attempt)
	cmd.Dir = "/"
	cmd.Stdin = bytes.NewReader(body)
	out := &capped{max: maxOutput}
	cmd.Stdout, cmd.Stderr = out, out
	// Its own process group, so that a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = waitDelay
	err := cmd.Run()
	switch {
	case err == nil:
		return nil
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("timed out after %v; killed its process group", w.alert.Timeout)
	}
	if o := strings.TrimSpace(out.String()); o != "" {
		return fmt.Errorf("run %s: %w; output: %s", w.alert.Script, err, o)
	}
	return fmt.Errorf("run %s: %w", w.alert.Script, err)
}

// env is a script's whole environment for ev.
func (r *Runner) env(a model.Alert, ev model.Event, attempt int) []string {
	seq := ""
	if ev.Seq != 0 {
		seq = strconv.FormatUint(ev.Seq, 10)
	}
	local := "0"
	if ev.Local {
		local = "1"
	}
	vars := []struct{ k, v string }{
		{"PATH", scriptPath},
		{"LANG", "C"},
		{"VIGIL_EVENT_KIND", string(ev.Kind)},
		{"VIGIL_EVENT_SEQ", seq},
		{"VIGIL_EVENT_AT", ev.At.UTC().Format(time.RFC3339Nano)},
		{"VIGIL_EVENT_NODE", string(ev.Node)},
		{"VIGIL_EVENT_RESOURCE", string(ev.Resource)},
		{"VIGIL_EVENT_MESSAGE", ev.Message},
		{"VIGIL_EVENT_BY", ev.By},
		{"VIGIL_EVENT_LOCAL", local},
		{"VIGIL_CLUSTER", r.cluster},
		{"VIGIL_NODE", string(r.self)},
		{"VIGIL_ALERT_ID", a.ID},
		{"VIGIL_ALERT_ATTEMPT", strconv.Itoa(attempt)},
	}
	env := make([]string, len(vars))
	for i, kv := range vars {
		env[i] = kv.k + "=" + strings.ReplaceAll(kv.v, "\x00", "") // exec refuses a NUL
	}
	return env
}

// capped keeps the first max bytes written to it, and says how many more
// there were.
type capped struct {
	max int

	mu   sync.Mutex
	buf  bytes.Buffer
	more int
}

func (c *capped) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	room := c.max - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		c.buf.Write(p[:max(room, 0)])
		c.more += len(p) - max(room, 0)
	}
	return len(p), nil
}

func (c *capped) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.more > 0 {
		return fmt.Sprintf("%s… (%d more bytes)", c.buf.String(), c.more)
	}
	return c.buf.String()
}
