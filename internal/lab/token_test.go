package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUpToken(t *testing.T) {
	var gotSecret string
	l, _, sys := fakeLab(t, Options{Name: "vt", Nodes: 1, Links: 1, Token: func(secret []byte) string {
		gotSecret = string(secret)
		return "tok-" + string(secret[:4])
	}})
	secret, err := os.ReadFile(l.SecretPath())
	if err != nil {
		t.Fatal(err)
	}
	if gotSecret != string(secret) {
		t.Errorf("Token got secret %q; want DIR/secret's %q", gotSecret, secret)
	}
	want := filepath.Join(l.Dir, "token")
	if l.TokenFile != want {
		t.Errorf("TokenFile = %q; want %q", l.TokenFile, want)
	}
	b, err := os.ReadFile(want)
	if err != nil || string(b) != "tok-"+string(secret[:4])+"\n" {
		t.Errorf("%s = %q, %v; want the token and a newline", want, b, err)
	}
	if fi, err := os.Stat(want); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, %v; want 0600", want, fi.Mode(), err)
	}
	o, err := open("vt", sys)
	if err != nil {
		t.Fatal(err)
	}
	if o.TokenFile != want {
		t.Errorf("Open: TokenFile = %q; want %q from lab.json", o.TokenFile, want)
	}
	st, err := readState(l.Dir)
	if err != nil || st.TokenFile != want {
		t.Errorf("lab.json token_file = %q, %v; want %q", st.TokenFile, err, want)
	}
}

// TestUpNoToken: without Options.Token there is no token file, not even
// one left by an earlier lab in the same DIR.
func TestUpNoToken(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "vigil")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	labDir := filepath.Join(dir, "lab")
	if err := os.MkdirAll(labDir, 0o755); err != nil {
		t.Fatal(err)
	}
	stale := filepath.Join(labDir, "token")
	if err := os.WriteFile(stale, []byte("old\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	sys := system{host: &fakeHost{out: map[string]string{}}, indexDir: filepath.Join(dir, "run")}
	l, err := up(context.Background(), Options{Name: "vt", Nodes: 1, Links: 1, Dir: labDir, Binary: bin}, sys)
	if err != nil {
		t.Fatal(err)
	}
	if l.TokenFile != "" {
		t.Errorf("TokenFile = %q; want none", l.TokenFile)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the earlier lab's token: %v; want it removed", err)
	}
}

func TestDialBadAddress(t *testing.T) {
	l := testLab(t, 1, 1)
	for _, addr := range []string{"localhost:80", "198.18.0.1", ""} {
		if _, err := l.Dial(context.Background(), "n1", addr); err == nil || !strings.Contains(err.Error(), "want IP:PORT") {
			t.Errorf("Dial(%q): %v; want a refusal", addr, err)
		}
	}
	if _, err := l.Dial(context.Background(), "n9", "198.18.0.1:5407"); err == nil || !strings.Contains(err.Error(), `no node "n9"`) {
		t.Errorf("Dial from n9: %v; want no such node", err)
	}
}

// TestDialNetns connects to a listener that exists only inside a network
// namespace: from there it answers, from here it does not exist.
func TestDialNetns(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("entering a network namespace needs root")
	}
	ns := fmt.Sprintf("ddial%d", os.Getpid()%100000)
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("lo up: %v: %s", err, out)
	}
	// 127.0.0.2 is nobody's listener here, and inside ns it is this one.
	var ln net.Listener
	if err := inNetns(ns, func() error {
		var err error
		ln, err = net.Listen("tcp", "127.0.0.2:0")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			_, _ = io.WriteString(c, "inside\n")
			c.Close()
		}
	}()
	l := testLab(t, 1, 1)
	l.Nodes[0].Netns = ns
	c, err := l.Dial(context.Background(), "n1", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(c)
	c.Close()
	if err != nil || string(b) != "inside\n" {
		t.Errorf("read %q, %v; want the listener's greeting", b, err)
	}
	// This goroutine's thread never left the host's namespace.
	if c, err := net.Dial("tcp", ln.Addr().String()); err == nil {
		c.Close()
		t.Errorf("dial %s from the host's namespace connected; the listener should exist only in %s", ln.Addr(), ns)
	}
}
