package exec

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

// The test binary doubles as the supervised service: run with
// VIGIL_EXEC_TEST_HELPER=http it serves HTTP instead of running tests.
const helperEnv = "VIGIL_EXEC_TEST_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "http" {
		serveHelper()
		return
	}
	// Processes these tests start can leave orphans (the sleep of a
	// SIGKILLed shell). Make this process their reaper rather than PID 1,
	// which in some containers never reaps, and reap them at the end.
	_ = unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
	code := m.Run()
	for range 10000 {
		if pid, err := unix.Wait4(-1, nil, unix.WNOHANG, nil); pid <= 0 || err != nil {
			break
		}
	}
	os.Exit(code)
}

// serveHelper serves GET /health on VIGIL_EXEC_TEST_ADDR, answering the
// status written in the file VIGIL_EXEC_TEST_STATUS_FILE (200 if absent).
func serveHelper() {
	statusFile := os.Getenv("VIGIL_EXEC_TEST_STATUS_FILE")
	http.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		code := http.StatusOK
		if b, err := os.ReadFile(statusFile); err == nil {
			if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
				code = n
			}
		}
		w.WriteHeader(code)
	})
	fmt.Println("helper listening on", os.Getenv("VIGIL_EXEC_TEST_ADDR"))
	err := http.ListenAndServe(os.Getenv("VIGIL_EXEC_TEST_ADDR"), nil)
	fmt.Println("helper:", err)
	os.Exit(1)
}

func newAgent(t *testing.T, stateDir string) *Agent {
	t.Helper()
	a, err := New(Config{StateDir: stateDir})
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

// marker returns a sleep duration unique to this call ("299.123456"), so
// that a test finds its own sleep among the node's processes.
func marker(t *testing.T) string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("299.%06d", n.Int64())
}

// procs returns the live (not zombie) processes whose command line holds
// every one of args, read from /proc: what runs, whatever the agent says.
func procs(t *testing.T, args ...string) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	want := []byte(strings.Join(args, "\x00") + "\x00")
	var out []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmdline, want) {
			continue
		}
		if st, err := readStat(pid); err == nil && !st.gone() {
			out = append(out, pid)
		}
	}
	return out
}

// killAll SIGKILLs the processes procs finds (failing if there are none)
// and waits, up to 5s, until they are dead: kill(2) returns before its
// target has died.
func killAll(t *testing.T, args ...string) {
	t.Helper()
	ps := procs(t, args...)
	if len(ps) == 0 {
		t.Fatalf("no process %q to kill", args)
	}
	for _, p := range ps {
		if err := syscall.Kill(p, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
	}
	for range 500 {
		if len(procs(t, args...)) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("processes %v survive SIGKILL", ps)
}

// killGroup SIGKILLs the process group that the pid file names and waits,
// up to 5s, until its leader is dead (a zombie counts as dead).
func killGroup(t *testing.T, pidFile string) {
	t.Helper()
	pf, err := readPidfile(pidFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(-pf.pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for range 500 {
		if st, err := readStat(pf.pid); err != nil || st.gone() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("process group %d survives SIGKILL", pf.pid)
}

// noLeftovers fails the test if a process with args runs at its end, and
// kills it.
func noLeftovers(t *testing.T, args ...string) {
	t.Cleanup(func() {
		if ps := procs(t, args...); len(ps) > 0 {
			t.Errorf("processes %v (%q) left running; killing them", ps, args)
			for _, p := range ps {
				_ = syscall.Kill(p, syscall.SIGKILL)
			}
		}
	})
}

func resource(id string, params ...string) model.Resource {
	r := model.Resource{ID: model.ResourceID(id), Kind: "exec", Params: map[string]string{}}
	for i := 0; i+1 < len(params); i += 2 {
		r.Params[params[i]] = params[i+1]
	}
	return r
}

func TestConformanceSleep(t *testing.T) {
	m := marker(t)
	noLeftovers(t, "sleep", m)
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		dir := t.TempDir()
		return agenttest.Subject{
			Agent:    newAgent(t, dir),
			Resource: resource("sleeper", "command", "exec sleep "+m, "start_settle", "50ms"),
			Invalid:  resource("sleeper", "command", "exec sleep "+m, "stop_signal", "BOGUS"),
			Running:  func(t *testing.T) bool { return len(procs(t, "sleep", m)) > 0 },
			// By the pid file, not by command line: on a loaded machine the
			// shell may not have exec'd sleep yet, while an earlier
			// subtest's sleep (same marker) is still going away.
			Kill: func(t *testing.T) { killGroup(t, filepath.Join(dir, "sleeper.pid")) },
		}
	})
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// helperResource is the test binary serving HTTP on a free port, checked
// by HTTP and TCP. The status file sets what /health answers.
func helperResource(t *testing.T, id string) (r model.Resource, statusFile string, tag string) {
	t.Helper()
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	statusFile = filepath.Join(t.TempDir(), "status")
	tag = "vigil-exec-helper-" + addr
	r = resource(id,
		"command", fmt.Sprintf("exec '%s' %s", bin, tag),
		"env", helperEnv+"=http,VIGIL_EXEC_TEST_ADDR="+addr+",VIGIL_EXEC_TEST_STATUS_FILE="+statusFile,
		"check_http", "http://"+addr+"/health",
		"check_tcp", addr,
		"stop_grace", "5s")
	return r, statusFile, tag
}

func TestConformanceHTTP(t *testing.T) {
	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		r, _, tag := helperResource(t, "web")
		noLeftovers(t, tag)
		invalid := resource("web", "command", r.Params["command"], "check_http", "ftp://x/")
		return agenttest.Subject{
			Agent:    newAgent(t, t.TempDir()),
			Resource: r,
			Invalid:  invalid,
			Running:  func(t *testing.T) bool { return len(procs(t, tag)) > 0 },
			Kill:     func(t *testing.T) { killAll(t, tag) },
		}
	})
}

// monitorFails checks that Monitor reports Failed with a reason containing
// want.
func monitorFails(t *testing.T, a *Agent, r model.Resource, want string) {
	t.Helper()
	h, err := a.Monitor(ctx(t), r)
	if h != model.HealthFailed || err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Monitor = %s, %v; want failed, saying %q", h, err, want)
	}
	t.Logf("Monitor: %v", err)
}

func mustStart(t *testing.T, a *Agent, r model.Resource) {
	t.Helper()
	t.Cleanup(func() {
		if err := a.Stop(context.Background(), r); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	if err := a.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if h, err := a.Monitor(ctx(t), r); h != model.HealthRunning {
		t.Fatalf("Monitor after Start = %s, %v", h, err)
	}
}

func TestHTTPCheckFails(t *testing.T) {
	a := newAgent(t, t.TempDir())
	r, statusFile, tag := helperResource(t, "web")
	noLeftovers(t, tag)
	mustStart(t, a, r)
	if err := os.WriteFile(statusFile, []byte("503"), 0o644); err != nil {
		t.Fatal(err)
	}
	monitorFails(t, a, r, fmt.Sprintf("runs but check_http %s: answered 503, want 200", r.Params["check_http"]))
	// The wanted status is a parameter.
	r.Params["check_http_status"] = "503"
	if h, err := a.Monitor(ctx(t), r); h != model.HealthRunning {
		t.Errorf("Monitor with check_http_status 503 = %s, %v", h, err)
	}
}

func TestTCPCheckFails(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	m := marker(t)
	noLeftovers(t, "sleep", m)
	a := newAgent(t, t.TempDir())
	r := resource("svc", "command", "exec sleep "+m, "check_tcp", ln.Addr().String())
	mustStart(t, a, r)
	ln.Close()
	monitorFails(t, a, r, "check_tcp "+ln.Addr().String()+": connect: connection refused")
}

func TestCheckCommandFails(t *testing.T) {
	healthy := filepath.Join(t.TempDir(), "healthy")
	if err := os.WriteFile(healthy, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	m := marker(t)
	noLeftovers(t, "sleep", m)
	a := newAgent(t, t.TempDir())
	r := resource("svc", "command", "exec sleep "+m,
		"check_command", `test -e "$HEALTH_FILE" || { echo "no $HEALTH_FILE"; exit 2; }`,
		"env", "HEALTH_FILE="+healthy)
	mustStart(t, a, r)
	if err := os.Remove(healthy); err != nil {
		t.Fatal(err)
	}
	monitorFails(t, a, r, "check_command: exited with status 2: no "+healthy)
}

// TestStartTimeoutKillsChild: a service whose checks never pass is killed
// when the start context ends, and leaves no pid file.
func TestStartTimeoutKillsChild(t *testing.T) {
	m := marker(t)
	noLeftovers(t, "sleep", m)
	dir := t.TempDir()
	a := newAgent(t, dir)
	r := resource("slow", "command", "exec sleep "+m, "check_command", "exit 1")
	c, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	err := a.Start(c, r)
	if err == nil || !strings.Contains(err.Error(), "start slow: health checks did not pass in time (last: check_command: exited with status 1): context deadline exceeded") {
		t.Fatalf("Start = %v", err)
	}
	if ps := procs(t, "sleep", m); len(ps) > 0 {
		t.Errorf("processes %v survive the failed start", ps)
	}
	if _, err := os.Stat(filepath.Join(dir, "slow.pid")); !os.IsNotExist(err) {
		t.Errorf("pid file after a failed start: %v", err)
	}
	if h, err := a.Monitor(ctx(t), r); h != model.HealthStopped {
		t.Errorf("Monitor = %s, %v; want stopped", h, err)
	}
}

func TestStartFailsWhenProcessExits(t *testing.T) {
	a := newAgent(t, t.TempDir())
	err := a.Start(ctx(t), resource("crash", "command", "echo 'cannot bind :80' >&2; exit 7"))
	if err == nil || !strings.Contains(err.Error(), "exited with status 7 within start_settle 200ms; log: cannot bind :80") {
		t.Fatalf("Start = %v", err)
	}
	t.Logf("Start: %v", err)
}

// TestExitStatusReported: a process that dies after starting is Failed,
// with how it ended.
func TestExitStatusReported(t *testing.T) {
	dir := t.TempDir()
	quit := filepath.Join(dir, "quit")
	a := newAgent(t, t.TempDir())
	r := resource("svc", "command", "while [ ! -e "+quit+" ]; do sleep 0.02; done; exit 3", "start_settle", "50ms")
	mustStart(t, a, r)
	c := a.children[r.ID]
	if err := os.WriteFile(quit, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the process did not exit")
	}
	monitorFails(t, a, r, fmt.Sprintf("monitor svc: process %d exited with status 3", c.pid))

	m := marker(t)
	noLeftovers(t, "sleep", m)
	r2 := resource("svc2", "command", "exec sleep "+m, "start_settle", "50ms")
	mustStart(t, a, r2)
	c2 := a.children[r2.ID]
	killAll(t, "sleep", m)
	<-c2.done
	monitorFails(t, a, r2, fmt.Sprintf("process %d killed by signal SIGKILL", c2.pid))
}

// TestAdopt: a new Agent on the same state directory (a restarted daemon)
// sees the process the old one started, does not start a second one, and
// stops it.
func TestAdopt(t *testing.T) {
	m := marker(t)
	noLeftovers(t, "sleep", m)
	dir := t.TempDir()
	old := newAgent(t, dir)
	r := resource("svc", "command", "exec sleep "+m, "start_settle", "50ms")
	if err := old.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	before := procs(t, "sleep", m)

	a := newAgent(t, dir)
	if h, err := a.Monitor(ctx(t), r); h != model.HealthRunning {
		t.Fatalf("new agent: Monitor = %s, %v; want running", h, err)
	}
	if err := a.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if after := procs(t, "sleep", m); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("processes %v after Start on the new agent, want still %v (adopted, not duplicated)", after, before)
	}
	if err := a.Stop(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	if ps := procs(t, "sleep", m); len(ps) > 0 {
		t.Fatalf("processes %v survive Stop", ps)
	}
	for _, ag := range []*Agent{a, old} {
		if h, err := ag.Monitor(ctx(t), r); h != model.HealthStopped {
			t.Errorf("Monitor = %s, %v; want stopped", h, err)
		}
	}
}

// TestAdoptedDeathFails: once a new Agent has seen an adopted process
// alive, its death is a failure; a process that died before any Agent of
// this daemon looked is merely not running (the daemon restarted, or the
// node rebooted, in between).
func TestAdoptedDeathFails(t *testing.T) {
	m := marker(t)
	noLeftovers(t, "sleep", m)
	dir := t.TempDir()
	old := newAgent(t, dir)
	r := resource("svc", "command", "exec sleep "+m, "start_settle", "50ms")
	if err := old.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	watcher := newAgent(t, dir)
	if h, err := watcher.Monitor(ctx(t), r); h != model.HealthRunning {
		t.Fatalf("Monitor = %s, %v; want running", h, err)
	}
	killAll(t, "sleep", m)
	<-old.children[r.ID].done
	monitorFails(t, watcher, r, "is gone")
	late := newAgent(t, dir)
	if h, err := late.Monitor(ctx(t), r); h != model.HealthStopped || err != nil {
		t.Errorf("an agent that never saw it: Monitor = %s, %v; want stopped", h, err)
	}
	if err := late.Start(ctx(t), r); err != nil {
		t.Fatalf("Start over the leftover pid file: %v", err)
	}
	if err := late.Stop(ctx(t), r); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a log sink safe for the agent's concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestStopEscalates: a service that ignores SIGTERM (shell and child) is
// SIGKILLed after stop_grace, and Stop returns within its context.
func TestStopEscalates(t *testing.T) {
	m := marker(t)
	noLeftovers(t, "sleep", m)
	var logs syncBuffer
	a, err := New(Config{StateDir: t.TempDir(), Log: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	r := resource("stubborn", "command", `trap "" TERM; sleep `+m+`; echo unreachable`, "stop_grace", "300ms", "start_settle", "100ms")
	if err := a.Start(ctx(t), r); err != nil {
		t.Fatal(err)
	}
	pgid := a.children[r.ID].pid
	if len(procs(t, "sleep", m)) == 0 {
		t.Fatal("no sleep running")
	}
	c, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := a.Stop(c, r); err != nil {
		t.Fatalf("Stop = %v", err)
	}
	if c.Err() != nil {
		t.Errorf("Stop returned after its context ended")
	}
	if ps := procs(t, "sleep", m); len(ps) > 0 {
		t.Errorf("processes %v survive Stop", ps)
	}
	if members, _ := groupMembers(pgid); len(members) > 0 {
		t.Errorf("process group %d still has %v", pgid, members)
	}
	if !strings.Contains(logs.String(), "exec stop escalated to SIGKILL") || !strings.Contains(logs.String(), "signal=SIGTERM grace=300ms") {
		t.Errorf("log does not show the escalation:\n%s", logs.String())
	}
}

// TestUserDirEnv checks, from /proc, the identity the process runs with.
func TestUserDirEnv(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run a process as another user")
	}
	m := marker(t)
	noLeftovers(t, "sleep", m)
	a := newAgent(t, t.TempDir())
	r := resource("svc", "command", "exec sleep "+m, "user", "nobody", "dir", "/usr", "env", "FOO=bar, HOME=/nonexistent-home", "start_settle", "50ms")
	mustStart(t, a, r)
	pid := a.children[r.ID].pid
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(status, []byte("\nUid:\t65534\t65534\t65534\t65534\n")) {
		t.Errorf("process does not run as nobody:\n%s", status)
	}
	if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd != "/usr" {
		t.Errorf("cwd = %q, want /usr", cwd)
	}
	env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
	got := strings.Split(strings.TrimRight(string(env), "\x00"), "\x00")
	for _, want := range []string{"FOO=bar", "VIGIL_RESOURCE=svc", "USER=nobody", "HOME=/nonexistent-home"} {
		if !contains(got, want) {
			t.Errorf("environment %q lacks %s", got, want)
		}
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// TestReusedPIDNotSignalled: a pid file whose PID now belongs to another
// process (here the test itself, with another start time) or to another
// boot is stale: nothing of it runs, so Monitor says stopped (a leftover
// is no failure), and Stop removes it without signalling.
func TestReusedPIDNotSignalled(t *testing.T) {
	dir := t.TempDir()
	a := newAgent(t, dir)
	self, err := readStat(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	for _, pf := range []pidfile{
		{pid: os.Getpid(), start: self.start + 1, boot: a.boot},
		{pid: os.Getpid(), start: self.start, boot: "another-boot"},
	} {
		r := resource("stale")
		r.Params["command"] = "exec sleep 1"
		if err := writePidfile(filepath.Join(dir, "stale.pid"), pf); err != nil {
			t.Fatal(err)
		}
		if h, err := a.Monitor(ctx(t), r); h != model.HealthStopped || err != nil {
			t.Errorf("Monitor of a stale pid file %v = %s, %v; want stopped", pf, h, err)
		}
		if err := a.Stop(ctx(t), r); err != nil { // would SIGTERM this test if it signalled
			t.Fatal(err)
		}
		if h, err := a.Monitor(ctx(t), r); h != model.HealthStopped {
			t.Errorf("Monitor after Stop = %s, %v", h, err)
		}
	}
}

func TestNew(t *testing.T) {
	if _, err := New(Config{StateDir: "relative/dir"}); err == nil || err.Error() != `exec config: StateDir "relative/dir" is not an absolute path` {
		t.Errorf("New(relative) = %v", err)
	}
	a, err := New(Config{})
	if err != nil || a.stateDir != DefaultStateDir {
		t.Errorf("New(zero) = %v, state dir %q", err, a.stateDir)
	}
}
