package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
)

// defaultRestartTimeout bounds `vigil resource restart` unless --timeout
// says otherwise.
const defaultRestartTimeout = 2 * time.Minute

func (e *env) resourceCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "resource",
		Short: "List, inspect, move, ban, clean up and restart resources",
		Long: `Look at resources and change where they may run, as pcs resource does.

Changes are committed through the Raft leader (a follower forwards them)
and each command returns once its change is committed, then prints what
the cluster will do about it. move and ban add location constraints that
stay until cleared, with Pacemaker's IDs:

  move ID NODE   cli-prefer-ID: INFINITY on NODE (and lifts a ban from NODE)
  move ID        cli-ban-ID-on-NODE: -INFINITY where ID runs now
  ban ID [NODE]  cli-ban-ID-on-NODE: -INFINITY on NODE (default: where it runs)
  clear ID       removes them all (with --node, only those on that node)

ID may name a group as well as a resource. Without quorum or a leader
nothing changes and the command says so (exit 4); an unknown resource or
node is exit 2; a change the resource's state forbids (restarting one that
is not running, say) is exit 5.`,
		Example: `  vigil resource list
  vigil resource move web n2 && vigil resource clear web
  vigil resource cleanup web --node n1`,
	}
	c.AddCommand(e.resourceListCmd(), e.resourceShowCmd())

	move := func(kind api.OpKind, use, short, long, example string) *cobra.Command {
		var output string
		sub := &cobra.Command{
			Use: use, Short: short, Long: long, Example: example,
			Args: cobra.RangeArgs(1, 2),
			RunE: func(cmd *cobra.Command, args []string) error {
				op := api.Operation{Kind: kind, Resource: args[0]}
				if len(args) == 2 {
					op.Node = args[1]
				}
				return e.operate(cmd, output, op, writeTimeout)
			},
		}
		outputFlag(sub, &output)
		return sub
	}
	c.AddCommand(
		move(api.OpMove, "move ID [NODE]", "Move a resource to a node, or away from where it runs",
			`Move a resource (or group) to NODE: adds location cli-prefer-ID with
INFINITY on NODE, replacing an earlier move, and lifts a ban of ID from
NODE. Without NODE, bans it from the node where it runs (cli-ban-ID-on-NODE,
-INFINITY), so it goes wherever it scores best. The constraint stays until
vigil resource clear ID: the resource will not come back by itself. If the
scheduler still cannot place it on NODE (the node is in standby, say), the
move is committed and the answer says why it does not take effect.`,
			`  vigil resource move web n2
  vigil resource move web          # away from where it runs
  vigil resource clear web         # let it go back`),
		move(api.OpBan, "ban ID [NODE]", "Keep a resource off a node",
			`Ban a resource (or group) from NODE, or from the node where it runs:
adds location cli-ban-ID-on-NODE with -INFINITY. It stays until vigil
resource clear ID, even if NODE is the last node left.`,
			`  vigil resource ban web n1
  vigil resource ban web
  vigil resource ban web n1 -o json`),
	)

	var clearNode, clearOut string
	clear := &cobra.Command{
		Use:   "clear ID",
		Short: "Remove the constraints that move and ban added",
		Long: `Remove the runtime constraints of a resource (or group) that move and ban
added: all of them, or with --node only those on that node. The configured
constraints are not touched.`,
		Example: `  vigil resource clear web
  vigil resource clear web --node n1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.operate(cmd, clearOut, api.Operation{Kind: api.OpClear, Resource: args[0], Node: clearNode}, writeTimeout)
		},
	}
	clear.Flags().StringVar(&clearNode, "node", "", "remove only the constraints on this node")
	outputFlag(clear, &clearOut)

	var cleanNode, cleanOut string
	cleanup := &cobra.Command{
		Use:   "cleanup ID",
		Short: "Forget a resource's failures and unblock it",
		Long: `Forget the fail counts of a resource (on --node, or on every node) and
unblock it if a stop failed: the scheduler then places it as if it had
never failed. For a group, every member is cleaned up.`,
		Example: `  vigil resource cleanup web
  vigil resource cleanup web --node n1`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.operate(cmd, cleanOut, api.Operation{Kind: api.OpCleanup, Resource: args[0], Node: cleanNode}, writeTimeout)
		},
	}
	cleanup.Flags().StringVar(&cleanNode, "node", "", "forget only the failures on this node")
	outputFlag(cleanup, &cleanOut)

	var restartOut string
	var timeout time.Duration
	restart := &cobra.Command{
		Use:   "restart ID",
		Short: "Stop a resource and start it again where it runs",
		Long: `Stop a running resource (or group) and start it again on the same node;
what depends on it (an INFINITY colocation, a mandatory order) is stopped
and started with it, as in Pacemaker. The command waits until the resource
runs again.

The request is one committed command: the executor on the node where the
resource runs stops it (and its dependents, in reverse) and starts them
again in order, as one operation, so nothing moves meanwhile. It counts
no failure. A stop that fails leaves the resource blocked, as any failed
stop does; a start that fails counts as any failed start. If --timeout
passes first, the command says what is still pending; the request stays
committed.`,
		Example: `  vigil resource restart web
  vigil resource restart web --timeout 5m`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if timeout <= 0 {
				return usagef("--timeout must be positive, not %s", timeout)
			}
			// The answer comes when the restart is over: wait a little longer.
			return e.operate(cmd, restartOut, api.Operation{Kind: api.OpRestart, Resource: args[0], Timeout: timeout}, timeout+writeTimeout)
		},
	}
	restart.Flags().DurationVar(&timeout, "timeout", defaultRestartTimeout, "stop waiting after this long (the request stays committed)")
	outputFlag(restart, &restartOut)

	c.AddCommand(clear, cleanup, restart)
	return c
}

func (e *env) resourceListCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "list",
		Short: "List every resource with its state, node and target",
		Long: `List every configured resource as the local node's committed state has
it: its state, the node where it is, the node the coordinator placed it on
(TARGET), and its fail count summed over nodes.`,
		Example: `  vigil resource list
  vigil resource list -o json | jq '.resources[] | select(.state != "started")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			type list struct {
				Resources []api.Resource `json:"resources"`
			}
			return query(e, cmd, output, func(ctx context.Context, c *client.Client) (list, error) {
				s, err := c.Status(ctx)
				return list{s.Resources}, err
			}, func(w io.Writer, l list) { writeResourceList(w, l.Resources) })
		},
	}
	outputFlag(c, &output)
	return c
}

func writeResourceList(w io.Writer, rs []api.Resource) {
	if len(rs) == 0 {
		fmt.Fprintln(w, "No resources configured.")
		return
	}
	table(w, 2, func(tw io.Writer) {
		fmt.Fprintln(tw, "ID\tKIND\tGROUP\tSTATE\tNODE\tTARGET\tFAILS")
		for _, r := range rs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.ID, r.Kind, dash(r.Group), r.State, dash(r.Node), dash(r.Target), r.FailCount)
		}
	})
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (e *env) resourceShowCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "show ID",
		Short: "Show one resource or group: state, fail counts, constraints",
		Long: `Show a resource (or group) as the local node knows it: its state and
node, where the coordinator placed it, its fail counts by node, and the
location constraints that name it, configured and runtime (move, ban).
vigil explain ID shows why it is placed where it is.`,
		Example: `  vigil resource show web
  vigil resource show web -o json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, output, func(ctx context.Context, c *client.Client) (api.PlannedResource, error) {
				x, err := c.Explain(ctx, args[0])
				return x.Resource, err
			}, writeShow)
		},
	}
	outputFlag(c, &output)
	return c
}

// writeShow prints a resource the way pcs resource status and config do.
func writeShow(w io.Writer, r api.PlannedResource) {
	table(w, 1, func(tw io.Writer) {
		fmt.Fprintf(tw, "Resource:\t%s\n", r.ID)
		fmt.Fprintf(tw, "  Kind:\t%s\n", r.Kind)
		if len(r.Members) > 0 {
			fmt.Fprintf(tw, "  Members:\t%s\n", strings.Join(r.Members, ", "))
		}
		if r.Group != "" {
			fmt.Fprintf(tw, "  Group:\t%s\n", r.Group)
		}
		if r.Kind != "group" {
			fmt.Fprintf(tw, "  State:\t%s\n", stateText(r))
		}
		fmt.Fprintf(tw, "  Target:\t%s\n", orStopped(r.Target))
		if len(r.FailCounts) == 0 {
			fmt.Fprintf(tw, "  Fail counts:\tnone\n")
		} else {
			var fcs []string
			for _, fc := range r.FailCounts {
				fcs = append(fcs, fmt.Sprintf("%s %d (last %s)", fc.Node, fc.Count, fc.Last.UTC().Format(time.RFC3339)))
			}
			fmt.Fprintf(tw, "  Fail counts:\t%s\n", strings.Join(fcs, ", "))
		}
	})
	if len(r.Constraints) == 0 {
		fmt.Fprintln(w, "  Constraints: none")
		return
	}
	fmt.Fprintln(w, "  Constraints:")
	table(w, 2, func(tw io.Writer) {
		for _, l := range r.Constraints {
			on := l.Node
			if l.Attribute != "" {
				on = l.Attribute + "=" + l.Value
			}
			note := ""
			if l.Runtime {
				note = "\t(runtime: vigil resource clear " + r.ID + " removes it)"
			}
			fmt.Fprintf(tw, "    %s\t%s on %s%s\n", l.ID, l.Score, on, note)
		}
	})
}

// stateText is "started on n1", "stopped", "failed on n2".
func stateText(r api.PlannedResource) string {
	if r.Node == "" {
		return r.State
	}
	return r.State + " on " + r.Node
}

func orStopped(node string) string {
	if node == "" {
		return "none (stopped)"
	}
	return node
}
