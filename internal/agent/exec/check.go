package exec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	osexec "os/exec"
	"syscall"
	"time"

	"github.com/vigil-ha/vigil/internal/agent"
)

// newHTTPClient returns the client of HTTP checks: no proxy (vigil never
// reads proxy settings from its environment), no connection reuse (each
// check is a fresh connection, as a client would make), and redirects not
// followed (the status compared is the one the URL answers).
func newHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// checks runs s's health checks, in the order http, tcp, command, and
// joins the failures; nil means healthy (or no checks). ctx bounds them.
func (a *Agent) checks(ctx context.Context, s spec, env []string, cred *syscall.Credential) error {
	var errs []error
	if s.checkHTTP != "" {
		if err := a.checkHTTP(ctx, s.checkHTTP, s.checkHTTPStatus); err != nil {
			errs = append(errs, fmt.Errorf("check_http %s: %w", s.checkHTTP, err))
		}
	}
	if s.checkTCP != "" {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", s.checkTCP)
		if err != nil {
			errs = append(errs, fmt.Errorf("check_tcp %s: %w", s.checkTCP, unwrapOp(err)))
		} else {
			c.Close()
		}
	}
	if s.checkCommand != "" {
		if err := checkCommand(ctx, s, env, cred); err != nil {
			errs = append(errs, fmt.Errorf("check_command: %w", err))
		}
	}
	return errors.Join(errs...)
}

func (a *Agent) checkHTTP(ctx context.Context, url string, want int) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "vigil-exec-check")
	resp, err := a.http.Do(req)
	if err != nil {
		return unwrapOp(err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != want {
		return fmt.Errorf("answered %d, want %d", resp.StatusCode, want)
	}
	return nil
}

// unwrapOp shortens net and url errors to their cause ("connection
// refused"), as the check's subject is already named.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// checkCommand runs s.checkCommand with /bin/sh -c as the service runs
// (user, directory, environment), in its own process group, killed whole
// when ctx ends. Exit 0 is healthy.
func checkCommand(ctx context.Context, s spec, env []string, cred *syscall.Credential) error {
	var out bytes.Buffer
	cmd := osexec.CommandContext(ctx, "/bin/sh", "-c", s.checkCommand)
	cmd.Env = env
	cmd.Dir = dirOf(s)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	// A check that leaves a child holding its output is not waited for.
	cmd.WaitDelay = time.Second
	err := cmd.Run()
	if err == nil {
		return nil
	}
	var ee *osexec.ExitError
	switch {
	case ctx.Err() != nil:
		err = fmt.Errorf("timed out: %w", ctx.Err())
	case errors.As(err, &ee):
		err = errors.New(describe(ee.Sys().(syscall.WaitStatus)))
	}
	if t := agent.OutputTail(out.Bytes()); t != "" {
		return fmt.Errorf("%w: %s", err, t)
	}
	return err
}
