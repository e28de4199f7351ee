package daemon

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vigil-ha/vigil/internal/lease"
)

// A retired generation survives a restart: the file is written before the
// agreement returns, and a new process never grants that generation again.
// The agreement itself waits out the promises of the process, which count
// from its start.
func TestRetiredSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := lease.Config{Duration: 100 * time.Millisecond, StartBudget: 20 * time.Millisecond, StopBudget: 40 * time.Millisecond}
	synctest.Test(t, func(t *testing.T) {
		// In the bubble time is fake and exact: the granter started at
		// the bubble's start, so its promises count from there.
		g, err := newGrants(nil, cfg, dir)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		if err := g.retire(context.Background(), "n1", 3); err != nil {
			t.Fatal(err)
		}
		if took := time.Since(start); took != cfg.ObserverWait() {
			t.Errorf("retire returned after %v, want the observer wait %v from the start", took, cfg.ObserverWait())
		}
	})
	again, err := newGrants(nil, cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	if again.g.Grant("n1", 3, time.Now()) || again.g.Grant("n1", 0, time.Now()) {
		t.Error("a restarted granter grants a retired generation")
	}
	if !again.g.Grant("n1", 4, time.Now()) || !again.g.Grant("n2", 0, time.Now()) {
		t.Error("a restarted granter refuses a generation it never retired")
	}
	// A file it cannot read stops the daemon rather than forgetting.
	if err := os.WriteFile(filepath.Join(dir, retiredFile), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newGrants(nil, cfg, dir); err == nil {
		t.Error("a corrupt retired file was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	g2, err := newGrants(nil, cfg, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if err := g2.retire(ctx, "n1", 0); err == nil {
		t.Error("a retire whose caller gave up reported agreement")
	}
}
