package config

import (
	"errors"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

// TestDetectionDefaults checks the defaults Parse fills in from the timing
// profile, and that Format leaves them out.
func TestDetectionDefaults(t *testing.T) {
	damping := model.Damping{Penalty: 1000, Suppress: 2000, Reuse: 750, HalfLife: time.Minute, MaxHold: 5 * time.Minute}
	ms := time.Millisecond
	tests := []struct {
		name, timing string
		want         model.Detection
	}{
		{"lan", "", model.Detection{Require: 2, Window: 100 * ms, ProbeInterval: 50 * ms, ProbeTimeout: 100 * ms, Damping: damping}},
		{"wan", "timing: {profile: wan}\n", model.Detection{Require: 2, Window: 2400 * ms, ProbeInterval: 300 * ms, ProbeTimeout: 600 * ms, Damping: damping}},
		// A slow heartbeat: the default probe timeout stays under 1s.
		{"slow", "timing: {heartbeat_interval: 600ms, suspect_after: 1200ms, offline_after: 5s, lease: 2s}\n",
			model.Detection{Require: 2, Window: 3800 * ms, ProbeInterval: 600 * ms, ProbeTimeout: 900 * ms, Damping: damping}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Parse("vigil.yaml", t.TempDir(), []byte(header+nodes+"secret: \"0123456789abcdef\"\n"+tt.timing))
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, c.Detection); d != "" {
				t.Errorf("Detection (-want +got):\n%s", d)
			}
			if out := string(Format(c, "")); strings.Contains(out, "detection") {
				t.Errorf("Format writes the defaults:\n%s", out)
			}
		})
	}

	c, err := Parse("vigil.yaml", t.TempDir(), []byte(header+nodes+`secret: "0123456789abcdef"
detection:
  checks:
    - {name: web, node: n1, http: "http://198.18.0.1/"}
    - {name: ssh, node: n2, tcp: "198.18.0.2:22", timeout: 1s}
alerts:
  - {id: a, script: /bin/true}
api:
  tokens: [{name: t, role: operator, token: "0123456789abcdefX"}]
`))
	if err != nil {
		t.Fatal(err)
	}
	want := []model.Check{
		{Name: "web", Node: "n1", HTTP: "http://198.18.0.1/", Status: 200, Interval: 200 * ms, Timeout: 200 * ms},
		{Name: "ssh", Node: "n2", TCP: "198.18.0.2:22", Interval: 200 * ms, Timeout: time.Second},
	}
	if d := cmp.Diff(want, c.Detection.Checks); d != "" {
		t.Errorf("Checks (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]model.Alert{{ID: "a", Script: "/bin/true", Timeout: 10 * time.Second, Retries: 3}}, c.Alerts); d != "" {
		t.Errorf("Alerts (-want +got):\n%s", d)
	}
	wantAPI := model.APIAccess{TLSMode: "off", TLSDir: "/etc/vigil/tls",
		Tokens: []model.Token{{Name: "t", Role: "operator", Secret: []byte("0123456789abcdefX")}}}
	if d := cmp.Diff(wantAPI, c.API); d != "" {
		t.Errorf("API (-want +got):\n%s", d)
	}
}

// TestEventKindsAccepted checks that every kind of event, and every
// prefix of one up to a ".", is a valid alert kind.
func TestEventKindsAccepted(t *testing.T) {
	for _, k := range model.EventKinds() {
		if msg := kindProblem(string(k)); msg != "" {
			t.Errorf("kind %q: %s", k, msg)
		}
		subject, _, _ := strings.Cut(string(k), ".")
		if msg := kindProblem(subject + "."); msg != "" {
			t.Errorf("prefix %q: %s", subject+".", msg)
		}
	}
	for _, s := range []string{"", ".", "node", "node.offline.", "nodes.", "Node.offline"} {
		if kindProblem(s) == "" {
			t.Errorf("kind %q accepted", s)
		}
	}
}

func TestTokenFile(t *testing.T) {
	const token = "tok-from-a-file-0123456789"
	tests := []struct {
		name    string
		content string
		mode    fs.FileMode
		ref     func(dir, path string) string // the token_file value
		want    string                        // the token, or the problem with DIR for the directory
	}{
		{"0600 absolute", token + "\n", 0o600, abs, token},
		{"0400 relative", token, 0o400, rel, token},
		{"0644", token + "\n", 0o644, rel,
			"vigil.yaml:11: api.tokens[0].token_file: DIR/tok has mode 0644, open to group or others; run chmod 600 DIR/tok"},
		{"short", "short-token\n", 0o600, rel,
			"vigil.yaml:11: api.tokens[0].token_file: the token in DIR/tok is too short: 11 bytes, need at least 16"},
		{"empty", "\n", 0o600, rel, "vigil.yaml:11: api.tokens[0].token_file: DIR/tok is empty"},
		{"missing", token, 0o600, func(string, string) string { return "nope" },
			"vigil.yaml:11: api.tokens[0].token_file: cannot read DIR/nope: no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeSecret(t, dir, "tok", tt.content, tt.mode)
			data := header + nodes + "secret: \"0123456789abcdef\"\napi:\n  tokens:\n    - {name: ops, role: operator, token_file: " + tt.ref(dir, path) + "}\n"
			c, err := Parse("vigil.yaml", dir, []byte(data))
			if err != nil {
				if got := strings.ReplaceAll(err.Error(), dir, "DIR"); got != tt.want {
					t.Errorf("error:\n%s\nwant:\n%s", got, tt.want)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("error shows the token: %v", err)
				}
				return
			}
			if got := string(c.API.Tokens[0].Secret); got != tt.want {
				t.Fatalf("token %q, want %q", got, tt.want)
			}
			if got, want := c.API.Tokens[0].File, tt.ref(dir, path); got != want {
				t.Errorf("File %q, want %q", got, want)
			}
			out := Format(c, "")
			if strings.Contains(string(out), token) || !strings.Contains(string(out), "token_file: "+tt.ref(dir, path)) {
				t.Errorf("Format, want the token_file and not the token:\n%s", out)
			}
			if strings.Contains(Summary(c), token) {
				t.Errorf("Summary shows the token:\n%s", Summary(c))
			}
			again, err := Parse("vigil.yaml", dir, out)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(c, again, equateAddr); d != "" {
				t.Errorf("Parse(Format(c)) (-c +again):\n%s", d)
			}
		})
	}
}

// marked are the secrets the testdata files of the new sections hold:
// tokens, header values, and the credentials in URLs.
var marked = regexp.MustCompile(`(tok|hdr|url)-secret[-\w]*|Qs-webhook-query-secret|correct horse battery staple`)

// TestSectionSecretsNeverShown checks that no message, and no Summary,
// shows a token, a header value or a URL's credentials, wherever the
// testdata puts them, and that the inline secrets of the good files reach
// Format only where they must (it writes a config file).
func TestSectionSecretsNeverShown(t *testing.T) {
	for _, dir := range []string{"good", "bad"} {
		for _, path := range yamlFiles(t, dir) {
			c, err := parseFile(t, path)
			if err != nil {
				if m := marked.FindString(err.Error()); m != "" {
					t.Errorf("%s: a message shows %q:\n%v", path, m, err)
				}
				continue
			}
			if m := marked.FindString(Summary(c)); m != "" {
				t.Errorf("%s: Summary shows %q:\n%s", path, m, Summary(c))
			}
		}
	}
	// Secrets in every place a mistake can put them, with other problems.
	const s = "Hunter2-Hunter2-Hunter2"
	tests := []string{
		"api: {tokens: [{name: a, role: operator, token: " + s + ", token_file: /x}]}\n",
		"api: {tokens: [{name: a, role: admin, token: [" + s + "]}]}\n",
		"api: {tokens: [{name: a, role: operator, token: {" + s + ": 1}}]}\n",
		"api: {tokens: [{name: a, role: operator, token: !!binary " + s + "}]}\n",
		"api: {tokens: [{name: a, role: operator, token: " + s + "}, {name: b, role: operator, token: " + s + "}]}\n",
		"api: {tokens: [" + s + "]}\n",
		"api: {tokens: " + s + "}\n",
		"api: {tls: " + s + "}\n",
		"alerts: [{id: a, webhook: \"https://u:" + s + "@x/\", script: /x}]\n",
		"alerts: [{id: a, webhook: \"ftp://x/?t=" + s + "\"}]\n",
		"alerts: [{id: a, webhook: \"https://x/ " + s + "\"}]\n",
		"alerts: [{id: a, webhook: \"" + s + "\"}]\n",
		"alerts: [{id: a, script: /x, headers: {A: " + s + "}}]\n",
		"alerts: [{id: a, webhook: \"https://x/\", headers: {\"A " + s + "\": x}}]\n",
		"alerts: [{id: a, webhook: \"https://x/\", headers: {A: \"" + s + "\\n\"}}]\n",
		"alerts: [{id: a, webhook: \"https://x/\", headers: {A: [" + s + "]}}]\n",
		"alerts: [{id: a, webhook: \"https://x/\", headers: {A: x, a: " + s + "}}]\n",
		"alerts: [{id: a, webhook: \"https://x/\", headers: {Content-Type: " + s + "}}]\n",
		"alerts: [{id: a, webhook: \"https://x/\", headers: [" + s + "]}]\n",
		"detection: {checks: [{name: a, node: n1, http: \"ftp://u:" + s + "@x/\"}]}\n",
		"detection: {checks: [{name: a, node: n9, http: \"https://u:" + s + "@x/\"}]}\n",
	}
	for _, data := range tests {
		_, err := Parse("vigil.yaml", t.TempDir(), []byte(header+nodes+"secret: \"0123456789abcdef\"\n"+data))
		if err == nil {
			t.Errorf("Parse accepted:\n%s", data)
			continue
		}
		if strings.Contains(err.Error(), "Hunter") {
			t.Errorf("message shows the secret:\n%v\nfor:\n%s", err, data)
		}
	}
}

// TestRestartSections checks that a change to detection, alerts or api
// takes a restart, and that a token compares by value.
func TestRestartSections(t *testing.T) {
	load := func(name string) model.Config {
		t.Helper()
		c, err := parseFile(t, filepath.Join("testdata/good", name))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	det, alerts, api := load("detection.yaml"), load("alerts.yaml"), load("api.yaml")
	for _, c := range []model.Config{det, alerts, api} {
		if r := Restart(c, c); r != nil {
			t.Errorf("Restart of a config with itself = %q", r)
		}
	}
	changed := det
	changed.Detection.Checks = append([]model.Check{}, det.Detection.Checks...)
	changed.Detection.Checks[0].Status = 200
	if d := cmp.Diff([]string{"detection"}, Restart(det, changed)); d != "" {
		t.Errorf("checks changed (-want +got):\n%s", d)
	}
	changed = alerts
	changed.Alerts = append([]model.Alert{}, alerts.Alerts...)
	changed.Alerts[1].Headers = map[string]string{"Authorization": "Bearer other"}
	if d := cmp.Diff([]string{"alerts"}, Restart(alerts, changed)); d != "" {
		t.Errorf("headers changed (-want +got):\n%s", d)
	}
	changed = api
	changed.API.Tokens = append([]model.Token{}, api.API.Tokens...)
	changed.API.Tokens[0].File = "/etc/vigil/tokens/grafana" // same value, now from a file
	if r := Restart(api, changed); r != nil {
		t.Errorf("a token moved to a file: Restart = %q", r)
	}
	changed.API.Tokens[1].Secret = []byte("another-token-0123456789")
	if d := cmp.Diff([]string{"api"}, Restart(api, changed)); d != "" {
		t.Errorf("token changed (-want +got):\n%s", d)
	}
}

// TestSectionsBadChangeNothing checks that a file with a problem in a new
// section gives no config at all (invariant 5), even when the rest is
// good.
func TestSectionsBadChangeNothing(t *testing.T) {
	c, err := Parse("vigil.yaml", t.TempDir(), []byte(header+nodes+"secret: \"0123456789abcdef\"\nalerts: [{id: a, script: /bin/true, retries: 99}]\n"))
	var e *Error
	if !errors.As(err, &e) || len(e.Problems) != 1 {
		t.Fatalf("Parse: %v, want one problem", err)
	}
	if d := cmp.Diff(model.Config{}, c, equateAddr); d != "" {
		t.Errorf("Parse returned a config with its error:\n%s", d)
	}
}
