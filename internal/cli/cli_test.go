package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

// result is what one in-process run of the CLI produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs the CLI in-process with args and an environment that holds
// only vars; it never reads the test process's environment.
func runCLI(t *testing.T, vars map[string]string, args ...string) result {
	t.Helper()
	return runCLIWith(t, vars, nil, args...)
}

// testClock is the clock of runCLI: it starts at 2025-03-01 12:00:00 UTC
// and each reading is one second later than the one before.
func testClock() func() time.Time {
	next := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	return func() time.Time {
		now := next
		next = next.Add(time.Second)
		return now
	}
}

// runCLIWith is runCLI with the env changed by set, if not nil.
func runCLIWith(t *testing.T, vars map[string]string, set func(*env), args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	e := &env{
		stdin:  strings.NewReader(""),
		stdout: &out,
		stderr: &errb,
		getenv: func(k string) string { return vars[k] },
		executable: func() (string, error) {
			return "", errors.New("test: no vigil binary")
		},
		now: testClock(),
	}
	if set != nil {
		set(e)
	}
	code := e.run(context.Background(), args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// checkGolden compares got with testdata/name.golden, or rewrites the file
// under -update.
func checkGolden(t *testing.T, name string, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update to create it)", err)
	}
	if d := cmp.Diff(string(want), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s\nIf the change is intended, rerun with -update and read the diff.", path, d)
	}
}

func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string // each must appear in stderr
	}{
		{
			name:   "unknown flag",
			args:   []string{"status", "--bogus"},
			code:   ExitUsage,
			stderr: []string{"--bogus", "vigil status --help"},
		},
		{
			name:   "unknown root flag",
			args:   []string{"--frobnicate"},
			code:   ExitUsage,
			stderr: []string{"--frobnicate"},
		},
		{
			name:   "config validate without a file",
			args:   []string{"config", "validate"},
			code:   ExitUsage,
			stderr: []string{"vigil config validate", "accepts 1 arg(s), received 0"},
		},
		{
			name:   "config validate with two files",
			args:   []string{"config", "validate", "a.yaml", "b.yaml"},
			code:   ExitUsage,
			stderr: []string{"received 2"},
		},
		{
			name:   "status with an argument",
			args:   []string{"status", "extra"},
			code:   ExitUsage,
			stderr: []string{"vigil status"},
		},
		{
			name:   "output yaml",
			args:   []string{"status", "--output", "yaml", "--socket", filepath.Join(dir, "none.sock")},
			code:   ExitUsage,
			stderr: []string{`--output must be table or json, not "yaml"`},
		},
		{
			name:   "lab status output yaml",
			args:   []string{"lab", "status", "--name", "vtnolab", "-o", "yaml"},
			code:   ExitUsage,
			stderr: []string{`--output must be table or json, not "yaml"`},
		},
		{
			// The percent is checked with the arguments, before the lab is
			// looked up: vtnolab does not exist, and that must not be the
			// complaint.
			name:   "lab loss with a bad percent",
			args:   []string{"lab", "loss", "--name", "vtnolab", "n1", "abc"},
			code:   ExitUsage,
			stderr: []string{"PERCENT", `"abc"`},
		},
		{
			name:   "lab loss over 100",
			args:   []string{"lab", "loss", "--name", "vtnolab", "n1", "101"},
			code:   ExitUsage,
			stderr: []string{"PERCENT", `"101"`},
		},
		{
			name:   "lab loss with one argument",
			args:   []string{"lab", "loss", "--name", "vtnolab", "n1"},
			code:   ExitUsage,
			stderr: []string{"vigil lab loss"},
		},
		{
			name:   "lab up with too many nodes",
			args:   []string{"lab", "up", "--nodes", "17"},
			code:   ExitUsage,
			stderr: []string{"--nodes must be from 1 to 16"},
		},
		{
			name:   "daemon with a bad log level",
			args:   []string{"daemon", "--log-level", "loud"},
			code:   ExitUsage,
			stderr: []string{"--log-level"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.code != tt.code {
				t.Errorf("vigil %s: exit %d, want %d\nstderr: %s", strings.Join(tt.args, " "), r.code, tt.code, r.stderr)
			}
			for _, s := range tt.stderr {
				if !strings.Contains(r.stderr, s) {
					t.Errorf("vigil %s: stderr does not mention %q:\n%s", strings.Join(tt.args, " "), s, r.stderr)
				}
			}
			if strings.Contains(r.stderr, "no such lab") {
				t.Errorf("vigil %s: looked up the lab before checking its arguments:\n%s", strings.Join(tt.args, " "), r.stderr)
			}
		})
	}
}

func TestHelp(t *testing.T) {
	tests := []struct {
		args []string
		want []string // each must appear in stdout
	}{
		// The root's help names the commands, the exit codes and the
		// environment besides its examples.
		{[]string{"--help"}, []string{"Usage:", "Examples:", "status", "config", "lab", "daemon", "completion", "Exit codes:", "VIGIL_SOCKET", "VIGIL_SERVER"}},
		{[]string{"status", "--help"}, []string{"--watch", "--interval", "--count", "crm_mon"}},
		{[]string{"status", "--help"}, []string{"Examples:", "vigil status -o json | jq .quorum", "--socket"}},
		{[]string{"lab", "up", "--help"}, []string{"Examples:", "vigil lab up --nodes 5 --links 1 --name big -o json"}},
		{[]string{"config", "validate", "--help"}, []string{"Examples:", "vigil config validate /etc/vigil/vigil.yaml", "FILE:LINE: FIELD: MESSAGE"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			r := runCLI(t, nil, tt.args...)
			if r.code != ExitOK {
				t.Errorf("exit %d, want 0\nstderr: %s", r.code, r.stderr)
			}
			for _, s := range tt.want {
				if !strings.Contains(r.stdout, s) {
					t.Errorf("help does not mention %q:\n%s", s, r.stdout)
				}
			}
		})
	}
}

func TestVersion(t *testing.T) {
	r := runCLI(t, nil, "version")
	if r.code != ExitOK || r.stdout != "vigil "+Version+"\n" {
		t.Errorf("vigil version: exit %d, stdout %q", r.code, r.stdout)
	}
}
