// Package cli is the vigil command line: every subcommand's flags, output
// and exit codes. It is the only package that reads the process's
// arguments and environment; cmd/vigil's main only calls Run.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
)

// Exit codes that scripts can branch on. They are documented in the
// root's --help and in README; never renumber one.
const (
	ExitOK          = 0
	ExitFailure     = 1 // the command failed, or the answer is "no" (a probe failed, a certificate is not valid)
	ExitUsage       = 2 // bad arguments or flags, an unknown node or resource, or an invalid file
	ExitUnreachable = 3 // the daemon could not be reached
	ExitNoQuorum    = 4 // the cluster refused: no quorum or no leader, as the node asked sees it; nothing was changed
	ExitConflict    = 5 // the cluster refused: the change conflicts with its state (HTTP 409, or 412 for --if-match)
)

// exitCodesHelp is the "Exit codes" section of the root's --help.
const exitCodesHelp = `Exit codes:
  0  success
  1  the command failed, or the answer is no (a probe got no answer,
     a certificate is not valid)
  2  usage: bad flags or arguments, an unknown node or resource, an
     invalid config file
  3  the daemon could not be reached
  4  no quorum or no leader: the cluster refused the change and nothing
     was changed
  5  conflict: the change contradicts the cluster's state (restart of a
     resource that is not running, confirm-down of a node that is online,
     config apply --if-match N when another change came first)`

// Defaults a real node uses; the lab points commands elsewhere through the
// environment (VIGIL_SOCKET, VIGIL_CONFIG).
const (
	DefaultSocket = "/run/vigil/vigil.sock"
	DefaultConfig = "/etc/vigil/vigil.yaml"
)

// env is the process environment the CLI reads, injected for tests, and
// the state of one run: the connection flags and the daemon dialled.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	executable     func() (string, error)
	now            func() time.Time     // the clock of status --watch's header
	isTerminal     func(io.Writer) bool // whether w is a terminal (status --watch redraws in place)

	conn   connFlags
	dialed *target // the daemon dial last chose, for messages
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
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr, getenv: os.Getenv, executable: os.Executable,
		now: time.Now, isTerminal: isTerminal}
	return e.run(ctx, args)
}

// isTerminal reports whether w is a character device (a terminal).
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func (e *env) run(ctx context.Context, args []string) int {
	if e.now == nil {
		e.now = time.Now
	}
	if e.isTerminal == nil {
		e.isTerminal = func(io.Writer) bool { return false }
	}
	root := e.rootCmd()
	root.SetArgs(args)
	root.SetIn(e.stdin)
	root.SetOut(e.stdout)
	root.SetErr(e.stderr)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return ExitOK
	}
	return e.exitCode(ctx, err)
}

// exitCode prints err and returns its exit code. Every command's errors
// come here, so that an unreachable daemon, a cluster without quorum and
// a conflict read and exit the same whichever command met them.
func (e *env) exitCode(ctx context.Context, err error) int {
	var x exitError
	if errors.As(err, &x) {
		if x.err != nil && x.code != 0 && x.err.Error() != "" {
			fmt.Fprintln(e.stderr, "vigil:", x.err)
		}
		return x.code
	}
	var u usageError
	if errors.As(err, &u) {
		fmt.Fprintln(e.stderr, "vigil:", err)
		return ExitUsage
	}
	if errors.Is(err, client.ErrUnreachable) {
		fmt.Fprintln(e.stderr, "vigil:", e.unreachableMessage(err))
		return ExitUnreachable
	}
	var ae *api.Error
	if errors.As(err, &ae) {
		switch {
		case ae.Status == http.StatusServiceUnavailable && isNoQuorum(ae):
			fmt.Fprintln(e.stderr, "vigil:", e.noQuorumMessage(ctx, ae))
			return ExitNoQuorum
		case ae.Status == http.StatusConflict:
			fmt.Fprintln(e.stderr, "vigil:", err)
			return ExitConflict
		case ae.Status == http.StatusBadRequest || ae.Status == http.StatusNotFound:
			fmt.Fprintln(e.stderr, "vigil:", err)
			return ExitUsage
		case ae.Status == http.StatusUnauthorized || ae.Status == http.StatusForbidden:
			fmt.Fprintf(e.stderr, "vigil: %v\n(the daemon refused the credentials: check --token-file, or --tls-dir and --tls-name)\n", err)
			return ExitFailure
		}
	}
	fmt.Fprintln(e.stderr, "vigil:", err)
	return ExitFailure
}

// isNoQuorum reports whether a 503 is the cluster refusing for want of
// quorum or of a leader (rather than a daemon still starting).
func isNoQuorum(ae *api.Error) bool {
	m := strings.ToLower(ae.Message)
	return strings.Contains(m, "quorum") || strings.Contains(m, "leader")
}

// noQuorumMessage says why the cluster refused: for want of quorum, with
// the count of voters the node asked sees (asked again, briefly); for
// want of a leader, the daemon's own words.
func (e *env) noQuorumMessage(ctx context.Context, ae *api.Error) string {
	if !strings.Contains(strings.ToLower(ae.Message), "quorum") || e.dialed == nil {
		return ae.Error()
	}
	where := e.dialed.where()
	cl, err := e.dial(2 * time.Second)
	if err != nil {
		return fmt.Sprintf("the cluster has no quorum as the daemon at %s sees it: %s", where, ae.Error())
	}
	defer cl.Close()
	s, err := cl.Status(ctx)
	if err != nil || s.Quorum {
		return fmt.Sprintf("the cluster had no quorum as the daemon at %s saw it: %s", where, ae.Error())
	}
	q := s.QuorumDetail
	present := ""
	if len(q.Present) > 0 {
		present = " (" + strings.Join(q.Present, " ") + ")"
	}
	return fmt.Sprintf("the cluster has no quorum as %s sees it: %d of %d voters present%s, %d needed; nothing was changed",
		s.Node, len(q.Present), q.Voters, present, q.Needed)
}

// rootCmd is the command tree, with the completions of names.
func (e *env) rootCmd() *cobra.Command {
	root := e.rootTree()
	e.addCompletions(root)
	return root
}

// rootTree is the command tree.
func (e *env) rootTree() *cobra.Command {
	root := &cobra.Command{
		Use:   "vigil",
		Short: "vigil keeps services reachable when machines fail",
		Long: `vigil is a high-availability cluster manager for Linux: membership with
authenticated heartbeats, quorum, and replicated state on Raft, in one binary.

Commands talk to the local daemon on its unix socket, or with --server to a
node's HTTP(S) API. Every command that prints a result takes -o json.

` + exitCodesHelp + `

Environment:
  VIGIL_SOCKET      the local daemon's socket (default ` + DefaultSocket + `)
  VIGIL_CONFIG      the cluster config (default ` + DefaultConfig + `)
  VIGIL_SERVER      a node's API URL, instead of the socket
  VIGIL_TOKEN_FILE  a file holding the API's bearer token, with VIGIL_SERVER
  VIGIL_TLS_DIR     ca.crt and the client certificate (default ` + DefaultTLSDir + `)
Inside a lab node (vigil lab exec) VIGIL_SOCKET and VIGIL_CONFIG are set
for you. A flag beats its variable; a socket and a server are never both
used: naming both is an error.`,
		Example: `  vigil status
  vigil status --watch
  vigil node standby n2
  vigil resource move web n2 -o json
  vigil --server https://10.0.0.1:5407 --token-file ~/.vigil-token status
  source <(vigil completion bash)`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.CompletionOptions.DisableDefaultCmd = true // ours, with examples, is below
	connFlagSet(root, &e.conn)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w (see '%s --help')", err, c.CommandPath())}
	})
	root.AddCommand(e.daemonCmd(), e.witnessCmd(), e.configCmd(), e.statusCmd(), e.resourceCmd(), e.nodeCmd(), e.explainCmd(), e.simulateCmd(),
		e.eventsCmd(), e.probeCmd(), e.labCmd(), e.tlsCmd(), e.versionCmd(), e.completionCmd(root))
	groups(root)
	for _, c := range root.Commands() {
		wrapArgs(c)
	}
	return root
}

// groups makes every command that only groups others (vigil node, vigil
// resource…) refuse an unknown subcommand as a usage error, and print its
// help when run alone: cobra would print the help and exit 0, so a
// script's typo would pass for success.
func groups(c *cobra.Command) {
	if c.HasSubCommands() && c.Run == nil && c.RunE == nil {
		c.Args = func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return nil
			}
			msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
			if cmd.SuggestionsMinimumDistance <= 0 {
				cmd.SuggestionsMinimumDistance = 2
			}
			if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, " or ") + "?"
			}
			return usageError{errors.New(msg)}
		}
		c.RunE = func(cmd *cobra.Command, _ []string) error { return cmd.Help() }
	}
	for _, sub := range c.Commands() {
		groups(sub)
	}
}

// wrapArgs makes argument-count errors usage errors, recursively.
func wrapArgs(c *cobra.Command) {
	if c.Args != nil {
		check := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := check(cmd, args); err != nil {
				var u usageError
				if errors.As(err, &u) {
					return err
				}
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
	var output string
	c := &cobra.Command{
		Use:     "version",
		Short:   "Print the version",
		Example: "  vigil version\n  vigil version -o json",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, struct {
					Version string `json:"version"`
				}{Version})
			}
			fmt.Fprintln(e.stdout, "vigil", Version)
			return nil
		},
	}
	outputFlag(c, &output)
	return c
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
