package exec

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	got, err := parse(map[string]string{"command": "exec myd"})
	if err != nil {
		t.Fatal(err)
	}
	want := spec{command: "exec myd", checkHTTPStatus: 200, stopSignal: syscall.SIGTERM, stopGrace: 10 * time.Second, startSettle: 200 * time.Millisecond}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(spec{})); d != "" {
		t.Errorf("defaults (-want +got):\n%s", d)
	}

	got, err = parse(map[string]string{
		"command": "exec myd", "user": "www-data", "dir": "/srv", "env": "A=1, B_2=x=y,",
		"check_http": "https://127.0.0.1:8443/health", "check_http_status": "204", "check_tcp": "[::1]:80",
		"check_command": "myd --check", "stop_signal": "int", "stop_grace": "1m", "start_settle": "0s",
	})
	if err != nil {
		t.Fatal(err)
	}
	want = spec{command: "exec myd", user: "www-data", dir: "/srv", env: []string{"A=1", "B_2=x=y"},
		checkHTTP: "https://127.0.0.1:8443/health", checkHTTPStatus: 204, checkTCP: "[::1]:80", checkCommand: "myd --check",
		stopSignal: syscall.SIGINT, stopGrace: time.Minute}
	if d := cmp.Diff(want, got, cmp.AllowUnexported(spec{})); d != "" {
		t.Errorf("all set (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		params map[string]string
		want   string
	}{
		{map[string]string{}, "params.command: required"},
		{map[string]string{"command": "  "}, "params.command: required"},
		{map[string]string{"command": "x", "dir": "srv"}, `params.dir: "srv" is not an absolute path`},
		{map[string]string{"command": "x", "user": "a b"}, `params.user: "a b" is not a user name or uid`},
		{map[string]string{"command": "x", "env": "A"}, `params.env: "A" is not NAME=VALUE`},
		{map[string]string{"command": "x", "env": "1A=2"}, `params.env: "1A=2" is not NAME=VALUE`},
		{map[string]string{"command": "x", "env": "A=1,A=2"}, `params.env: A is set twice`},
		{map[string]string{"command": "x", "check_http": "localhost:80/health"}, `params.check_http: "localhost:80/health" is not an http:// or https:// URL`},
		{map[string]string{"command": "x", "check_http": "http://x/", "check_http_status": "99"}, `params.check_http_status: "99" is not an HTTP status`},
		{map[string]string{"command": "x", "check_http_status": "200"}, `params.check_http_status: set without params.check_http`},
		{map[string]string{"command": "x", "check_tcp": "localhost"}, `params.check_tcp: "localhost" is not host:port`},
		{map[string]string{"command": "x", "check_tcp": ":80"}, `params.check_tcp: ":80" is not host:port`},
		{map[string]string{"command": "x", "check_command": ""}, `params.check_command: empty`},
		{map[string]string{"command": "x", "stop_signal": "TERMINATE"}, `params.stop_signal: "TERMINATE" is not a signal name`},
		{map[string]string{"command": "x", "stop_signal": "0"}, `params.stop_signal: 0 is not a signal number`},
		{map[string]string{"command": "x", "stop_grace": "-1s"}, `params.stop_grace: "-1s" is not a duration in [0s, 1h0m0s]`},
		{map[string]string{"command": "x", "stop_grace": "10"}, `params.stop_grace: "10" is not a duration`},
		{map[string]string{"command": "x", "start_settle": "2m"}, `params.start_settle: "2m" is not a duration in [0s, 1m0s]`},
		{map[string]string{"command": "x", "cmd": "y"}, "params.cmd: not an exec parameter (known: check_command, "},
	} {
		_, err := parse(tc.params)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("parse(%v) = %v, want an error containing %q", tc.params, err, tc.want)
		}
	}
}

func TestParseSignal(t *testing.T) {
	for in, want := range map[string]syscall.Signal{
		"TERM": syscall.SIGTERM, "SIGTERM": syscall.SIGTERM, "term": syscall.SIGTERM,
		"QUIT": syscall.SIGQUIT, "KILL": syscall.SIGKILL, "15": syscall.SIGTERM, "SIGUSR1": syscall.SIGUSR1,
	} {
		if got, err := parseSignal(in); err != nil || got != want {
			t.Errorf("parseSignal(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
}

func TestParseStat(t *testing.T) {
	// A command name with spaces and parentheses, as a process may choose.
	b := []byte("4242 (my (odd) name) S 1 4242 4242 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 123456789 5591040 200 18446744073709551615\n")
	got, err := parseStat(b)
	if err != nil {
		t.Fatal(err)
	}
	if want := (procStat{state: 'S', pgrp: 4242, start: 123456789}); got != want {
		t.Errorf("parseStat = %+v, want %+v", got, want)
	}
	for _, bad := range []string{"", "1 (x) S 1", "1 (x) S 1 x 4242 0 -1 4194560 97 0 0 0 0 0 0 0 20 0 1 0 1 2 3"} {
		if _, err := parseStat([]byte(bad)); err == nil {
			t.Errorf("parseStat(%q) = nil error", bad)
		}
	}
}

func TestPidfile(t *testing.T) {
	p := pidfile{pid: 4242, start: 123456789, boot: "0b1e2d4c-8a7f-4c7e-9a52-7d3f1c2b9e10"}
	got, err := parsePidfile([]byte(p.String()))
	if err != nil || got != p {
		t.Errorf("round trip = %+v, %v; want %+v", got, err, p)
	}
	// PID 1 or 0 would make Stop signal every process (kill(-1)).
	for _, bad := range []string{"", "4242", "4242 x boot", "1 5 boot", "0 5 boot", "-4242 5 boot", "4242 5 boot extra"} {
		if _, err := parsePidfile([]byte(bad)); err == nil {
			t.Errorf("parsePidfile(%q) = nil error", bad)
		}
	}
}

func TestValidID(t *testing.T) {
	for id, want := range map[string]bool{"web": true, "web-1.a_b": true, "": false, ".": false, "..": false, "a/b": false, "a b": false} {
		if validID(id) != want {
			t.Errorf("validID(%q) = %v", id, !want)
		}
	}
}
