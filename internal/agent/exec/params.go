package exec

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The parameter defaults and limits.
const (
	DefaultHTTPStatus  = 200
	DefaultStopSignal  = syscall.SIGTERM
	DefaultStopGrace   = 10 * time.Second
	DefaultStartSettle = 200 * time.Millisecond

	maxStopGrace   = time.Hour
	maxStartSettle = time.Minute
)

// paramNames lists the parameters an exec resource may set.
const paramNames = "check_command, check_http, check_http_status, check_tcp, command, dir, env, start_settle, stop_grace, stop_signal, user"

func known(k string) bool {
	switch k {
	case "check_command", "check_http", "check_http_status", "check_tcp", "command", "dir", "env",
		"start_settle", "stop_grace", "stop_signal", "user":
		return true
	}
	return false
}

// spec is an exec resource's parameters, parsed.
type spec struct {
	command string
	user    string // "" runs as the daemon's user
	dir     string // "" is /
	env     []string

	checkHTTP       string
	checkHTTPStatus int
	checkTCP        string
	checkCommand    string

	stopSignal  syscall.Signal
	stopGrace   time.Duration
	startSettle time.Duration
}

// hasChecks reports whether s has a health check.
func (s spec) hasChecks() bool {
	return s.checkHTTP != "" || s.checkTCP != "" || s.checkCommand != ""
}

// parse checks the parameters of an exec resource and joins every
// problem. It does no I/O: whether the user or directory exists is a fact
// of the node, which Start finds out.
func parse(p map[string]string) (spec, error) {
	s := spec{
		checkHTTPStatus: DefaultHTTPStatus,
		stopSignal:      DefaultStopSignal,
		stopGrace:       DefaultStopGrace,
		startSettle:     DefaultStartSettle,
	}
	var errs []error
	var unknown []string
	for k := range p {
		if !known(k) {
			unknown = append(unknown, k)
		}
	}
	sort.Strings(unknown)
	for _, k := range unknown {
		errs = append(errs, fmt.Errorf("params.%s: not an exec parameter (known: %s)", k, paramNames))
	}

	s.command = p["command"]
	if strings.TrimSpace(s.command) == "" {
		errs = append(errs, errors.New(`params.command: required (a /bin/sh -c command line, e.g. "exec /usr/bin/myd --foreground")`))
	}
	if v, ok := p["user"]; ok {
		if v == "" || strings.ContainsAny(v, ": \t\n/") {
			errs = append(errs, fmt.Errorf("params.user: %q is not a user name or uid", v))
		}
		s.user = v
	}
	if v, ok := p["dir"]; ok {
		if !filepath.IsAbs(v) {
			errs = append(errs, fmt.Errorf("params.dir: %q is not an absolute path", v))
		}
		s.dir = v
	}
	if v, ok := p["env"]; ok {
		env, err := parseEnv(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("params.env: %w", err))
		}
		s.env = env
	}
	if v, ok := p["check_http"]; ok {
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("params.check_http: %q is not an http:// or https:// URL", v))
		}
		s.checkHTTP = v
	}
	if v, ok := p["check_http_status"]; ok {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 100 || n > 599:
			errs = append(errs, fmt.Errorf("params.check_http_status: %q is not an HTTP status (100..599)", v))
		case p["check_http"] == "":
			errs = append(errs, errors.New("params.check_http_status: set without params.check_http"))
		default:
			s.checkHTTPStatus = n
		}
	}
	if v, ok := p["check_tcp"]; ok {
		host, port, err := net.SplitHostPort(v)
		if err != nil || host == "" || port == "" {
			errs = append(errs, fmt.Errorf("params.check_tcp: %q is not host:port", v))
		}
		s.checkTCP = v
	}
	if v, ok := p["check_command"]; ok {
		if strings.TrimSpace(v) == "" {
			errs = append(errs, errors.New("params.check_command: empty"))
		}
		s.checkCommand = v
	}
	if v, ok := p["stop_signal"]; ok {
		sig, err := parseSignal(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("params.stop_signal: %w", err))
		}
		s.stopSignal = sig
	}
	if v, ok := p["stop_grace"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxStopGrace {
			errs = append(errs, fmt.Errorf("params.stop_grace: %q is not a duration in [0s, %s] (e.g. 10s)", v, maxStopGrace))
		}
		s.stopGrace = d
	}
	if v, ok := p["start_settle"]; ok {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > maxStartSettle {
			errs = append(errs, fmt.Errorf("params.start_settle: %q is not a duration in [0s, %s] (e.g. 200ms)", v, maxStartSettle))
		}
		s.startSettle = d
	}
	return s, errors.Join(errs...)
}

// parseEnv parses "K=V,K2=V2". Values cannot contain commas.
func parseEnv(v string) ([]string, error) {
	var env []string
	seen := map[string]bool{}
	for _, kv := range strings.Split(v, ",") {
		kv = strings.TrimSpace(kv)
		if kv == "" {
			continue
		}
		k, _, ok := strings.Cut(kv, "=")
		if !ok || !validEnvName(k) {
			return nil, fmt.Errorf("%q is not NAME=VALUE (NAME of letters, digits and _)", kv)
		}
		if seen[k] {
			return nil, fmt.Errorf("%s is set twice", k)
		}
		seen[k] = true
		env = append(env, kv)
	}
	return env, nil
}

func validEnvName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// parseSignal parses "TERM", "SIGTERM" or "15".
func parseSignal(v string) (syscall.Signal, error) {
	if n, err := strconv.Atoi(v); err == nil {
		if n < 1 || n > 64 {
			return 0, fmt.Errorf("%d is not a signal number", n)
		}
		return syscall.Signal(n), nil
	}
	name := strings.ToUpper(v)
	if !strings.HasPrefix(name, "SIG") {
		name = "SIG" + name
	}
	sig := unix.SignalNum(name)
	if sig == 0 {
		return 0, fmt.Errorf("%q is not a signal name (e.g. TERM, INT, QUIT)", v)
	}
	return sig, nil
}

// validID reports whether a resource ID can name files in the state
// directory: letters, digits, '.', '_' and '-', not "." or "..".
func validID(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 200 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}
