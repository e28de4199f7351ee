package cli

import (
	"bytes"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/pki"
)

// testPKI makes a CA in a fresh directory, a certificate for node n1
// naming sans, and a client certificate for admin.
func testPKI(t *testing.T, sans ...string) string {
	t.Helper()
	dir := t.TempDir()
	now := time.Now()
	if _, err := pki.Init(dir, "demo", now, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.Issue(dir, "n1", pki.KindNode, sans, now, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	if _, err := pki.Issue(dir, "admin", pki.KindClient, nil, now, pki.Options{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// serveTLS serves the API of b over HTTPS with n1's certificate from dir,
// asking every client for a certificate of the CA, and token.
func serveTLS(t *testing.T, dir string, b api.Backend, token string) string {
	t.Helper()
	cfg, err := pki.ServerConfig(dir, "n1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(api.NewHandler(b, token))
	srv.TLS = cfg
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestRemoteStatus(t *testing.T) {
	want := healthyStatus()
	var table bytes.Buffer
	writeStatus(&table, want)
	dir := testPKI(t, "127.0.0.1")
	url := serveTLS(t, dir, fakeBackend{want}, "s3cret")
	token := writeFile(t, "token", "s3cret\n")
	plain := httptest.NewServer(api.NewHandler(fakeBackend{want}, "s3cret"))
	t.Cleanup(plain.Close)

	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"flags", nil, []string{"--server", url, "--token-file", token, "--tls-dir", dir}},
		{"environment", map[string]string{"VIGIL_SERVER": url, "VIGIL_TOKEN_FILE": token, "VIGIL_TLS_DIR": dir}, nil},
		{"server name", nil, []string{"--server", url + "/", "--token-file", token, "--tls-dir", dir, "--server-name", "n1", "--tls-name", "admin"}},
		{"--server beats VIGIL_SOCKET", map[string]string{"VIGIL_SOCKET": "/nonexistent.sock"}, []string{"--server", url, "--token-file", token, "--tls-dir", dir}},
		{"plain http", nil, []string{"--server", plain.URL, "--token-file", token}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.vars, append(tc.args, "status")...)
			if r.code != ExitOK || r.stdout != table.String() {
				t.Errorf("exit %d\nstdout:\n%s\nstderr: %s", r.code, r.stdout, r.stderr)
			}
		})
	}
}

// An address in the URL is matched to its node by the config, so that a
// certificate that names only the node is accepted.
func TestRemoteServerNameFromConfig(t *testing.T) {
	dir := testPKI(t) // names n1 only
	url := serveTLS(t, dir, fakeBackend{healthyStatus()}, "")
	cfg := writeFile(t, "vigil.yaml", strings.Replace(validConfig, "198.18.0.1", "127.0.0.1", 1))
	args := []string{"--server", url, "--tls-dir", dir, "status", "-o", "json"}

	if r := runCLI(t, map[string]string{"VIGIL_CONFIG": cfg}, args...); r.code != ExitOK {
		t.Errorf("with the config: exit %d, stderr %s", r.code, r.stderr)
	}
	r := runCLI(t, map[string]string{"VIGIL_CONFIG": filepath.Join(t.TempDir(), "none.yaml")}, args...)
	if r.code != ExitUnreachable || !strings.Contains(r.stderr, "cannot trust the vigil daemon at "+url) || !strings.Contains(r.stderr, "--server-name") {
		t.Errorf("without the config: exit %d, stderr %s", r.code, r.stderr)
	}
}

func TestRemoteErrors(t *testing.T) {
	dir := testPKI(t, "127.0.0.1")
	url := serveTLS(t, dir, fakeBackend{healthyStatus()}, "s3cret")
	wrong := writeFile(t, "token", "guess")
	empty := writeFile(t, "empty", "\n")
	dead := httptest.NewServer(nil)
	deadURL := dead.URL
	dead.Close()
	for _, tc := range []struct {
		name   string
		vars   map[string]string
		args   []string
		code   int
		stderr string
	}{
		{"socket and server", nil, []string{"--socket", "/x.sock", "--server", url}, ExitUsage, "--socket and --server both name a daemon"},
		{"both variables", map[string]string{"VIGIL_SOCKET": "/x.sock", "VIGIL_SERVER": url}, nil, ExitUsage, "VIGIL_SOCKET and VIGIL_SERVER are both set"},
		{"not a URL", nil, []string{"--server", "10.0.0.1:5407"}, ExitUsage, `want http://HOST:PORT or https://HOST:PORT`},
		{"token without server", nil, []string{"--token-file", wrong}, ExitUsage, "--token-file and --server-name go with --server"},
		{"missing token file", nil, []string{"--server", url, "--token-file", "/nonexistent/token", "--tls-dir", dir}, ExitUsage, "--token-file: open /nonexistent/token"},
		{"empty token file", nil, []string{"--server", url, "--token-file", empty, "--tls-dir", dir}, ExitUsage, "is empty"},
		{"no certificates", nil, []string{"--server", url, "--tls-dir", t.TempDir()}, ExitUsage, "'vigil tls issue admin --client' makes them"},
		{"wrong token", nil, []string{"--server", url, "--token-file", wrong, "--tls-dir", dir}, ExitFailure, "the daemon refused the credentials"},
		{"wrong server name", nil, []string{"--server", url, "--tls-dir", dir, "--server-name", "n2"}, ExitUnreachable, "cannot trust the vigil daemon at " + url},
		{"nobody there", nil, []string{"--server", deadURL}, ExitUnreachable,
			"cannot reach the vigil daemon at " + deadURL + ": is it running, and is its API port open to you? — set --server or VIGIL_SERVER to reach another"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := runCLI(t, tc.vars, append(tc.args, "status")...)
			if r.code != tc.code || !strings.Contains(r.stderr, tc.stderr) || r.stdout != "" {
				t.Errorf("exit %d, stdout %q, stderr %q; want %d and %q", r.code, r.stdout, r.stderr, tc.code, tc.stderr)
			}
		})
	}
}
