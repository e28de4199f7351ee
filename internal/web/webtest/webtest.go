// Package webtest drives a real headless Chromium (Debian's chromium
// package) from Go tests, over the DevTools protocol with chromedp: start
// a browser on a fresh profile, wait for the page to show something, click,
// take a screenshot. The dashboard's own tests and the lab's end-to-end
// tests share it.
//
// A test that calls Start is skipped, with the reason, when Chromium is not
// installed; nothing here installs it. The browser and its processes end
// when the test does.
package webtest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"
)

// Chromium is where Debian's chromium package installs the browser.
const Chromium = "/usr/bin/chromium"

// DefaultTimeout bounds each wait and action of a Page whose Config sets
// no Timeout.
const DefaultTimeout = 15 * time.Second

// Config is how Start launches the browser. The zero Config is a
// 1280×900 window with DefaultTimeout.
type Config struct {
	Width, Height int
	// Timeout bounds every wait and action (each on its own); 0 means
	// DefaultTimeout.
	Timeout time.Duration
}

// Page is one tab of a headless Chromium that a test started. Its methods
// block until done or until the Page's timeout, and are safe to call from
// the test's goroutine only (the records they read are concurrency-safe).
type Page struct {
	tb      testing.TB
	timeout time.Duration
	// ctx is chromedp's handle on the tab, not a request's scope: chromedp
	// addresses a browser through a context, and the Page is that handle
	// for the test's lifetime (cancelled in the test's Cleanup).
	ctx context.Context
	rec *records // shared with the Pages that WithTimeout returns
}

// records are what the tab reported, appended to by chromedp's event loop.
type records struct {
	mu       sync.Mutex
	problems []string // uncaught exceptions and console.error calls
	requests []string // every URL the page requested
}

// Start launches Chromium on a fresh profile in tb.TempDir() and opens a
// blank tab. It skips tb when Chromium is not installed at Chromium. The
// browser is closed, and its process waited for, in tb's Cleanup.
func Start(tb testing.TB, cfg Config) *Page {
	tb.Helper()
	if _, err := os.Stat(Chromium); err != nil {
		tb.Skipf("no headless browser: %s is missing (apt-get install chromium)", Chromium)
	}
	if cfg.Width == 0 {
		cfg.Width = 1280
	}
	if cfg.Height == 0 {
		cfg.Height = 900
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Chromium),
		chromedp.UserDataDir(filepath.Join(tb.TempDir(), "profile")),
		chromedp.WindowSize(cfg.Width, cfg.Height),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true), // tests run as root, where the sandbox refuses to start
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		// Nothing but the test's own pages: no update, sync, metrics or
		// other calls home.
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-default-apps", true),
		chromedp.Flag("disable-domain-reliability", true),
		chromedp.Flag("disable-client-side-phishing-detection", true),
		chromedp.Flag("no-pings", true),
		chromedp.Flag("metrics-recording-only", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider,AutofillServerCommunication"),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(allocCtx, chromedp.WithLogf(tb.Logf))
	// Cancelling the allocator kills the browser and waits for it to exit,
	// so the profile directory can be removed after.
	tb.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	p := &Page{tb: tb, timeout: cfg.Timeout, ctx: ctx, rec: &records{}}
	// Listen starts the browser and opens the tab; chromedp enables the
	// network and runtime domains, whose events record reads.
	if err := chromedp.Listen(ctx, p.rec.record); err != nil {
		tb.Fatalf("start %s: %v", Chromium, err)
	}
	return p
}

// WithTimeout returns the same tab with another bound on each wait and
// action, e.g. a longer one for a failover to show.
func (p *Page) WithTimeout(d time.Duration) *Page {
	q := *p
	q.timeout = d
	return &q
}

func (p *records) record(ev any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch ev := ev.(type) {
	case *runtime.EventExceptionThrown:
		d := ev.ExceptionDetails
		msg := d.Text
		if d.Exception != nil && d.Exception.Description != "" {
			msg = d.Exception.Description
		}
		p.problems = append(p.problems, fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber+1, msg))
	case *runtime.EventConsoleAPICalled:
		if ev.Type != runtime.ConsoleAPICalledTypeError {
			return
		}
		var parts []string
		for _, a := range ev.Args {
			if a.Description != "" {
				parts = append(parts, a.Description)
			} else {
				parts = append(parts, string(a.Value))
			}
		}
		p.problems = append(p.problems, "console.error: "+strings.Join(parts, " "))
	case *network.EventRequestWillBeSent:
		p.requests = append(p.requests, ev.Request.URL)
	}
}

// Problems returns the page's uncaught exceptions and console.error calls
// so far, in order.
func (p *Page) Problems() []string {
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	return append([]string(nil), p.rec.problems...)
}

// Requests returns every URL the page has requested so far, in order.
func (p *Page) Requests() []string {
	p.rec.mu.Lock()
	defer p.rec.mu.Unlock()
	return append([]string(nil), p.rec.requests...)
}

// do runs steps under the Page's timeout.
func (p *Page) do(what string, steps ...chromedp.Action[chromedp.Void]) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// Navigate loads url and waits for its document to load.
func (p *Page) Navigate(url string) error {
	return p.do("navigate to "+url, chromedp.Navigate(url))
}

// Reload reloads the page.
func (p *Page) Reload() error { return p.do("reload", chromedp.Reload()) }

// Eval evaluates a JavaScript expression in the page and decodes its value
// into out (nil to ignore it). A promise is awaited.
func (p *Page) Eval(expr string, out any) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[[]byte](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return fmt.Errorf("evaluate %s: %w", expr, err)
	}
	if out == nil {
		return nil
	}
	if len(raw) == 0 { // undefined
		raw = json.RawMessage("null")
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("evaluate %s: decode %s: %w", expr, raw, err)
	}
	return nil
}

// pollInterval is how often the Wait methods look at the page.
const pollInterval = 50 * time.Millisecond

// WaitJS waits until the JavaScript expression cond is true in the page,
// evaluating it every 50 ms for at most the Page's timeout. The error
// tells what the page showed when the time was up. An expression that
// throws counts as false (the element it reads may not be there yet).
func (p *Page) WaitJS(cond string) error {
	deadline := time.Now().Add(p.timeout)
	expr := "(() => { try { return !!(" + cond + "); } catch (e) { return false; } })()"
	for {
		ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
		cancel()
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("wait for %s: %w", cond, err)
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("wait for %s: still false after %v; the page shows:\n%s", cond, p.timeout, p.Text())
		}
		select {
		case <-p.ctx.Done():
			return fmt.Errorf("wait for %s: %w", cond, p.ctx.Err())
		case <-time.After(pollInterval):
		}
	}
}

// WaitText waits until the text of the element that selector finds (a CSS
// selector; "body" for the whole page) contains text, as a person would
// read it (innerText: hidden elements excluded).
func (p *Page) WaitText(selector, text string) error {
	sel, _ := json.Marshal(selector)
	want, _ := json.Marshal(text)
	return p.WaitJS(fmt.Sprintf("document.querySelector(%s).innerText.includes(%s)", sel, want))
}

// Text returns the page's visible text, at most 4000 characters, or the
// reason it could not be read.
func (p *Page) Text() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string]("document.body ? document.body.innerText : ''"))
	if err != nil {
		return "(cannot read the page: " + err.Error() + ")"
	}
	if len(s) > 4000 {
		s = s[:4000] + "…"
	}
	return s
}

// Click clicks the first visible element that the CSS selector finds,
// waiting for it to be visible and enabled.
func (p *Page) Click(selector string) error {
	return p.do("click "+selector,
		chromedp.WaitVisible(chromedp.CSS(selector)),
		chromedp.WaitEnabled(chromedp.CSS(selector)),
		chromedp.Click(chromedp.CSS(selector)))
}

// SetValue sets the value of the input or select that selector finds,
// as typing would, and fires its input and change events.
func (p *Page) SetValue(selector, value string) error {
	return p.do("set "+selector,
		chromedp.WaitVisible(chromedp.CSS(selector)),
		chromedp.SetValue(chromedp.CSS(selector), value))
}

// Type focuses the element that selector finds and types text into it
// (a trailing "\r" presses Enter).
func (p *Page) Type(selector, text string) error {
	return p.do("type into "+selector,
		chromedp.WaitVisible(chromedp.CSS(selector)),
		chromedp.SendKeys(chromedp.CSS(selector), text))
}

// ColorScheme makes the page see prefers-color-scheme as scheme ("light"
// or "dark"); "" follows the system again.
func (p *Page) ColorScheme(scheme string) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	params := emulation.SetEmulatedMediaParams{}
	if scheme != "" {
		params.Features = []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}
	}
	if _, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, params); err != nil {
		return fmt.Errorf("emulate prefers-color-scheme %q: %w", scheme, err)
	}
	return nil
}

// Screenshot writes a PNG of the whole page (beyond the window, if the page
// is longer) to path, creating its directory.
func (p *Page) Screenshot(path string) error {
	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return fmt.Errorf("screenshot: %w", err)
	}
	return nil
}

// ScreenshotEnv is the environment variable that tells ScreenshotFor
// where to keep screenshots: a file path ending in ".png", or a directory.
const ScreenshotEnv = "VIGIL_WEB_SCREENSHOT"

// ScreenshotFor writes a screenshot for a test and returns its path: to
// the file that ScreenshotEnv names if it ends in ".png", else to
// name+".png" in the directory it names, or, when it is unset, in
// tb.TempDir(). Only tests call it (library code reads no environment).
func (p *Page) ScreenshotFor(tb testing.TB, name string) string {
	tb.Helper()
	path := os.Getenv(ScreenshotEnv)
	switch {
	case path == "":
		path = filepath.Join(tb.TempDir(), name+".png")
	case !strings.HasSuffix(path, ".png"):
		path = filepath.Join(path, name+".png")
	}
	if err := p.Screenshot(path); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("screenshot: %s", path)
	return path
}
