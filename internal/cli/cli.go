// Package cli is the vigil command line: every subcommand's flags, output
// and exit codes. It is the only package that reads the process's
// arguments and environment; cmd/vigil's main only calls Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api/client"
)

// Exit codes that scripts can branch on.
const (
	ExitOK          = 0
	ExitFailure     = 1 // the command failed
	ExitUsage       = 2 // bad arguments or flags, or an invalid file
	ExitUnreachable = 3 // the daemon could not be reached
)

// Defaults a real node uses; the lab points commands elsewhere through the
// environment (VIGIL_SOCKET, VIGIL_CONFIG).
const (
	DefaultSocket = "/run/vigil/vigil.sock"
	DefaultConfig = "/etc/vigil/vigil.yaml"
)

// env is the process environment the CLI reads, injected for tests.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	executable     func() (string, error)
}

// usageError marks errors that deserve ExitUsage.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func usagef(format string, args ...any) error { return usageError{fmt.Errorf(format, args...)} }

// exitError carries a specific exit code (e.g. a command run by lab exec).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
func (e exitError) Unwrap() error { return e.err }

// Run runs the vigil command line with args (without the program name)
// and returns the exit code.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, executable: os.Executable}
	return e.run(ctx, args)
}

func (e *env) run(ctx context.Context, args []string) int {
	root := e.rootCmd()
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	var x exitError
	if errors.As(err, &x) {
		if x.err != nil && x.code != 0 && x.err.Error() != "" {
			fmt.Fprintln(e.stderr, "vigil:", x.err)
		}
		return x.code
	}
	fmt.Fprintln(e.stderr, "vigil:", err)
	var u usageError
	switch {
	case errors.As(err, &u):
		return ExitUsage
	case errors.Is(err, client.ErrUnreachable):
		return ExitUnreachable
	}
	return ExitFailure
}

func (e *env) rootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "vigil",
		Short: "vigil keeps services reachable when machines fail",
		Long: `vigil is a high-availability cluster manager for Linux: membership with
authenticated heartbeats, quorum, and replicated state on Raft, in one binary.

Exit codes: 0 success, 1 failure, 2 bad arguments or invalid file,
3 the daemon could not be reached.

Environment: VIGIL_SOCKET (default ` + DefaultSocket + `) and VIGIL_CONFIG
(default ` + DefaultConfig + `) point commands at a daemon; inside a lab node
(vigil lab exec) they are set for you.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(e.daemonCmd(), e.witnessCmd(), e.configCmd(), e.statusCmd(), e.resourceCmd(), e.nodeCmd(), e.explainCmd(), e.simulateCmd(),
		e.eventsCmd(), e.probeCmd(), e.labCmd(), e.tlsCmd(), e.versionCmd())
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// wrapArgs makes argument-count errors usage errors, recursively.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				return usageError{fmt.Errorf("%s: %w (see '%s --help')", cmd.CommandPath(), err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, sub := range c.Commands() {
		wrapArgs(sub)
	}
}

// Version is the vigil version; set at build time with -ldflags.
var Version = "dev"

func (e *env) versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(e.stdout, "vigil", Version)
			return nil
		},
	}
}

// socketPath is the daemon socket: the flag, else VIGIL_SOCKET, else the default.
func (e *env) socketPath(flag string) string {
	if flag != "" {
		return flag
	}
	if s := e.getenv("VIGIL_SOCKET"); s != "" {
		return s
	}
	return DefaultSocket
}

// configPath is the config file: the flag, else VIGIL_CONFIG, else the default.
func (e *env) configPath(flag string) string {
	if flag != "" {
		return flag
	}
	if s := e.getenv("VIGIL_CONFIG"); s != "" {
		return s
	}
	return DefaultConfig
}

// outputFlag registers --output (-o) with table and json.
func outputFlag(c *cobra.Command, v *string) {
	c.Flags().StringVarP(v, "output", "o", "table", "output format: table or json")
}

func checkOutput(v string) error {
	if v != "table" && v != "json" {
		return usagef("--output must be table or json, not %q", v)
	}
	return nil
}
