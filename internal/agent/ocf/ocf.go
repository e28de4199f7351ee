// Package ocf runs OCF resource agents (Debian's resource-agents, or any
// agent installed under an OCF root) unchanged, the way Pacemaker's
// executor does: one process per action, parameters as OCF_RESKEY_*
// environment variables, the result in the exit code.
//
// A resource of kind "ocf" names its agent with the parameter agent,
// "PROVIDER:TYPE" or "ocf:PROVIDER:TYPE" (e.g. "heartbeat:IPaddr2"); every
// other parameter is passed to the agent as OCF_RESKEY_<name> and must be
// one the agent's meta-data declares.
package ocf

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// Config configures an Agent. Zero fields take the documented defaults.
type Config struct {
	// Root is the OCF root holding resource.d/PROVIDER/TYPE and the shell
	// library; it is passed to agents as OCF_ROOT. Default /usr/lib/ocf.
	Root string
	// StateDir is where agents keep their state files (HA_RSCTMP: Dummy's
	// state file, IPaddr2's send_arp pid file). It is created when an action
	// needs it. Default /run/resource-agents, as resource-agents' own.
	StateDir string
	// Netns, if set, is the name of a network namespace (as `ip netns`
	// knows it) that every resource action runs in, through
	// `ip netns exec`. "" runs agents in the current namespace. meta-data
	// always runs in the current namespace.
	Netns string
	// Log receives agents' stderr (at debug level) and the kills of agents
	// that outlived their operation's context. Default: discard.
	Log *slog.Logger
}

// The defaults of Config.
const (
	DefaultRoot     = "/usr/lib/ocf"
	DefaultStateDir = "/run/resource-agents"
)

// defaultOpTimeout bounds an operation whose context has no deadline and
// whose resource sets no timeout for it: model.Ops's documented default.
const defaultOpTimeout = 20 * time.Second

// metaDataTimeout bounds a meta-data call made by Validate or MetaData,
// which take no context.
const metaDataTimeout = 10 * time.Second

// Agent runs OCF resource agents. It implements agent.Agent and is safe for
// concurrent use.
type Agent struct {
	root     string
	stateDir string
	netns    string
	ipPath   string // the ip binary, when netns is set
	log      *slog.Logger

	mu    sync.Mutex
	metas map[string]cachedMeta // by agent path
}

// New returns an Agent for cfg, or an error naming every impossible field.
// It does not check that any agent is installed: Validate does, per
// resource.
func New(cfg Config) (*Agent, error) {
	a := &Agent{
		root:     cfg.Root,
		stateDir: cfg.StateDir,
		netns:    cfg.Netns,
		log:      cfg.Log,
		metas:    make(map[string]cachedMeta),
	}
	if a.root == "" {
		a.root = DefaultRoot
	}
	if a.stateDir == "" {
		a.stateDir = DefaultStateDir
	}
	if a.log == nil {
		a.log = slog.New(slog.DiscardHandler)
	}
	var errs []error
	if !filepath.IsAbs(a.root) {
		errs = append(errs, fmt.Errorf("ocf config: Root %q is not an absolute path", a.root))
	}
	if !filepath.IsAbs(a.stateDir) {
		errs = append(errs, fmt.Errorf("ocf config: StateDir %q is not an absolute path", a.stateDir))
	}
	if a.netns != "" {
		if !validName(a.netns) {
			errs = append(errs, fmt.Errorf("ocf config: Netns %q is not a namespace name", a.netns))
		}
		ip, err := lookPath("ip")
		if err != nil {
			errs = append(errs, fmt.Errorf("ocf config: Netns %q needs the ip command: %w", a.netns, err))
		}
		a.ipPath = ip
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	a.root = filepath.Clean(a.root)
	a.stateDir = filepath.Clean(a.stateDir)
	return a, nil
}

// Validate checks that r names an installed agent, gives every parameter
// the agent's meta-data marks required and no parameter it does not
// declare. It runs the agent's meta-data action (once per agent version:
// the result is cached) and nothing else.
func (a *Agent) Validate(r model.Resource) error {
	ctx, cancel := context.WithTimeout(context.Background(), metaDataTimeout)
	defer cancel()
	_, _, err := a.check(ctx, r)
	return err
}

// Start validates r, runs the agent's validate-all (when its meta-data
// declares one) and then start. The agent's start must be idempotent, as
// OCF requires.
func (a *Agent) Start(ctx context.Context, r model.Resource) error {
	ctx, cancel := opContext(ctx, r.Ops.StartTimeout)
	defer cancel()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("start %s: not started: %w", r.ID, err)
	}
	ra, md, err := a.check(ctx, r)
	if err != nil {
		return fmt.Errorf("start %s: %w", r.ID, err)
	}
	if md.hasAction("validate-all") {
		res, err := a.call(ctx, r, ra, "validate-all", 0)
		if err != nil {
			return fmt.Errorf("start %s (%s): %w", r.ID, ra, err)
		}
		// An agent that lists validate-all but does not implement it
		// (exit 3) has nothing to say.
		if res.code != exitSuccess && res.code != exitUnimplemented {
			return fmt.Errorf("start %s (%s): %w", r.ID, ra, res.err("validate-all"))
		}
	}
	res, err := a.call(ctx, r, ra, "start", 0)
	if err != nil {
		return fmt.Errorf("start %s (%s): %w", r.ID, ra, err)
	}
	if res.code != exitSuccess {
		return fmt.Errorf("start %s (%s): %w", r.ID, ra, res.err("start"))
	}
	return nil
}

// Stop runs the agent's stop; exit 0 or 7 (not running) mean stopped.
// Stop checks only that the agent is installed, not the parameters against
// the meta-data: a resource started under an older agent must still stop.
func (a *Agent) Stop(ctx context.Context, r model.Resource) error {
	ctx, cancel := opContext(ctx, r.Ops.StopTimeout)
	defer cancel()
	ra, err := a.installed(r)
	if err != nil {
		return fmt.Errorf("stop %s: %w", r.ID, err)
	}
	res, err := a.call(ctx, r, ra, "stop", 0)
	if err != nil {
		return fmt.Errorf("stop %s (%s): %w", r.ID, ra, err)
	}
	if res.code != exitSuccess && res.code != exitNotRunning {
		return fmt.Errorf("stop %s (%s): %w", r.ID, ra, res.err("stop"))
	}
	return nil
}

// Monitor runs the agent's monitor with r's monitor interval (so an
// interval of 0 is an OCF probe): exit 0 is Running, 7 Stopped, and any
// other exit, a timeout or an agent that cannot be run is Failed with an
// error saying so. Exit 8 and 9 (promoted) are Failed too: vigil has no
// promotable resources, so an agent that reports a role is misconfigured.
func (a *Agent) Monitor(ctx context.Context, r model.Resource) (model.Health, error) {
	ctx, cancel := opContext(ctx, r.Ops.MonitorTimeout)
	defer cancel()
	ra, err := a.installed(r)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s: %w", r.ID, err)
	}
	res, err := a.call(ctx, r, ra, "monitor", r.Ops.MonitorInterval)
	if err != nil {
		return model.HealthFailed, fmt.Errorf("monitor %s (%s): %w", r.ID, ra, err)
	}
	switch res.code {
	case exitSuccess:
		return model.HealthRunning, nil
	case exitNotRunning:
		return model.HealthStopped, nil
	default:
		return model.HealthFailed, fmt.Errorf("monitor %s (%s): %w", r.ID, ra, res.err("monitor"))
	}
}

// MetaData returns the meta-data of agent ("PROVIDER:TYPE" or
// "ocf:PROVIDER:TYPE"): its parameters and actions, as the agent's
// meta-data action prints them. The result is cached per agent version.
func (a *Agent) MetaData(agent string) (MetaData, error) {
	ra, err := parseAgent(agent)
	if err != nil {
		return MetaData{}, fmt.Errorf("meta-data of %q: %w", agent, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), metaDataTimeout)
	defer cancel()
	md, err := a.metaData(ctx, ra)
	if err != nil {
		return MetaData{}, fmt.Errorf("meta-data of %s: %w", ra, err)
	}
	return md.clone(), nil
}

// check validates r against its agent's meta-data and joins every problem.
func (a *Agent) check(ctx context.Context, r model.Resource) (raRef, MetaData, error) {
	var errs []error
	ra, err := a.installed(r)
	if err != nil {
		errs = append(errs, err)
	}
	for name := range r.Params {
		if name != "agent" && !validParamName(name) {
			errs = append(errs, fmt.Errorf("params.%s: not a valid OCF parameter name (letters, digits and _)", name))
		}
	}
	if err != nil {
		return ra, MetaData{}, errors.Join(errs...)
	}
	md, err := a.metaData(ctx, ra)
	if err != nil {
		errs = append(errs, fmt.Errorf("params.agent: %w", err))
		return ra, MetaData{}, errors.Join(errs...)
	}
	known := make(map[string]bool, len(md.Parameters))
	var names []string
	for _, p := range md.Parameters {
		known[p.Name] = true
		names = append(names, p.Name)
		if _, ok := r.Params[p.Name]; p.Required && !ok {
			errs = append(errs, fmt.Errorf("params.%s: required by %s", p.Name, ra))
		}
	}
	sort.Strings(names)
	var unknown []string
	for name := range r.Params {
		if name != "agent" && validParamName(name) && !known[name] {
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		errs = append(errs, fmt.Errorf("params.%s: not a parameter of %s (known: %s)", name, ra, strings.Join(names, ", ")))
	}
	return ra, md, errors.Join(errs...)
}

// installed parses r's agent parameter and checks that the agent is an
// executable file.
func (a *Agent) installed(r model.Resource) (raRef, error) {
	s, ok := r.Params["agent"]
	if !ok {
		return raRef{}, errors.New("params.agent: required (PROVIDER:TYPE, e.g. heartbeat:Dummy)")
	}
	ra, err := parseAgent(s)
	if err != nil {
		return raRef{}, fmt.Errorf("params.agent: %w", err)
	}
	if _, err := a.executable(ra); err != nil {
		return ra, fmt.Errorf("params.agent: %w", err)
	}
	return ra, nil
}

// executable stats ra's file and returns its info if it is an executable
// regular file.
func (a *Agent) executable(ra raRef) (os.FileInfo, error) {
	path := a.path(ra)
	fi, err := os.Stat(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s is not installed (no %s)", ra, path)
		}
		return nil, fmt.Errorf("%s: %w", ra, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return nil, fmt.Errorf("%s: %s is not an executable file", ra, path)
	}
	return fi, nil
}

// path is where ra's executable lives.
func (a *Agent) path(ra raRef) string {
	return filepath.Join(a.root, "resource.d", ra.provider, ra.typ)
}

// opContext gives ctx a deadline if it has none: the resource's timeout
// for the operation, or defaultOpTimeout. An agent call is never unbounded.
func opContext(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	if d <= 0 {
		d = defaultOpTimeout
	}
	return context.WithTimeout(ctx, d)
}

// raRef names an OCF resource agent.
type raRef struct {
	provider, typ string
}

// String returns the agent's full name, e.g. "ocf:heartbeat:Dummy".
func (ra raRef) String() string { return "ocf:" + ra.provider + ":" + ra.typ }

// parseAgent parses "PROVIDER:TYPE" or "ocf:PROVIDER:TYPE".
func parseAgent(s string) (raRef, error) {
	parts := strings.Split(s, ":")
	if len(parts) == 3 {
		if parts[0] != "ocf" {
			return raRef{}, fmt.Errorf("%q: class %q is not supported (only ocf)", s, parts[0])
		}
		parts = parts[1:]
	}
	if len(parts) != 2 {
		return raRef{}, fmt.Errorf("%q is not PROVIDER:TYPE (e.g. heartbeat:Dummy)", s)
	}
	ra := raRef{provider: parts[0], typ: parts[1]}
	if !validName(ra.provider) {
		return raRef{}, fmt.Errorf("%q: provider %q is not a file name", s, ra.provider)
	}
	if !validName(ra.typ) {
		return raRef{}, fmt.Errorf("%q: type %q is not a file name", s, ra.typ)
	}
	return ra, nil
}

// validName reports whether s is a plain file name made of letters,
// digits, '.', '_' and '-' (not "." or ".."), safe to join to a path.
func validName(s string) bool {
	if s == "" || s == "." || s == ".." || len(s) > 255 {
		return false
	}
	for _, c := range s {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return false
		}
	}
	return true
}

// validParamName reports whether name can be the suffix of an environment
// variable that shell agents read: [A-Za-z_][A-Za-z0-9_]*.
func validParamName(name string) bool {
	if name == "" {
		return false
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || i > 0 && c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}
