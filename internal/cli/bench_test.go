package cli

import (
	"strings"
	"testing"
)

// Bad flags of `lab bench failover` are usage errors that name the flag
// and what it wants, and the check runs before anything is touched (the
// test's environment has no vigil binary and no lab).
func TestBenchFailoverFlags(t *testing.T) {
	cases := []struct {
		name   string
		args   []string
		stderr []string
	}{
		{"unknown fault", []string{"--faults", "node-kill,disk-kill"}, []string{`--faults: unknown fault "disk-kill"`, "node-kill, daemon-kill, service-kill"}},
		{"soak as a fault", []string{"--faults", "soak"}, []string{"soak is not a trial fault", "--loss and --duration"}},
		{"negative trials", []string{"--trials", "-1"}, []string{"--trials must be from 0 to 1000, not -1"}},
		{"probe interval too small", []string{"--probe-interval", "100us"}, []string{"--probe-interval must be from 1ms to 1s"}},
		{"loss without duration", []string{"--loss", "20"}, []string{"--loss and --duration go together"}},
		{"duration without loss", []string{"--duration", "30s"}, []string{"--loss and --duration go together"}},
		{"loss over 100", []string{"--loss", "120", "--duration", "1m"}, []string{"--loss must be a percent from 0 to 100, not 120"}},
		{"loss on a leader", []string{"--loss", "20", "--duration", "1m", "--loss-on", "leader"}, []string{`--loss-on: loss-on "leader": want holder or all`}},
		{"bad output", []string{"-o", "yaml"}, []string{`--output must be table or json, not "yaml"`}},
		{"unknown system", []string{"--compare", "heartbeat"}, []string{`--compare must be keepalived`}},
		{"pacemaker", []string{"--compare", "pacemaker"}, []string{"--compare pacemaker is not supported", "mount namespace"}},
		{"nothing to run", []string{"--trials", "0"}, []string{"nothing to run"}},
		{"every problem at once", []string{"--trials", "-1", "-o", "xml", "--faults", "x"}, []string{"--trials", "--output", "--faults"}},
		{"a bad flag value", []string{"--trials", "many"}, []string{"invalid argument", "--help"}},
		{"an argument", []string{"n1"}, []string{"unknown command", "n1"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := runCLI(t, nil, append([]string{"lab", "--name", "bnx", "bench", "failover"}, c.args...)...)
			if r.code != ExitUsage {
				t.Errorf("exit %d, want %d (usage)\nstderr: %s", r.code, ExitUsage, r.stderr)
			}
			for _, want := range c.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
				}
			}
			if r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
		})
	}
}

// Good flags get past the check: the run stops at the first thing it needs
// from the machine (root, or the vigil binary, which the test has not).
func TestBenchFailoverGoodFlags(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"--trials", "3", "--faults", "node-kill", "-o", "json", "--probe-interval", "20ms"},
		{"--trials", "0", "--loss", "20", "--duration", "30s", "--loss-on", "all", "--compare", "keepalived", "--keep"},
	} {
		r := runCLI(t, nil, append([]string{"lab", "--name", "bnx", "bench", "failover"}, args...)...)
		if r.code != ExitFailure {
			t.Errorf("%v: exit %d, want %d (past the flags)\nstderr: %s", args, r.code, ExitFailure, r.stderr)
		}
		if !strings.Contains(r.stderr, "needs root") && !strings.Contains(r.stderr, "find the vigil binary") {
			t.Errorf("%v: stderr = %q, want it to stop at root or the binary", args, r.stderr)
		}
	}
}

func TestBenchFailoverHelp(t *testing.T) {
	r := runCLI(t, nil, "lab", "bench", "failover", "--help")
	if r.code != ExitOK {
		t.Fatalf("exit %d: %s", r.code, r.stderr)
	}
	for _, want := range []string{"vigil lab bench failover --trials 5 --compare keepalived", "--loss-on", "node-kill", "double_holder_ms", `named "bench"`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("--help lacks %q", want)
		}
	}
	r = runCLI(t, nil, "lab", "--help")
	if !strings.Contains(r.stdout, "bench") {
		t.Errorf("lab --help does not list bench:\n%s", r.stdout)
	}
}
