// Package watchdog feeds a hardware watchdog (/dev/watchdog, softdog) or
// the lab's emulated one, with the Linux protocol: every write feeds it; a
// "V" written just before close disarms it (the magic close); closing or
// dying without it lets the watchdog reset the node. The daemon feeds it
// only while it can still guarantee its lease, so a daemon that hangs or
// is killed cannot leave its floating IP running past its lease
// (invariant 1).
package watchdog

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
)

// Device is an open watchdog. It is safe for concurrent use.
type Device struct {
	path string

	mu sync.Mutex
	f  *os.File // nil once closed
}

// openWait bounds how long Open waits for the lab's watchdog to open its
// end of a FIFO.
const openWait = 3 * time.Second

// Open opens the watchdog at path for feeding. A FIFO (the lab's emulated
// watchdog) must have a reader; Open waits for one up to a few seconds.
// Opening a real watchdog arms it: from then on it must be fed.
func Open(path string) (*Device, error) { return open(path, openWait) }

func open(path string, wait time.Duration) (*Device, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	flags := os.O_WRONLY
	fifo := fi.Mode()&os.ModeNamedPipe != 0
	if fifo {
		flags |= syscall.O_NONBLOCK // ENXIO until the reader is there
	} else if fi.Mode()&os.ModeDevice == 0 {
		return nil, fmt.Errorf("watchdog: %s is neither a device nor a FIFO", path)
	}
	deadline := time.Now().Add(wait)
	for i := 0; ; i++ {
		f, err := os.OpenFile(path, flags, 0)
		if err == nil {
			// A FIFO's descriptor stays non-blocking: a stalled reader
			// fails a feed instead of hanging it.
			return &Device{path: path, f: f}, nil
		}
		if !fifo || !errors.Is(err, syscall.ENXIO) || time.Now().After(deadline) || i > 300 {
			return nil, fmt.Errorf("watchdog: open %s: %w", path, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Path is the watchdog's path.
func (d *Device) Path() string { return d.path }

// Feed keeps the watchdog from resetting the node for one more timeout.
func (d *Device) Feed() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return errors.New("watchdog: closed")
	}
	if _, err := d.f.Write([]byte{'.'}); err != nil {
		return fmt.Errorf("watchdog: feed %s: %w", d.path, err)
	}
	return nil
}

// Disarm writes the magic "V" and closes the watchdog: it will not reset
// the node. Call it only when nothing this node held still runs.
func (d *Device) Disarm() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	_, werr := d.f.Write([]byte{'V'})
	cerr := d.f.Close()
	d.f = nil
	if err := errors.Join(werr, cerr); err != nil {
		return fmt.Errorf("watchdog: disarm %s: %w", d.path, err)
	}
	return nil
}

// Close closes the watchdog without disarming it: it resets the node when
// its timeout passes. Idempotent.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	return err
}
