package api

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path"
	"strings"

	"github.com/vigil-ha/vigil/internal/model"
	"github.com/vigil-ha/vigil/internal/pki"
)

// Auth says how a Handler learns who sends each request (authentication)
// and what they may do (authorisation). NewHandlerWith takes it.
//
// Who a request is from, its Principal, is decided in this order:
//
//   - on a Socket handler, every request is root's: the listener (the
//     root-only unix socket, ListenUnix) vouches for the caller;
//   - a request with an Authorization header is the holder of that bearer
//     token: the cluster token, or one of Tokens. A wrong or unknown token
//     is refused even if the connection also has a client certificate, so
//     that a mistake is seen rather than covered up;
//   - otherwise, a TLS connection whose client certificate the cluster CA
//     issued (verified in the handshake, see ServerTLS) is that node or
//     client;
//   - otherwise, the request is refused (401), except GET /v1/ping.
//
// What a principal may do:
//
//	root, cluster, node NAME   everything
//	operator NAME (client certificate), token NAME (operator)
//	                           everything but /v1/internal/* (node to node)
//	token NAME (read-only)     GET and HEAD, but not /v1/internal/*
//
// GET and HEAD cover every read: status, plan, explain, events, the
// stream, /v1/config (a summary that names no secret), /v1/whoami and
// whatever the daemon mounts, such as /metrics. Anything else (POST) is a
// change, and needs an operator.
type Auth struct {
	// Socket: the listener authenticates, and every request is root's.
	// A Socket handler takes no tokens and no TLS mode.
	Socket bool
	// ClusterToken is the token every node derives (DeriveToken): node to
	// node calls and the lab use it, and it may do everything. "" means
	// none.
	ClusterToken string
	// Tokens are the configured bearer tokens (model.APIAccess.Tokens),
	// each with its name and role. Names and secrets must be unique, and
	// no secret may be the cluster token.
	Tokens []model.Token
	// TLSMode is the listener's (model.APIAccess.TLSMode; "" is off).
	// With model.TLSRequired, a request over plain HTTP is refused, all
	// but GET /v1/ping, which the other nodes' TCP probes send in plain
	// HTTP (it says nothing but "this daemon is alive"). The listener
	// itself is made by Listen.
	TLSMode string
}

// Role is what a principal may do; see Auth.
type Role string

// The roles. Read-only and operator are those of the configured tokens
// (model.RoleReadOnly, model.RoleOperator).
const (
	RoleRoot     Role = "root"    // the unix socket
	RoleCluster  Role = "cluster" // the cluster token
	RoleNode     Role = "node"    // a node certificate
	RoleOperator Role = model.RoleOperator
	RoleReadOnly Role = model.RoleReadOnly
)

// Principal is who sent a request, as the Handler authenticated them.
type Principal struct {
	// Name names them in messages and in the record of a change: "root",
	// "cluster", "node n2", "operator alice" (a client certificate),
	// "token grafana". It never holds a secret.
	Name string
	Role Role
}

// Whoami is GET /v1/whoami: who the caller is and what they may do, so
// that the dashboard can disable what it would be refused.
type Whoami struct {
	Principal string `json:"principal"`
	Role      Role   `json:"role"`
	// MayOperate: the caller may send operator changes and config
	// applies (every POST but /v1/internal/*).
	MayOperate bool `json:"may_operate"`
}

// PrincipalFrom returns the principal of the request whose context is
// ctx, as the Handler put it there before calling its routes (and what it
// mounts).
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

type principalKey struct{}

// right is what a request needs.
type right int

const (
	rightRead     right = iota // GET and HEAD outside /v1/internal
	rightOperate               // any other method outside /v1/internal
	rightInternal              // /v1/internal/*: the nodes' own calls
)

// may returns the strongest right of role.
func (role Role) may() right {
	switch role {
	case RoleRoot, RoleCluster, RoleNode:
		return rightInternal
	case RoleOperator:
		return rightOperate
	default:
		return rightRead
	}
}

// needs returns the right that r needs. The path is judged both as sent
// and cleaned, so that no spelling of an internal path (which ServeMux
// would redirect to its clean form) is taken for another.
func needs(r *http.Request) right {
	p := r.URL.Path
	if internalPath(p) || internalPath(path.Clean(p)) {
		return rightInternal
	}
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return rightRead
	}
	return rightOperate
}

func internalPath(p string) bool { return p == "/v1/internal" || strings.HasPrefix(p, "/v1/internal/") }

// hashedToken is a bearer token by the SHA-256 of its secret: requests'
// tokens are hashed and compared with every one, in constant time, so
// neither the comparison nor the lookup tells how much of a guess was
// right.
type hashedToken struct {
	sum [sha256.Size]byte
	p   Principal
}

// authenticator holds an Auth, checked and with its tokens hashed.
type authenticator struct {
	socket     bool
	requireTLS bool
	tokens     []hashedToken
}

// newAuthenticator checks a and hashes its tokens. Its errors name tokens
// by name, never by secret.
func newAuthenticator(a Auth) (authenticator, error) {
	var errs []error
	switch a.TLSMode {
	case "", model.TLSOff, model.TLSOptional, model.TLSRequired:
	default:
		errs = append(errs, fmt.Errorf("tls mode %q: want %s, %s or %s", a.TLSMode, model.TLSOff, model.TLSOptional, model.TLSRequired))
	}
	if a.Socket {
		if a.ClusterToken != "" || len(a.Tokens) > 0 || (a.TLSMode != "" && a.TLSMode != model.TLSOff) {
			errs = append(errs, errors.New("a socket handler trusts its listener: it takes no tokens and no TLS mode"))
		}
		return authenticator{socket: true}, errors.Join(errs...)
	}
	out := authenticator{requireTLS: a.TLSMode == model.TLSRequired}
	if a.ClusterToken != "" {
		out.tokens = append(out.tokens, hashedToken{sha256.Sum256([]byte(a.ClusterToken)), Principal{Name: "cluster", Role: RoleCluster}})
	}
	names := map[string]bool{}
	for i, t := range a.Tokens {
		where := fmt.Sprintf("token %d (%s)", i+1, t.Name)
		if t.Name == "" {
			where = fmt.Sprintf("token %d", i+1)
			errs = append(errs, fmt.Errorf("%s: no name", where))
		} else if names[t.Name] {
			errs = append(errs, fmt.Errorf("%s: another token has this name", where))
		}
		names[t.Name] = true
		if t.Role != model.RoleReadOnly && t.Role != model.RoleOperator {
			errs = append(errs, fmt.Errorf("%s: role %q, want %s or %s", where, t.Role, model.RoleReadOnly, model.RoleOperator))
		}
		if len(t.Secret) == 0 {
			errs = append(errs, fmt.Errorf("%s: empty secret", where))
			continue
		}
		h := hashedToken{sha256.Sum256(t.Secret), Principal{Name: "token " + t.Name, Role: Role(t.Role)}}
		for _, o := range out.tokens {
			if o.sum == h.sum {
				errs = append(errs, fmt.Errorf("%s: same secret as %s", where, o.p.Name))
			}
		}
		out.tokens = append(out.tokens, h)
	}
	if len(out.tokens) == 0 && (a.TLSMode == "" || a.TLSMode == model.TLSOff) {
		errs = append(errs, errors.New("no way to authenticate: no token and no TLS (for the unix socket, set Socket)"))
	}
	return out, errors.Join(errs...)
}

// lookup returns the principal whose token is secret. Every token is
// compared, whatever matches.
func (a *authenticator) lookup(secret string) (Principal, bool) {
	sum := sha256.Sum256([]byte(secret))
	found := -1
	for i := range a.tokens {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]), i, found)
	}
	if found < 0 {
		return Principal{}, false
	}
	return a.tokens[found].p, true
}

// authenticate returns who sent r, or the 401 (or, for plain HTTP where
// HTTPS is required, 403) that refuses it. Messages never quote what the
// request sent.
func (a *authenticator) authenticate(r *http.Request) (Principal, *Error) {
	if a.socket {
		return Principal{Name: "root", Role: RoleRoot}, nil
	}
	if a.requireTLS && r.TLS == nil {
		return Principal{}, Errorf(http.StatusForbidden, "this API takes HTTPS only (api tls mode %s): use an https:// URL", model.TLSRequired)
	}
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, secret, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return Principal{}, Errorf(http.StatusUnauthorized, "unsupported Authorization: send \"Authorization: Bearer TOKEN\"")
		}
		if p, ok := a.lookup(secret); ok {
			return p, nil
		}
		return Principal{}, Errorf(http.StatusUnauthorized, "missing or wrong API token")
	}
	if r.TLS != nil && len(r.TLS.PeerCertificates) > 0 {
		id, err := pki.Peer(*r.TLS)
		if err != nil {
			return Principal{}, Errorf(http.StatusUnauthorized, "client certificate not accepted: %v", err)
		}
		if id.Kind == pki.KindNode {
			return Principal{Name: "node " + id.Name, Role: RoleNode}, nil
		}
		return Principal{Name: "operator " + id.Name, Role: RoleOperator}, nil
	}
	if r.TLS != nil {
		return Principal{}, Errorf(http.StatusUnauthorized, "no credentials: send \"Authorization: Bearer TOKEN\" or a client certificate")
	}
	return Principal{}, Errorf(http.StatusUnauthorized, "missing or wrong API token: send \"Authorization: Bearer TOKEN\"")
}

// authorise returns the 403 that refuses r to p, or nil.
func authorise(p Principal, r *http.Request) *Error {
	need := needs(r)
	if p.Role.may() >= need {
		return nil
	}
	what := r.Method + " " + r.URL.Path
	who := p.Name
	if p.Role == RoleReadOnly {
		who += " is read-only"
	} else if p.Role == RoleOperator && strings.HasPrefix(p.Name, "operator ") {
		who += " (client certificate)"
	}
	if need == rightInternal {
		return Errorf(http.StatusForbidden, "%s: %s is for the cluster's nodes only", who, what)
	}
	return Errorf(http.StatusForbidden, "%s: %s needs an operator token or a client certificate", who, what)
}

// by names who sent r for the record of a change: "root (local socket)",
// or the principal and the address it came from ("token ops at
// 10.0.0.9").
func by(r *http.Request) string {
	p, ok := PrincipalFrom(r.Context())
	switch {
	case !ok:
		return "unknown"
	case p.Role == RoleRoot:
		return "root (local socket)"
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil || host == "" {
		return p.Name
	}
	return p.Name + " at " + host
}
