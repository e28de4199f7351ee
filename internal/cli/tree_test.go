package cli

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/lab"
)

// noOutputFlag lists the commands that print no result a script could
// read as JSON, and so take no --output. Every other command that is not
// only a group of others must take it.
var noOutputFlag = map[string]string{
	"vigil daemon":          "runs the node until stopped; it logs, it prints no result",
	"vigil witness":         "runs the witness until stopped, as daemon",
	"vigil completion":      "prints a shell script",
	"vigil lab exec":        "the output is the command's own",
	"vigil lab web":         "a web server the lab runs; it prints nothing",
	"vigil lab watchdog":    "hidden: a process lab up starts, it prints nothing",
	"vigil lab fence-agent": "hidden: speaks the fence-agents protocol, which is not JSON",
}

// noExample lists the commands without an Example section: hidden ones,
// which no operator runs by hand.
var noExample = map[string]string{
	"vigil lab watchdog":    "hidden: started by lab up",
	"vigil lab fence-agent": "hidden: run by DIR/fence_vigil_lab",
}

func walk(c *cobra.Command, f func(*cobra.Command)) {
	f(c)
	for _, sub := range c.Commands() {
		walk(sub, f)
	}
}

// TestCommandTree audits every command: it says what it does, shows
// examples, and prints its result as JSON on -o json (unless listed above,
// with the reason).
func TestCommandTree(t *testing.T) {
	e := &env{getenv: func(string) string { return "" }}
	root := e.rootTree()
	seen := map[string]bool{}
	walk(root, func(c *cobra.Command) {
		path := c.CommandPath()
		seen[path] = true
		if c.Short == "" {
			t.Errorf("%s: no Short", path)
		}
		if _, ok := noExample[path]; !ok && strings.TrimSpace(c.Example) == "" {
			t.Errorf("%s: no Example", path)
		}
		if c.Example != "" {
			for _, line := range strings.Split(c.Example, "\n") {
				if !strings.HasPrefix(line, "  ") {
					t.Errorf("%s: example line %q is not indented as cobra shows examples", path, line)
				}
			}
		}
		_, exempt := noOutputFlag[path]
		group := c.HasSubCommands()
		f := c.Flags().Lookup("output")
		switch {
		case f == nil && !exempt && !group:
			t.Errorf("%s: no --output flag (outputFlag), and not in noOutputFlag", path)
		case f != nil && (f.Shorthand != "o" || f.DefValue != "table"):
			t.Errorf("%s: --output is not outputFlag's (-o, default table)", path)
		case f != nil && exempt:
			t.Errorf("%s: has --output but is in noOutputFlag", path)
		}
	})
	for path := range noOutputFlag {
		if !seen[path] {
			t.Errorf("noOutputFlag lists %s, which is not a command", path)
		}
	}
	for path := range noExample {
		if !seen[path] {
			t.Errorf("noExample lists %s, which is not a command", path)
		}
	}
}

// Every name completion is attached to a command that exists.
func TestCompletionsAttach(t *testing.T) {
	e := &env{getenv: func(string) string { return "" }}
	if missing := e.addCompletions(e.rootTree()); len(missing) > 0 {
		t.Errorf("completions for commands or flags that do not exist: %v", missing)
	}
}

// The root's help documents every exit code, and the constants keep
// their numbers: scripts depend on them.
func TestExitCodesDocumented(t *testing.T) {
	want := map[int]int{ExitOK: 0, ExitFailure: 1, ExitUsage: 2, ExitUnreachable: 3, ExitNoQuorum: 4, ExitConflict: 5}
	for got, w := range want {
		if got != w {
			t.Errorf("exit code constant %d, want %d", got, w)
		}
	}
	r := runCLI(t, nil, "--help")
	for _, s := range []string{"Exit codes:", "  0  success", "  1  ", "  2  usage", "  3  the daemon could not be reached", "  4  no quorum or no leader", "  5  conflict", "VIGIL_SERVER", "--server", "--token-file", "Examples:"} {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("vigil --help does not mention %q:\n%s", s, r.stdout)
		}
	}
}

// Unknown subcommands are usage errors, at the root and in groups, with
// a suggestion; a group alone prints its help.
func TestUnknownCommand(t *testing.T) {
	for _, tc := range []struct {
		args   []string
		stderr string
	}{
		{[]string{"statsu"}, `unknown command "statsu" for "vigil"; did you mean status?`},
		{[]string{"node", "standbyy", "n1"}, `unknown command "standbyy" for "vigil node"; did you mean standby?`},
		{[]string{"resource", "frob"}, `unknown command "frob" for "vigil resource"`},
		{[]string{"lab", "explode"}, `unknown command "explode" for "vigil lab"`},
	} {
		r := runCLI(t, nil, tc.args...)
		if r.code != ExitUsage || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("vigil %s: exit %d, stderr %q; want %d and %q", strings.Join(tc.args, " "), r.code, r.stderr, ExitUsage, tc.stderr)
		}
	}
	r := runCLI(t, nil, "node")
	if r.code != ExitOK || !strings.Contains(r.stdout, "standby") || !strings.Contains(r.stdout, "Available Commands:") {
		t.Errorf("vigil node: exit %d, stdout:\n%s", r.code, r.stdout)
	}
}

// fullBackend is opsBackend with the configuration and the events too,
// so that every command that asks a daemon has an answer.
type fullBackend struct{ *opsBackend }

func (fullBackend) Config() (api.ConfigInfo, error) {
	return api.ConfigInfo{Version: 2, At: at, By: "root@n1", Summary: "cluster demo: 3 nodes"}, nil
}

func (fullBackend) ApplyConfig(_ context.Context, req api.ConfigApply) (api.ConfigApplied, error) {
	return api.ConfigApplied{Version: 2, Applied: !req.DryRun, Changes: []string{"+ resource extra (exec)"}, Actions: []api.Action{}}, nil
}

func (fullBackend) CommitConfig(context.Context, []byte) error { return nil }

func (fullBackend) Events(api.EventQuery) []api.Event {
	return []api.Event{{Seq: 1, At: at, Kind: "node.online", Node: "n1", Message: "n1 is online"}}
}

func (fullBackend) Subscribe() (<-chan api.Event, func()) { return make(chan api.Event), func() {} }

const validConfig = `version: 1
cluster: demo
secret: "correct horse battery staple"
nodes:
  - name: n1
    addresses: [198.18.0.1]
  - name: n2
    addresses: [198.18.0.2]
  - name: n3
    addresses: [198.18.0.3]
`

// TestJSONEverywhere runs every command that can run here (the lab's
// need root; their JSON has its own tests) with -o json and checks that
// stdout is one JSON document, or one per line where the command streams.
func TestJSONEverywhere(t *testing.T) {
	sock := serveAPI(t, fullBackend{newOpsBackend()})
	vars := map[string]string{"VIGIL_SOCKET": sock}
	cfg := writeFile(t, "vigil.yaml", validConfig)
	bad := writeFile(t, "bad.yaml", "version: 1\ncluster: demo\n")
	tls := t.TempDir()
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("n1\n")) }))
	t.Cleanup(web.Close)

	cases := []struct {
		args  []string
		code  int
		lines bool // one JSON object per line
	}{
		{[]string{"status"}, ExitOK, false},
		{[]string{"status", "--watch", "--count", "2", "--interval", "100ms"}, ExitOK, true},
		{[]string{"resource", "list"}, ExitOK, false},
		{[]string{"resource", "show", "web"}, ExitOK, false},
		{[]string{"resource", "move", "web", "n2"}, ExitOK, false},
		{[]string{"resource", "ban", "web", "n1"}, ExitOK, false},
		{[]string{"resource", "clear", "web"}, ExitOK, false},
		{[]string{"resource", "cleanup", "web"}, ExitOK, false},
		{[]string{"resource", "restart", "web"}, ExitOK, false},
		{[]string{"node", "standby", "n1"}, ExitOK, false},
		{[]string{"node", "unstandby", "n1"}, ExitOK, false},
		{[]string{"node", "maintenance", "n1"}, ExitOK, false},
		{[]string{"node", "unmaintenance", "n1"}, ExitOK, false},
		{[]string{"node", "fence", "n1"}, ExitOK, false},
		{[]string{"node", "confirm-down", "n1"}, ExitOK, false},
		{[]string{"explain", "web"}, ExitOK, false},
		{[]string{"simulate", "--node-down", "n1"}, ExitOK, false},
		{[]string{"events"}, ExitOK, false},
		{[]string{"config", "show"}, ExitOK, false},
		{[]string{"config", "apply", cfg, "--dry-run"}, ExitOK, false},
		{[]string{"config", "validate", cfg}, ExitOK, false},
		{[]string{"config", "validate", bad}, ExitUsage, false},
		{[]string{"version"}, ExitOK, false},
		{[]string{"tls", "init", "--cluster", "demo", "--dir", tls}, ExitOK, false},
		{[]string{"tls", "issue", "n1", "--san", "127.0.0.1", "--dir", tls}, ExitOK, false},
		{[]string{"tls", "show", filepath.Join(tls, "n1.crt")}, ExitOK, false},
		{[]string{"probe", web.URL, "--count", "2", "--interval", "1ms"}, ExitOK, true},
	}
	for _, tc := range cases {
		name := strings.Join(tc.args[:min(2, len(tc.args))], " ")
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, vars, append(tc.args, "-o", "json")...)
			if r.code != tc.code {
				t.Fatalf("vigil %s -o json: exit %d, want %d\nstderr: %s", strings.Join(tc.args, " "), r.code, tc.code, r.stderr)
			}
			docs := []string{r.stdout}
			if tc.lines {
				docs = strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
				if len(docs) != 2 {
					t.Errorf("%d lines, want 2:\n%s", len(docs), r.stdout)
				}
			}
			for _, d := range docs {
				var v any
				if err := json.Unmarshal([]byte(d), &v); err != nil {
					t.Errorf("not JSON: %v\n%s", err, d)
				}
				if _, ok := v.(map[string]any); !ok {
					t.Errorf("not a JSON object: %s", d)
				}
			}
		})
	}
}

// The lab's JSON names each node's API URL on its first address.
func TestLabAPI(t *testing.T) {
	for _, tc := range []struct {
		addrs []string
		want  string
	}{
		{[]string{"198.18.0.1", "198.18.1.1"}, "http://198.18.0.1:5407"},
		{[]string{"fd00::1"}, "http://[fd00::1]:5407"},
		{nil, ""},
	} {
		n := lab.Node{Addresses: tc.addrs}
		if got := labAPI(n); got != tc.want {
			t.Errorf("labAPI(%v) = %q, want %q", tc.addrs, got, tc.want)
		}
	}
	b, err := json.Marshal(labNodeJSON{API: "http://198.18.0.1:5407"})
	if err != nil || !strings.Contains(string(b), `"api":"http://198.18.0.1:5407"`) {
		t.Errorf("labNodeJSON: %s %v", b, err)
	}
}
