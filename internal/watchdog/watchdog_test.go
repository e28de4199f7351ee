package watchdog

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reader is the other end of a FIFO, as the lab's watchdog reads it.
func reader(t *testing.T, path string) <-chan string {
	t.Helper()
	got := make(chan string, 1)
	go func() {
		f, err := os.OpenFile(path, os.O_RDONLY, 0)
		if err != nil {
			got <- "open: " + err.Error()
			return
		}
		defer f.Close()
		b, _ := io.ReadAll(f) // until the writer closes
		got <- string(b)
	}()
	return got
}

func fifo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "watchdog")
	if err := syscall.Mkfifo(p, 0o600); err != nil {
		t.Skipf("cannot make a FIFO here: %v", err)
	}
	return p
}

// The protocol the watchdog sees: a byte per feed, and a V before the
// close only when the daemon disarms it.
func TestFeedDisarmClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		disarm bool
		want   string
	}{
		{"disarmed", true, "..V"},
		{"closed armed", false, ".."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := fifo(t)
			got := reader(t, p)
			d, err := open(p, 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				if err := d.Feed(); err != nil {
					t.Fatal(err)
				}
			}
			if tc.disarm {
				err = d.Disarm()
			} else {
				err = d.Close()
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := <-got; s != tc.want {
				t.Errorf("the watchdog read %q, want %q", s, tc.want)
			}
			if err := d.Feed(); err == nil {
				t.Error("Feed after close succeeded")
			}
			if err := d.Close(); err != nil {
				t.Errorf("a second Close: %v", err)
			}
		})
	}
}

func TestOpenRefuses(t *testing.T) {
	plain := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(plain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(plain); err == nil || !strings.Contains(err.Error(), "neither a device nor a FIFO") {
		t.Errorf("Open(a plain file) = %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("Open(a missing path) succeeded")
	}
	if _, err := open(fifo(t), 50*time.Millisecond); err == nil || !strings.Contains(err.Error(), "no such device or address") {
		t.Errorf("open(a FIFO nobody reads) = %v; want ENXIO after the wait", err)
	}
}
