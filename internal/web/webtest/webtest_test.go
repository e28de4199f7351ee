package webtest_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/web/webtest"
)

// TestPage drives a small page: waits, a click, the records of exceptions
// and requests, a screenshot.
func TestPage(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write([]byte(`<!doctype html><title>t</title><p id="out">waiting</p>
<button id="go" onclick="document.getElementById('out').textContent = 'clicked'">go</button>
<script>setTimeout(() => { document.getElementById('out').textContent = 'ready'; }, 200);
console.error('a console error'); setTimeout(() => { throw new Error('boom'); }, 0);</script>`))
	}))
	t.Cleanup(srv.Close)
	page := webtest.Start(t, webtest.Config{Width: 400, Height: 300, Timeout: 5 * time.Second})
	if err := page.Navigate(srv.URL + "/"); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitText("#out", "ready"); err != nil {
		t.Fatal(err)
	}
	if err := page.Click("#go"); err != nil {
		t.Fatal(err)
	}
	if err := page.WaitText("body", "clicked"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := page.Eval("1 + 2", &n); err != nil || n != 3 {
		t.Errorf("Eval 1 + 2 = %d, %v; want 3", n, err)
	}
	p := strings.Join(page.Problems(), "\n")
	if !strings.Contains(p, "a console error") || !strings.Contains(p, "boom") {
		t.Errorf("Problems() = %q; want the console error and the exception", p)
	}
	if r := page.Requests(); len(r) == 0 || r[0] != srv.URL+"/" {
		t.Errorf("Requests() = %q; want %s/ first", r, srv.URL)
	}
	path := filepath.Join(t.TempDir(), "shot.png")
	if err := page.Screenshot(path); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(path); err != nil || !strings.HasPrefix(string(b), "\x89PNG") {
		t.Errorf("screenshot %s is not a PNG (%v)", path, err)
	}
	// A wait that cannot succeed ends with what the page shows.
	err := page.WithTimeout(300*time.Millisecond).WaitText("#out", "never")
	if err == nil || !strings.Contains(err.Error(), "the page shows") {
		t.Errorf("WaitText for text that never comes: %v; want a timeout that shows the page", err)
	}
}
