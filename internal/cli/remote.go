package cli

import (
	"crypto/tls"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/pki"
)

// DefaultTLSName is the client certificate a remote CLI presents unless
// --tls-name says otherwise (vigil tls issue admin --client).
const DefaultTLSName = "admin"

// connFlags are the global flags that say which daemon a command talks
// to: the local socket, or a node's HTTP(S) API. Every command that asks a
// daemon goes through env.dial, which reads them.
type connFlags struct {
	socket     string // --socket, else $VIGIL_SOCKET, else DefaultSocket
	server     string // --server URL, else $VIGIL_SERVER
	tokenFile  string // --token-file, else $VIGIL_TOKEN_FILE
	tlsDir     string // --tls-dir, else $VIGIL_TLS_DIR, else DefaultTLSDir
	tlsName    string // --tls-name
	serverName string // --server-name: the node whose certificate to expect
}

// connFlagSet registers the connection flags on root, for every command.
func connFlagSet(root *cobra.Command, f *connFlags) {
	p := root.PersistentFlags()
	p.StringVar(&f.socket, "socket", "", "the local daemon's unix socket (default $VIGIL_SOCKET or "+DefaultSocket+")")
	p.StringVar(&f.server, "server", "", "talk to a node's API at this http:// or https:// URL instead of the socket (default $VIGIL_SERVER)")
	p.StringVar(&f.tokenFile, "token-file", "", "with --server: a file holding the bearer token (default $VIGIL_TOKEN_FILE)")
	p.StringVar(&f.tlsDir, "tls-dir", "", "with an https --server: directory of ca.crt and the client certificate (default $VIGIL_TLS_DIR or "+DefaultTLSDir+")")
	p.StringVar(&f.tlsName, "tls-name", DefaultTLSName, "with an https --server: the client certificate NAME.crt and NAME.key in --tls-dir")
	p.StringVar(&f.serverName, "server-name", "", "with an https --server: the node whose certificate it must present (default: the node with the URL's address in the config, else the URL's host)")
}

// target is where a command's daemon is, as the flags and the environment
// say, checked but not yet dialled.
type target struct {
	socket string // the unix socket, if not remote
	url    string // the server's URL, if remote
	token  string
	tls    *tls.Config
}

// where names the target in messages.
func (t target) where() string {
	if t.url != "" {
		return t.url
	}
	return t.socket
}

// how says how to point commands at another daemon, for messages.
func (t target) how() string {
	if t.url != "" {
		return "set --server or VIGIL_SERVER to reach another"
	}
	return "set --socket or VIGIL_SOCKET to reach another"
}

// resolveTarget decides which daemon to talk to. A flag beats the
// environment; a socket and a server given at the same level are refused
// rather than one silently chosen, and a server that cannot be reached is
// never replaced by the socket.
func (e *env) resolveTarget() (target, error) {
	f := e.conn
	socket, server := f.socket, f.server
	switch {
	case socket != "" && server != "":
		return target{}, usagef("--socket and --server both name a daemon; give one")
	case socket == "" && server == "":
		envSock, envServer := e.getenv("VIGIL_SOCKET"), e.getenv("VIGIL_SERVER")
		if envSock != "" && envServer != "" {
			return target{}, usagef("VIGIL_SOCKET and VIGIL_SERVER are both set; unset one, or pass --socket or --server")
		}
		socket, server = envSock, envServer
	}
	tokenFile := f.tokenFile
	if tokenFile == "" {
		tokenFile = e.getenv("VIGIL_TOKEN_FILE")
	}
	if server == "" {
		if f.tokenFile != "" || f.serverName != "" {
			return target{}, usagef("--token-file and --server-name go with --server; the local socket needs neither")
		}
		if socket == "" {
			socket = DefaultSocket
		}
		return target{socket: socket}, nil
	}

	u, err := url.Parse(server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return target{}, usagef("--server %q: want http://HOST:PORT or https://HOST:PORT (a node's API, port 5407 by default)", server)
	}
	t := target{url: strings.TrimRight(server, "/")}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return target{}, usagef("--token-file: %v", err)
		}
		if t.token = strings.TrimSpace(string(b)); t.token == "" {
			return target{}, usagef("--token-file %s is empty; it must hold the bearer token", tokenFile)
		}
	}
	if u.Scheme == "http" {
		return t, nil
	}
	name := f.tlsName
	if name == "" {
		name = DefaultTLSName
	}
	dir := e.tlsDir(f.tlsDir)
	cfg, err := pki.ClientConfig(dir, name, e.serverName(u))
	if err != nil {
		return target{}, usagef("--server %s: %v\n(--tls-dir %s must hold ca.crt, %s.crt and %s.key: 'vigil tls issue %s --client' makes them)", server, err, dir, name, name, name)
	}
	t.tls = cfg
	return t, nil
}

// serverName is the name the server's certificate must carry: the
// operator's --server-name; else, for an address, the node that has it in
// the config (if the config can be read here); else the URL's host, which
// a node certificate lists when it was issued with the node's addresses.
func (e *env) serverName(u *url.URL) string {
	if e.conn.serverName != "" {
		return e.conn.serverName
	}
	host := u.Hostname()
	addr, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	cfg, err := config.Load(e.configPath(""))
	if err != nil {
		return host
	}
	for _, n := range cfg.Nodes {
		for _, a := range n.Addresses {
			if a == addr.Unmap() {
				return string(n.Name)
			}
		}
	}
	return host
}

// dial returns a client of the daemon the flags name, with the request
// timeout d (0: the client's default). Every command that asks a daemon
// dials through here, so that the flags, the environment and the messages
// about an unreachable daemon are the same everywhere.
func (e *env) dial(d time.Duration) (*client.Client, error) {
	t, err := e.resolveTarget()
	if err != nil {
		return nil, err
	}
	e.dialed = &t
	return client.New(client.Config{Socket: t.socket, URL: t.url, Token: t.token, TLS: t.tls, Timeout: d})
}

// unreachableMessage is what the CLI says when no daemon answered.
func (e *env) unreachableMessage(err error) string {
	t := target{socket: DefaultSocket}
	if e.dialed != nil {
		t = *e.dialed
	}
	cause := causeOf(err)
	if t.tls != nil && (strings.Contains(cause, "x509:") || strings.Contains(cause, "tls:")) {
		return fmt.Sprintf("cannot trust the vigil daemon at %s: it did not prove to be the node expected (check --server-name, --tls-dir and --tls-name)\n  (%s)", t.where(), cause)
	}
	what := "is it running? (systemctl status vigil)"
	if t.url != "" {
		what = "is it running, and is its API port open to you?"
	}
	return fmt.Sprintf("cannot reach the vigil daemon at %s: %s — %s\n  (%s)", t.where(), what, t.how(), cause)
}

// causeOf is the reason an unreachable error gives, without what repeats
// the daemon's address ("daemon unreachable at SOCKET: Get "URL": ").
func causeOf(err error) string {
	s := err.Error()
	if i := strings.Index(s, client.ErrUnreachable.Error()+" at "); i >= 0 {
		rest := s[i+len(client.ErrUnreachable.Error())+len(" at "):]
		if j := strings.Index(rest, ": "); j >= 0 {
			s = rest[j+2:]
		}
	}
	return requestPrefix.ReplaceAllString(s, "")
}

// requestPrefix is how net/http starts an error: the operation ("Get",
// "Post") and the URL.
var requestPrefix = regexp.MustCompile(`^[A-Z][a-z]+ "[^"]*": `)
