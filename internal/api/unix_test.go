package api_test

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/api"
)

// listen calls ListenUnix and closes the listener when the test ends.
func listen(t *testing.T, path string) net.Listener {
	t.Helper()
	l, err := api.ListenUnix(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func checkSocketMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Type() != os.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want srw-------", path, fi.Mode())
	}
}

// serve serves the API of a fixed status on l until the test ends.
func serve(t *testing.T, l net.Listener) {
	t.Helper()
	srv := &http.Server{Handler: api.NewHandler(fakeBackend{testStatus()}, "")}
	done := make(chan struct{})
	go func() { defer close(done); srv.Serve(l) }()
	t.Cleanup(func() { srv.Close(); <-done })
}

func TestListenUnixMode(t *testing.T) {
	before := umask()
	// The directory does not exist yet: ListenUnix makes it.
	path := filepath.Join(t.TempDir(), "run", "vigil.sock")
	listen(t, path)
	checkSocketMode(t, path)
	fi, err := os.Stat(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o755 {
		t.Errorf("socket directory mode %v, want drwxr-xr-x", fi.Mode())
	}
	if after := umask(); after != before {
		t.Errorf("ListenUnix changed the process umask from %#o to %#o", before, after)
	}
}

// umask returns the process umask.
func umask() int {
	m := unix.Umask(0o022)
	unix.Umask(m)
	return m
}

func TestListenUnixLive(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.sock")
	serve(t, listen(t, path))

	_, err := api.ListenUnix(path)
	if err == nil {
		t.Fatal("a second ListenUnix on a live socket succeeded")
	}
	if !strings.Contains(err.Error(), "another daemon") || !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not say another daemon serves %s", err, path)
	}
	// The live daemon keeps its socket.
	checkSocketMode(t, path)
	if _, err := get(t, path); err != nil {
		t.Errorf("first daemon no longer answers: %v", err)
	}
}

func TestListenUnixStale(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.sock")
	// A crashed daemon leaves its socket file behind.
	old, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	old.SetUnlinkOnClose(false)
	old.Close()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("stale socket file not left behind: %v", err)
	}

	serve(t, listen(t, path))
	checkSocketMode(t, path)
	if _, err := get(t, path); err != nil {
		t.Errorf("new daemon does not answer on the replaced socket: %v", err)
	}
}

// get sends GET /v1/status over the unix socket at path, and returns the
// status line.
func get(t *testing.T, path string) (string, error) {
	t.Helper()
	c, err := net.Dial("unix", path)
	if err != nil {
		return "", err
	}
	defer c.Close()
	// A bound on a test that would otherwise hang, not a timing assertion.
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, "GET /v1/status HTTP/1.0\r\nHost: vigil\r\n\r\n"); err != nil {
		return "", err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(line, "HTTP/1.0 200") {
		return line, errors.New("status line " + strings.TrimSpace(line))
	}
	return line, nil
}

// TestListenUnixPeerUID checks the peer-credential check. The tests run as
// root, so uid 0 being admitted is always checked. Refusal of another uid
// is checked by connecting from one OS thread whose effective uid is
// switched to nobody (credentials are per thread on Linux, and SO_PEERCRED
// records the connecting thread's); it is skipped where the process may
// not change uids.
func TestListenUnixPeerUID(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: ListenUnix admits uid 0 only")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "vigil.sock")
	serve(t, listen(t, path))

	if _, err := get(t, path); err != nil {
		t.Fatalf("uid 0 refused: %v", err)
	}

	// Loosen the modes, as a careless operator might: the file mode alone
	// must not let another user in.
	for _, p := range []string{filepath.Dir(dir), dir, path} {
		if err := os.Chmod(p, 0o777); err != nil {
			t.Fatal(err)
		}
	}
	const nobody = 65534
	type result struct {
		line string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		// The thread is never unlocked, so it ends with this goroutine and
		// its changed uid never runs other code.
		runtime.LockOSThread()
		if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, ^uintptr(0), nobody, ^uintptr(0)); errno != 0 {
			done <- result{err: errno}
			return
		}
		line, err := get(t, path)
		done <- result{line: line, err: err}
	}()
	r := <-done
	var errno unix.Errno
	switch {
	case errors.As(r.err, &errno) && errno == unix.EPERM:
		t.Skip("cannot change the thread's uid here; only uid 0 admission is checked")
	case r.err == nil:
		t.Errorf("uid %d was served: %q", nobody, r.line)
	case errors.Is(r.err, os.ErrPermission):
		t.Fatalf("uid %d could not connect at all (%v); the peer check went untested", nobody, r.err)
	}
	// The refused connection does not stop the listener.
	if _, err := get(t, path); err != nil {
		t.Errorf("uid 0 refused after a refusal: %v", err)
	}
}
