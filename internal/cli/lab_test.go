package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/config"
)

func TestLabWatchdogCmd(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"lab", "watchdog", "--name", "vtnolab", "--node", "n1"}, ExitFailure, "no such lab"},
		{[]string{"lab", "watchdog", "--name", "vtnolab"}, ExitUsage, "--node is required"},
		{[]string{"lab", "watchdog", "--name", "vtnolab", "--node", "n1", "--timeout", "1ms"}, ExitFailure, "timeout 1ms"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("vigil %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.stderr)
		}
	}
	if r := runCLI(t, nil, "lab", "--help"); r.code != ExitOK || !strings.Contains(r.stdout, "  revive ") || strings.Contains(r.stdout, "  watchdog ") {
		t.Errorf("lab --help: exit %d; the hidden watchdog command shows:\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "lab", "up", "--help"); !strings.Contains(r.stdout, "--watchdog") {
		t.Errorf("lab up --help lacks --watchdog:\n%s", r.stdout)
	}
}

func TestLabWatchdogTimeout(t *testing.T) {
	for profile, want := range map[string]time.Duration{"lan": 42500 * time.Microsecond, "wan": 1250 * time.Millisecond} {
		timing, _ := config.Profile(profile)
		got := labWatchdogTimeout(timing)
		if got != want || got > timing.Lease/4 {
			t.Errorf("%s: watchdog timeout %s; want %s, at most a quarter of the lease %s", profile, got, want, timing.Lease)
		}
	}
}
