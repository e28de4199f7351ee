package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/pki"
)

// The tls commands read time.Now; each test runs them inside a synctest
// bubble, whose clock starts at 2000-01-01 00:00 UTC, so their dates are
// the same on every run.

const tlsConfig = `version: 1
cluster: demo
secret: "correct horse battery staple"
nodes:
  - name: n1
    addresses: [198.18.0.1, 198.18.1.1]
  - name: n2
    addresses: [198.18.0.2, 198.18.1.2]
`

// masker replaces what is random in the output (fingerprints, serials) and
// the temporary directory with stable names. Equal fingerprints get the
// same name, so a golden still shows which certificate is which.
type masker struct {
	dir string
	fps map[string]string
}

func (m *masker) mask(s string) string {
	s = strings.ReplaceAll(s, m.dir, "$DIR")
	s = regexp.MustCompile(`([0-9A-F]{2}:){31}[0-9A-F]{2}`).ReplaceAllStringFunc(s, func(fp string) string {
		if m.fps == nil {
			m.fps = map[string]string{}
		}
		if _, ok := m.fps[fp]; !ok {
			m.fps[fp] = fmt.Sprintf("FINGERPRINT-%d", len(m.fps)+1)
		}
		return m.fps[fp]
	})
	return regexp.MustCompile(`("serial": "|Serial: +)[0-9a-f]{1,32}`).ReplaceAllString(s, "${1}SERIAL")
}

// tlsRun runs one command and checks its exit code.
func tlsRun(t *testing.T, vars map[string]string, code int, args ...string) result {
	t.Helper()
	r := runCLI(t, vars, args...)
	if r.code != code {
		t.Fatalf("vigil %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, code, r.stdout, r.stderr)
	}
	return r
}

func TestTLSCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root := t.TempDir()
		dir := filepath.Join(root, "tls")
		cfg := filepath.Join(root, "vigil.yaml")
		if err := os.WriteFile(cfg, []byte(tlsConfig), 0o600); err != nil {
			t.Fatal(err)
		}
		m := &masker{dir: root}
		steps := []struct {
			golden string
			code   int
			args   []string
		}{
			{"tls-init", ExitOK, []string{"tls", "init", "--dir", dir, "--config", cfg}},
			{"tls-init-exists", ExitFailure, []string{"tls", "init", "--dir", dir, "--cluster", "demo"}},
			{"tls-issue-node", ExitOK, []string{"tls", "issue", "n1", "--dir", dir, "--config", cfg, "--san", "n1.example.com,198.18.0.1"}},
			{"tls-issue-client", ExitOK, []string{"tls", "issue", "admin", "--client", "--dir", dir}},
			{"tls-issue-no-address", ExitOK, []string{"tls", "issue", "n2", "--dir", dir}},
			{"tls-issue-exists", ExitFailure, []string{"tls", "issue", "n1", "--dir", dir}},
			{"tls-issue-renew", ExitOK, []string{"tls", "issue", "n1", "--dir", dir, "--config", cfg, "--force"}},
			{"tls-show-node", ExitOK, []string{"tls", "show", filepath.Join(dir, "n1.crt")}},
			{"tls-show-ca", ExitOK, []string{"tls", "show", filepath.Join(dir, "ca.crt")}},
			{"tls-show-json", ExitOK, []string{"tls", "show", filepath.Join(dir, "admin.crt"), "-o", "json"}},
			{"tls-init-force", ExitOK, []string{"tls", "init", "--dir", dir, "--cluster", "demo", "--force"}},
			{"tls-show-replaced-ca", ExitFailure, []string{"tls", "show", filepath.Join(dir, "n1.crt")}},
		}
		for _, s := range steps {
			r := tlsRun(t, nil, s.code, s.args...)
			checkGolden(t, s.golden, m.mask("$ vigil "+strings.Join(s.args, " ")+"\n"+r.stdout+"-- stderr --\n"+r.stderr))
		}
	})
}

func TestTLSShowExpired(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		tlsRun(t, nil, ExitOK, "tls", "init", "--dir", dir, "--cluster", "demo")
		tlsRun(t, nil, ExitOK, "tls", "issue", "admin", "--client", "--dir", dir)
		// Advance the bubble's clock (no real time passes) past the
		// certificate's two years.
		time.Sleep(3 * 365 * 24 * time.Hour)
		r := tlsRun(t, nil, ExitFailure, "tls", "show", filepath.Join(dir, "admin.crt"))
		for _, want := range []string{"Verdict:     NOT VALID: admin expired on 2002-01-01T00:00:00Z", "(expired 364 days ago)"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("stdout does not say %q:\n%s", want, r.stdout)
			}
		}
		if !strings.Contains(r.stderr, "admin.crt is not valid: admin expired") {
			t.Errorf("stderr: %s", r.stderr)
		}
		// The CA has eight years to go and still issues.
		tlsRun(t, nil, ExitOK, "tls", "issue", "admin", "--client", "--force", "--dir", dir)
		tlsRun(t, nil, ExitOK, "tls", "show", filepath.Join(dir, "admin.crt"))
	})
}

// TestTLSJSON: -o json prints what pki returned, and nothing else.
func TestTLSJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "tls")
		var init, issue pki.Result
		decode := func(r result, v any) {
			t.Helper()
			if err := json.Unmarshal([]byte(r.stdout), v); err != nil {
				t.Fatalf("%v\n%s", err, r.stdout)
			}
			if r.stderr != "" {
				t.Errorf("stderr: %q", r.stderr)
			}
		}
		decode(tlsRun(t, nil, ExitOK, "tls", "init", "--dir", dir, "--cluster", "demo", "-o", "json"), &init)
		decode(tlsRun(t, nil, ExitOK, "tls", "issue", "n1", "--san", "198.18.0.1", "--dir", dir, "-o", "json"), &issue)
		if init.CertFile != filepath.Join(dir, "ca.crt") || init.KeyFile != filepath.Join(dir, "ca.key") || init.Certificate.Kind != pki.KindCA || init.Replaced != nil {
			t.Errorf("init: %+v", init)
		}
		want := pki.Info{
			File: filepath.Join(dir, "n1.crt"), Subject: "CN=n1,OU=node,O=vigil demo", Name: "n1", Kind: pki.KindNode, Cluster: "demo",
			Issuer: "CN=vigil demo CA,O=vigil demo", DNSNames: []string{"n1"}, IPAddresses: []string{"198.18.0.1"},
			NotBefore: time.Date(1999, 12, 31, 23, 0, 0, 0, time.UTC), NotAfter: time.Date(2002, 1, 1, 0, 0, 0, 0, time.UTC),
			CA: filepath.Join(dir, "ca.crt"), ChainsToCA: true, Valid: true,
		}
		got := issue.Certificate
		got.Fingerprint, got.Serial = "", ""
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("issue -o json (-want +got):\n%s", d)
		}
	})
}

func TestTLSErrors(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "tls")
	cfg := filepath.Join(root, "vigil.yaml")
	if err := os.WriteFile(cfg, []byte(tlsConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(root, "other.yaml")
	if err := os.WriteFile(other, []byte(strings.Replace(tlsConfig, "cluster: demo", "cluster: prod", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(root, "empty")
	if err := os.Mkdir(empty, 0o700); err != nil {
		t.Fatal(err)
	}
	// The default directory must never be touched by a test; every
	// command below names one, or its failure comes first.
	tlsRun(t, nil, ExitOK, "tls", "init", "--dir", dir, "--cluster", "demo")
	before := dirState(t, root)
	tests := []struct {
		name   string
		vars   map[string]string
		args   []string
		code   int
		stderr []string
	}{
		{"init without a cluster", map[string]string{"VIGIL_CONFIG": filepath.Join(root, "none.yaml")},
			[]string{"tls", "init", "--dir", filepath.Join(root, "new")}, ExitUsage, []string{"which cluster? pass --cluster NAME", "none.yaml"}},
		{"init with a bad cluster name", nil,
			[]string{"tls", "init", "--dir", filepath.Join(root, "new"), "--cluster", "Demo"}, ExitUsage, []string{`cluster name "Demo" is not valid`}},
		{"init with an argument", nil,
			[]string{"tls", "init", "extra", "--dir", dir}, ExitUsage, []string{"vigil tls init --help"}},
		{"init over a CA", nil,
			[]string{"tls", "init", "--dir", dir, "--cluster", "demo"}, ExitFailure, []string{"already has the CA", "--force"}},
		{"init output yaml", nil,
			[]string{"tls", "init", "--dir", dir, "--cluster", "demo", "-o", "yaml"}, ExitUsage, []string{`--output must be table or json, not "yaml"`}},
		{"issue without a name", nil,
			[]string{"tls", "issue", "--dir", dir}, ExitUsage, []string{"accepts 1 arg(s), received 0"}},
		{"issue an upper-case name", nil,
			[]string{"tls", "issue", "N1", "--dir", dir}, ExitUsage, []string{`"N1" is not a valid node or client name`, "a-z, 0-9 and '-'"}},
		{"issue a path", nil,
			[]string{"tls", "issue", "../n1", "--dir", dir}, ExitUsage, []string{`"../n1" is not a valid`}},
		{"issue ca", nil,
			[]string{"tls", "issue", "ca", "--dir", dir}, ExitUsage, []string{"reserved for the CA"}},
		{"issue a wildcard", nil,
			[]string{"tls", "issue", "n1", "--san", "*.example.com", "--dir", dir}, ExitUsage, []string{`SAN "*.example.com" is neither`}},
		{"issue a client with a SAN", nil,
			[]string{"tls", "issue", "admin", "--client", "--san", "198.18.0.9", "--dir", dir}, ExitUsage, []string{"a client certificate (--client) has none"}},
		{"issue a node not in the config", nil,
			[]string{"tls", "issue", "n9", "--config", cfg, "--dir", dir}, ExitUsage, []string{"n9 is not a node of", "its nodes: n1, n2"}},
		{"issue with another cluster's config", nil,
			[]string{"tls", "issue", "n1", "--config", other, "--dir", dir}, ExitUsage, []string{`config of cluster "prod"`, `cluster "demo"'s`}},
		{"issue without a CA", nil,
			[]string{"tls", "issue", "n1", "--dir", empty}, ExitFailure, []string{"no CA in " + empty, "run 'vigil tls init' first"}},
		{"issue with VIGIL_TLS_DIR without a CA", map[string]string{"VIGIL_TLS_DIR": empty},
			[]string{"tls", "issue", "n1"}, ExitFailure, []string{"no CA in " + empty}},
		{"show a key", nil,
			[]string{"tls", "show", filepath.Join(dir, "ca.key")}, ExitUsage, []string{"holds a private key, not a certificate"}},
		{"show a missing file", nil,
			[]string{"tls", "show", filepath.Join(dir, "none.crt")}, ExitUsage, []string{"no such file"}},
		{"show with a missing --ca", nil,
			[]string{"tls", "show", filepath.Join(dir, "ca.crt"), "--ca", filepath.Join(root, "none.crt")}, ExitFailure, []string{"not valid: not checked: no CA certificate"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := runCLI(t, tt.vars, tt.args...)
			if r.code != tt.code {
				t.Errorf("exit %d, want %d\nstderr: %s", r.code, tt.code, r.stderr)
			}
			for _, want := range tt.stderr {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("stderr does not say %q:\n%s", want, r.stderr)
				}
			}
			if strings.Contains(r.stdout+r.stderr, "PRIVATE KEY") {
				t.Errorf("a key appears in the output")
			}
		})
	}
	if d := cmp.Diff(before, dirState(t, root)); d != "" {
		t.Errorf("refused commands changed files (-before +after):\n%s", d)
	}
}

// dirState lists every file under root with its mode and content.
func dirState(t *testing.T, root string) map[string]string {
	t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		content := ""
		if !d.IsDir() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			content = string(b)
		}
		m[strings.TrimPrefix(path, root)] = fi.Mode().String() + " " + content
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestTLSNameRuleMatchesConfig holds pki.ValidName to the rule the config
// applies to node names, so that every node can have a certificate and no
// certificate names what cannot be a node.
func TestTLSNameRuleMatchesConfig(t *testing.T) {
	names := []string{
		"n1", "a", "node-1", "n1-", "web-01", strings.Repeat("a", 32),
		"", "N1", "1n", "-n", "n.1", "n_1", "n 1", "ñ", "n1:", strings.Repeat("a", 33),
	}
	for _, name := range names {
		yaml := fmt.Sprintf("version: 1\ncluster: demo\nsecret: \"correct horse battery staple\"\nnodes:\n  - name: %q\n    addresses: [198.18.0.1]\n", name)
		_, err := config.Parse("vigil.yaml", t.TempDir(), []byte(yaml))
		var ce *config.Error
		if err != nil && !errors.As(err, &ce) {
			t.Fatalf("%q: %v", name, err)
		}
		if byConfig := err == nil; byConfig != pki.ValidName(name) {
			t.Errorf("node name %q: config accepts it: %v, pki.ValidName: %v (%v)", name, byConfig, pki.ValidName(name), err)
		}
	}
}

func TestTLSHelp(t *testing.T) {
	for _, cmd := range [][]string{{"tls"}, {"tls", "init"}, {"tls", "issue"}, {"tls", "show"}} {
		r := tlsRun(t, nil, ExitOK, append(cmd, "--help")...)
		for _, want := range []string{"Examples:", "  vigil tls ", "--dir"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("vigil %s --help does not show %q", strings.Join(cmd, " "), want)
			}
		}
	}
	r := tlsRun(t, nil, ExitOK, "--help")
	if !slices.ContainsFunc(strings.Split(r.stdout, "\n"), func(l string) bool { return strings.HasPrefix(strings.TrimSpace(l), "tls ") }) {
		t.Errorf("vigil --help does not list tls:\n%s", r.stdout)
	}
}
