package cli

import (
	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
)

func (e *env) nodeCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "node",
		Short: "Standby, maintenance and fencing of nodes",
		Long: `Change an operator flag of a node, as pcs node does. The change is
committed through the Raft leader (a follower forwards it) and the command
returns once it is committed, then prints what the cluster will do about
it. Without quorum or a leader nothing changes and the command says so
(exit 4); an unknown node is exit 2; a change the node's state forbids
(confirm-down of a node that is online, say) is exit 5.

  standby        the node runs no resources: they move elsewhere
  unstandby      the node may run resources again
  maintenance    vigil starts, stops and monitors nothing on the node;
                 what runs there keeps running, unmanaged
  unmaintenance  vigil manages the node's resources again
  fence          power the node off now with its fencing levels (the
                 fencing section of the configuration), tried in order;
                 on success what it ran is recovered elsewhere at once
  confirm-down   for a lost node whose fencing failed: record it fenced on
                 your word that it is powered off, so that what it ran is
                 recovered. Saying so of a node that still runs breaks the
                 one-holder guarantee: check first.`,
		Example: `  vigil node standby n2
  vigil node unstandby n2
  vigil node maintenance n3 && apt-get upgrade && vigil node maintenance n3 --off`,
	}
	simple := func(kind api.OpKind, short, example string) *cobra.Command {
		var output string
		sub := &cobra.Command{
			Use:     string(kind) + " NODE",
			Short:   short,
			Example: example,
			Args:    cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				return e.operate(cmd, output, api.Operation{Kind: kind, Node: args[0]}, writeTimeout)
			},
		}
		outputFlag(sub, &output)
		return sub
	}
	var output string
	var off bool
	maint := &cobra.Command{
		Use:   "maintenance NODE",
		Short: "Stop managing a node's resources (--off: manage them again)",
		Long: `Put a node in maintenance: vigil starts, stops and monitors nothing on
it, and what runs there keeps running, unmanaged, until the node leaves
maintenance (with --off, or vigil node unmaintenance).`,
		Example: `  vigil node maintenance n3
  vigil node maintenance n3 --off -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kind := api.OpMaintenance
			if off {
				kind = api.OpUnmaintenance
			}
			return e.operate(cmd, output, api.Operation{Kind: kind, Node: args[0]}, writeTimeout)
		},
	}
	outputFlag(maint, &output)
	maint.Flags().BoolVar(&off, "off", false, "take the node out of maintenance")
	c.AddCommand(
		simple(api.OpStandby, "Move every resource off a node and keep them off", "  vigil node standby n2"),
		simple(api.OpUnstandby, "Let a node in standby run resources again", "  vigil node unstandby n2"),
		maint,
		simple(api.OpUnmaintenance, "Manage a node's resources again", "  vigil node unmaintenance n3"),
		simple(api.OpFence, "Power a node off with its fencing devices, now", "  vigil node fence n2"),
		simple(api.OpConfirmDown, "Record a lost node as fenced, on your word that it is powered off", "  vigil node confirm-down n2"),
	)
	return c
}
