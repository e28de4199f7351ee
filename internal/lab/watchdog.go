package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"golang.org/x/sys/unix"
)

// The emulated hardware watchdog. A real node's daemon feeds /dev/watchdog
// while it can guarantee its lease, and a node whose daemon hangs or dies is
// reset, so that its floating IP cannot outlive its lease (invariant 1): the
// kernel keeps an address after the process that added it is gone. A lab
// node has no such device, so the lab gives each node a FIFO,
// DIR/<node>/watchdog, read by a process of its own (`vigil lab watchdog`)
// that runs in the host's namespace, outside the node's freeze.
//
// Protocol (Linux's, over a FIFO): the daemon opens the FIFO for writing and
// writes one byte per feed; a 'V' written just before it closes the FIFO
// disarms the watchdog (the magic close). The first byte from a writer arms
// the watchdog; from then on it resets the node if no byte comes for the
// timeout, or if the last writer closes without the 'V' (the daemon died,
// SIGKILL included). A reset SIGKILLs every process in the node's namespace
// and removes every address there but the node's own lab addresses, as a
// reboot does; it does not start the daemon again or touch the links.
// After a reset the watchdog ignores the writer until it closes, then waits
// for the next one.

const (
	defaultWatchdogTimeout = 200 * time.Millisecond
	minWatchdogTimeout     = 20 * time.Millisecond
	maxWatchdogTimeout     = time.Minute
	// watchdogCheck is how often a running watchdog checks that its lab
	// still exists and its context is not done.
	watchdogCheck = 250 * time.Millisecond
	// watchdogReads bounds the reads of one wake-up; more data waits for the
	// next poll.
	watchdogReads = 16
)

// WatchdogState is where a watchdog is with its current writer.
type WatchdogState string

const (
	// WatchdogIdle: no writer has fed it since the last writer went; it
	// resets nothing.
	WatchdogIdle WatchdogState = "idle"
	// WatchdogArmed: fed; it resets the node unless fed again within the
	// timeout, or if the writer closes without disarming.
	WatchdogArmed WatchdogState = "armed"
	// WatchdogFired: it has reset the node and waits for the writer to go.
	WatchdogFired WatchdogState = "fired"
)

// dog is the watchdog's decision, a pure state machine on injected time:
// the loop in runWatchdog feeds it what it reads and when, and does the
// resets it asks for. It is not safe for concurrent use.
type dog struct {
	timeout time.Duration
	state   WatchdogState // "" means WatchdogIdle
	magic   bool          // the last byte fed was 'V'
	last    time.Time     // when the last byte came; meaningful when armed
}

// feed observes bytes b, read from the writer at now. Any byte feeds (a 'V'
// too, as in Linux); the first one arms the watchdog. A fired watchdog
// ignores its writer.
func (d *dog) feed(b []byte, now time.Time) {
	if len(b) == 0 || d.state == WatchdogFired {
		return
	}
	d.state, d.last, d.magic = WatchdogArmed, now, b[len(b)-1] == 'V'
}

// expire returns why the node must be reset at now, or "" if it need not:
// the watchdog is armed and no byte came for the timeout.
func (d *dog) expire(now time.Time) string {
	if d.state != WatchdogArmed || now.Sub(d.last) < d.timeout {
		return ""
	}
	d.state = WatchdogFired
	return fmt.Sprintf("no feed for %s", d.timeout)
}

// eof observes, at now, that the last writer has closed the FIFO, and
// returns why the node must be reset, or "" if it need not: it must if the
// watchdog was armed and the last byte was not the magic 'V'. The watchdog
// is idle afterwards, waiting for the next writer.
func (d *dog) eof(now time.Time) string {
	why := d.expire(now)
	if why == "" && d.state == WatchdogArmed && !d.magic {
		why = "daemon exited without disarming"
	}
	d.state, d.magic = WatchdogIdle, false
	return why
}

// deadline returns when expire will next reset the node, if armed.
func (d *dog) deadline() (time.Time, bool) {
	if d.state != WatchdogArmed {
		return time.Time{}, false
	}
	return d.last.Add(d.timeout), true
}

func (d *dog) current() WatchdogState {
	if d.state == "" {
		return WatchdogIdle
	}
	return d.state
}

// Watchdog is a node's emulated hardware watchdog, as Lab.Watchdog reports it.
type Watchdog struct {
	FIFO      string        // DIR/<node>/watchdog, for the daemon's --watchdog
	Timeout   time.Duration // for the daemon's --watchdog-timeout
	PID       int           // the watchdog process; 0 if not running
	State     WatchdogState // as last reported by the process; "" if unknown
	Resets    int           // resets since lab up
	LastReset string        // the reason of the last reset, "" if none
}

// watchdogRef is how lab.json records a node's watchdog.
type watchdogRef struct {
	Argv    []string      `json:"argv"` // program first
	Timeout time.Duration `json:"timeout"`
	PID     int           `json:"pid"`             // 0 if never started
	Start   uint64        `json:"start,omitempty"` // guards against PID reuse, as for daemons
}

// watchdogFile is DIR/<node>/watchdog.json. Only the node's watchdog
// process writes it (lab.json belongs to the lab commands), atomically.
type watchdogFile struct {
	PID       int           `json:"pid"`
	State     WatchdogState `json:"state"`
	Resets    int           `json:"resets"`
	LastReset string        `json:"last_reset,omitempty"`
	ResetAt   *time.Time    `json:"reset_at,omitempty"`
}

// WatchdogPath returns DIR/<node>/watchdog, the FIFO of the node's emulated
// hardware watchdog.
func (l *Lab) WatchdogPath(node string) string { return filepath.Join(l.Dir, node, "watchdog") }

func (l *Lab) watchdogLogPath(node string) string {
	return filepath.Join(l.Dir, node, "watchdog.log")
}
func (l *Lab) watchdogFilePath(node string) string {
	return filepath.Join(l.Dir, node, "watchdog.json")
}

func readWatchdogFile(path string) (watchdogFile, error) {
	var f watchdogFile
	b, err := os.ReadFile(path)
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: %w", path, err)
	}
	return f, nil
}

// watchdogArgv is the command line of a node's watchdog process.
func watchdogArgv(bin, lab, node string, timeout time.Duration) []string {
	return []string{bin, "lab", "watchdog", "--name", lab, "--node", node, "--timeout", timeout.String()}
}

// Watchdog reports the node's emulated hardware watchdog. Its PID is
// checked as Status checks a daemon's.
func (l *Lab) Watchdog(node string) (Watchdog, error) {
	if _, err := l.node(node); err != nil {
		return Watchdog{}, fmt.Errorf("lab %s: watchdog: %w", l.Name, err)
	}
	l.mu.Lock()
	ref, ok := l.dogs[node]
	l.mu.Unlock()
	if !ok {
		return Watchdog{}, fmt.Errorf("lab %s: node %s has no watchdog (a lab from an older vigil)", l.Name, node)
	}
	w := Watchdog{FIFO: l.WatchdogPath(node), Timeout: ref.Timeout}
	if running(ref.PID, ref.Start) {
		w.PID = ref.PID
	} else {
		reapZombie(ref.PID)
	}
	if f, err := readWatchdogFile(l.watchdogFilePath(node)); err == nil {
		w.Resets, w.LastReset = f.Resets, f.LastReset
		if w.PID != 0 && f.PID == w.PID {
			w.State = f.State
		}
	}
	return w, nil
}

// makeFIFO creates the FIFO at path (mode 0600) unless it exists.
func makeFIFO(path string) error {
	fi, err := os.Lstat(path)
	if err == nil {
		if fi.Mode()&os.ModeNamedPipe == 0 {
			return fmt.Errorf("%s exists and is not a FIFO", path)
		}
		return os.Chmod(path, 0o600)
	}
	if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return fmt.Errorf("mkfifo %s: %w", path, err)
	}
	return os.Chmod(path, 0o600) // against the umask
}

// ensureWatchdog starts the node's watchdog process unless it runs, and
// records it in lab.json. A lab from before watchdogs has none to start.
// The caller holds l.mu.
func (l *Lab) ensureWatchdog(node string) error {
	ref, ok := l.dogs[node]
	if !ok || len(ref.Argv) == 0 {
		return nil
	}
	if running(ref.PID, ref.Start) {
		return nil
	}
	reapZombie(ref.PID)
	fifo := l.WatchdogPath(node)
	if err := makeFIFO(fifo); err != nil {
		return fmt.Errorf("watchdog: %w", err)
	}
	pid, err := l.host.SpawnHost(ref.Argv, l.watchdogLogPath(node), fifo)
	if err != nil {
		return fmt.Errorf("watchdog: %w; log %s ends:\n%s", err, l.watchdogLogPath(node), tail(l.watchdogLogPath(node), 5))
	}
	ref.PID, ref.Start = pid, 0
	if p, err := readProc(pid); err == nil {
		ref.Start = p.start
	}
	l.dogs[node] = ref
	l.log.Info("watchdog started", "node", node, "pid", pid, "timeout", ref.Timeout)
	return l.save()
}

// awaitWatchdog waits until the node's watchdog is done with the daemon
// before: idle, nothing left unread in its FIFO. Otherwise the end of the
// old daemon, seen late, would reset the node under the new one. It waits
// up to the timeout and 5 s (a reset's kills are bounded by 2 s); it
// returns at once if the watchdog is not running. The caller holds l.mu.
func (l *Lab) awaitWatchdog(node string) error {
	ref, ok := l.dogs[node]
	if !ok || !running(ref.PID, ref.Start) {
		return nil
	}
	deadline := time.Now().Add(ref.Timeout + 5*time.Second)
	for {
		f, err := readWatchdogFile(l.watchdogFilePath(node))
		state := WatchdogState("not reported")
		if err == nil && f.PID == ref.PID {
			state = f.State
		}
		unread, uerr := fifoUnread(l.WatchdogPath(node))
		if state == WatchdogIdle && uerr == nil && unread == 0 {
			return nil
		}
		if !time.Now().Before(deadline) || !running(ref.PID, ref.Start) {
			return fmt.Errorf("watchdog %d not idle after %s: %s, %d bytes unread (%v); is something else writing to %s?",
				ref.PID, ref.Timeout+5*time.Second, state, unread, uerr, l.WatchdogPath(node))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// fifoUnread returns how many bytes wait in the FIFO at path.
func fifoUnread(path string) (int, error) {
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	return unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
}

// stopWatchdogs stops the watchdog processes that st records (SIGTERM, up
// to grace, then SIGKILL). Gone ones are skipped.
func stopWatchdogs(ctx context.Context, st stateFile, grace time.Duration) error {
	var ps []proc
	for _, node := range slices.Sorted(maps.Keys(st.Watchdogs)) {
		ref := st.Watchdogs[node]
		if p, ok := pinStarted(ref.PID, ref.Start); ok {
			ps = append(ps, p)
		}
	}
	if len(ps) == 0 {
		return nil
	}
	return terminate(ctx, ps, grace)
}

// RunWatchdog is the process that emulates the hardware watchdog of node
// in lab name (`vigil lab watchdog`); see the package's protocol above. It
// runs in the host's namespace, so that a frozen node does not freeze it,
// until ctx is done or the lab is gone (its namespace or FIFO replaced or
// removed), and then returns nil. It returns an error only if it cannot
// start.
func RunWatchdog(ctx context.Context, name, node string, timeout time.Duration, log *slog.Logger) error {
	if timeout < minWatchdogTimeout || timeout > maxWatchdogTimeout {
		return fmt.Errorf("lab %s watchdog %s: timeout %s: want %s..%s", name, node, timeout, minWatchdogTimeout, maxWatchdogTimeout)
	}
	l, err := Open(name)
	if err != nil {
		return err
	}
	if log != nil {
		l.log = log
	}
	if err := l.runWatchdog(ctx, node, timeout); err != nil {
		return fmt.Errorf("lab %s watchdog %s: %w", name, node, err)
	}
	return nil
}

// fifoReader is the read end of a watchdog FIFO. It keeps one open at all
// times, so that a writer never finds it gone (EPIPE).
type fifoReader struct {
	path string
	id   nsID // the FIFO's inode, to notice it replaced
	fd   int
}

func openFIFO(path string) (*fifoReader, error) {
	id, err := statID(path)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return &fifoReader{path: path, id: id, fd: fd}, nil
}

// wait waits up to d for bytes or for the last writer to close, and returns
// what it read, and eof if every writer has closed. It reads at most
// watchdogReads times.
func (r *fifoReader) wait(d time.Duration, buf []byte) (data []byte, eof bool, err error) {
	fds := []unix.PollFd{{Fd: int32(r.fd), Events: unix.POLLIN}}
	ms := int((d + time.Millisecond - 1) / time.Millisecond)
	if _, err := unix.Poll(fds, max(ms, 0)); err != nil && !errors.Is(err, unix.EINTR) {
		return nil, false, fmt.Errorf("poll %s: %w", r.path, err)
	}
	if fds[0].Revents == 0 {
		return nil, false, nil
	}
	for range watchdogReads {
		n, err := unix.Read(r.fd, buf)
		switch {
		case n > 0:
			data = append(data, buf[:n]...)
		case err == nil: // 0: no writer left
			return data, true, nil
		case errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR):
			return data, false, nil
		default:
			return data, false, fmt.Errorf("read %s: %w", r.path, err)
		}
	}
	return data, false, nil
}

// reopen replaces the read end after every writer has gone: Linux reports
// POLLHUP on the old one for good. The new end is open before the old one
// closes, so that the FIFO always has a reader.
func (r *fifoReader) reopen() error {
	fd, err := unix.Open(r.path, unix.O_RDONLY|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("reopen %s: %w", r.path, err)
	}
	unix.Close(r.fd)
	r.fd = fd
	return nil
}

func (r *fifoReader) close() { unix.Close(r.fd) }

// runWatchdog does RunWatchdog's work.
func (l *Lab) runWatchdog(ctx context.Context, node string, timeout time.Duration) error {
	i, err := l.node(node)
	if err != nil {
		return err
	}
	n := l.Nodes[i]
	ns, err := netnsID(n.Netns)
	if err != nil {
		return fmt.Errorf("namespace %s: %w", n.Netns, err)
	}
	r, err := openFIFO(l.WatchdogPath(node))
	if err != nil {
		return err
	}
	defer r.close()
	path := l.watchdogFilePath(node)
	st, err := readWatchdogFile(path) // a restarted watchdog keeps counting
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		l.log.Warn("watchdog state unreadable; counting resets from 0", "node", node, "err", err)
	}
	st.PID, st.State = os.Getpid(), WatchdogIdle
	if err := writeJSON(path, st); err != nil {
		return err
	}
	l.log.Info("watchdog running", "node", node, "fifo", r.path, "timeout", timeout)

	d := dog{timeout: timeout}
	buf := make([]byte, 512)
	checked := time.Now()
	for ctx.Err() == nil {
		wait := watchdogCheck
		if dl, ok := d.deadline(); ok {
			wait = min(wait, time.Until(dl))
		}
		data, eof, err := r.wait(wait, buf)
		if err != nil {
			return err
		}
		now := time.Now()
		before := d.current()
		d.feed(data, now)
		why := d.expire(now)
		if eof {
			if w := d.eof(now); w != "" {
				why = w
			}
			if err := r.reopen(); err != nil {
				return err
			}
		}
		if why != "" {
			l.watchdogReset(ctx, n, why, &st)
		}
		if d.current() != before || why != "" {
			st.State = d.current()
			if err := writeJSON(path, st); err != nil {
				l.log.Error("watchdog state", "node", node, "err", err)
			}
		}
		if now.Sub(checked) >= watchdogCheck {
			checked = now
			if gone := labGone(n.Netns, ns, r); gone != "" {
				l.log.Info("watchdog exits: lab gone", "node", node, "why", gone)
				return nil
			}
		}
	}
	l.log.Info("watchdog exits", "node", node, "err", ctx.Err())
	return nil
}

// labGone says why the watchdog's lab is gone, or "" if it is not.
func labGone(netns string, ns nsID, r *fifoReader) string {
	if got, err := netnsID(netns); err != nil || got != ns {
		return "namespace " + netns + " gone or replaced"
	}
	if got, err := statID(r.path); err != nil || got != r.id {
		return r.path + " gone or replaced"
	}
	return ""
}

// watchdogReset resets node n, as a watchdog resets a machine, counts it
// in st and says so in the node's daemon log.
func (l *Lab) watchdogReset(ctx context.Context, n Node, why string, st *watchdogFile) {
	// A reset, once begun, completes, even if the watchdog is told to stop.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opTimeout)
	defer cancel()
	err := l.reset(ctx, n)
	now := time.Now().UTC()
	st.Resets++
	st.LastReset, st.ResetAt = why, &now
	line := fmt.Sprintf("--- vigil lab: watchdog reset %s: %s\n", n.Name, why)
	if err != nil {
		line = fmt.Sprintf("--- vigil lab: watchdog reset %s: %s (incomplete: %v)\n", n.Name, why, err)
		l.log.Error("watchdog reset incomplete", "node", n.Name, "why", why, "err", err)
	} else {
		l.log.Warn("watchdog reset", "node", n.Name, "why", why, "resets", st.Resets)
	}
	if err := appendFile(l.LogPath(n.Name), line); err != nil {
		l.log.Error("watchdog: daemon log", "node", n.Name, "err", err)
	}
}

// writeJSON replaces path with v as JSON, atomically.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		return err
	}
	return writeFile(path, append(b, '\n'), 0o644)
}

// tail returns the last lines lines of the file at path, or "".
func tail(path string, lines int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lastLines(string(b), lines)
}
