package cli

import (
	"strings"
	"testing"
)

func TestLabFencerCmds(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		code   int
		stderr string
	}{
		{[]string{"lab", "--name", "vtnolab", "fence-agent"}, ExitFailure, "ERROR: open lab vtnolab: no such lab\n"},
		{[]string{"lab", "fence-agent", "--name", "BAD"}, ExitFailure, `ERROR: open lab: lab name "BAD"`},
		{[]string{"lab", "fence-agent", "--name", "vtnolab", "extra"}, ExitUsage, "unknown command"},
		{[]string{"lab", "fencer", "--name", "vtnolab"}, ExitFailure, "no such lab"},
		{[]string{"lab", "fencer", "--name", "vtnolab", "broken"}, ExitFailure, "no such lab"},
		{[]string{"lab", "fencer", "--name", "vtnolab", "melted"}, ExitUsage, `want broken or working, not "melted"`},
		{[]string{"lab", "fencer", "--name", "vtnolab", "broken", "working"}, ExitUsage, "accepts at most 1 arg"},
		{[]string{"lab", "fencer", "--name", "vtnolab", "--lines", "-1"}, ExitUsage, "--lines must not be negative"},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("vigil %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, tc.code, tc.stderr)
		}
	}
	r := runCLI(t, nil, "lab", "--help")
	if r.code != ExitOK || !strings.Contains(r.stdout, "  fencer ") || strings.Contains(r.stdout, "fence-agent") {
		t.Errorf("lab --help: exit %d; want fencer shown and the hidden fence-agent not:\n%s", r.code, r.stdout)
	}
	if r := runCLI(t, nil, "lab", "fencer", "--help"); !strings.Contains(r.stdout, "fence_vigil_lab") || !strings.Contains(r.stdout, "--lines") {
		t.Errorf("lab fencer --help:\n%s", r.stdout)
	}
}
