package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/config"
)

// configValidJSON is config validate -o json.
type configValidJSON struct {
	File     string   `json:"file"`
	Valid    bool     `json:"valid"`
	Problems []string `json:"problems"` // FILE:LINE: FIELD: MESSAGE, one each
	Cluster  string   `json:"cluster,omitempty"`
	Summary  string   `json:"summary,omitempty"`
}

func (e *env) configCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "config",
		Short: "Check, show and apply the cluster configuration",
		Long: `Check a configuration file (validate, no daemon needed), show the
configuration the cluster runs and its version (show), and change its
resources, groups, constraints and options while it runs (apply).`,
		Example: `  vigil config validate /etc/vigil/vigil.yaml
  vigil config show
  vigil config apply /etc/vigil/vigil.yaml --dry-run`,
	}
	var output string
	validate := &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config file and print every problem",
		Long: `Check a config file without applying it. Every problem is printed as
FILE:LINE: FIELD: MESSAGE and the exit code is 2; a valid file prints a
short summary and exits 0. With -o json, {"file", "valid", "problems",
"cluster", "summary"} on stdout either way.`,
		Example: `  vigil config validate /etc/vigil/vigil.yaml
  vigil config validate vigil.yaml -o json | jq -r '.problems[]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cfg, err := config.Load(args[0])
			if err != nil {
				if output == "json" {
					if werr := writeJSON(e.stdout, configValidJSON{File: args[0], Problems: strings.Split(err.Error(), "\n")}); werr != nil {
						return werr
					}
				} else {
					fmt.Fprintln(e.stderr, err)
				}
				return exitError{code: ExitUsage, err: fmt.Errorf("%s is not valid", args[0])}
			}
			if output == "json" {
				return writeJSON(e.stdout, configValidJSON{File: args[0], Valid: true, Problems: []string{}, Cluster: cfg.Cluster, Summary: config.Summary(cfg)})
			}
			fmt.Fprintf(e.stdout, "%s: valid\n%s\n", args[0], config.Summary(cfg))
			return nil
		},
	}
	outputFlag(validate, &output)
	c.AddCommand(validate, e.configShowCmd(), e.configApplyCmd())
	return c
}

func (e *env) configShowCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "show",
		Short: "Show the configuration in force and its version",
		Long: `Show which configuration the cluster runs: its version (0 is the file the
daemons started with; each 'vigil config apply' adds one), who applied it
and when, and a summary. The version is what 'config apply --if-match'
takes.`,
		Example: `  vigil config show
  vigil config show -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(e, cmd, output, func(ctx context.Context, c *client.Client) (api.ConfigInfo, error) {
				return c.Config(ctx)
			}, writeConfigInfo)
		},
	}
	outputFlag(c, &output)
	return c
}

func (e *env) configApplyCmd() *cobra.Command {
	var output string
	var dryRun bool
	var ifMatch int64
	c := &cobra.Command{
		Use:   "apply FILE",
		Short: "Change resources, groups, constraints and options while the cluster runs",
		Long: `Validate FILE as a whole, show how its options, resources, groups and
constraints differ from the configuration in force, and commit them
through the Raft leader; the cluster then converges on them (removed
resources stop, resources whose parameters changed restart). Every other
section must equal the running configuration: nodes, secret, ports and
timing take a restart of every daemon.

If anything is wrong, nothing changes: problems are printed as
FILE:LINE: FIELD: MESSAGE (exit 2). --if-match VERSION (from 'vigil config
show') refuses the change if someone applied another since (exit 1).
Without quorum or a leader nothing changes (exit 4).
Put the same file on every node afterwards, so that a restarted daemon
reads what the cluster runs.`,
		Example: `  vigil config apply /etc/vigil/vigil.yaml --dry-run
  vigil config apply /etc/vigil/vigil.yaml --if-match 3`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			path, err := filepath.Abs(args[0])
			if err != nil {
				return usagef("%s: %v", args[0], err)
			}
			data, err := os.ReadFile(path)
			if err != nil {
				return usagef("%v", err)
			}
			// Check here first: the problems are the same as the daemon's,
			// and need no daemon to be found.
			if _, err := config.Parse(args[0], filepath.Dir(path), data); err != nil {
				fmt.Fprintln(e.stderr, err)
				return exitError{code: ExitUsage, err: fmt.Errorf("%s is not valid; nothing was changed", args[0])}
			}
			req := api.ConfigApply{Path: path, YAML: string(data), DryRun: dryRun}
			if cmd.Flags().Changed("if-match") {
				if ifMatch < 0 {
					return usagef("--if-match must be a version (0 or more), not %d", ifMatch)
				}
				v := uint64(ifMatch)
				req.IfMatch = &v
			}
			cl, err := e.dial(writeTimeout)
			if err != nil {
				return err
			}
			defer cl.Close()
			out, err := cl.ApplyConfig(cmd.Context(), req)
			var ae *api.Error
			if errors.As(err, &ae) && ae.Status == http.StatusPreconditionFailed {
				return exitError{code: ExitConflict, err: err} // another operator's change came first
			}
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, out)
			}
			switch {
			case len(out.Changes) == 0:
				fmt.Fprintf(e.stdout, "No change: %s matches the configuration in force (version %d).\n", args[0], out.Version)
				return nil
			case out.Applied:
				fmt.Fprintf(e.stdout, "Applied %s: configuration version %d.\n", args[0], out.Version)
			default:
				fmt.Fprintf(e.stdout, "Dry run: %s would change the configuration in force (version %d); nothing was changed.\n", args[0], out.Version)
			}
			fmt.Fprintln(e.stdout, "\nChanges:")
			for _, c := range out.Changes {
				fmt.Fprintf(e.stdout, "  %s\n", c)
			}
			fmt.Fprintln(e.stdout)
			title := "The cluster will now:"
			if !out.Applied {
				title = "The cluster would:"
			}
			writeActions(e.stdout, title, out.Actions)
			return nil
		},
	}
	outputFlag(c, &output)
	c.Flags().BoolVar(&dryRun, "dry-run", false, "show the changes and what the cluster would do; change nothing")
	c.Flags().Int64Var(&ifMatch, "if-match", 0, "apply only if VERSION is still the one in force (see vigil config show)")
	return c
}

func writeConfigInfo(w io.Writer, info api.ConfigInfo) {
	if info.Version == 0 {
		fmt.Fprintln(w, "Version 0: the configuration file the daemons started with")
	} else {
		fmt.Fprintf(w, "Version %d, applied %s by %s\n", info.Version, info.At.Format("2006-01-02 15:04:05 MST"), info.By)
	}
	fmt.Fprintln(w, info.Summary)
}
