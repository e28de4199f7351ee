package lab

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"
)

// TestDog runs testdata/watchdog.txt over the watchdog's decision. Commands:
//
//	dog timeout=200ms
//	feed at=10ms bytes=..V
//	tick at=210ms
//	eof at=220ms
//
// Times are offsets from the start. Each prints the reset it asks for, if
// any, then the state and, if armed, the deadline. Rewrite with
// go test ./internal/lab -run TestDog -rewrite.
func TestDog(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	var d *dog
	datadriven.RunTest(t, "testdata/watchdog.txt", func(t *testing.T, td *datadriven.TestData) string {
		dur := func(key string) time.Duration {
			var s string
			td.ScanArgs(t, key, &s)
			v, err := time.ParseDuration(s)
			if err != nil {
				td.Fatalf(t, "%s=%s: %v", key, s, err)
			}
			return v
		}
		if td.Cmd != "dog" && d == nil {
			td.Fatalf(t, "%s before dog", td.Cmd)
		}
		var why string
		switch td.Cmd {
		case "dog":
			d = &dog{timeout: dur("timeout")}
		case "feed":
			var b string
			td.ScanArgs(t, "bytes", &b)
			d.feed([]byte(b), start.Add(dur("at")))
		case "tick":
			why = d.expire(start.Add(dur("at")))
		case "eof":
			why = d.eof(start.Add(dur("at")))
		default:
			td.Fatalf(t, "unknown command %s", td.Cmd)
		}
		var out strings.Builder
		if why != "" {
			fmt.Fprintf(&out, "reset: %s\n", why)
		}
		fmt.Fprintf(&out, "%s", d.current())
		if dl, ok := d.deadline(); ok {
			fmt.Fprintf(&out, " until %s", dl.Sub(start))
		}
		return out.String() + "\n"
	})
}

func TestWatchdogOptions(t *testing.T) {
	l, err := newLab(Options{Name: "vt", Nodes: 1, Links: 1, Binary: "/bin/vigil", Dir: "/lab", Watchdog: true})
	if err != nil {
		t.Fatal(err)
	}
	want := "daemon --config /lab/vigil.yaml --node n1 --data-dir /lab/n1/data --socket /lab/n1/vigil.sock --watchdog /lab/n1/watchdog --watchdog-timeout 200ms"
	if got := strings.Join(l.args["n1"], " "); got != want {
		t.Errorf("daemon args:\n%s\nwant\n%s", got, want)
	}
	if got := strings.Join(l.dogs["n1"].Argv, " "); got != "/bin/vigil lab watchdog --name vt --node n1 --timeout 200ms" {
		t.Errorf("watchdog argv: %s", got)
	}

	l, err = newLab(Options{Name: "vt", Nodes: 1, Links: 1, Binary: "/bin/vigil", Dir: "/lab",
		WatchdogTimeout: time.Second, WatchdogBinary: "/other/vigil"})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(l.args["n1"], " "); strings.Contains(got, "watchdog") {
		t.Errorf("daemon args without Watchdog: %s", got)
	}
	if got := strings.Join(l.dogs["n1"].Argv, " "); got != "/other/vigil lab watchdog --name vt --node n1 --timeout 1s" {
		t.Errorf("watchdog argv: %s", got)
	}
	for _, d := range []time.Duration{-time.Second, time.Millisecond, 2 * time.Minute} {
		if _, err := newLab(Options{Binary: "x", WatchdogTimeout: d}); err == nil || !strings.Contains(err.Error(), "watchdog timeout") {
			t.Errorf("WatchdogTimeout %s: %v; want an error", d, err)
		}
	}
}

// TestWatchdogRecorded: lab.json records each watchdog, Open reads it back,
// and Watchdog reports a process that is not running as PID 0 with the
// count from watchdog.json.
func TestWatchdogRecorded(t *testing.T) {
	l, _, sys := fakeLab(t, Options{Name: "vt", Nodes: 2, Links: 1})
	o, err := open("vt", sys)
	if err != nil {
		t.Fatal(err)
	}
	if ref := o.dogs["n2"]; ref.PID != 5_000_003 || ref.Timeout != defaultWatchdogTimeout || len(ref.Argv) == 0 {
		t.Errorf("n2 watchdog in lab.json: %+v", ref)
	}
	if err := writeJSON(l.watchdogFilePath("n1"), watchdogFile{PID: 5_000_001, State: WatchdogArmed, Resets: 2, LastReset: "no feed for 200ms"}); err != nil {
		t.Fatal(err)
	}
	w, err := o.Watchdog("n1")
	if err != nil {
		t.Fatal(err)
	}
	want := Watchdog{FIFO: filepath.Join(l.Dir, "n1", "watchdog"), Timeout: defaultWatchdogTimeout, Resets: 2, LastReset: "no feed for 200ms"}
	if w != want {
		t.Errorf("Watchdog(n1) = %+v; want %+v", w, want)
	}
	if _, err := o.Watchdog("n3"); err == nil {
		t.Error("Watchdog(n3) = nil error")
	}
}

func TestMakeFIFO(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	for range 2 { // idempotent
		if err := makeFIFO(path); err != nil {
			t.Fatal(err)
		}
		if fi, err := os.Stat(path); err != nil || fi.Mode()&os.ModeNamedPipe == 0 || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%v, %v; want a FIFO of mode 0600", fi.Mode(), err)
		}
	}
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := makeFIFO(file); err == nil || !strings.Contains(err.Error(), "not a FIFO") {
		t.Errorf("makeFIFO over a file: %v", err)
	}
}

// TestFIFOReader: the watchdog's read end tells bytes, no writer yet, and
// the last writer gone apart, and after a reopen waits for the next writer.
func TestFIFOReader(t *testing.T) {
	path := filepath.Join(t.TempDir(), "watchdog")
	if err := makeFIFO(path); err != nil {
		t.Skipf("no FIFO here: %v", err)
	}
	r, err := openFIFO(path)
	if err != nil {
		t.Fatal(err)
	}
	defer r.close()
	buf := make([]byte, 4)
	expect := func(what string, d time.Duration, want string, wantEOF bool) {
		t.Helper()
		data, eof, err := r.wait(d, buf)
		if err != nil || string(data) != want || eof != wantEOF {
			t.Errorf("%s: wait = %q, eof %v, %v; want %q, eof %v", what, data, eof, err, want, wantEOF)
		}
	}
	writer := func() *os.File {
		t.Helper()
		w, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		return w
	}
	expect("no writer yet", 10*time.Millisecond, "", false)
	w := writer()
	expect("writer, no byte", 10*time.Millisecond, "", false)
	if _, err := w.Write([]byte("..V")); err != nil {
		t.Fatal(err)
	}
	expect("bytes", time.Second, "..V", false)
	w.Close()
	expect("writer gone", time.Second, "", true)
	if err := r.reopen(); err != nil {
		t.Fatal(err)
	}
	expect("reopened, no writer", 10*time.Millisecond, "", false)

	// A writer that came and went between two waits: its bytes, then EOF.
	w = writer()
	if _, err := w.Write([]byte(strings.Repeat(".", len(buf)*watchdogReads+3))); err != nil {
		t.Fatal(err)
	}
	w.Close()
	expect("bounded reads", time.Second, strings.Repeat(".", len(buf)*watchdogReads), false)
	expect("the rest, then EOF", time.Second, "...", true)
}
