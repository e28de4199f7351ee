package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/config"
)

func (e *env) configCmd() *cobra.Command {
	c := &cobra.Command{Use: "config", Short: "Check cluster configuration files"}
	c.AddCommand(&cobra.Command{
		Use:   "validate FILE",
		Short: "Check a config file and print every problem",
		Long: `Check a config file without applying it. Every problem is printed as
FILE:LINE: FIELD: MESSAGE and the exit code is 2; a valid file prints a
short summary and exits 0.`,
		Example: `  vigil config validate /etc/vigil/vigil.yaml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := config.Load(args[0])
			if err != nil {
				fmt.Fprintln(e.stderr, err)
				return exitError{code: ExitUsage, err: fmt.Errorf("%s is not valid", args[0])}
			}
			fmt.Fprintf(e.stdout, "%s: valid\n%s\n", args[0], config.Summary(cfg))
			return nil
		},
	})
	return c
}
