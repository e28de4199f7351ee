package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/api"
)

// vigilBin is the binary under test, built once by TestMain.
var vigilBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "vigil-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	vigilBin = filepath.Join(dir, "vigil")
	build := exec.Command("go", "build", "-o", vigilBin, "github.com/vigil-ha/vigil/cmd/vigil")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build vigil:", err)
		return 1
	}
	return m.Run()
}

// canLab skips the test unless this machine can build a lab.
func canLab(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("the lab needs root (network namespaces, bridges, nftables)")
	}
	for _, tool := range []string{"ip", "nft"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the lab needs %s: %v", tool, err)
		}
	}
	probe := fmt.Sprintf("vigilprobe%d", os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", probe).CombinedOutput(); err != nil {
		t.Skipf("this machine cannot create network namespaces: %v: %s", err, out)
	}
	_ = exec.Command("ip", "netns", "del", probe).Run()
}

// labT is a lab that one test owns.
type labT struct {
	t    *testing.T
	name string
	dir  string
}

// labNames gives each test of the run its own lab name.
var labSeq int

// newLab brings up a lab of n nodes, with `lab up` flags up if any, and
// registers its teardown.
func newLab(t *testing.T, n int, up ...string) *labT {
	t.Helper()
	return newLabIn(t, n, t.TempDir(), up...)
}

// newLabIn is newLab with the lab's directory chosen by the test.
func newLabIn(t *testing.T, n int, dir string, up ...string) *labT {
	t.Helper()
	canLab(t)
	labSeq++
	l := &labT{t: t, name: fmt.Sprintf("e%d%d", os.Getpid()%10000, labSeq), dir: dir}
	t.Cleanup(func() {
		if out, err := l.vigil("lab", "down"); err != nil {
			t.Errorf("lab down: %v\n%s", err, out)
		}
		if keep := os.Getenv("VIGIL_E2E_KEEP"); keep != "" && t.Failed() {
			to := filepath.Join(keep, l.name)
			if out, err := exec.Command("cp", "-a", l.dir, to).CombinedOutput(); err != nil {
				t.Logf("keep the lab's directory: %v: %s", err, out)
			} else {
				t.Logf("the lab's directory (daemon logs) is kept in %s", to)
			}
		}
	})
	args := append([]string{"lab", "up", "--nodes", fmt.Sprint(n), "--dir", l.dir, "--timeout", "60s"}, up...)
	if out, err := l.vigil(args...); err != nil {
		t.Fatalf("lab up: %v\n%s", err, out)
	}
	return l
}

// vigil runs the binary with the lab's name and returns its combined output.
func (l *labT) vigil(args ...string) (string, error) {
	if len(args) > 0 && args[0] == "lab" {
		args = append([]string{"lab", "--name", l.name}, args[1:]...)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var out bytes.Buffer
	cmd := exec.CommandContext(ctx, vigilBin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// must runs a vigil command that must succeed.
func (l *labT) must(args ...string) string {
	l.t.Helper()
	out, err := l.vigil(args...)
	if err != nil {
		l.t.Fatalf("vigil %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// status asks node's daemon, from inside its namespace, as an operator would.
func (l *labT) status(node string) (api.Status, error) {
	var s api.Status
	out, err := l.vigil("lab", "exec", node, "--", "vigil", "status", "--output", "json")
	if err != nil {
		return s, fmt.Errorf("status of %s: %v: %s", node, err, out)
	}
	if err := json.Unmarshal([]byte(out), &s); err != nil {
		return s, fmt.Errorf("status of %s: %v: %s", node, err, out)
	}
	return s, nil
}

// labInfo is `vigil lab status --output json`.
type labInfo struct {
	Nodes []struct {
		Name, Netns, Address string
		PID                  int
	} `json:"nodes"`
	ClientNetns string `json:"client_netns"`
	Dir         string `json:"dir"`
}

func (l *labT) info() labInfo {
	l.t.Helper()
	var li labInfo
	out := l.must("lab", "status", "--output", "json")
	if err := json.Unmarshal([]byte(out), &li); err != nil {
		l.t.Fatalf("lab status json: %v\n%s", err, out)
	}
	return li
}

// eventually polls cond every 100 ms until it holds or limit passes, and
// returns how long it took. The limit is a bound on the test, not an
// assertion on speed: figures are measured by the benchmarks.
func (l *labT) eventually(what string, limit time.Duration, cond func() error) time.Duration {
	l.t.Helper()
	start := time.Now()
	var err error
	for time.Since(start) < limit {
		if err = cond(); err == nil {
			return time.Since(start)
		}
		time.Sleep(100 * time.Millisecond)
	}
	l.t.Fatalf("%s: not within %s: %v\n%s", what, limit, err, l.logs())
	return 0
}

func (l *labT) logs() string {
	var b strings.Builder
	for _, n := range l.info().Nodes {
		data, _ := os.ReadFile(filepath.Join(l.dir, n.Name, "daemon.log"))
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 12 {
			lines = lines[len(lines)-12:]
		}
		fmt.Fprintf(&b, "--- %s ---\n%s\n", n.Name, strings.Join(lines, "\n"))
	}
	return b.String()
}

// agreedLeader checks that every listed node answers with quorum and names
// the same leader, one of them, and returns it.
func (l *labT) agreedLeader(nodes ...string) (string, error) {
	leader := ""
	for _, n := range nodes {
		s, err := l.status(n)
		if err != nil {
			return "", err
		}
		if !s.Quorum || s.Leader == "" {
			return "", fmt.Errorf("%s: quorum %v, leader %q", n, s.Quorum, s.Leader)
		}
		if leader != "" && leader != s.Leader {
			return "", fmt.Errorf("%s names leader %s, another node %s", n, s.Leader, leader)
		}
		leader = s.Leader
	}
	for _, n := range nodes {
		if n == leader {
			return leader, nil
		}
	}
	return "", fmt.Errorf("leader %s is not among %v", leader, nodes)
}

func nodeOf(s api.Status, name string) api.Node {
	for _, n := range s.Nodes {
		if n.Name == name {
			return n
		}
	}
	return api.Node{}
}

func others(all []string, not string) []string {
	var out []string
	for _, n := range all {
		if n != not {
			out = append(out, n)
		}
	}
	return out
}
