package daemon

import (
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/vigil-ha/vigil/internal/agent"
	"github.com/vigil-ha/vigil/internal/agent/exec"
	"github.com/vigil-ha/vigil/internal/agent/ocf"
	"github.com/vigil-ha/vigil/internal/agent/script"
	"github.com/vigil-ha/vigil/internal/agent/systemd"
	"github.com/vigil-ha/vigil/internal/agent/vip"
)

// closer is an agent that holds resources of its own (connections,
// refresh loops) until closed.
type closer interface{ Close() error }

// agents builds the registry of every agent kind, with their state under
// the data directory. The daemon closes those that need it on shutdown.
func agents(dataDir string, log *slog.Logger) (agent.Registry, error) {
	reg := agent.Registry{}
	v, err := vip.New(vip.Config{Log: log.With("agent", "vip")})
	if err != nil {
		return nil, fmt.Errorf("vip agent: %w", err)
	}
	reg["vip"] = v
	x, err := exec.New(exec.Config{StateDir: filepath.Join(dataDir, "exec"), Log: log.With("agent", "exec")})
	if err != nil {
		return nil, fmt.Errorf("exec agent: %w", err)
	}
	reg["exec"] = x
	sc, err := script.New(script.Config{Log: log.With("agent", "script")})
	if err != nil {
		return nil, fmt.Errorf("script agent: %w", err)
	}
	reg["script"] = sc
	o, err := ocf.New(ocf.Config{StateDir: filepath.Join(dataDir, "ocf"), Log: log.With("agent", "ocf")})
	if err != nil {
		return nil, fmt.Errorf("ocf agent: %w", err)
	}
	reg["ocf"] = o
	s, err := systemd.New(systemd.Config{Log: log.With("agent", "systemd")})
	if err != nil {
		return nil, fmt.Errorf("systemd agent: %w", err)
	}
	reg["systemd"] = s
	return reg, nil
}

// closeAgents closes the agents that hold resources.
func closeAgents(reg agent.Registry, log *slog.Logger) {
	for kind, a := range reg {
		if c, ok := a.(closer); ok {
			if err := c.Close(); err != nil {
				log.Warn("close agent", "kind", kind, "err", err)
			}
		}
	}
}
