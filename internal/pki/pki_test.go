package pki

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// now is the time of every test: certificates are issued at it and
// handshakes are checked at it, whatever the wall clock says.
var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// newCA creates a CA for cluster demo in a fresh directory.
func newCA(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tls")
	if _, err := Init(dir, "demo", now, Options{}); err != nil {
		t.Fatal(err)
	}
	return dir
}

func issue(t *testing.T, dir, name string, kind Kind, sans ...string) Result {
	t.Helper()
	r, err := Issue(dir, name, kind, sans, now, Options{})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func serverConfig(t *testing.T, dir, name string, at time.Time) *tls.Config {
	t.Helper()
	c, err := ServerConfig(dir, name)
	if err != nil {
		t.Fatal(err)
	}
	c.Time = func() time.Time { return at }
	return c
}

func clientConfig(t *testing.T, dir, name, server string, at time.Time) *tls.Config {
	t.Helper()
	c, err := ClientConfig(dir, name, server)
	if err != nil {
		t.Fatal(err)
	}
	c.Time = func() time.Time { return at }
	return c
}

// outcome is what each end of one handshake saw.
type outcome struct {
	serverErr, clientErr error
	server, client       Identity // the peer each end authenticated
}

// handshake runs one TLS handshake over a loopback TCP connection and
// returns what each end saw. Every step is bounded by a 10 s deadline.
func handshake(t *testing.T, server, client *tls.Config) outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	type side struct {
		err error
		id  Identity
	}
	srv := make(chan side, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			srv <- side{err: err}
			return
		}
		defer c.Close()
		tc := tls.Server(c, server)
		if err := tc.HandshakeContext(ctx); err != nil {
			srv <- side{err: err}
			return
		}
		id, err := Peer(tc.ConnectionState())
		srv <- side{err: err, id: id}
	}()
	var o outcome
	c, err := (&net.Dialer{}).DialContext(ctx, "tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tc := tls.Client(c, client)
	if o.clientErr = tc.HandshakeContext(ctx); o.clientErr == nil {
		o.server, o.clientErr = Peer(tc.ConnectionState())
	}
	// In TLS 1.3 the client may finish before the server has checked its
	// certificate; wait for the server's verdict before closing.
	s := <-srv
	o.serverErr, o.client = s.err, s.id
	return o
}

func TestTLSHandshake(t *testing.T) {
	dir := newCA(t)
	issue(t, dir, "n1", KindNode, "127.0.0.1", "198.18.0.1")
	issue(t, dir, "n2", KindNode, "127.0.0.2")
	issue(t, dir, "admin", KindClient)
	tests := []struct {
		name           string
		client, server string // certificate names; server is also the server name dialled
		serverName     string
		wantClient     Identity // as the server sees it
	}{
		{"operator to node by name", "admin", "n1", "n1", Identity{"admin", KindClient, "demo"}},
		{"operator to node by address", "admin", "n1", "127.0.0.1", Identity{"admin", KindClient, "demo"}},
		{"node to node", "n2", "n1", "n1", Identity{"n2", KindNode, "demo"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := handshake(t, serverConfig(t, dir, tt.server, now), clientConfig(t, dir, tt.client, tt.serverName, now))
			if o.serverErr != nil || o.clientErr != nil {
				t.Fatalf("handshake failed: server: %v; client: %v", o.serverErr, o.clientErr)
			}
			if d := cmp.Diff(tt.wantClient, o.client); d != "" {
				t.Errorf("the server authenticated (-want +got):\n%s", d)
			}
			if d := cmp.Diff(Identity{tt.server, KindNode, "demo"}, o.server); d != "" {
				t.Errorf("the client authenticated (-want +got):\n%s", d)
			}
		})
	}
}

func TestTLSHandshakeRefused(t *testing.T) {
	dir := newCA(t)
	issue(t, dir, "n1", KindNode, "127.0.0.1")
	issue(t, dir, "admin", KindClient)
	other := newCA(t) // another cluster's CA, with the same names
	issue(t, other, "n1", KindNode, "127.0.0.1")
	issue(t, other, "admin", KindClient)

	// A client certificate used as a server's, built by hand since
	// ServerConfig refuses it (see TestTLSServerConfigRefusesClientCert).
	clientAsServer := serverConfig(t, dir, "n1", now)
	_, pair, err := loadLeaf(dir, "admin", 0)
	if err != nil {
		t.Fatal(err)
	}
	clientAsServer.Certificates = []tls.Certificate{pair}

	foreignClient := clientConfig(t, dir, "admin", "n1", now)
	_, foreignPair, err := loadLeaf(other, "admin", 0)
	if err != nil {
		t.Fatal(err)
	}
	foreignClient.Certificates = []tls.Certificate{foreignPair}

	expired := now.AddDate(LeafYears, 0, 1)
	tests := []struct {
		name           string
		server, client *tls.Config
		// which end must refuse, and what its error must say
		serverRefuses, clientRefuses string
	}{
		{
			// The client trusts the server, but its own certificate is
			// another CA's.
			name:          "client certificate of another CA",
			server:        serverConfig(t, dir, "n1", now),
			client:        foreignClient,
			serverRefuses: "unknown authority",
		},
		{
			name:          "server certificate of another CA",
			server:        serverConfig(t, other, "n1", now),
			client:        clientConfig(t, dir, "admin", "n1", now),
			clientRefuses: "unknown authority",
		},
		{
			name:          "client certificate as a server's",
			server:        clientAsServer,
			client:        clientConfig(t, dir, "admin", "admin", now),
			clientRefuses: "failed to verify certificate",
		},
		{
			name:          "server name not in the certificate",
			server:        serverConfig(t, dir, "n1", now),
			client:        clientConfig(t, dir, "admin", "n2", now),
			clientRefuses: "not n2",
		},
		{
			name:          "expired, seen by the client",
			server:        serverConfig(t, dir, "n1", now),
			client:        clientConfig(t, dir, "admin", "n1", expired),
			clientRefuses: "expired",
		},
		{
			name:          "expired, seen by the server",
			server:        serverConfig(t, dir, "n1", expired),
			client:        clientConfig(t, dir, "admin", "n1", now),
			serverRefuses: "expired",
		},
		{
			name:   "no client certificate",
			server: serverConfig(t, dir, "n1", now),
			client: func() *tls.Config {
				c := clientConfig(t, dir, "admin", "n1", now)
				c.Certificates = nil
				return c
			}(),
			serverRefuses: "certificate",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := handshake(t, tt.server, tt.client)
			check := func(end string, err error, want string) {
				t.Helper()
				switch {
				case want == "":
				case err == nil:
					t.Errorf("the %s accepted the handshake; want it refused (%q)", end, want)
				case !strings.Contains(err.Error(), want):
					t.Errorf("the %s refused with %q; want it to say %q", end, err, want)
				}
			}
			check("server", o.serverErr, tt.serverRefuses)
			check("client", o.clientErr, tt.clientRefuses)
			if o.serverErr == nil && o.clientErr == nil {
				t.Errorf("handshake succeeded")
			}
		})
	}
}

func TestTLSServerConfigRefusesClientCert(t *testing.T) {
	dir := newCA(t)
	issue(t, dir, "admin", KindClient)
	_, err := ServerConfig(dir, "admin")
	if err == nil || !strings.Contains(err.Error(), "a server needs a node certificate") {
		t.Errorf("ServerConfig(admin) = %v; want a refusal that says a server needs a node certificate", err)
	}
	// And what refuses it in a handshake, besides its having no SAN: its
	// key usage.
	ca, pair, err := loadLeaf(dir, "admin", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := verify(pair.Leaf, ca, now, x509.ExtKeyUsageServerAuth); err == nil || !strings.Contains(err.Error(), "not for this use") {
		t.Errorf("verify(admin, ServerAuth) = %v; want incompatible usage", err)
	}
}

func TestTLSClientConfigNeedsServerName(t *testing.T) {
	dir := newCA(t)
	issue(t, dir, "admin", KindClient)
	if _, err := ClientConfig(dir, "admin", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("ClientConfig without a server name = %v; want ErrInvalid", err)
	}
}

func TestTLSPeerUnverified(t *testing.T) {
	if _, err := Peer(tls.ConnectionState{}); !errors.Is(err, ErrUnverified) {
		t.Errorf("Peer of an unverified connection = %v; want ErrUnverified", err)
	}
}

// withUmask runs f under umask m, so file modes are shown not to depend
// on it.
func withUmask(t *testing.T, m int, f func()) {
	t.Helper()
	old := syscall.Umask(m)
	defer syscall.Umask(old)
	f()
}

func modes(t *testing.T, dir string) map[string]fs.FileMode {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string]fs.FileMode{}
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = fi.Mode()
	}
	return m
}

func TestTLSFileModes(t *testing.T) {
	for _, umask := range []int{0o000, 0o022, 0o077} {
		t.Run(fs.FileMode(umask).String(), func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "etc", "tls")
			withUmask(t, umask, func() {
				if _, err := Init(dir, "demo", now, Options{}); err != nil {
					t.Fatal(err)
				}
				issue(t, dir, "n1", KindNode, "198.18.0.1")
				issue(t, dir, "admin", KindClient)
				if _, err := Issue(dir, "n1", KindNode, nil, now, Options{Force: true}); err != nil {
					t.Fatal(err)
				}
			})
			want := map[string]fs.FileMode{
				"ca.crt": 0o644, "ca.key": 0o600,
				"n1.crt": 0o644, "n1.key": 0o600,
				"admin.crt": 0o644, "admin.key": 0o600,
			}
			if d := cmp.Diff(want, modes(t, dir)); d != "" {
				t.Errorf("files and modes (-want +got), no temporary file may be left:\n%s", d)
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode(); got != fs.ModeDir|0o700 {
				t.Errorf("directory mode %v, want %v", got, fs.ModeDir|0o700)
			}
		})
	}
}

func readAll(t *testing.T, dir string) map[string]string {
	t.Helper()
	m := map[string]string{}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = string(b)
	}
	return m
}

func TestTLSInitRefusesOverwrite(t *testing.T) {
	dir := newCA(t)
	issue(t, dir, "n1", KindNode)
	before := readAll(t, dir)
	old, err := Inspect(filepath.Join(dir, CAFile), "", now)
	if err != nil {
		t.Fatal(err)
	}

	_, err = Init(dir, "demo", now, Options{})
	if !errors.Is(err, ErrExists) {
		t.Fatalf("second Init = %v; want ErrExists", err)
	}
	for _, want := range []string{old.Fingerprint, "--force", "untrusted"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the refusal %q does not say %q", err, want)
		}
	}
	if d := cmp.Diff(before, readAll(t, dir)); d != "" {
		t.Errorf("a refused Init changed files (-before +after):\n%s", d)
	}

	// A lone key is refused as well: it may be the CA's.
	lone := filepath.Join(t.TempDir(), "tls")
	if err := os.Mkdir(lone, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(lone, CAKeyFile), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Init(lone, "demo", now, Options{}); !errors.Is(err, ErrExists) {
		t.Errorf("Init over a lone ca.key = %v; want ErrExists", err)
	}

	r, err := Init(dir, "demo", now, Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Replaced == nil || r.Replaced.Fingerprint != old.Fingerprint {
		t.Errorf("forced Init: Replaced = %+v; want the old CA (%s)", r.Replaced, old.Fingerprint)
	}
	if r.Certificate.Fingerprint == old.Fingerprint {
		t.Errorf("forced Init kept the old CA")
	}
	n1, err := Inspect(filepath.Join(dir, "n1.crt"), "", now)
	if err != nil {
		t.Fatal(err)
	}
	if n1.Valid || n1.ChainsToCA {
		t.Errorf("a certificate of the replaced CA still checks out: %+v", n1)
	}
}

func TestTLSIssueRefusesOverwrite(t *testing.T) {
	dir := newCA(t)
	first := issue(t, dir, "n1", KindNode)
	if _, err := Issue(dir, "n1", KindClient, nil, now, Options{}); !errors.Is(err, ErrExists) {
		t.Fatalf("second Issue = %v; want ErrExists", err)
	}
	r, err := Issue(dir, "n1", KindNode, []string{"198.18.0.1"}, now.Add(time.Hour), Options{Force: true})
	if err != nil {
		t.Fatal(err)
	}
	if r.Replaced == nil || r.Replaced.Fingerprint != first.Certificate.Fingerprint {
		t.Errorf("Replaced = %+v; want the first certificate", r.Replaced)
	}
}

func TestTLSBadNamesWriteNothing(t *testing.T) {
	dir := newCA(t)
	before := readAll(t, dir)
	tests := []struct {
		name string
		kind Kind
		sans []string
	}{
		{"", KindNode, nil},
		{"N1", KindNode, nil},
		{"1n", KindNode, nil},
		{"n_1", KindNode, nil},
		{"../n1", KindNode, nil},
		{"n1/../../x", KindClient, nil},
		{strings.Repeat("n", 33), KindNode, nil},
		{"ca", KindNode, nil}, // would overwrite ca.crt
		{"n1", KindNode, []string{"*.example.com"}},
		{"n1", KindNode, []string{"fe80::1%eth0"}},
		{"n1", KindNode, []string{"http://198.18.0.1"}},
		{"admin", KindClient, []string{"198.18.0.1"}},
		{"n1", Kind("operator"), nil},
		{"n1", KindCA, nil},
	}
	for _, tt := range tests {
		_, err := Issue(dir, tt.name, tt.kind, tt.sans, now, Options{})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("Issue(%q, %s, %q) = %v; want ErrInvalid", tt.name, tt.kind, tt.sans, err)
		}
	}
	if d := cmp.Diff(before, readAll(t, dir)); d != "" {
		t.Errorf("refused Issues changed files (-before +after):\n%s", d)
	}
	fresh := filepath.Join(t.TempDir(), "tls")
	if _, err := Init(fresh, "Demo", now, Options{}); !errors.Is(err, ErrInvalid) {
		t.Errorf("Init with cluster name Demo = %v; want ErrInvalid", err)
	}
	if _, err := os.Stat(fresh); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a refused Init created %s", fresh)
	}
}

func TestTLSValidName(t *testing.T) {
	for s, want := range map[string]bool{
		"n1": true, "a": true, "node-1": true, "n1-": true, strings.Repeat("a", 32): true,
		"": false, "N1": false, "1n": false, "-n": false, "n.1": false, "n_1": false,
		"n 1": false, "ñ": false, strings.Repeat("a", 33): false,
	} {
		if got := ValidName(s); got != want {
			t.Errorf("ValidName(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestTLSIssueWithoutCA(t *testing.T) {
	dir := t.TempDir()
	_, err := Issue(dir, "n1", KindNode, nil, now, Options{})
	if !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "vigil tls init") {
		t.Errorf("Issue without a CA = %v; want ErrNoCA saying to run vigil tls init", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("Issue without a CA wrote %d files", len(ents))
	}

	// A node's copy of the directory has ca.crt but not ca.key.
	ca := newCA(t)
	if err := os.Remove(filepath.Join(ca, CAKeyFile)); err != nil {
		t.Fatal(err)
	}
	_, err = Issue(ca, "n1", KindNode, nil, now, Options{})
	if !errors.Is(err, ErrNoCA) || !strings.Contains(err.Error(), "host that keeps the CA key") {
		t.Errorf("Issue without ca.key = %v; want ErrNoCA naming the missing key", err)
	}
}

func TestTLSIssueRefusesOpenKey(t *testing.T) {
	dir := newCA(t)
	if err := os.Chmod(filepath.Join(dir, CAKeyFile), 0o640); err != nil {
		t.Fatal(err)
	}
	_, err := Issue(dir, "n1", KindNode, nil, now, Options{})
	if err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("Issue with a group-readable CA key = %v; want a refusal saying chmod 600", err)
	}
	issueDir := newCA(t)
	issue(t, issueDir, "n1", KindNode)
	if err := os.Chmod(filepath.Join(issueDir, "n1.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ServerConfig(issueDir, "n1"); err == nil || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("ServerConfig with a world-readable key = %v; want a refusal saying chmod 600", err)
	}
}

func TestTLSValidity(t *testing.T) {
	dir := newCA(t)
	ca, err := Inspect(filepath.Join(dir, CAFile), "", now)
	if err != nil {
		t.Fatal(err)
	}
	if want := now.AddDate(CAYears, 0, 0); !ca.NotAfter.Equal(want) {
		t.Errorf("CA valid until %v, want %v", ca.NotAfter, want)
	}
	n1 := issue(t, dir, "n1", KindNode).Certificate
	if want := now.AddDate(LeafYears, 0, 0); !n1.NotAfter.Equal(want) {
		t.Errorf("n1 valid until %v, want %v", n1.NotAfter, want)
	}
	if want := now.Add(-Backdate); !n1.NotBefore.Equal(want) {
		t.Errorf("n1 valid from %v, want %v", n1.NotBefore, want)
	}
	// Near the CA's end, a leaf ends with it.
	late := now.AddDate(CAYears-1, 6, 0)
	r, err := Issue(dir, "n2", KindNode, nil, late, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if !r.Certificate.NotAfter.Equal(ca.NotAfter) {
		t.Errorf("n2 issued %v valid until %v; want the CA's end %v", late, r.Certificate.NotAfter, ca.NotAfter)
	}
	// After it, nothing is issued.
	if _, err := Issue(dir, "n3", KindNode, nil, ca.NotAfter.Add(time.Second), Options{}); err == nil || !strings.Contains(err.Error(), "tls init --force") {
		t.Errorf("Issue with an expired CA = %v; want a refusal", err)
	}
}

func TestTLSInspect(t *testing.T) {
	dir := newCA(t)
	r := issue(t, dir, "n1", KindNode, "198.18.0.1", "N1.Example.com", "::ffff:198.18.1.1", "198.18.0.1")
	got, err := Inspect(r.CertFile, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Fingerprint) != 32*3-1 || len(got.Serial) == 0 {
		t.Errorf("fingerprint %q, serial %q", got.Fingerprint, got.Serial)
	}
	got.Fingerprint, got.Serial = "", ""
	want := Info{
		File:        r.CertFile,
		Subject:     "CN=n1,OU=node,O=vigil demo",
		Name:        "n1",
		Kind:        KindNode,
		Cluster:     "demo",
		Issuer:      "CN=vigil demo CA,O=vigil demo",
		DNSNames:    []string{"n1", "n1.example.com"},
		IPAddresses: []string{"198.18.0.1", "198.18.1.1"},
		NotBefore:   now.Add(-Backdate),
		NotAfter:    now.AddDate(LeafYears, 0, 0),
		CA:          filepath.Join(dir, CAFile),
		ChainsToCA:  true,
		Valid:       true,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Inspect (-want +got):\n%s", d)
	}

	ca, err := Inspect(filepath.Join(dir, CAFile), "", now)
	if err != nil {
		t.Fatal(err)
	}
	if ca.Kind != KindCA || !ca.Valid || !ca.ChainsToCA || ca.Name != "vigil demo CA" {
		t.Errorf("Inspect(ca.crt) = %+v", ca)
	}

	expired, err := Inspect(r.CertFile, "", now.AddDate(LeafYears, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if expired.Valid || !expired.ChainsToCA || !strings.Contains(expired.Problem, "n1 expired on") {
		t.Errorf("Inspect after expiry: valid %v, chains %v, problem %q", expired.Valid, expired.ChainsToCA, expired.Problem)
	}

	other := newCA(t)
	foreign, err := Inspect(r.CertFile, filepath.Join(other, CAFile), now)
	if err != nil {
		t.Fatal(err)
	}
	if foreign.Valid || foreign.ChainsToCA || !strings.Contains(foreign.Problem, "not signed by the CA in "+filepath.Join(other, CAFile)) {
		t.Errorf("Inspect against another CA: valid %v, chains %v, problem %q", foreign.Valid, foreign.ChainsToCA, foreign.Problem)
	}

	// Without a CA beside it, it is described but not checked.
	lone := filepath.Join(t.TempDir(), "n1.crt")
	if err := os.WriteFile(lone, []byte(mustRead(t, r.CertFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	unchecked, err := Inspect(lone, "", now)
	if err != nil {
		t.Fatal(err)
	}
	if unchecked.Valid || unchecked.CA != "" || !strings.HasPrefix(unchecked.Problem, "not checked") {
		t.Errorf("Inspect without a CA: %+v", unchecked)
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// keyParts returns pieces of every key in dir that must never be shown:
// each base64 line of the PEM body, and the DER itself.
func keyParts(t *testing.T, dir string) []string {
	t.Helper()
	var parts []string
	for _, name := range []string{CAKeyFile, "n1.key", "admin.key"} {
		data := mustRead(t, filepath.Join(dir, name))
		block, _ := pem.Decode([]byte(data))
		if block == nil {
			t.Fatalf("%s: no PEM", name)
		}
		parts = append(parts, string(block.Bytes))
		for line := range strings.SplitSeq(data, "\n") {
			if len(line) >= 16 && !strings.HasPrefix(line, "-----") {
				parts = append(parts, line)
			}
		}
	}
	return parts
}

func TestTLSKeysNeverShown(t *testing.T) {
	dir := newCA(t)
	issue(t, dir, "n1", KindNode, "198.18.0.1")
	issue(t, dir, "admin", KindClient)
	secrets := keyParts(t, dir)

	var shown []string
	note := func(v any, err error) {
		if err != nil {
			shown = append(shown, err.Error())
		}
		if v != nil {
			b, jerr := json.Marshal(v)
			if jerr != nil {
				t.Fatal(jerr)
			}
			shown = append(shown, string(b))
		}
	}
	// Every reader pointed at a key, and every Info there is.
	for _, name := range []string{CAKeyFile, "n1.key", "admin.key", CAFile, "n1.crt", "admin.crt"} {
		note(Inspect(filepath.Join(dir, name), "", now))
		note(Inspect(filepath.Join(dir, "n1.crt"), filepath.Join(dir, name), now))
	}
	r, err := Issue(dir, "n1", KindNode, nil, now, Options{Force: true})
	note(r, err)
	note(Init(dir, "demo", now, Options{}))
	// A key in place of a certificate, and a corrupt key.
	keyAsCert := t.TempDir()
	for _, f := range []string{CAFile, "n1.crt"} {
		if err := os.WriteFile(filepath.Join(keyAsCert, f), []byte(mustRead(t, filepath.Join(dir, "n1.key"))), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	note(ServerConfig(keyAsCert, "n1"))
	note(Issue(keyAsCert, "n2", KindNode, nil, now, Options{}))
	corrupt := newCA(t)
	data := mustRead(t, filepath.Join(dir, "n1.key"))
	if err := os.WriteFile(filepath.Join(corrupt, CAKeyFile), []byte(strings.Replace(data, "M", "Z", 3)), 0o600); err != nil {
		t.Fatal(err)
	}
	note(Issue(corrupt, "n1", KindNode, nil, now, Options{}))

	all := strings.Join(shown, "\n")
	if !strings.Contains(all, "holds a private key, not a certificate") {
		t.Errorf("no reader said that a key is not a certificate:\n%s", all)
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Fatalf("key material appears in output:\n%s", all)
		}
	}
	if bytes.Contains([]byte(all), []byte("PRIVATE KEY-----")) {
		t.Errorf("a PEM key appears in output")
	}
}

// TestTLSAtomicWrite: a write that fails at the rename leaves what was
// there and no temporary file.
func TestTLSAtomicWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.key")
	if err := os.MkdirAll(filepath.Join(path, "in-the-way"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := writeFile(path, []byte("new"), 0o600); err == nil {
		t.Fatalf("writing over a non-empty directory succeeded")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	if !slices.Equal(names, []string{"x.key"}) {
		t.Errorf("files %v, want only x.key (no temporary file)", names)
	}
	if fi, err := os.Stat(path); err != nil || !fi.IsDir() {
		t.Errorf("x.key was replaced: %v", err)
	}
}
