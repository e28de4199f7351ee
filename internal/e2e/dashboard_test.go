package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/web/webtest"
)

// docsShot is where VIGIL_DOCS_SHOTS=1 keeps the failover screenshot for
// the documentation, from this package's directory.
const docsShot = "../../docs/dashboard-failover.png"

// dashboard is a `vigil lab dashboard` that a test started.
type dashboard struct {
	URL       string `json:"url"`
	Node      string `json:"node"`
	TokenFile string `json:"token_file"`

	cmd    *exec.Cmd
	mu     sync.Mutex
	stderr bytes.Buffer
}

func (d *dashboard) Write(b []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.Write(b)
}

func (d *dashboard) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

// startDashboard runs `vigil lab dashboard` on a free port, going through
// node first, and stops it (SIGTERM) when the test ends, before the lab
// goes down.
func (l *labT) startDashboard(node string) *dashboard {
	l.t.Helper()
	d := &dashboard{}
	d.cmd = exec.Command(vigilBin, "lab", "--name", l.name, "dashboard", "--port", "0", "--node", node, "-o", "json")
	d.cmd.Stderr = d
	out, err := d.cmd.StdoutPipe()
	if err != nil {
		l.t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() {
		_ = d.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- d.cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				l.t.Errorf("lab dashboard: %v\n%s", err, d.log())
			}
		case <-time.After(10 * time.Second):
			_ = d.cmd.Process.Kill()
			<-done
			l.t.Errorf("lab dashboard did not stop within 10s of SIGTERM\n%s", d.log())
		}
	})
	// It prints its JSON once it listens; it has pinged the node by then.
	if err := json.NewDecoder(out).Decode(d); err != nil {
		l.t.Fatalf("lab dashboard: %v\n%s", err, d.log())
	}
	go func() { _, _ = io.Copy(io.Discard, out) }() // it prints nothing more there
	return d
}

// TestDashboardFailover opens the dashboard as an operator does from the
// host, through `vigil lab dashboard`, signs in with DIR/token, and
// watches a failover: the holder of the demo's VIP is killed, and the
// page shows it offline, web-ip on another node, and the node.offline
// event. The forwarder goes through the holder, so it must fail over too.
func TestDashboardFailover(t *testing.T) {
	l := newLab(t, 3)

	// lab up handed out the token, with a mode fit for a secret.
	tokenFile := filepath.Join(l.dir, "token")
	var info struct {
		TokenFile string `json:"token_file"`
	}
	if out := l.must("lab", "status", "-o", "json"); json.Unmarshal([]byte(out), &info) != nil || info.TokenFile != tokenFile {
		t.Fatalf("lab status: token_file %q; want %s", info.TokenFile, tokenFile)
	}
	fi, err := os.Stat(tokenFile)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, %v; want mode 0600", tokenFile, fi.Mode(), err)
	}
	b, err := os.ReadFile(tokenFile)
	if err != nil {
		t.Fatal(err)
	}
	token := strings.TrimSpace(string(b))

	s, err := l.status("n1")
	if err != nil {
		t.Fatal(err)
	}
	holder := ""
	for _, r := range s.Resources {
		if r.ID == "web-ip" {
			holder = r.Node
		}
	}
	if holder == "" {
		t.Fatalf("web-ip runs nowhere: %+v", s.Resources)
	}
	survivors := others([]string{"n1", "n2", "n3"}, holder)

	d := l.startDashboard(holder)
	if d.Node != holder || d.TokenFile != tokenFile || !strings.HasPrefix(d.URL, "http://127.0.0.1:") {
		t.Fatalf("lab dashboard: %+v; want http://127.0.0.1:PORT/ui/ through %s with %s", d, holder, tokenFile)
	}

	page := webtest.Start(t, webtest.Config{Width: 1280, Height: 1000})
	if err := page.Navigate(d.URL); err != nil {
		t.Fatal(err)
	}
	// No token yet: the API says 401 and the page asks for one.
	if err := page.WaitJS(`document.querySelector('#login').open`); err != nil {
		t.Fatal(err)
	}
	if err := page.Type("#token", token); err != nil {
		t.Fatal(err)
	}
	if err := page.Click(`#login-form button[type="submit"]`); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitJS(`['n1','n2','n3'].every(n => document.querySelector('[data-node="' + n + '"]').dataset.state === 'online')`); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitText(`[data-resource="web-ip"] .res-node`, holder); err != nil {
		t.Fatal(err)
	}

	killed := time.Now()
	l.must("lab", "kill", holder)

	// The page reconnects through the forwarder, which now goes through a
	// survivor, and shows what that survivor sees.
	slow := page.WithTimeout(30 * time.Second)
	if err := slow.WaitJS(fmt.Sprintf(`document.querySelector('[data-node=%q]').dataset.state === 'offline'`, holder)); err != nil {
		t.Fatal(err)
	}
	if err := slow.WaitJS(fmt.Sprintf(`(() => { const r = document.querySelector('[data-resource="web-ip"]');
		return r.dataset.state === 'started' && %s.includes(r.querySelector('.res-node').textContent); })()`, jsList(survivors))); err != nil {
		t.Fatal(err)
	}
	if err := slow.WaitJS(fmt.Sprintf(`[...document.querySelectorAll('#events li[data-kind="node.offline"]')].some(li => li.innerText.includes(%q))`,
		holder+" is offline")); err != nil {
		t.Fatal(err)
	}
	t.Logf("the page showed the failover %.1fs after lab kill %s", time.Since(killed).Seconds(), holder)

	shot := filepath.Join(t.TempDir(), "dashboard-failover.png")
	if os.Getenv("VIGIL_DOCS_SHOTS") == "1" {
		shot = docsShot
	}
	if err := page.Screenshot(shot); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", shot)

	if log := d.log(); !strings.Contains(log, "now through ") {
		t.Errorf("lab dashboard did not say it failed over from %s; its log:\n%s", holder, log)
	}
	if p := page.Problems(); len(p) > 0 {
		t.Errorf("the page reported problems:\n%s", strings.Join(p, "\n"))
	}
}

// jsList is names as a JavaScript array literal.
func jsList(names []string) string {
	b, _ := json.Marshal(names)
	return string(b)
}
