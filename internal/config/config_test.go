package config

import (
	"errors"
	"flag"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vigil-ha/vigil/internal/model"
)

var update = flag.Bool("update", false, "rewrite the testdata .golden files")

// equateAddr lets cmp compare netip.Addr, whose fields are unexported.
var equateAddr = cmpopts.EquateComparable(netip.Addr{})

// golden compares got with the file want, or rewrites the file with -update.
func golden(t *testing.T, want string, got string) {
	t.Helper()
	if *update {
		if err := os.WriteFile(want, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/config -update to create it)", err)
	}
	if d := cmp.Diff(string(b), got); d != "" {
		t.Errorf("%s differs (-want +got):\n%s", want, d)
	}
}

func yamlFiles(t testing.TB, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("testdata", dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata/%s/*.yaml: %v", dir, err)
	}
	return files
}

func parseFile(t *testing.T, path string) (model.Config, error) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return Parse(filepath.Base(path), filepath.Dir(path), data)
}

// TestGood parses every testdata/good file; the golden file holds its
// Summary and its Format.
func TestGood(t *testing.T) {
	for _, path := range yamlFiles(t, "good") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c, err := parseFile(t, path)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			golden(t, strings.TrimSuffix(path, ".yaml")+".golden", Summary(c)+"---\n"+string(Format(c, "")))
		})
	}
}

// TestBad parses every testdata/bad file; the golden file holds the exact
// problem list.
func TestBad(t *testing.T) {
	for _, path := range yamlFiles(t, "bad") {
		t.Run(filepath.Base(path), func(t *testing.T) {
			c, err := parseFile(t, path)
			if err == nil {
				t.Fatalf("Parse accepted it: %+v", c)
			}
			if d := cmp.Diff(model.Config{}, c, equateAddr); d != "" {
				t.Errorf("Parse returned a config with its error:\n%s", d)
			}
			var e *Error
			if !errors.As(err, &e) || len(e.Problems) == 0 {
				t.Fatalf("error %T %q, want a *Error with problems", err, err)
			}
			for i := 1; i < len(e.Problems); i++ {
				if a, b := e.Problems[i-1], e.Problems[i]; a.Line > b.Line || a.Line == b.Line && a.Path > b.Path {
					t.Errorf("problems out of order: %q before %q", a, b)
				}
			}
			golden(t, strings.TrimSuffix(path, ".yaml")+".golden", err.Error()+"\n")
		})
	}
}

func TestProblemString(t *testing.T) {
	tests := []struct {
		p    Problem
		want string
	}{
		{Problem{"vigil.yaml", 14, "nodes[2].addresses[0]", "not an IP address"}, "vigil.yaml:14: nodes[2].addresses[0]: not an IP address"},
		{Problem{"vigil.yaml", 0, "cluster", "required"}, "vigil.yaml: cluster: required"},
		{Problem{"vigil.yaml", 3, "", "invalid YAML: x"}, "vigil.yaml:3: invalid YAML: x"},
		{Problem{"vigil.yaml", 0, "", "file is empty"}, "vigil.yaml: file is empty"},
	}
	for _, tt := range tests {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
	e := &Error{Problems: []Problem{tests[0].p, tests[2].p}}
	if got, want := e.Error(), tests[0].want+"\n"+tests[2].want; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestProfile(t *testing.T) {
	lan, ok := Profile("lan")
	if !ok {
		t.Fatal(`Profile("lan") not found`)
	}
	want := model.Timing{
		Profile:                "lan",
		HeartbeatInterval:      25 * time.Millisecond,
		SuspectAfter:           75 * time.Millisecond,
		OfflineAfter:           150 * time.Millisecond,
		MaxClockSkew:           30 * time.Second,
		RaftHeartbeatTimeout:   500 * time.Millisecond,
		RaftElectionTimeout:    500 * time.Millisecond,
		RaftLeaderLeaseTimeout: 500 * time.Millisecond,
		Lease:                  170 * time.Millisecond,
	}
	if d := cmp.Diff(want, lan); d != "" {
		t.Errorf("lan (-want +got):\n%s", d)
	}
	wan, ok := Profile("wan")
	if !ok {
		t.Fatal(`Profile("wan") not found`)
	}
	want = model.Timing{
		Profile:                "wan",
		HeartbeatInterval:      300 * time.Millisecond,
		SuspectAfter:           1500 * time.Millisecond,
		OfflineAfter:           3 * time.Second,
		MaxClockSkew:           30 * time.Second,
		RaftHeartbeatTimeout:   2500 * time.Millisecond,
		RaftElectionTimeout:    2500 * time.Millisecond,
		RaftLeaderLeaseTimeout: 1500 * time.Millisecond,
		Lease:                  5 * time.Second,
	}
	if d := cmp.Diff(want, wan); d != "" {
		t.Errorf("wan (-want +got):\n%s", d)
	}
	for _, name := range []string{"", "LAN", "metro"} {
		if _, ok := Profile(name); ok {
			t.Errorf("Profile(%q) found", name)
		}
	}
}

// header and nodes make a valid file with a secret, a timing or a ports
// section between or after them.
const (
	header = "version: 1\ncluster: demo\n"
	nodes  = `nodes:
  - name: n1
    addresses: [198.18.0.1, "2001:db8::1"]
  - name: n2
    addresses: [198.18.0.2, "2001:db8::2"]
`
)

// TestParseModel checks the decoded values, defaults and overrides field by
// field, which the golden files show only as text.
func TestParseModel(t *testing.T) {
	data := header + nodes + `secret: "0123456789abcdef"
timing:
  profile: wan
  suspect_after: 2s
  raft_leader_lease_timeout: 1s
ports:
  api: 8443
`
	got, err := Parse("vigil.yaml", t.TempDir(), []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	wan, _ := Profile("wan")
	wan.SuspectAfter = 2 * time.Second
	wan.RaftLeaderLeaseTimeout = time.Second
	want := model.Config{
		Version: 1,
		Cluster: "demo",
		Secret:  []byte("0123456789abcdef"),
		DataDir: "/var/lib/vigil",
		Nodes: []model.Node{
			{Name: "n1", Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.1"), netip.MustParseAddr("2001:db8::1")}},
			{Name: "n2", Addresses: []netip.Addr{netip.MustParseAddr("198.18.0.2"), netip.MustParseAddr("2001:db8::2")}},
		},
		Timing:  wan,
		Ports:   model.Ports{Heartbeat: 5405, Raft: 5406, API: 8443},
		Options: model.Options{NoQuorumPolicy: model.NoQuorumStop},
		Detection: model.Detection{Require: 2, Window: 2400 * time.Millisecond, // max(suspect_after 2s, offline_after 3s - 2*300ms)
			ProbeInterval: 300 * time.Millisecond, ProbeTimeout: 600 * time.Millisecond,
			Damping: model.Damping{Penalty: 1000, Suppress: 2000, Reuse: 750, HalfLife: time.Minute, MaxHold: 5 * time.Minute}},
		API: model.APIAccess{TLSMode: "off", TLSDir: "/etc/vigil/tls"},
	}
	if d := cmp.Diff(want, got, equateAddr); d != "" {
		t.Errorf("Parse (-want +got):\n%s", d)
	}
}

// writeSecret writes a secret file with the given mode (not subject to the
// umask) and returns its path.
func writeSecret(t *testing.T, dir, name, content string, mode fs.FileMode) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestSecretFile(t *testing.T) {
	const secret = "s3cr3t-from-a-file-0123456789"
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		ref     func(dir, path string) string // the secret_file value
		want    string                        // the secret, or the problem with DIR for the directory
	}{
		{"0600 absolute", secret + "\n", 0o600, abs, secret},
		{"0400 relative", secret, 0o400, rel, secret},
		{"trailing whitespace trimmed", secret + " \t\r\n\n", 0o600, rel, secret},
		{"inner whitespace kept", "  " + secret + " x\n", 0o600, rel, "  " + secret + " x"},
		{"0644", secret + "\n", 0o644, abs,
			"vigil.yaml:3: secret_file: DIR/secret has mode 0644, open to group or others; run chmod 600 DIR/secret"},
		{"0640", secret + "\n", 0o640, rel,
			"vigil.yaml:3: secret_file: DIR/secret has mode 0640, open to group or others; run chmod 600 DIR/secret"},
		{"0602", secret + "\n", 0o602, rel,
			"vigil.yaml:3: secret_file: DIR/secret has mode 0602, open to group or others; run chmod 600 DIR/secret"},
		{"empty", " \n\n", 0o600, rel, "vigil.yaml:3: secret_file: DIR/secret is empty"},
		{"short", "0123456789abcde\n", 0o600, rel,
			"vigil.yaml:3: secret_file: the secret in DIR/secret is too short: 15 bytes, need at least 16"},
		{"large", strings.Repeat("x", 64<<10+1), 0o600, rel,
			"vigil.yaml:3: secret_file: DIR/secret is larger than 64 KiB; a secret file holds one short line"},
		{"missing", secret, 0o600, func(dir, _ string) string { return "nope" },
			"vigil.yaml:3: secret_file: cannot read DIR/nope: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeSecret(t, dir, "secret", tt.content, tt.mode)
			data := header + "secret_file: " + tt.ref(dir, path) + "\n" + nodes
			c, err := Parse("vigil.yaml", dir, []byte(data))
			if err != nil {
				if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != tt.want {
					t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows the secret: %v", err)
				}
				return
			}
			if got := string(c.Secret); got != tt.want {
				t.Errorf("secret %q, want %q", got, tt.want)
			}
		})
	}
}

func abs(_, path string) string { return path }
func rel(_, path string) string { return filepath.Base(path) }

// TestLoad checks that Load names the path as given and resolves a relative
// secret_file against the file's directory, not the working directory.
func TestLoad(t *testing.T) {
	dir := t.TempDir()
	const secret = "0123456789abcdef0123"
	writeSecret(t, dir, "secret", secret+"\n", 0o600)
	path := filepath.Join(dir, "vigil.yaml")
	if err := os.WriteFile(path, []byte(header+"secret_file: secret\n"+nodes), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Secret) != secret {
		t.Errorf("secret %q, want %q", c.Secret, secret)
	}

	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("version: 1\nclustr: demo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Load(bad)
	if err == nil || !strings.Contains(err.Error(), "\n"+bad+":2: clustr: unknown field") {
		t.Errorf("Load(%q) = %v, want problems naming the path", bad, err)
	}

	_, err = Load(filepath.Join(dir, "missing.yaml"))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load of a missing file: %v, want fs.ErrNotExist", err)
	}
}

// TestRoundTrip checks that Format's output parses back to an equal
// config, with the secret inline and in a file.
func TestRoundTrip(t *testing.T) {
	configs := make(map[string]model.Config)
	for _, path := range yamlFiles(t, "good") {
		c, err := parseFile(t, path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		configs[filepath.Base(path)] = c
	}
	// Values no good file holds: a secret that is not UTF-8 and one that
	// YAML must quote and escape, and overrides of every timing field.
	odd := configs["minimal.yaml"]
	odd.Secret = []byte{0xff, 0xfe, 0, 1, '\n', ' ', '"', '\'', '#', ':', 0x80, 0x81, 0x82, 0x83, 0x84, 0x85, ' '}
	configs["binary secret"] = odd
	odd = configs["three-nodes.yaml"]
	odd.Secret = []byte(" - not: [a list]\n\t# or a comment \u2028 ")
	odd.Timing = model.Timing{
		Profile:                "wan",
		HeartbeatInterval:      time.Second + time.Nanosecond,
		SuspectAfter:           3 * time.Second,
		OfflineAfter:           time.Hour,
		MaxClockSkew:           time.Minute,
		RaftHeartbeatTimeout:   time.Second,
		RaftElectionTimeout:    1001 * time.Millisecond,
		RaftLeaderLeaseTimeout: 999 * time.Microsecond * 1000,
		Lease:                  3*time.Second + time.Millisecond,
	}
	odd.Detection = defaultDetection(odd.Timing) // as Parse derives it from the timing
	configs["overrides and quoting"] = odd

	for name, c := range configs {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			out := Format(c, "")
			got, err := Parse("formatted.yaml", dir, out)
			if err != nil {
				t.Fatalf("Parse(Format(c)): %v\n%s", err, out)
			}
			if d := cmp.Diff(c, got, equateAddr); d != "" {
				t.Errorf("inline secret (-want +got):\n%s\n%s", d, out)
			}
			if strings.TrimRight(string(c.Secret), " \t\r\n") != string(c.Secret) {
				return // a secret file is trimmed, so it cannot hold this secret
			}
			writeSecret(t, dir, "secret", string(c.Secret), 0o600)
			out = Format(c, "secret")
			if !strings.Contains(string(out), "\nsecret_file: secret\n") || strings.Contains(string(out), "\nsecret:") {
				t.Fatalf("Format with a secret file:\n%s", out)
			}
			got, err = Parse("formatted.yaml", dir, out)
			if err != nil {
				t.Fatalf("Parse(Format(c, file)): %v\n%s", err, out)
			}
			if d := cmp.Diff(c, got, equateAddr); d != "" {
				t.Errorf("secret file (-want +got):\n%s\n%s", d, out)
			}
		})
	}
}

// TestFormatTiming checks that Format writes the profile and only the
// fields that differ from it.
func TestFormatTiming(t *testing.T) {
	c, err := Parse("vigil.yaml", "", []byte(header+nodes+`secret: "0123456789abcdef"
timing:
  profile: wan
  heartbeat_interval: 300ms
  offline_after: 4s
`))
	if err != nil {
		t.Fatal(err)
	}
	out := string(Format(c, ""))
	if want := "timing:\n  profile: wan\n  offline_after: 4s\nports:"; !strings.Contains(out, want) {
		t.Errorf("Format:\n%s\nwant it to contain:\n%s", out, want)
	}
}

func TestSummary(t *testing.T) {
	c, err := parseFile(t, "testdata/good/three-nodes.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := "cluster demo: 3 nodes (n1 n2 n3), 2 links\n" +
		"profile lan (heartbeat 25ms, suspect 75ms, offline 150ms)\n" +
		"ports hb 5405/udp raft 5406/tcp api 5407/tcp\n" +
		"data_dir /var/lib/vigil\n"
	if d := cmp.Diff(want, Summary(c)); d != "" {
		t.Errorf("Summary (-want +got):\n%s", d)
	}
	if strings.Contains(Summary(c), string(c.Secret)) {
		t.Errorf("Summary shows the secret")
	}
}

// TestSecretNeverShown puts a secret in every place a mistake can put it,
// next to other problems, and checks that no message contains it.
func TestSecretNeverShown(t *testing.T) {
	const s = "Hunter2-Hunter2-Hunter2"
	tests := []string{
		"secret: " + s + "\nsecret_file: /x\n",
		"secret: [" + s + "]\n",
		"secret: {" + s + ": 1}\n",
		"secret:\n  " + s + ": true\n",
		"secret: !!binary " + s + "\n",
		"secret: !!int " + s + "\n",
		"secret: !!map " + s + "\n",
		"secret: &a " + s + "\nsecret_file: *a\n",
		"secret: \"" + s + "\n",  // unterminated quote
		"secret: '" + s + "'x\n", // junk after the quote
		"secret: " + s + ": x\n",
		"secret: " + s + "\n\t- x\n",
		"secret: " + s + "\n" + s + "\n",
		"secret: \"" + s + "\\q\"\n", // bad escape
		"secret: " + s + "\nnodes: 3\ntiming: {profile: x}\n",
	}
	for _, data := range tests {
		_, err := Parse("vigil.yaml", t.TempDir(), []byte(header+data))
		if err == nil {
			t.Errorf("Parse accepted:\n%s", data)
			continue
		}
		if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "Hunter") {
			t.Errorf("message shows the secret:\n%v\nfor:\n%s", err, data)
		}
	}
	// And the short secrets of the bad testdata, which are there to be
	// refused.
	for _, path := range yamlFiles(t, "bad") {
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, perr := Parse(filepath.Base(path), filepath.Dir(path), data)
		for _, line := range strings.Split(string(data), "\n") {
			v, ok := strings.CutPrefix(line, "secret: ")
			v = strings.Trim(v, `"'`)
			if ok && len(v) >= 4 && perr != nil && strings.Contains(perr.Error(), v) {
				t.Errorf("%s: message shows the secret %q:\n%v", path, v, perr)
			}
		}
	}
}
