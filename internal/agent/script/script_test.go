package script

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

func TestMain(m *testing.M) {
	// The test script's daemon outlives the script that started it.
	// Make this process its reaper rather than PID 1, which in some
	// containers reaps late or never, and reap what is left at the end.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	for range 10000 {
		if pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); pid <= 0 || err != nil {
			break
		}
	}
	os.Exit(code)
}

// lsbScript is a small LSB init script managing a detached sleep (the
// "daemon", told apart by its unique duration) with a pid file. A zombie
// counts as dead: it only waits to be reaped.
const lsbScript = `#!/bin/sh
PIDFILE=@DIR@/daemon.pid
MARK=@MARK@
running() {
	[ -f "$PIDFILE" ] || return 1
	pid=$(cat "$PIDFILE")
	[ -r "/proc/$pid/stat" ] || return 1
	state=$(sed 's/.*) \(.\).*/\1/' "/proc/$pid/stat")
	[ "$state" != Z ] && tr '\0' ' ' < "/proc/$pid/cmdline" | grep -q "sleep $MARK"
}
case "$1" in
start)
	running && exit 0
	setsid sleep "$MARK" </dev/null >/dev/null 2>&1 &
	echo $! > "$PIDFILE"
	# Return once the daemon runs (the child is a copy of this shell
	# until it execs setsid).
	i=0
	while ! running && [ $i -lt 100 ]; do sleep 0.02; i=$((i+1)); done
	if ! running; then echo "daemon did not start" >&2; exit 1; fi
	echo "started $!"
	exit 0 ;;
stop)
	if ! running; then rm -f "$PIDFILE"; exit 0; fi
	kill "$(cat "$PIDFILE")"
	i=0
	while running && [ $i -lt 100 ]; do sleep 0.05; i=$((i+1)); done
	if running; then echo "still running" >&2; exit 1; fi
	rm -f "$PIDFILE"
	exit 0 ;;
status)
	running && exit 0
	if [ -f "$PIDFILE" ]; then echo "daemon dead, pid file remains"; exit 1; fi
	exit 3 ;;
*)
	echo "usage: $0 {start|stop|status}" >&2
	exit 2 ;;
esac
`

// writeScript writes an executable script into a temp dir.
func writeScript(t *testing.T, body string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "svc")
	if err := os.WriteFile(path, []byte(body), 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// marker returns a sleep duration unique to this call, e.g. "299.123456".
func marker(t *testing.T) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("299.%06d", n.Int64())
}

// sleeps returns the live processes `sleep mark`, read from /proc: what
// runs, whatever the script says.
func sleeps(t *testing.T, mark string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		// "setsid sleep MARK" until setsid has exec'd sleep.
		if err != nil || !bytes.Contains(cmdline, []byte("sleep\x00"+mark+"\x00")) {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err == nil && i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' {
			out = append(out, pid)
		}
	}
	return out
}

// noLeftovers fails the test if `sleep mark` runs at its end, and kills it.
func noLeftovers(t *testing.T, mark string) {
	t.Cleanup(func() {
		if ps := sleeps(t, mark); len(ps) > 0 {
			t.Errorf("processes %v (sleep %s) left running; killing them", ps, mark)
			for _, p := range ps {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
}

func resource(params ...string) model.Resource {
	r := model.Resource{ID: "svc", Kind: "script", Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		r.Params[params[i]] = params[i+1]
	}
	return r
}

func newAgent(t *testing.T) *Agent {
	t.Helper()
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestConformance(t *testing.T) {
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		mark := marker(t)
		noLeftovers(t, mark)
		dir := t.TempDir()
		body := strings.NewReplacer("@DIR@", dir, "@MARK@", mark).Replace(lsbScript)
		path := writeScript(t, body)
		return agenttest.Subject{
			Agent:    newAgent(t),
			Resource: resource("path", path),
			Invalid:  resource("path", filepath.Join(dir, "absent")),
			Running:  func(t *testing.T) bool { return len(sleeps(t, mark)) > 0 },
			Kill: func(t *testing.T) {
				ps := sleeps(t, mark)
				if len(ps) == 0 {
					t.Fatal("no daemon to kill")
				}
				for _, p := range ps {
					_ = syscall.Kill(p, syscall.SIGKILL)
				}
				for range 500 { // kill(2) returns before the target dies
					if len(sleeps(t, mark)) == 0 {
						return
					}
					time.Sleep(10 * time.Millisecond)
				}
				t.Fatal("daemon survives SIGKILL")
			},
		}
	})
}

// TestDeadButPidFile: the daemon killed behind the script's back leaves
// its pid file, which LSB status reports as 1, a failure with a reason.
func TestDeadButPidFile(t *testing.T) {
	mark := marker(t)
	noLeftovers(t, mark)
	path := writeScript(t, strings.NewReplacer("@DIR@", t.TempDir(), "@MARK@", mark).Replace(lsbScript))
	a := newAgent(t)
	r := resource("path", path)
	t.Cleanup(func() { _ = a.Stop(context.Background(), r) })
	if err := a.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	for _, p := range sleeps(t, mark) {
		_ = syscall.Kill(p, syscall.SIGKILL)
	}
	for i := 0; len(sleeps(t, mark)) > 0 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	h, err := a.Monitor(ctx(t), r)
	want := "monitor svc: " + path + " status: exit 1 (program is dead and /var/run pid file exists): daemon dead, pid file remains"
	if h != model.HealthFailed || err == nil || err.Error() != want {
		t.Fatalf("Monitor = %s, %v\nwant failed, %s", h, err, want)
	}
}

func TestStatusHealth(t *testing.T) {
	for _, tc := range []struct {
		code int
		want model.Health
	}{
		{0, model.HealthRunning},
		{1, model.HealthFailed},
		{2, model.HealthFailed},
		{3, model.HealthStopped},
		{4, model.HealthFailed},
		{5, model.HealthFailed},
		{150, model.HealthFailed},
		{255, model.HealthFailed},
	} {
		if got, meaning := statusHealth(tc.code); got != tc.want || meaning == "" {
			t.Errorf("statusHealth(%d) = %s, %q; want %s", tc.code, got, meaning, tc.want)
		}
	}
}

// TestStatusCodes runs a real script for each status exit code.
func TestStatusCodes(t *testing.T) {
	dir := t.TempDir()
	codeFile := filepath.Join(dir, "code")
	path := writeScript(t, "#!/bin/sh\necho \"status says $(cat "+codeFile+")\"\nexit $(cat "+codeFile+")\n")
	a := newAgent(t)
	r := resource("path", path)
	for _, tc := range []struct {
		code int
		want model.Health
		err  string
	}{
		{0, model.HealthRunning, ""},
		{3, model.HealthStopped, ""},
		{1, model.HealthFailed, "monitor svc: " + path + " status: exit 1 (program is dead and /var/run pid file exists): status says 1"},
		{2, model.HealthFailed, "monitor svc: " + path + " status: exit 2 (program is dead and /var/lock lock file exists): status says 2"},
		{4, model.HealthFailed, "monitor svc: " + path + " status: exit 4 (program or service status is unknown): status says 4"},
		{7, model.HealthFailed, "monitor svc: " + path + " status: exit 7 (not an LSB status code): status says 7"},
	} {
		if err := os.WriteFile(codeFile, []byte(strconv.Itoa(tc.code)), 0o644); err != nil {
			t.Fatal(err)
		}
		h, err := a.Monitor(ctx(t), r)
		gotErr := ""
		if err != nil {
			gotErr = err.Error()
		}
		if h != tc.want || gotErr != tc.err {
			t.Errorf("status exit %d: Monitor = %s, %q\nwant %s, %q", tc.code, h, gotErr, tc.want, tc.err)
		}
	}
}

func TestActionFailures(t *testing.T) {
	path := writeScript(t, "#!/bin/sh\necho \"cannot $1 $2 $3: port 80 in use\" >&2\nexit 1\n")
	a := newAgent(t)
	r := resource("path", path, "args", " web  extra ")
	if err := a.Start(ctx(t), r); err == nil || err.Error() != "start svc: "+path+" start: exit 1: cannot start web extra: port 80 in use" {
		t.Errorf("Start = %v", err)
	}
	if err := a.Stop(ctx(t), r); err == nil || err.Error() != "stop svc: "+path+" stop: exit 1: cannot stop web extra: port 80 in use" {
		t.Errorf("Stop = %v", err)
	}
}

// TestTimeout: a script that hangs is killed, with its whole process
// group, when the context ends.
func TestTimeout(t *testing.T) {
	mark := marker(t)
	noLeftovers(t, mark)
	path := writeScript(t, "#!/bin/sh\necho waiting\nsleep "+mark+"\n")
	a := newAgent(t)
	r := resource("path", path)
	c, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	err := a.Start(c, r)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "start svc: "+path+" start: killed process group ") ||
		!strings.Contains(err.Error(), "(waiting)") {
		t.Fatalf("Start = %v; want a timeout that killed the group", err)
	}
	t.Logf("Start: %v", err)
	for i := 0; len(sleeps(t, mark)) > 0 && i < 500; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	if ps := sleeps(t, mark); len(ps) > 0 {
		t.Errorf("the script's child %v survives the timeout", ps)
	}
	// The resource's own timeout applies when ctx has no deadline.
	r.Ops.MonitorTimeout = 200 * time.Millisecond
	if h, err := a.Monitor(context.Background(), r); h != model.HealthFailed || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Monitor = %s, %v; want failed by timeout", h, err)
	}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "plain")
	if err := os.WriteFile(notExec, []byte("#!/bin/sh\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	a := newAgent(t)
	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, "params.path: required"},
		{map[string]string{"path": "init.d/x"}, `params.path: "init.d/x" is not an absolute path`},
		{map[string]string{"path": filepath.Join(dir, "absent")}, "params.path: stat " + filepath.Join(dir, "absent") + ": no such file or directory"},
		{map[string]string{"path": notExec}, "params.path: " + notExec + " is not an executable file"},
		{map[string]string{"path": dir}, "params.path: " + dir + " is not an executable file"},
		{map[string]string{"path": "/bin/true", "arg": "x"}, "params.arg: not a script parameter (known: args, path)"},
	} {
		err := a.Validate(model.Resource{ID: "svc", Kind: "script", Params: tc.params})
		if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("Validate(%v) = %v\nwant %s…", tc.params, err, tc.want)
		}
	}
}
