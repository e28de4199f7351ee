package ocf

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sys/unix"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/model"
)

var _ agent.Agent = (*Agent)(nil)

// fakeScript is an OCF agent for tests. Its parameters choose what it does
// per action: rc_<action> is the exit code, say is printed on stderr, hang
// names an action that never ends (a child sleeps in the same process
// group and its pid goes to $HA_RSCTMP/hang.pid), and envdir receives the
// environment of every call in a file named after the action. meta-data
// calls are counted in $OCF_ROOT/meta-data-calls.
const fakeScript = `#!/bin/sh
action="$1"
if [ "$action" = meta-data ]; then
	echo call >> "$OCF_ROOT/meta-data-calls"
	cat <<'EOF'
<?xml version="1.0"?>
<!DOCTYPE resource-agent SYSTEM "ra-api-1.dtd">
<resource-agent name="Fake" version="0.1">
<version>0.1</version>
<longdesc lang="en">
An agent for tests.
</longdesc>
<shortdesc lang="en">Fake agent</shortdesc>
<shortdesc lang="de">Falscher Agent</shortdesc>
<parameters>
<parameter name="name" unique="1" required="1">
<longdesc lang="en">The instance's name.</longdesc>
<shortdesc lang="en">Name</shortdesc>
<content type="string" />
</parameter>
<parameter name="envdir"><shortdesc lang="en">Where to dump the environment</shortdesc><content type="string" default="" /></parameter>
<parameter name="say"><shortdesc lang="en">Printed on stderr</shortdesc><content type="string" /></parameter>
<parameter name="hang"><shortdesc lang="en">Action that hangs</shortdesc><content type="string" /></parameter>
<parameter name="rc_start"><shortdesc lang="en">Exit code of start</shortdesc><content type="integer" default="0" /></parameter>
<parameter name="rc_stop"><shortdesc lang="en">Exit code of stop</shortdesc><content type="integer" default="0" /></parameter>
<parameter name="rc_monitor"><shortdesc lang="en">Exit code of monitor</shortdesc><content type="integer" default="0" /></parameter>
<parameter name="rc_validate"><shortdesc lang="en">Exit code of validate-all</shortdesc><content type="integer" default="0" /></parameter>
</parameters>
<actions>
<action name="start" timeout="20s" />
<action name="stop" timeout="20s" />
<action name="monitor" timeout="20s" interval="10s" depth="0" />
<action name="meta-data" timeout="5s" />
<action name="validate-all" timeout="20s" />
</actions>
</resource-agent>
EOF
	exit 0
fi
if [ -n "$OCF_RESKEY_envdir" ]; then env > "$OCF_RESKEY_envdir/$action"; fi
if [ -n "$OCF_RESKEY_say" ]; then printf '%s\n' "$OCF_RESKEY_say" >&2; fi
if [ "$OCF_RESKEY_hang" = "$action" ]; then
	sleep 1000 &
	echo $! > "$HA_RSCTMP/hang.pid"
	wait
fi
case "$action" in
start) exit ${OCF_RESKEY_rc_start:-0} ;;
stop) exit ${OCF_RESKEY_rc_stop:-0} ;;
monitor) exit ${OCF_RESKEY_rc_monitor:-0} ;;
validate-all) exit ${OCF_RESKEY_rc_validate:-0} ;;
*) exit 3 ;;
esac
`

// fakeRoot writes an OCF root with test:Fake and a non-executable
// test:NoExec, and returns it.
func fakeRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	dir := filepath.Join(root, "resource.d", "test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Fake"), []byte(fakeScript), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "NoExec"), []byte(fakeScript), 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// fakeAgent returns an Agent over a fresh fake root, and its state dir.
func fakeAgent(t *testing.T) (*Agent, string) {
	t.Helper()
	state := t.TempDir()
	a, err := New(Config{Root: fakeRoot(t), StateDir: state})
	if err != nil {
		t.Fatal(err)
	}
	return a, state
}

// fakeResource is a valid test:Fake resource with extra parameters.
func fakeResource(kv ...string) model.Resource {
	r := model.Resource{ID: "f1", Kind: "ocf", Params: map[string]string{"agent": "test:Fake", "name": "f1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		r.Params[kv[i]] = kv[i+1]
	}
	return r
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestEnviron(t *testing.T) {
	ra := raRef{provider: "heartbeat", typ: "IPaddr2"}
	base := []string{
		"HA_LOGFACILITY=none",
		"HA_RSCTMP=/st",
		"LC_ALL=C",
		"OCF_EXIT_REASON_PREFIX=ocf-exit-reason:",
		"OCF_RA_VERSION_MAJOR=1",
		"OCF_RA_VERSION_MINOR=1",
		"OCF_RESOURCE_PROVIDER=heartbeat",
		"OCF_RESOURCE_TYPE=IPaddr2",
		"OCF_ROOT=/ocf",
		"PATH=" + sanePath,
	}
	tests := []struct {
		name string
		c    callEnv
		want []string
	}{
		{
			name: "start",
			c: callEnv{root: "/ocf", stateDir: "/st", ra: ra, action: "start", instance: "vip",
				params:  map[string]string{"ip": "198.18.201.100", "cidr_netmask": "24"},
				timeout: 20 * time.Second, interval: 0},
			want: append(base,
				"OCF_RESKEY_CRM_meta_interval=0",
				"OCF_RESKEY_CRM_meta_timeout=20000",
				"OCF_RESKEY_cidr_netmask=24",
				"OCF_RESKEY_ip=198.18.201.100",
				"OCF_RESOURCE_INSTANCE=vip",
			),
		},
		{
			name: "monitor carries its interval",
			c: callEnv{root: "/ocf", stateDir: "/st", ra: ra, action: "monitor", instance: "vip",
				params: map[string]string{"ip": "198.18.201.100"}, timeout: 1500 * time.Millisecond, interval: 10 * time.Second},
			want: append(base,
				"OCF_RESKEY_CRM_meta_interval=10000",
				"OCF_RESKEY_CRM_meta_timeout=1500",
				"OCF_RESKEY_ip=198.18.201.100",
				"OCF_RESOURCE_INSTANCE=vip",
			),
		},
		{
			name: "meta-data has no instance nor parameters",
			c:    callEnv{root: "/ocf", stateDir: "/st", ra: ra, action: "meta-data", instance: "vip", params: map[string]string{"ip": "x"}},
			want: base,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := append([]string(nil), tc.want...)
			slices.Sort(want)
			if d := cmp.Diff(want, environ(tc.c)); d != "" {
				t.Errorf("environ (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseAgent(t *testing.T) {
	tests := []struct {
		in, want, err string
	}{
		{in: "heartbeat:Dummy", want: "ocf:heartbeat:Dummy"},
		{in: "ocf:heartbeat:IPaddr2", want: "ocf:heartbeat:IPaddr2"},
		{in: "ocf:my-co:db.v2", want: "ocf:my-co:db.v2"},
		{in: "Dummy", err: `"Dummy" is not PROVIDER:TYPE (e.g. heartbeat:Dummy)`},
		{in: "", err: `"" is not PROVIDER:TYPE`},
		{in: "lsb:heartbeat:Dummy", err: `class "lsb" is not supported (only ocf)`},
		{in: "a:b:c:d", err: "is not PROVIDER:TYPE"},
		{in: "..:Dummy", err: `provider ".." is not a file name`},
		{in: "heartbeat:../../bin/sh", err: `type "../../bin/sh" is not a file name`},
		{in: "heartbeat:", err: `type "" is not a file name`},
	}
	for _, tc := range tests {
		ra, err := parseAgent(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseAgent(%q) = %v, want error containing %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || ra.String() != tc.want {
			t.Errorf("parseAgent(%q) = %v, %v; want %s", tc.in, ra, err, tc.want)
		}
	}
}

func TestNew(t *testing.T) {
	a, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	if a.root != DefaultRoot || a.stateDir != DefaultStateDir || a.netns != "" || a.log == nil {
		t.Errorf("defaults: root %q state %q netns %q log %v", a.root, a.stateDir, a.netns, a.log)
	}
	_, err = New(Config{Root: "ocf", StateDir: "run/x", Netns: "a/b"})
	for _, want := range []string{`Root "ocf" is not an absolute path`, `StateDir "run/x" is not an absolute path`, `Netns "a/b" is not a namespace name`} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New(bad) = %v, want it to say %q", err, want)
		}
	}
}

func TestValidate(t *testing.T) {
	a, _ := fakeAgent(t)
	tests := []struct {
		name   string
		params map[string]string
		want   []string // every line of the error; nil: valid
	}{
		{name: "good", params: map[string]string{"agent": "test:Fake", "name": "x", "rc_start": "0"}},
		{name: "full name", params: map[string]string{"agent": "ocf:test:Fake", "name": "x"}},
		{name: "no agent", params: map[string]string{"name": "x"},
			want: []string{"params.agent: required (PROVIDER:TYPE, e.g. heartbeat:Dummy)"}},
		{name: "missing required", params: map[string]string{"agent": "test:Fake"},
			want: []string{"params.name: required by ocf:test:Fake"}},
		{name: "unknown parameters", params: map[string]string{"agent": "test:Fake", "name": "x", "foo": "1", "bar": "2"},
			want: []string{
				"params.bar: not a parameter of ocf:test:Fake (known: envdir, hang, name, rc_monitor, rc_start, rc_stop, rc_validate, say)",
				"params.foo: not a parameter of ocf:test:Fake (known: envdir, hang, name, rc_monitor, rc_start, rc_stop, rc_validate, say)",
			}},
		{name: "bad name", params: map[string]string{"agent": "test:Fake", "name": "x", "a-b": "1"},
			want: []string{"params.a-b: not a valid OCF parameter name (letters, digits and _)"}},
		{name: "not installed", params: map[string]string{"agent": "test:Nope"},
			want: []string{"params.agent: ocf:test:Nope is not installed (no " + filepath.Join(a.root, "resource.d/test/Nope") + ")"}},
		{name: "not executable", params: map[string]string{"agent": "test:NoExec", "name": "x"},
			want: []string{"params.agent: ocf:test:NoExec: " + filepath.Join(a.root, "resource.d/test/NoExec") + " is not an executable file"}},
		{name: "bad agent", params: map[string]string{"agent": "lsb:x:y"},
			want: []string{`params.agent: "lsb:x:y": class "lsb" is not supported (only ocf)`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := a.Validate(model.Resource{ID: "r", Kind: "ocf", Params: tc.params})
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Errorf("Validate (-want +got):\n%s", d)
			}
		})
	}
}

func TestMetaData(t *testing.T) {
	a, _ := fakeAgent(t)
	md, err := a.MetaData("test:Fake")
	if err != nil {
		t.Fatal(err)
	}
	want := MetaData{
		Agent:     "ocf:test:Fake",
		Version:   "0.1",
		ShortDesc: "Fake agent",
		LongDesc:  "An agent for tests.",
		Parameters: []Parameter{
			{Name: "name", Required: true, Unique: true, Type: "string", ShortDesc: "Name", LongDesc: "The instance's name."},
			{Name: "envdir", Type: "string", ShortDesc: "Where to dump the environment"},
			{Name: "say", Type: "string", ShortDesc: "Printed on stderr"},
			{Name: "hang", Type: "string", ShortDesc: "Action that hangs"},
			{Name: "rc_start", Type: "integer", Default: "0", ShortDesc: "Exit code of start"},
			{Name: "rc_stop", Type: "integer", Default: "0", ShortDesc: "Exit code of stop"},
			{Name: "rc_monitor", Type: "integer", Default: "0", ShortDesc: "Exit code of monitor"},
			{Name: "rc_validate", Type: "integer", Default: "0", ShortDesc: "Exit code of validate-all"},
		},
		Actions: []Action{
			{Name: "start", Timeout: "20s"},
			{Name: "stop", Timeout: "20s"},
			{Name: "monitor", Timeout: "20s", Interval: "10s", Depth: "0"},
			{Name: "meta-data", Timeout: "5s"},
			{Name: "validate-all", Timeout: "20s"},
		},
	}
	if d := cmp.Diff(want, md); d != "" {
		t.Errorf("MetaData (-want +got):\n%s", d)
	}

	// Cached per version of the agent's file.
	calls := func() int {
		b, _ := os.ReadFile(filepath.Join(a.root, "meta-data-calls"))
		return strings.Count(string(b), "call")
	}
	for range 3 {
		if err := a.Validate(fakeResource()); err != nil {
			t.Fatal(err)
		}
	}
	if n := calls(); n != 1 {
		t.Errorf("meta-data ran %d times for one version of the agent, want 1", n)
	}
	later := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	if err := os.Chtimes(filepath.Join(a.root, "resource.d/test/Fake"), later, later); err != nil {
		t.Fatal(err)
	}
	if _, err := a.MetaData("ocf:test:Fake"); err != nil {
		t.Fatal(err)
	}
	if n := calls(); n != 2 {
		t.Errorf("meta-data ran %d times after the agent changed, want 2", n)
	}

	if _, err := a.MetaData("test:Nope"); err == nil || !strings.Contains(err.Error(), "ocf:test:Nope is not installed") {
		t.Errorf("MetaData(test:Nope) = %v", err)
	}
}

func TestParseMetaDataRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"not xml",
		`<other/>`,
		`<resource-agent><parameters><parameter name="a b"/></parameters></resource-agent>`,
		`<resource-agent><actions><action/></actions></resource-agent>`,
	} {
		if _, err := parseMetaData([]byte(in)); err == nil {
			t.Errorf("parseMetaData(%q) = nil error", in)
		}
	}
}

func TestMonitorExitCodes(t *testing.T) {
	a, _ := fakeAgent(t)
	tests := []struct {
		rc      int
		want    model.Health
		wantErr string
	}{
		{0, model.HealthRunning, ""},
		{7, model.HealthStopped, ""},
		{1, model.HealthFailed, "monitor f1 (ocf:test:Fake): ocf monitor exit 1 (OCF_ERR_GENERIC): oops"},
		{2, model.HealthFailed, "ocf monitor exit 2 (OCF_ERR_ARGS): oops"},
		{3, model.HealthFailed, "ocf monitor exit 3 (OCF_ERR_UNIMPLEMENTED): oops"},
		{4, model.HealthFailed, "ocf monitor exit 4 (OCF_ERR_PERM): oops"},
		{5, model.HealthFailed, "ocf monitor exit 5 (OCF_ERR_INSTALLED): oops"},
		{6, model.HealthFailed, "ocf monitor exit 6 (OCF_ERR_CONFIGURED): oops"},
		{8, model.HealthFailed, "ocf monitor exit 8 (OCF_RUNNING_PROMOTED): oops"},
		{9, model.HealthFailed, "ocf monitor exit 9 (OCF_FAILED_PROMOTED): oops"},
		{42, model.HealthFailed, "ocf monitor exit 42 (not an OCF exit code): oops"},
	}
	for _, tc := range tests {
		r := fakeResource("rc_monitor", strconv.Itoa(tc.rc), "say", "oops")
		h, err := a.Monitor(testCtx(t, 10*time.Second), r)
		if h != tc.want {
			t.Errorf("rc %d: Monitor = %s, want %s", tc.rc, h, tc.want)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("rc %d: Monitor error = %v, want nil", tc.rc, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("rc %d: Monitor error = %v, want it to contain %q", tc.rc, err, tc.wantErr)
		}
	}
}

func TestStartStopExitCodes(t *testing.T) {
	a, _ := fakeAgent(t)
	tests := []struct {
		op      string
		rc      int
		wantErr string // "" for nil
	}{
		{"start", 0, ""},
		{"start", 1, "start f1 (ocf:test:Fake): ocf start exit 1 (OCF_ERR_GENERIC): it broke"},
		{"start", 7, "ocf start exit 7 (OCF_NOT_RUNNING)"},
		{"stop", 0, ""},
		{"stop", 7, ""},
		{"stop", 1, "stop f1 (ocf:test:Fake): ocf stop exit 1 (OCF_ERR_GENERIC): it broke"},
		{"stop", 5, "ocf stop exit 5 (OCF_ERR_INSTALLED)"},
	}
	for _, tc := range tests {
		r := fakeResource("rc_"+tc.op, strconv.Itoa(tc.rc), "say", "some log line\nocf-exit-reason:it broke\nmore log")
		var err error
		if tc.op == "start" {
			err = a.Start(testCtx(t, 10*time.Second), r)
		} else {
			err = a.Stop(testCtx(t, 10*time.Second), r)
		}
		switch {
		case tc.wantErr == "" && err != nil:
			t.Errorf("%s rc %d = %v, want nil", tc.op, tc.rc, err)
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s rc %d = %v, want it to contain %q", tc.op, tc.rc, err, tc.wantErr)
		}
	}
}

func TestStartRunsValidateAllFirst(t *testing.T) {
	a, _ := fakeAgent(t)
	envdir := t.TempDir()
	r := fakeResource("envdir", envdir, "rc_validate", "6", "say", "ocf-exit-reason:name must be lowercase")
	err := a.Start(testCtx(t, 10*time.Second), r)
	want := "start f1 (ocf:test:Fake): ocf validate-all exit 6 (OCF_ERR_CONFIGURED): name must be lowercase"
	if err == nil || err.Error() != want {
		t.Errorf("Start = %v, want %s", err, want)
	}
	if _, err := os.Stat(filepath.Join(envdir, "start")); err == nil {
		t.Errorf("start ran although validate-all refused the resource")
	}
	// Unimplemented validate-all is no objection.
	r.Params["rc_validate"] = "3"
	if err := a.Start(testCtx(t, 10*time.Second), r); err != nil {
		t.Errorf("Start with validate-all exit 3 = %v", err)
	}
	// Start refuses parameters the meta-data does not declare, running nothing.
	if err := os.Remove(filepath.Join(envdir, "start")); err != nil {
		t.Fatal(err)
	}
	r.Params["bogus"] = "1"
	if err := a.Start(testCtx(t, 10*time.Second), r); err == nil || !strings.Contains(err.Error(), "params.bogus: not a parameter of ocf:test:Fake") {
		t.Errorf("Start(bogus) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(envdir, "start")); err == nil {
		t.Errorf("start ran with an unknown parameter")
	}
	// Stop does not check parameters against the meta-data: a resource
	// must stop even if its agent has dropped a parameter since it started.
	if err := a.Stop(testCtx(t, 10*time.Second), r); err != nil {
		t.Errorf("Stop(bogus) = %v", err)
	}
	if _, err := os.Stat(filepath.Join(envdir, "stop")); err != nil {
		t.Errorf("stop did not run: %v", err)
	}
}

func TestAgentSeesItsEnvironment(t *testing.T) {
	a, state := fakeAgent(t)
	t.Setenv("VIGIL_TEST_LEAK", "1") // the agent must not inherit vigil's environment
	envdir := t.TempDir()
	r := fakeResource("envdir", envdir)
	r.ID = "web"
	r.Ops.MonitorInterval = 10 * time.Second
	if h, err := a.Monitor(testCtx(t, 5*time.Second), r); h != model.HealthRunning {
		t.Fatalf("Monitor = %s, %v", h, err)
	}
	if err := a.Start(testCtx(t, 5*time.Second), r); err != nil {
		t.Fatal(err)
	}
	read := func(action string) map[string]string {
		b, err := os.ReadFile(filepath.Join(envdir, action))
		if err != nil {
			t.Fatal(err)
		}
		env := map[string]string{}
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, "="); ok {
				env[k] = v
			}
		}
		return env
	}
	mon, start := read("monitor"), read("start")
	for k, want := range map[string]string{
		"OCF_ROOT":                     a.root,
		"HA_RSCTMP":                    state,
		"OCF_RA_VERSION_MAJOR":         "1",
		"OCF_RA_VERSION_MINOR":         "1",
		"OCF_RESOURCE_INSTANCE":        "web",
		"OCF_RESOURCE_TYPE":            "Fake",
		"OCF_RESOURCE_PROVIDER":        "test",
		"OCF_RESKEY_name":              "f1",
		"OCF_RESKEY_envdir":            envdir,
		"OCF_RESKEY_CRM_meta_interval": "10000",
		"PATH":                         sanePath,
	} {
		if got := mon[k]; got != want {
			t.Errorf("monitor env %s = %q, want %q", k, got, want)
		}
	}
	if got := start["OCF_RESKEY_CRM_meta_interval"]; got != "0" {
		t.Errorf("start env OCF_RESKEY_CRM_meta_interval = %q, want 0", got)
	}
	for name, env := range map[string]map[string]string{"monitor": mon, "start": start} {
		ms, err := strconv.Atoi(env["OCF_RESKEY_CRM_meta_timeout"])
		if err != nil || ms <= 0 || ms > 5000 {
			t.Errorf("%s env OCF_RESKEY_CRM_meta_timeout = %q, want ms in (0, 5000] from the 5s context", name, env["OCF_RESKEY_CRM_meta_timeout"])
		}
		if _, ok := env["VIGIL_TEST_LEAK"]; ok {
			t.Errorf("%s env inherited VIGIL_TEST_LEAK from vigil's environment", name)
		}
		if _, ok := env["OCF_RESKEY_agent"]; ok {
			t.Errorf("%s env has OCF_RESKEY_agent; agent selects the agent, it is no parameter", name)
		}
	}

	// Without a deadline, the resource's timeout for the op applies.
	r.Ops.StopTimeout = 7 * time.Second
	if err := a.Stop(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	ms, _ := strconv.Atoi(read("stop")["OCF_RESKEY_CRM_meta_timeout"])
	if ms <= 5000 || ms > 7000 {
		t.Errorf("stop without deadline: OCF_RESKEY_CRM_meta_timeout = %d, want about 7000 from Ops.StopTimeout", ms)
	}
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	a, state := fakeAgent(t)
	for _, op := range []string{"start", "stop", "monitor"} {
		t.Run(op, func(t *testing.T) {
			r := fakeResource("hang", op, "say", "about to hang")
			ctx := testCtx(t, time.Second)
			var err error
			switch op {
			case "start":
				err = a.Start(ctx, r)
			case "stop":
				err = a.Stop(ctx, r)
			case "monitor":
				var h model.Health
				h, err = a.Monitor(ctx, r)
				if h != model.HealthFailed {
					t.Errorf("Monitor of a hanging agent = %s, want failed", h)
				}
			}
			if err == nil || !strings.Contains(err.Error(), "ocf "+op+" timeout after") || !strings.Contains(err.Error(), "about to hang") {
				t.Errorf("%s = %v, want a timeout error with the agent's stderr", op, err)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("%s error does not wrap context.DeadlineExceeded: %v", op, err)
			}
			// The agent's child, in its process group, died with it.
			b, err := os.ReadFile(filepath.Join(state, "hang.pid"))
			if err != nil {
				t.Fatalf("the hanging agent left no pid file: %v", err)
			}
			if err := os.Remove(filepath.Join(state, "hang.pid")); err != nil {
				t.Fatal(err)
			}
			pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
			if err != nil {
				t.Fatal(err)
			}
			waitGone(t, pid)
		})
	}
}

// waitGone fails unless process pid exits within 10s. It waits on a pidfd,
// so it does not poll.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	fd, err := unix.PidfdOpen(pid, 0)
	if errors.Is(err, unix.ESRCH) {
		return
	}
	if err != nil {
		t.Fatalf("pidfd_open %d: %v", pid, err)
	}
	defer unix.Close(fd)
	n, err := unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, 10_000)
	if err != nil {
		t.Fatalf("poll pidfd of %d: %v", pid, err)
	}
	if n == 0 {
		_ = unix.Kill(pid, unix.SIGKILL)
		t.Fatalf("process %d is still alive", pid)
	}
}

func TestCancelledContextRunsNothing(t *testing.T) {
	a, _ := fakeAgent(t)
	envdir := t.TempDir()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	r := fakeResource("envdir", envdir)
	if err := a.Start(ctx, r); !errors.Is(err, context.Canceled) {
		t.Errorf("Start(cancelled) = %v, want context.Canceled", err)
	}
	if h, err := a.Monitor(ctx, r); h != model.HealthFailed || !errors.Is(err, context.Canceled) {
		t.Errorf("Monitor(cancelled) = %s, %v", h, err)
	}
	if ents, _ := os.ReadDir(envdir); len(ents) != 0 {
		t.Errorf("the agent ran with a cancelled context: %v", ents)
	}
}

func TestDetail(t *testing.T) {
	tests := []struct {
		stderr, stdout, want string
	}{
		{"", "", "no output"},
		{"a\nb\n\nc\nd\n", "", "b | c | d"},
		{"", "only stdout\n", "only stdout"},
		{"log\nocf-exit-reason:first\nlog\nocf-exit-reason:  second \nlog\n", "", "second"},
	}
	for _, tc := range tests {
		if got := (result{stderr: []byte(tc.stderr), stdout: []byte(tc.stdout)}).detail(); got != tc.want {
			t.Errorf("detail(%q, %q) = %q, want %q", tc.stderr, tc.stdout, got, tc.want)
		}
	}
}

// syscallKill sends SIGKILL to pid.
func syscallKill(pid int) error { return unix.Kill(pid, unix.SIGKILL) }
