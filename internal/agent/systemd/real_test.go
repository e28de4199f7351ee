package systemd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/agent/agenttest"
	"github.com/vigil-ha/vigil/internal/model"
)

// systemdBooted reports whether systemd is the init system (the check
// sd_booted makes), and if not, what PID 1 is.
func systemdBooted() (bool, string) {
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		return true, "systemd"
	}
	b, err := os.ReadFile("/proc/1/comm")
	if err != nil {
		return false, "unknown"
	}
	return false, strings.TrimSpace(string(b))
}

// TestWithoutSystemd checks what the real agent does on a node without
// systemd: it validates, and every operation fails saying it cannot reach
// systemd, without hanging.
func TestWithoutSystemd(t *testing.T) {
	if ok, _ := systemdBooted(); ok {
		t.Skip("systemd is the init system here; TestRealSystemd covers the real agent")
	}
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	r := unitResource("vigil-test-absent.service")
	if err := a.Validate(r); err != nil {
		t.Errorf("Validate = %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	h, err := a.Monitor(ctx, r)
	if h != model.HealthFailed || err == nil || !strings.HasPrefix(err.Error(), "monitor web (vigil-test-absent.service): ") {
		t.Errorf("Monitor = %s, %v; want failed, saying why", h, err)
	}
	t.Logf("Monitor without systemd: %v", err)
	if err := a.Start(ctx, r); err == nil {
		t.Error("Start without systemd = nil")
	}
	if err := a.Stop(ctx, r); err == nil {
		t.Error("Stop without systemd = nil; vigil cannot know the unit is stopped")
	}
}

// TestRealSystemd runs the conformance suite against the host's systemd
// with a throwaway service in /run/systemd/system.
func TestRealSystemd(t *testing.T) {
	if ok, pid1 := systemdBooted(); !ok {
		t.Skipf("systemd is not the init system here (PID 1 is %s)", pid1)
	}
	if os.Geteuid() != 0 {
		t.Skip("needs root to install a unit and drive it")
	}
	unit := fmt.Sprintf("vigil-agent-test-%d.service", os.Getpid())
	path := filepath.Join("/run/systemd/system", unit)
	systemctl := func(t *testing.T, args ...string) string {
		t.Helper()
		out, err := exec.Command("systemctl", args...).CombinedOutput()
		if err != nil {
			t.Fatalf("systemctl %s: %v: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	activeState := func(t *testing.T) string {
		return strings.TrimPrefix(systemctl(t, "show", "--property=ActiveState", unit), "ActiveState=")
	}
	t.Cleanup(func() {
		_ = exec.Command("systemctl", "stop", unit).Run()
		_ = os.Remove(path)
		_ = exec.Command("systemctl", "daemon-reload").Run()
		_ = exec.Command("systemctl", "reset-failed", unit).Run()
	})
	text := "[Unit]\nDescription=vigil systemd agent test\n[Service]\nExecStart=/bin/sleep 1000\n"
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	systemctl(t, "daemon-reload")

	agenttest.Run(t, func(t *testing.T) agenttest.Subject {
		a, err := New(Config{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(a.Close)
		return agenttest.Subject{
			Agent:    a,
			Resource: unitResource(unit),
			Invalid:  unitResource(strings.TrimSuffix(unit, ".service")),
			Running:  func(t *testing.T) bool { return activeState(t) == "active" },
			Kill: func(t *testing.T) {
				systemctl(t, "kill", "--signal=KILL", unit)
				// systemd notices the death asynchronously; each systemctl
				// call paces the next, and the count bounds the wait.
				for range 200 {
					if activeState(t) != "active" {
						return
					}
				}
				t.Fatalf("%s still active after SIGKILL", unit)
			},
		}
	})
}
