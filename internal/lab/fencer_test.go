package lab

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseFenceRequest(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     fenceRequest
		err      string // substring; "" for none
	}{
		{name: "off", in: "action=off\nplug=n2\n", want: fenceRequest{action: "off", plug: "n2"}},
		{name: "comments, blanks, CRLF, spaces, quotes", in: "# fence n2\r\n\r\n  action = \"OFF\"  \r\n\tport=n2\r\n",
			want: fenceRequest{action: "off", plug: "n2"}},
		{name: "port and plug agree", in: "action=reboot\nport=n1\nplug=n1\n", want: fenceRequest{action: "reboot", plug: "n1"}},
		{name: "option is action's old name", in: "option=status\nplug=n3", want: fenceRequest{action: "status", plug: "n3"}},
		{name: "unknown keys ignored, nodename silently", in: "action=off\nnodename=n2\nplug=n2\nip=198.18.0.9\npower-wait=3\nbare\n",
			want: fenceRequest{action: "off", plug: "n2", ignored: []string{"ip", "power_wait", "bare"}}},
		{name: "no plug needed", in: "action=list\n", want: fenceRequest{action: "list"}},
		{name: "metadata", in: "action=metadata", want: fenceRequest{action: "metadata"}},
		{name: "monitor with a plug", in: "action=monitor\nplug=n1\n", want: fenceRequest{action: "monitor", plug: "n1"}},

		{name: "empty", in: "", err: "no action= line: want one of off, on, reboot, status, monitor, list, metadata"},
		{name: "only comments", in: "# action=off\nplug=n2\n", err: "no action= line"},
		{name: "unknown action", in: "action=poweroff\nplug=n2\n", err: `unknown action "poweroff"`},
		{name: "no plug", in: "action=off\n", err: "action=off needs plug= (or port=): the node"},
		{name: "empty plug", in: "action=off\nplug=\n", err: "line 2: plug has no value"},
		{name: "empty action", in: "action=\nplug=n2\n", err: "line 1: action has no value"},
		{name: "two plugs", in: "action=off\nplug=n1\nport=n2\n", err: "line 3: port=n2 contradicts n1 given before"},
		{name: "two actions", in: "action=on\nplug=n1\naction=off\n", err: "line 3: action=off contradicts on given before"},
		{name: "too long", in: "action=off\nplug=n2\n#" + strings.Repeat("x", maxFenceInput), err: "request longer than 65536 bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseFenceRequest(strings.NewReader(tc.in))
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v; want one saying %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("got %+v; want %+v", got, tc.want)
			}
		})
	}
}

func TestParseFenceRequestJoinsProblems(t *testing.T) {
	_, err := parseFenceRequest(strings.NewReader("action=\nplug=n1\nport=n2\n"))
	if err == nil || !strings.Contains(err.Error(), "line 1: action has no value") || !strings.Contains(err.Error(), "line 3: port=n2 contradicts") {
		t.Errorf("err = %v; want both problems", err)
	}
}

// fakePower records what the fencer does to nodes as text.
type fakePower struct {
	log     strings.Builder
	state   map[string]nodePower
	failOff error
	failOn  error
}

func (p *fakePower) off(_ context.Context, node string) error {
	fmt.Fprintf(&p.log, "off %s\n", node)
	if p.failOff != nil {
		return p.failOff
	}
	p.state[node] = nodePower{}
	return nil
}

func (p *fakePower) on(_ context.Context, node string) error {
	fmt.Fprintf(&p.log, "on %s\n", node)
	if p.failOn != nil {
		return p.failOn
	}
	p.state[node] = nodePower{procs: 1, daemon: true}
	return nil
}

func (p *fakePower) probe(_ context.Context, node string) (nodePower, error) {
	return p.state[node], nil
}

func (p *fakePower) take() string {
	s := p.log.String()
	p.log.Reset()
	return s
}

// testFencer is a fencer of lab fz (n1..n3, all on) on a fakePower, with
// its files in a temp dir and a clock that ticks a second per reading.
func testFencer(t *testing.T) (fencer, *fakePower) {
	t.Helper()
	dir := t.TempDir()
	p := &fakePower{state: map[string]nodePower{}}
	for _, n := range []string{"n1", "n2", "n3"} {
		p.state[n] = nodePower{procs: 2, daemon: true}
	}
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	f := fencer{
		lab: "fz", nodes: []string{"n1", "n2", "n3"}, power: p,
		now:       func() time.Time { now = now.Add(time.Second); return now },
		statePath: filepath.Join(dir, "fencer.json"), logPath: filepath.Join(dir, "fencer.log"), lockPath: filepath.Join(dir, "fencer.lock"),
	}
	return f, p
}

type answer struct {
	code           int
	stdout, stderr string
}

func ask(f fencer, in string) answer {
	var out, errb bytes.Buffer
	code := f.serve(context.Background(), strings.NewReader(in), &out, &errb)
	return answer{code, out.String(), errb.String()}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return string(b)
}

// TestFencerActions walks one node through every action: each step's
// answer, the power effects it had, and what fencer.json says after it.
func TestFencerActions(t *testing.T) {
	f, p := testFencer(t)
	for _, step := range []struct {
		in      string
		want    answer
		effects string
		off     bool // fencer.json holds n2 off afterwards
	}{
		{"action=status\nplug=n2\n", answer{0, "Status: ON\n", ""}, "", false},
		{"action=off\nplug=n2\n", answer{0, "Success: Powered OFF\n", ""}, "off n2\n", true},
		{"action=status\nport=n2\n", answer{2, "Status: OFF\n", ""}, "", true},
		// Idempotent, and the work is done again all the same.
		{"action=off\nplug=n2\n", answer{0, "Success: Already OFF\n", ""}, "off n2\n", true},
		{"action=on\nplug=n2\n", answer{0, "Success: Powered ON\n", ""}, "on n2\n", false},
		{"action=status\nplug=n2\n", answer{0, "Status: ON\n", ""}, "", false},
		{"action=on\nplug=n2\n", answer{0, "Success: Already ON\n", ""}, "", false},
		{"action=reboot\nplug=n2\n", answer{0, "Success: Rebooted\n", ""}, "off n2\non n2\n", false},
		{"action=monitor\n", answer{0, "", ""}, "", false},
		{"action=list\n", answer{0, "n1,n1\nn2,n2\nn3,n3\n", ""}, "", false},
		{"action=off\nplug=n2\nnodename=n2\nipaddr=x\n", answer{0, "Success: Powered OFF\n", "WARNING: Parse error: Ignoring unknown option 'ipaddr'\n"}, "off n2\n", true},
	} {
		got := ask(f, step.in)
		if got != step.want {
			t.Errorf("%q: got %+v; want %+v", step.in, got, step.want)
		}
		if e := p.take(); e != step.effects {
			t.Errorf("%q: effects %q; want %q", step.in, e, step.effects)
		}
		st, err := readFencerFile(f.statePath)
		if _, off := st.Off["n2"]; err != nil || off != step.off {
			t.Errorf("%q: fencer.json %+v, %v; want n2 off: %v", step.in, st, err, step.off)
		}
	}
	want := `2030-01-02T03:04:06.000Z action=status plug=n2 exit=0 on
2030-01-02T03:04:08.000Z action=off plug=n2 exit=0 ok: powered off
2030-01-02T03:04:09.000Z action=status plug=n2 exit=2 off
2030-01-02T03:04:10.000Z action=off plug=n2 exit=0 ok: already off
2030-01-02T03:04:11.000Z action=on plug=n2 exit=0 ok: powered on
2030-01-02T03:04:12.000Z action=status plug=n2 exit=0 on
2030-01-02T03:04:13.000Z action=on plug=n2 exit=0 ok: already on
2030-01-02T03:04:15.000Z action=reboot plug=n2 exit=0 ok: rebooted
2030-01-02T03:04:16.000Z action=monitor plug=- exit=0 ok
2030-01-02T03:04:17.000Z action=list plug=- exit=0 ok
2030-01-02T03:04:19.000Z action=off plug=n2 exit=0 ok: powered off
`
	diff(t, "fencer.log", readFile(t, f.logPath), want)
}

func TestFencerFailures(t *testing.T) {
	f, p := testFencer(t)
	p.failOff = errors.New("ip -batch -: exit status 1: Cannot find device")
	got := ask(f, "action=off\nplug=n1\n")
	want := answer{1, "", "ERROR: off n1: ip -batch -: exit status 1: Cannot find device\n"}
	if got != want {
		t.Errorf("off failing: got %+v; want %+v", got, want)
	}
	// Held off all the same: half-way off is no state to start a daemon in.
	if st, _ := readFencerFile(f.statePath); st.Off["n1"].IsZero() {
		t.Errorf("fencer.json after a failed off: %+v; want n1 held off", st)
	}
	p.failOff = nil
	p.failOn = errors.New("watchdog not idle")
	got = ask(f, "action=reboot\nplug=n2\n")
	want = answer{0, "Success: Rebooted\n", "ERROR: reboot n2: powered off, but not on again: watchdog not idle\n"}
	if got != want {
		t.Errorf("reboot whose on fails: got %+v; want %+v", got, want)
	}
	got = ask(f, "action=on\nplug=n2\n")
	if got.code != 1 || !strings.Contains(got.stderr, "ERROR: on n2: watchdog not idle") {
		t.Errorf("on failing: got %+v", got)
	}
	if log := readFile(t, f.logPath); !strings.Contains(log, "action=reboot plug=n2 exit=0 ok: rebooted, but on failed: watchdog not idle") ||
		!strings.Contains(log, "action=on plug=n2 exit=1 failed: watchdog not idle") {
		t.Errorf("fencer.log:\n%s", log)
	}
}

// TestFencerRefuses: a bad request, or any power action on a broken
// device, exits 1 with a clear error and changes nothing.
func TestFencerRefuses(t *testing.T) {
	f, p := testFencer(t)
	if got := ask(f, "action=off\nplug=n3\n"); got.code != 0 {
		t.Fatalf("off n3: %+v", got)
	}
	p.take()
	before := readFile(t, f.statePath)
	for _, tc := range []struct{ in, stderr string }{
		{"action=off\nplug=n9\n", `ERROR: plug "n9" is not a node of lab fz (n1, n2, n3)` + "\n"},
		{"action=status\nplug=client\n", `ERROR: plug "client" is not a node of lab fz (n1, n2, n3)` + "\n"},
		{"plug=n2\n", "ERROR: no action= line: want one of off, on, reboot, status, monitor, list, metadata\n"},
		{"action=destroy\nplug=n2\n", `ERROR: unknown action "destroy": want one of off, on, reboot, status, monitor, list, metadata` + "\n"},
		{"action=off\n", "ERROR: action=off needs plug= (or port=): the node\n"},
		{"action=\nplug=n1\nport=n2\n", "ERROR: line 1: action has no value\nERROR: line 3: port=n2 contradicts n1 given before\n"},
	} {
		got := ask(f, tc.in)
		if got.code != 1 || got.stdout != "" || got.stderr != tc.stderr {
			t.Errorf("%q: got %+v; want exit 1 and stderr %q", tc.in, got, tc.stderr)
		}
	}
	if e := p.take(); e != "" {
		t.Errorf("bad requests had effects:\n%s", e)
	}
	if after := readFile(t, f.statePath); after != before {
		t.Errorf("bad requests changed fencer.json:\n%s\nwas\n%s", after, before)
	}
	if log := readFile(t, f.logPath); !strings.Contains(log, `action=off plug=n9 exit=1 rejected: plug "n9" is not a node`) ||
		!strings.Contains(log, "action=- plug=n2 exit=1 rejected: no action= line") {
		t.Errorf("fencer.log lacks the rejections:\n%s", log)
	}

	// Broken: off, on, reboot and status fail and change nothing; the
	// other actions still answer.
	if err := writeJSON(f.statePath, fencerFile{State: FencerBroken, Off: map[string]time.Time{"n3": time.Unix(0, 0).UTC()}}); err != nil {
		t.Fatal(err)
	}
	before = readFile(t, f.statePath)
	const broken = "lab fencer is broken (vigil lab --name fz fencer working to mend it)"
	for _, in := range []string{"action=off\nplug=n1\n", "action=on\nplug=n3\n", "action=reboot\nplug=n2\n", "action=status\nplug=n1\n"} {
		got := ask(f, in)
		action, _, _ := strings.Cut(strings.TrimPrefix(in, "action="), "\n")
		plug := strings.TrimSuffix(in[strings.Index(in, "plug=")+5:], "\n")
		want := answer{1, "", fmt.Sprintf("ERROR: %s %s: %s\n", action, plug, broken)}
		if got != want {
			t.Errorf("broken, %q: got %+v; want %+v", in, got, want)
		}
	}
	for _, in := range []string{"action=monitor\n", "action=list\n", "action=metadata\n"} {
		if got := ask(f, in); got.code != 0 || got.stderr != "" {
			t.Errorf("broken, %q: got %+v; want exit 0", in, got)
		}
	}
	if e := p.take(); e != "" {
		t.Errorf("a broken device had effects:\n%s", e)
	}
	if after := readFile(t, f.statePath); after != before {
		t.Errorf("a broken device changed fencer.json:\n%s\nwas\n%s", after, before)
	}
	if log := readFile(t, f.logPath); !strings.Contains(log, "action=off plug=n1 exit=1 failed: device broken") {
		t.Errorf("fencer.log lacks the broken off:\n%s", log)
	}
	f.lab = "vigil"
	if got := ask(f, "action=off\nplug=n1\n"); !strings.Contains(got.stderr, "lab fencer is broken (vigil lab fencer working to mend it)") {
		t.Errorf("broken, default lab: %+v", got)
	}
}

func TestFenceMetadata(t *testing.T) {
	f, _ := testFencer(t)
	got := ask(f, "action=metadata\n")
	if got.code != 0 || got.stderr != "" {
		t.Fatalf("metadata: %+v", got)
	}
	var md struct {
		Name   string `xml:"name,attr"`
		Params []struct {
			Name     string `xml:"name,attr"`
			Required string `xml:"required,attr"`
		} `xml:"parameters>parameter"`
		Actions []struct {
			Name string `xml:"name,attr"`
		} `xml:"actions>action"`
	}
	if err := xml.Unmarshal([]byte(got.stdout), &md); err != nil {
		t.Fatalf("metadata is not XML: %v\n%s", err, got.stdout)
	}
	var params, actions []string
	for _, p := range md.Params {
		params = append(params, p.Name+":"+p.Required)
	}
	for _, a := range md.Actions {
		actions = append(actions, a.Name)
	}
	if md.Name != "fence_vigil_lab" || !reflect.DeepEqual(params, []string{"action:1", "plug:1", "port:0"}) ||
		!reflect.DeepEqual(actions, []string{"on", "off", "reboot", "status", "monitor", "list", "metadata"}) {
		t.Errorf("metadata: name %q, parameters %v, actions %v", md.Name, params, actions)
	}
}

func TestFencerLab(t *testing.T) {
	l, _, sys := fakeLab(t, Options{Name: "fz", Nodes: 2, Links: 1})
	path := l.FenceAgentPath()
	if path != filepath.Join(l.Dir, "fence_vigil_lab") {
		t.Errorf("FenceAgentPath = %s", path)
	}
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("%s: %v, %v; want mode 0755", path, fi, err)
	}
	want := "exec '" + l.Binary + "' lab --name 'fz' fence-agent\n"
	if s := readFile(t, path); !strings.HasPrefix(s, "#!/bin/sh\n") || !strings.HasSuffix(s, want) {
		t.Errorf("%s:\n%s\nwant it to end with %q", path, s, want)
	}
	if got := fenceAgentScript("/o'k/vigil", "fz"); !strings.Contains(got, `exec '/o'\''k/vigil' lab`) {
		t.Errorf("quoting:\n%s", got)
	}

	fe, err := l.Fencer()
	if err != nil || fe.State != FencerWorking || len(fe.OffNodes()) != 0 || fe.Agent != path {
		t.Errorf("Fencer after Up = %+v, %v", fe, err)
	}
	ctx := context.Background()
	if err := l.SetFencer(ctx, "melted"); err == nil {
		t.Error("SetFencer(melted): no error")
	}
	if err := l.SetFencer(ctx, FencerBroken); err != nil {
		t.Fatal(err)
	}
	if fe, _ := l.Fencer(); fe.State != FencerBroken {
		t.Errorf("after SetFencer(broken): %+v", fe)
	}
	if err := l.SetFencer(ctx, FencerWorking); err != nil {
		t.Fatal(err)
	}
	if fe, _ := l.Fencer(); fe.State != FencerWorking {
		t.Errorf("after SetFencer(working): %+v", fe)
	}
	if got := l.FencerLog(5); strings.Count(got, "\n") != 2 || !strings.Contains(got, " device broken\n") || !strings.HasSuffix(got, " device working\n") {
		t.Errorf("FencerLog:\n%s", got)
	}

	// The agent on the lab itself: actions that touch no node.
	var out, errb bytes.Buffer
	if code := l.FenceAgent(ctx, strings.NewReader("action=list\n"), &out, &errb); code != 0 || out.String() != "n1,n1\nn2,n2\n" {
		t.Errorf("list: exit %d, %q, %q", code, out.String(), errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := l.FenceAgent(ctx, strings.NewReader("action=off\nplug=n3\n"), &out, &errb); code != 1 || !strings.Contains(errb.String(), `plug "n3" is not a node of lab fz (n1, n2)`) {
		t.Errorf("off n3: exit %d, %q, %q", code, out.String(), errb.String())
	}

	// A node held off does not start; the record survives Open.
	if err := writeJSON(l.fencerFilePath(), fencerFile{Off: map[string]time.Time{"n1": time.Unix(0, 0).UTC()}}); err != nil {
		t.Fatal(err)
	}
	if err := l.StartDaemon("n1"); err == nil || !strings.Contains(err.Error(), "the lab's fencer holds n1 powered off") {
		t.Errorf("StartDaemon on a fenced node: %v", err)
	}
	o, err := open("fz", sys)
	if err != nil {
		t.Fatal(err)
	}
	if fe, _ := o.Fencer(); !reflect.DeepEqual(fe.OffNodes(), []string{"n1"}) {
		t.Errorf("Open: Fencer = %+v", fe)
	}
	if o.hostNetns == nil || *o.hostNetns != *l.hostNetns {
		t.Errorf("Open: host netns %v; Up recorded %v", o.hostNetns, l.hostNetns)
	}
	if _, ok := o.host.(*fakeHost); !ok {
		t.Errorf("Open replaced the fake host with %T", o.host)
	}

	// A new lab is a new device.
	if err := down(ctx, "fz", false, sys); err != nil {
		t.Fatal(err)
	}
	if _, err := up(ctx, Options{Name: "fz", Nodes: 2, Links: 1, Dir: l.Dir, Binary: l.Binary}, sys); err != nil {
		t.Fatal(err)
	}
	if fe, _ := l.Fencer(); fe.State != FencerWorking || len(fe.Off) != 0 || l.FencerLog(5) != "" {
		t.Errorf("Fencer after a new Up = %+v, log %q", fe, l.FencerLog(5))
	}
}

func TestExecHostNetns(t *testing.T) {
	here, err := statID("/proc/self/ns/net")
	if err != nil {
		t.Skipf("no /proc/self/ns/net: %v", err)
	}
	f, err := openNetns(here)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := statID(fmt.Sprintf("/proc/self/fd/%d", f.Fd())); err != nil || got != here {
		t.Errorf("openNetns opened %v, %v; want %v", got, err, here)
	}
	f.Close()
	if _, err := openNetns(nsID{dev: 1, ino: 1}); err == nil || !strings.Contains(err.Error(), "no process left in the lab's host network namespace") {
		t.Errorf("openNetns(bogus): %v", err)
	}

	h := execHost{netns: &netnsRef{Dev: here.dev, Ino: here.ino}}
	cmd, started, err := h.command(context.Background(), []string{"ip", "-batch", "-"})
	if err != nil {
		t.Fatal(err)
	}
	defer started()
	if want := []string{"nsenter", "--net=/proc/self/fd/3", "--", "ip", "-batch", "-"}; !reflect.DeepEqual(cmd.Args, want) || len(cmd.ExtraFiles) != 1 {
		t.Errorf("command: %v with %d extra files; want %v with 1", cmd.Args, len(cmd.ExtraFiles), want)
	}
	cmd, _, _ = execHost{}.command(context.Background(), []string{"ip", "link"})
	if !reflect.DeepEqual(cmd.Args, []string{"ip", "link"}) || cmd.ExtraFiles != nil {
		t.Errorf("command without netns: %v", cmd.Args)
	}
}
