package fence

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// fakeAgent writes an executable fence agent that records its standard
// input in DIR/NAME.in and then runs body.
func fakeAgent(t *testing.T, dir, name, body string) {
	t.Helper()
	script := "#!/bin/sh\ncat > " + filepath.Join(dir, name+".in") + "\n" + body + "\n"
	if err := os.WriteFile(filepath.Join(dir, name), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The protocol: options as sorted key=value lines after the action, the
// node's plug when the device maps it; exit 0 succeeds, status maps 0 and
// 2 to on and off, anything else fails without showing secrets.
func TestRunProtocol(t *testing.T) {
	dir := t.TempDir()
	fakeAgent(t, dir, "fence_ok", "exit 0")
	fakeAgent(t, dir, "fence_off", "exit 2")
	fakeAgent(t, dir, "fence_bad", `echo "login as admin with s3cret failed"; exit 1`)
	r := Runner{Dir: dir}
	dev := Device{ID: "ipmi-n1", Agent: "fence_ok", Params: map[string]string{"ip": "198.18.0.201", "username": "admin", "password": "s3cret"},
		Plugs: map[model.NodeID]string{"n1": "3"}}
	ctx := context.Background()
	if p, err := r.Run(ctx, dev, Off, "n1"); err != nil || p != "" {
		t.Fatalf("off = %q, %v", p, err)
	}
	if got, want := read(t, filepath.Join(dir, "fence_ok.in")), "action=off\nip=198.18.0.201\npassword=s3cret\nusername=admin\nplug=3\n"; got != want {
		t.Errorf("stdin %q, want %q", got, want)
	}
	if _, err := r.Run(ctx, dev, Reboot, "n2"); err != nil || strings.Contains(read(t, filepath.Join(dir, "fence_ok.in")), "plug=") {
		t.Errorf("a node the device does not map gets no plug: %v", err)
	}
	if p, err := r.Run(ctx, dev, Status, "n1"); err != nil || p != PowerOn {
		t.Errorf("status (exit 0) = %q, %v; want on", p, err)
	}
	dev.Agent = "fence_off"
	if p, err := r.Run(ctx, dev, Status, "n1"); err != nil || p != PowerOff {
		t.Errorf("status (exit 2) = %q, %v; want off", p, err)
	}
	if _, err := r.Run(ctx, dev, Off, "n1"); !errors.Is(err, ErrFailed) {
		t.Errorf("off with exit 2 = %v; want ErrFailed", err)
	}
	dev.Agent = "fence_bad"
	_, err := r.Run(ctx, dev, Off, "n1")
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "exit status 1") || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "[redacted]") {
		t.Errorf("a failing agent: %v; want ErrFailed, its output with the password redacted", err)
	}
	for _, agent := range []string{"fence_none", "../fence_ok", "", filepath.Join(dir, "fence_ok.in")} {
		if _, err := r.Run(ctx, Device{ID: "d", Agent: agent}, Off, "n1"); err == nil || errors.Is(err, ErrFailed) {
			t.Errorf("agent %q: %v; want an error that it cannot run", agent, err)
		}
	}
}

// An agent that hangs is killed, with its children, at the device's
// timeout, and the fence fails.
func TestRunTimeout(t *testing.T) {
	dir := t.TempDir()
	fakeAgent(t, dir, "fence_hang", "sleep 30 & wait")
	start := time.Now()
	_, err := Runner{Dir: dir}.Run(context.Background(), Device{ID: "d", Agent: "fence_hang", Timeout: 200 * time.Millisecond}, Off, "n1")
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "timed out") {
		t.Errorf("a hanging agent: %v; want a timeout failure", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the fence took %s: the agent was not killed", d)
	}
}

// Levels are tried in order; a level succeeds only if all its devices do.
func TestFenceLevels(t *testing.T) {
	dir := t.TempDir()
	fakeAgent(t, dir, "fence_ok", "exit 0")
	fakeAgent(t, dir, "fence_fail", "exit 1")
	ok, fail := Device{ID: "ok", Agent: "fence_ok"}, Device{ID: "fail", Agent: "fence_fail"}
	r := Runner{Dir: dir}
	for _, tc := range []struct {
		name   string
		levels []Level
		want   int
		says   string
	}{
		{"first level", []Level{{ok}, {fail}}, 0, ""},
		{"second when the first fails", []Level{{ok, fail}, {ok}}, 1, ""},
		{"every level fails", []Level{{fail}, {ok, fail}}, -1, "level 2"},
		{"no level", nil, -1, "no fencing level"},
	} {
		got, err := r.Fence(context.Background(), "n1", tc.levels, Off)
		if got != tc.want || (tc.says == "") != (err == nil) || (err != nil && !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%s: level %d, %v; want %d, saying %q", tc.name, got, err, tc.want, tc.says)
		}
	}
}

// fence_dummy from Debian's fence-agents, run unchanged: off powers its
// file-backed plug off, status reads it, and its failing mode fails.
func TestFenceDummy(t *testing.T) {
	if _, err := os.Stat("/usr/sbin/fence_dummy"); err != nil {
		t.Skipf("needs Debian's fence-agents (apt-get install fence-agents): %v", err)
	}
	status := filepath.Join(t.TempDir(), "power")
	if err := os.WriteFile(status, []byte("on"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := Runner{}
	dev := Device{ID: "dummy", Agent: "fence_dummy", Params: map[string]string{"type": "file", "status_file": status}, Timeout: 30 * time.Second}
	ctx := context.Background()
	if p, err := r.Run(ctx, dev, Status, "n1"); err != nil || p != PowerOn {
		t.Fatalf("status = %q, %v; want on", p, err)
	}
	if lvl, err := r.Fence(ctx, "n1", []Level{{dev}}, Off); err != nil || lvl != 0 {
		t.Fatalf("fence = %d, %v", lvl, err)
	}
	if p, err := r.Run(ctx, dev, Status, "n1"); err != nil || p != PowerOff {
		t.Errorf("status after off = %q, %v; want off", p, err)
	}
	failing := Device{ID: "dummy-fail", Agent: "fence_dummy", Params: map[string]string{"type": "fail", "power_timeout": "1"}, Timeout: 30 * time.Second}
	if _, err := r.Fence(ctx, "n1", []Level{{failing}}, Off); !errors.Is(err, ErrFailed) {
		t.Errorf("fence_dummy type=fail: %v; want ErrFailed", err)
	}
}
