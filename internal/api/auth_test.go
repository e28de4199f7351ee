package api_test

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/pki"
)

const clusterToken = "cluster-token-0123456789abcdef"

// tokens are the configured tokens of the tests: their secrets never
// appear in an answer.
var tokens = []model.Token{
	{Name: "grafana", Role: model.RoleReadOnly, Secret: []byte("grafana-secret-42")},
	{Name: "ops", Role: model.RoleOperator, Secret: []byte("ops-secret-43")},
}

// authBackend records who each operation and config apply came from, as
// the backend sees it in ctx.
type authBackend struct {
	configBackend
	mu  sync.Mutex
	who []string
}

func (b *authBackend) Operate(ctx context.Context, op api.Operation) (api.Outcome, error) {
	p, _ := api.PrincipalFrom(ctx)
	b.mu.Lock()
	b.who = append(b.who, p.Name)
	b.mu.Unlock()
	return b.configBackend.Operate(ctx, op)
}

func (b *authBackend) seen() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.who...)
}

// pkiDirs makes a cluster CA with node certificates n1 (for 127.0.0.1)
// and n2 and a client certificate alice; and another CA, of a cluster of
// the same name, with a node n2 and a client alice of its own.
func pkiDirs(t *testing.T) (dir, other string) {
	t.Helper()
	now := time.Now()
	dir, other = t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} {
		if _, err := pki.Init(d, "demo", now, pki.Options{}); err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct {
			name string
			kind pki.Kind
			sans []string
		}{{"n1", pki.KindNode, []string{"127.0.0.1"}}, {"n2", pki.KindNode, nil}, {"alice", pki.KindClient, nil}} {
			if _, err := pki.Issue(d, c.name, c.kind, c.sans, now, pki.Options{}); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir, other
}

// tlsServer serves h on loopback through api.Listen with n1's ServerTLS
// for mode, and returns its address ("127.0.0.1:PORT").
func tlsServer(t *testing.T, h *api.Handler, dir, mode string) string {
	t.Helper()
	cfg, err := api.ServerTLS(model.APIAccess{TLSMode: mode, TLSDir: dir}, "n1")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	srv.Listener = api.Listen(srv.Listener, cfg)
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// caller sends requests as one principal: a bearer token, a certificate
// (NAME of dir, the CA's directory), both or neither.
type caller struct {
	name   string
	token  string
	cert   string // "" for none
	dir    string // of cert; the CA the server must be of
	scheme string // "https" unless "http"
}

func (c caller) client(t *testing.T, dir string) *http.Client {
	t.Helper()
	if c.scheme == "http" {
		return &http.Client{Timeout: 10 * time.Second}
	}
	var cfg *tls.Config
	var err error
	if c.cert != "" {
		cd := c.dir
		if cd == "" {
			cd = dir
		}
		cfg, err = pki.ClientConfig(cd, c.cert, "n1")
		if err != nil {
			t.Fatal(err)
		}
		if cd != dir { // trust the real server, show the other CA's certificate
			good, err := pki.ClientConfig(dir, "alice", "n1")
			if err != nil {
				t.Fatal(err)
			}
			cfg.RootCAs = good.RootCAs
		}
	} else {
		good, err := pki.ClientConfig(dir, "alice", "n1")
		if err != nil {
			t.Fatal(err)
		}
		cfg = &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: good.RootCAs, ServerName: "n1"}
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
}

// send makes one request and returns its status and body, or the error of
// a request that got no answer.
func (c caller) send(t *testing.T, cl *http.Client, addr, method, path, body string) (int, string, error) {
	t.Helper()
	scheme := c.scheme
	if scheme == "" {
		scheme = "https"
	}
	req, err := http.NewRequest(method, scheme+"://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := cl.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != `Bearer realm="vigil"` {
		t.Errorf("%s %s as %s: 401 with WWW-Authenticate %q", method, path, c.name, resp.Header.Get("WWW-Authenticate"))
	}
	return resp.StatusCode, string(b), nil
}

const goodReport = `{"resource":"web","node":"n2","state":"started","at":"2026-01-01T00:00:00Z"}`

// TestAuthRoles sends every kind of request as every kind of principal,
// over mutual TLS in mode required (plain HTTP where the case says so,
// mode optional for the token-only callers).
func TestAuthRoles(t *testing.T) {
	dir, _ := pkiDirs(t)
	type want struct{ status, internal, standby, config, metrics int }
	callers := []struct {
		c    caller
		mode string
		want want // GET /v1/status, POST /v1/internal/report, POST standby, GET /v1/config, GET /metrics
		who  string
	}{
		{caller{name: "no credentials"}, model.TLSOptional, want{401, 401, 401, 401, 401}, ""},
		{caller{name: "unknown token", token: "guess"}, model.TLSOptional, want{401, 401, 401, 401, 401}, ""},
		{caller{name: "a token's name", token: "grafana"}, model.TLSOptional, want{401, 401, 401, 401, 401}, ""},
		{caller{name: "read-only token", token: "grafana-secret-42"}, model.TLSOptional, want{200, 403, 403, 200, 200}, ""},
		{caller{name: "operator token", token: "ops-secret-43"}, model.TLSOptional, want{200, 403, 200, 200, 200}, "token ops"},
		{caller{name: "cluster token", token: clusterToken}, model.TLSOptional, want{200, 200, 200, 200, 200}, "cluster"},
		{caller{name: "node certificate", cert: "n2"}, model.TLSRequired, want{200, 200, 200, 200, 200}, "node n2"},
		{caller{name: "client certificate", cert: "alice"}, model.TLSRequired, want{200, 403, 200, 200, 200}, "operator alice"},
		{caller{name: "client certificate and read-only token", cert: "alice", token: "grafana-secret-42"}, model.TLSRequired, want{200, 403, 403, 200, 200}, ""},
		{caller{name: "client certificate and wrong token", cert: "alice", token: "guess"}, model.TLSRequired, want{401, 401, 401, 401, 401}, ""},
		{caller{name: "read-only token over plain HTTP, optional", token: "grafana-secret-42", scheme: "http"}, model.TLSOptional, want{200, 403, 403, 200, 200}, ""},
		{caller{name: "cluster token over plain HTTP, required", token: clusterToken, scheme: "http"}, model.TLSRequired, want{403, 403, 403, 403, 403}, ""},
	}
	for _, tc := range callers {
		t.Run(tc.c.name, func(t *testing.T) {
			b := &authBackend{}
			h, err := api.NewHandlerWith(b, api.Auth{ClusterToken: clusterToken, Tokens: tokens, TLSMode: tc.mode})
			if err != nil {
				t.Fatal(err)
			}
			h.Mount("GET /metrics", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "# metrics\n") }))
			addr := tlsServer(t, h, dir, tc.mode)
			cl := tc.c.client(t, dir)
			got := want{}
			var refusals []string
			for _, rq := range []struct {
				into         *int
				method, path string
				body         string
			}{
				{&got.status, "GET", "/v1/status", ""},
				{&got.internal, "POST", "/v1/internal/report", goodReport},
				{&got.standby, "POST", "/v1/nodes/n1/standby", ""},
				{&got.config, "GET", "/v1/config", ""},
				{&got.metrics, "GET", "/metrics", ""},
			} {
				status, body, err := tc.c.send(t, cl, addr, rq.method, rq.path, rq.body)
				if err != nil {
					t.Fatalf("%s %s: %v", rq.method, rq.path, err)
				}
				*rq.into = status
				if status >= 400 {
					refusals = append(refusals, body)
				}
				for _, s := range append([]string{clusterToken}, "grafana-secret-42", "ops-secret-43") {
					if strings.Contains(body, s) {
						t.Errorf("%s %s: the answer holds a secret: %s", rq.method, rq.path, body)
					}
				}
			}
			if got != tc.want {
				t.Errorf("statuses %+v, want %+v\nrefusals: %s", got, tc.want, strings.Join(refusals, ""))
			}
			// Ping is open to all, whatever they send.
			if status, body, err := tc.c.send(t, cl, addr, "GET", api.PingPath, ""); err != nil || status != 200 {
				t.Errorf("GET %s: %d %s %v", api.PingPath, status, body, err)
			}
			var n401, n403 uint64
			for _, s := range []int{got.status, got.internal, got.standby, got.config, got.metrics} {
				switch s {
				case 401:
					n401++
				case 403:
					n403++
				}
			}
			if tc.c.scheme == "http" && tc.mode == model.TLSRequired {
				n401, n403 = n403, 0 // refused before anyone was authenticated
			}
			if h.Refused.Load() != n401 || h.Forbidden.Load() != n403 {
				t.Errorf("Refused %d, Forbidden %d; want %d and %d", h.Refused.Load(), h.Forbidden.Load(), n401, n403)
			}
			if tc.who != "" {
				if d := cmp.Diff([]string{tc.who}, b.seen()); d != "" {
					t.Errorf("principals the backend saw (-want +got):\n%s", d)
				}
			} else if len(b.seen()) != 0 {
				t.Errorf("a refused change reached the backend, as %v", b.seen())
			}
		})
	}
}

// TestAuthMessages checks what a refusal says: whom it refused and what
// they lack, and never a secret.
func TestAuthMessages(t *testing.T) {
	h, err := api.NewHandlerWith(&authBackend{}, api.Auth{ClusterToken: clusterToken, Tokens: tokens})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	for _, tc := range []struct {
		auth, method, path string
		status             int
		says               string
	}{
		{"", "GET", "/v1/status", 401, "missing or wrong API token"},
		{"Bearer nope", "GET", "/v1/status", 401, "missing or wrong API token"},
		{"Basic Z3JhZmFuYTp4", "GET", "/v1/status", 401, "Bearer TOKEN"},
		{"Bearer grafana-secret-42", "POST", "/v1/nodes/n1/standby", 403,
			"token grafana is read-only: POST /v1/nodes/n1/standby needs an operator token"},
		{"Bearer grafana-secret-42", "POST", "/v1/simulate", 403, "token grafana is read-only: POST /v1/simulate needs an operator token"},
		{"Bearer grafana-secret-42", "POST", "/v1/config", 403, "token grafana is read-only: POST /v1/config needs an operator token"},
		{"Bearer ops-secret-43", "POST", "/v1/internal/report", 403, "token ops: POST /v1/internal/report is for the cluster's nodes only"},
		{"Bearer ops-secret-43", "POST", "/v1/internal/../internal/command", 403, "is for the cluster's nodes only"},
		{"Bearer ops-secret-43", "GET", "/v1/internal/lease/reset", 403, "is for the cluster's nodes only"},
		{"bearer ops-secret-43", "POST", "/v1/resources/web/cleanup", 200, `"message": "done"`},
	} {
		req, _ := http.NewRequest(tc.method, srv.URL+tc.path, nil)
		if tc.auth != "" {
			req.Header.Set("Authorization", tc.auth)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || !strings.Contains(string(body), tc.says) {
			t.Errorf("%s %s (%s): %d %s; want %d saying %q", tc.method, tc.path, tc.auth, resp.StatusCode, body, tc.status, tc.says)
		}
		if tc.status >= 400 {
			checkErrorShape(t, resp, body, tc.status)
		}
		for _, tok := range tokens {
			if strings.Contains(string(body), string(tok.Secret)) {
				t.Errorf("%s %s: the answer holds %s's secret: %s", tc.method, tc.path, tok.Name, body)
			}
		}
	}
}

// TestAuthForeignCertificate: a certificate of another CA, even one with
// a name and cluster the server knows, fails the handshake, in either
// mode, and reaches no handler.
func TestAuthForeignCertificate(t *testing.T) {
	dir, other := pkiDirs(t)
	for _, mode := range []string{model.TLSRequired, model.TLSOptional} {
		for _, name := range []string{"n2", "alice"} {
			b := &authBackend{}
			h, err := api.NewHandlerWith(b, api.Auth{ClusterToken: clusterToken, TLSMode: mode})
			if err != nil {
				t.Fatal(err)
			}
			addr := tlsServer(t, h, dir, mode)
			c := caller{name: name + " of another CA", cert: name, dir: other, token: clusterToken}
			status, body, err := c.send(t, c.client(t, dir), addr, "POST", "/v1/nodes/n1/standby", "")
			if err == nil {
				t.Errorf("%s, mode %s: answered %d %s, want a failed handshake", c.name, mode, status, body)
			}
			if len(b.seen()) != 0 {
				t.Errorf("%s, mode %s: the backend saw %v", c.name, mode, b.seen())
			}
		}
	}
	// And a server of another CA is refused by a node's ClientTLS.
	hOther, err := api.NewHandlerWith(&authBackend{}, api.Auth{ClusterToken: clusterToken, TLSMode: model.TLSRequired})
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, hOther, other, model.TLSRequired)
	cfg, err := api.ClientTLS(model.APIAccess{TLSMode: model.TLSRequired, TLSDir: dir}, "n2", "n1")
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	if resp, err := cl.Get("https://" + addr + "/v1/status"); err == nil {
		resp.Body.Close()
		t.Errorf("a node trusted a server of another CA: %s", resp.Status)
	}
}

// TestAuthClientTLS: the configuration a node calls its peers with shows
// its node certificate, so it may use the internal endpoints with no
// token.
func TestAuthClientTLS(t *testing.T) {
	dir, _ := pkiDirs(t)
	h, err := api.NewHandlerWith(&authBackend{}, api.Auth{ClusterToken: clusterToken, TLSMode: model.TLSRequired})
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, h, dir, model.TLSRequired)
	access := model.APIAccess{TLSMode: model.TLSRequired, TLSDir: dir}
	cfg, err := api.ClientTLS(access, "n2", "n1")
	if err != nil {
		t.Fatal(err)
	}
	cl := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}
	resp, err := cl.Post("https://"+addr+"/v1/internal/report", "application/json", strings.NewReader(goodReport))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("report with n2's certificate: %d %s", resp.StatusCode, body)
	}
	for _, mode := range []string{"", model.TLSOff} {
		if cfg, err := api.ClientTLS(model.APIAccess{TLSMode: mode, TLSDir: "/nonexistent"}, "n2", "n1"); cfg != nil || err != nil {
			t.Errorf("mode %q: ClientTLS = %v, %v; want nil, nil", mode, cfg, err)
		}
		if cfg, err := api.ServerTLS(model.APIAccess{TLSMode: mode, TLSDir: "/nonexistent"}, "n1"); cfg != nil || err != nil {
			t.Errorf("mode %q: ServerTLS = %v, %v; want nil, nil", mode, cfg, err)
		}
	}
}

// TestAuthMissingFiles: each missing file is named, with what makes it.
func TestAuthMissingFiles(t *testing.T) {
	dir, _ := pkiDirs(t)
	for _, tc := range []struct{ remove, says string }{
		{"ca.crt", "vigil tls init"},
		{"n1.crt", "vigil tls issue n1"},
		{"n1.key", "vigil tls issue n1"},
	} {
		d := t.TempDir()
		for _, f := range []string{"ca.crt", "n1.crt", "n1.key"} {
			if f == tc.remove {
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, f))
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(d, f), data, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		access := model.APIAccess{TLSMode: model.TLSRequired, TLSDir: d}
		_, serr := api.ServerTLS(access, "n1")
		_, cerr := api.ClientTLS(access, "n1", "n2")
		for _, err := range []error{serr, cerr} {
			if err == nil || !strings.Contains(err.Error(), filepath.Join(d, tc.remove)+" is missing") || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("without %s: %v; want it named, and %q", tc.remove, err, tc.says)
			}
		}
	}
	if _, err := api.ServerTLS(model.APIAccess{TLSMode: "sometimes", TLSDir: dir}, "n1"); err == nil {
		t.Error("ServerTLS took an unknown mode")
	}
	// A client certificate cannot serve.
	if _, err := api.ServerTLS(model.APIAccess{TLSMode: model.TLSRequired, TLSDir: dir}, "alice"); err == nil {
		t.Error("ServerTLS served with a client certificate")
	}
}

// TestAuthWhoami: every principal learns its name and role, and whether
// it may operate.
func TestAuthWhoami(t *testing.T) {
	dir, _ := pkiDirs(t)
	h, err := api.NewHandlerWith(&authBackend{}, api.Auth{ClusterToken: clusterToken, Tokens: tokens, TLSMode: model.TLSOptional})
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, h, dir, model.TLSOptional)
	sock := httptest.NewServer(api.NewHandler(&authBackend{}, ""))
	t.Cleanup(sock.Close)
	for _, tc := range []struct {
		c    caller
		want api.Whoami
	}{
		{caller{name: "read-only", token: "grafana-secret-42"}, api.Whoami{Principal: "token grafana", Role: "read-only"}},
		{caller{name: "operator", token: "ops-secret-43"}, api.Whoami{Principal: "token ops", Role: "operator", MayOperate: true}},
		{caller{name: "cluster", token: clusterToken}, api.Whoami{Principal: "cluster", Role: "cluster", MayOperate: true}},
		{caller{name: "node", cert: "n2"}, api.Whoami{Principal: "node n2", Role: "node", MayOperate: true}},
		{caller{name: "client", cert: "alice"}, api.Whoami{Principal: "operator alice", Role: "operator", MayOperate: true}},
	} {
		status, body, err := tc.c.send(t, tc.c.client(t, dir), addr, "GET", "/v1/whoami", "")
		if err != nil || status != 200 {
			t.Fatalf("%s: %d %s %v", tc.c.name, status, body, err)
		}
		var got api.Whoami
		if err := json.Unmarshal([]byte(body), &got); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tc.c.name, d)
		}
	}
	resp, err := http.Get(sock.URL + "/v1/whoami")
	if err != nil {
		t.Fatal(err)
	}
	var got api.Whoami
	err = json.NewDecoder(resp.Body).Decode(&got)
	resp.Body.Close()
	if err != nil || got != (api.Whoami{Principal: "root", Role: "root", MayOperate: true}) {
		t.Errorf("socket whoami: %+v %v", got, err)
	}
}

// TestAuthConfigBy: a config apply records the principal that sent it,
// and where from.
func TestAuthConfigBy(t *testing.T) {
	dir, _ := pkiDirs(t)
	b := &authBackend{}
	h, err := api.NewHandlerWith(b, api.Auth{ClusterToken: clusterToken, Tokens: tokens, TLSMode: model.TLSOptional})
	if err != nil {
		t.Fatal(err)
	}
	addr := tlsServer(t, h, dir, model.TLSOptional)
	body := `{"path": "/etc/vigil/vigil.yaml", "yaml": "version: 1"}`
	for _, c := range []caller{{name: "ops", token: "ops-secret-43"}, {name: "alice", cert: "alice"}, {name: "grafana", token: "grafana-secret-42"}} {
		if _, _, err := c.send(t, c.client(t, dir), addr, "POST", "/v1/config", body); err != nil {
			t.Fatal(err)
		}
	}
	sock := httptest.NewServer(api.NewHandler(b, ""))
	t.Cleanup(sock.Close)
	resp, err := http.Post(sock.URL+"/v1/config", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b.configBackend.mu.Lock()
	var got []string
	for _, a := range b.applies {
		got = append(got, a.By)
	}
	b.configBackend.mu.Unlock()
	want := []string{"token ops at 127.0.0.1", "operator alice at 127.0.0.1", "root (local socket)"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("By of the applies (-want +got):\n%s", d)
	}
}

// TestAuthInvalid: an Auth that cannot work is refused whole, naming
// tokens by name only.
func TestAuthInvalid(t *testing.T) {
	secret := []byte("s3cr3t-value")
	for _, tc := range []struct {
		name string
		auth api.Auth
		says []string
	}{
		{"nothing", api.Auth{}, []string{"no way to authenticate"}},
		{"socket with tokens", api.Auth{Socket: true, Tokens: tokens}, []string{"socket"}},
		{"socket with tls", api.Auth{Socket: true, TLSMode: model.TLSRequired}, []string{"socket"}},
		{"bad mode", api.Auth{ClusterToken: "x", TLSMode: "on"}, []string{`tls mode "on"`}},
		{"token problems", api.Auth{ClusterToken: string(secret), Tokens: []model.Token{
			{Name: "a", Role: "admin", Secret: []byte("one")},
			{Name: "a", Role: model.RoleOperator, Secret: []byte("two")},
			{Name: "b", Role: model.RoleReadOnly},
			{Name: "c", Role: model.RoleReadOnly, Secret: []byte("one")},
			{Name: "d", Role: model.RoleReadOnly, Secret: secret},
			{Role: model.RoleReadOnly, Secret: []byte("three")},
		}}, []string{`token 1 (a): role "admin"`, "token 2 (a): another token has this name", "token 3 (b): empty secret",
			"token 4 (c): same secret as token a", "token 5 (d): same secret as cluster", "token 6: no name"}},
	} {
		_, err := api.NewHandlerWith(&authBackend{}, tc.auth)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("%s: %v\nwant it to say %q", tc.name, err, s)
			}
		}
		for _, s := range []string{string(secret), "one", "two", "three"} {
			if strings.Contains(err.Error(), ": "+s) || strings.Contains(err.Error(), s+"\"") {
				t.Errorf("%s: the error quotes a secret: %v", tc.name, err)
			}
		}
	}
	// TLS alone, with no token, is a way in.
	if _, err := api.NewHandlerWith(&authBackend{}, api.Auth{TLSMode: model.TLSRequired}); err != nil {
		t.Errorf("certificates only: %v", err)
	}
}

// TestListenClose: Close ends a listener with a connection that never
// sends a byte, at once, and Accept then fails with net.ErrClosed.
func TestListenClose(t *testing.T) {
	dir, _ := pkiDirs(t)
	cfg, err := api.ServerTLS(model.APIAccess{TLSMode: model.TLSRequired, TLSDir: dir}, "n1")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := api.Listen(raw, cfg)
	silent, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	plain, err := net.Dial("tcp", raw.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if _, err := plain.Write([]byte("G")); err != nil {
		t.Fatal(err)
	}
	c, err := l.Accept() // the plain one: the silent one does not hold it up
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Accept(); !errors.Is(err, net.ErrClosed) {
		t.Errorf("Accept after Close: %v, want net.ErrClosed", err)
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestAuthPattern: the route the handler chose is seen by a middleware
// around it (the request counter labels by it), though the handler routes
// a request of its own that carries the principal.
func TestAuthPattern(t *testing.T) {
	h := api.NewHandler(&authBackend{}, "tok")
	var got []string
	outer := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		got = append(got, r.Pattern)
	})
	for _, auth := range []string{"Bearer tok", ""} {
		req := httptest.NewRequest(http.MethodGet, "/v1/status", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		outer.ServeHTTP(httptest.NewRecorder(), req)
	}
	if d := cmp.Diff([]string{"GET /v1/status", ""}, got); d != "" {
		t.Errorf("patterns (-want +got):\n%s", d)
	}
}
