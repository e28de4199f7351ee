package cli

import (
	"path/filepath"
	"strings"
	"testing"
)

// The generated scripts are there, and are vigil's.
func TestCompletionScripts(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish", "powershell"} {
		r := runCLI(t, nil, "completion", shell)
		if r.code != ExitOK || len(r.stdout) < 1000 || !strings.Contains(r.stdout, "vigil") || r.stderr != "" {
			t.Errorf("completion %s: exit %d, %d bytes, stderr %q", shell, r.code, len(r.stdout), r.stderr)
		}
	}
	if r := runCLI(t, nil, "completion", "tcsh"); r.code != ExitUsage || !strings.Contains(r.stderr, `invalid argument "tcsh"`) {
		t.Errorf("completion tcsh: exit %d, stderr %q", r.code, r.stderr)
	}
	if r := runCLI(t, nil, "--help"); !strings.Contains(r.stdout, "completion") {
		t.Errorf("vigil --help does not list completion:\n%s", r.stdout)
	}
	if r := runCLI(t, nil, "completion", "--help"); !strings.Contains(r.stdout, "/etc/bash_completion.d/vigil") || !strings.Contains(r.stdout, "~/.config/fish/completions/vigil.fish") {
		t.Errorf("completion --help does not say how to install:\n%s", r.stdout)
	}
}

// complete asks the CLI for completions as a shell does, and returns
// them without the directive line.
func complete(t *testing.T, vars map[string]string, args ...string) (names []string, directive string, r result) {
	t.Helper()
	r = runCLI(t, vars, append([]string{"__complete"}, args...)...)
	if r.code != ExitOK {
		t.Fatalf("__complete %s: exit %d, stderr %s", strings.Join(args, " "), r.code, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	directive = lines[len(lines)-1]
	for _, l := range lines[:len(lines)-1] {
		names = append(names, strings.SplitN(l, "\t", 2)[0])
	}
	return names, directive, r
}

// Node and resource names come from the daemon.
func TestCompleteNames(t *testing.T) {
	sock := serveAPI(t, newOpsBackend())
	vars := map[string]string{"VIGIL_SOCKET": sock}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "standby", ""}, "n1 n2 n3"},
		{[]string{"node", "fence", "n"}, "n1 n2 n3"},
		{[]string{"node", "standby", "n1", ""}, ""},
		{[]string{"resource", "show", ""}, "db vip web"},
		{[]string{"resource", "move", "w"}, "web"},
		{[]string{"resource", "move", "web", ""}, "n1 n2 n3"},
		{[]string{"resource", "cleanup", "web", "--node", ""}, "n1 n2 n3"},
		{[]string{"explain", "d"}, "db"},
		{[]string{"simulate", "--resource-fail", ""}, "db vip web"},
		{[]string{"--socket", sock, "node", "standby", ""}, "n1 n2 n3"},
	} {
		names, directive, _ := complete(t, vars, tc.args...)
		if got := strings.Join(names, " "); got != tc.want || directive != ":4" {
			t.Errorf("__complete %s: %q %s, want %q :4", strings.Join(tc.args, " "), got, directive, tc.want)
		}
	}
}

// Without a daemon nothing is completed, and nothing is said.
func TestCompleteUnreachable(t *testing.T) {
	vars := map[string]string{"VIGIL_SOCKET": filepath.Join(t.TempDir(), "none.sock")}
	names, directive, r := complete(t, vars, "node", "standby", "")
	if len(names) != 0 || directive != ":4" {
		t.Errorf("names %q, directive %s; want none and :4", names, directive)
	}
	if strings.Contains(r.stderr, "vigil:") || strings.Contains(r.stderr, "unreachable") {
		t.Errorf("stderr: %q", r.stderr)
	}
}
