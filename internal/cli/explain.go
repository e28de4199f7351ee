package cli

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
)

func (e *env) explainCmd() *cobra.Command {
	var output string
	c := &cobra.Command{
		Use:   "explain RESOURCE",
		Short: "Say where a resource is, where it would go, and why",
		Long: `Run the scheduler on the local node's committed state and explain one
resource (or group), as crm_simulate -s does: where it is, where the
scheduler places it, why it would not run if it would not, every node's
score with the term each part of it comes from (location constraints,
stickiness, fail counts against migration-threshold, colocations, node
standby or maintenance), and the actions planned for it. Any node can
answer; it changes nothing.`,
		Example: `  vigil explain web
  vigil explain web -o json | jq '.resource.scores[0]'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return query(e, cmd, output, func(ctx context.Context, c *client.Client) (api.Explanation, error) {
				return c.Explain(ctx, args[0])
			}, writeExplain)
		},
	}
	outputFlag(c, &output)
	return c
}

func (e *env) simulateCmd() *cobra.Command {
	var output string
	var sim api.Simulation
	c := &cobra.Command{
		Use:   "simulate",
		Short: "Show what the cluster would do if nodes went down or resources failed",
		Long: `Apply hypothetical events to a copy of the local node's committed state
and print what the scheduler would then do. Nothing in the cluster
changes. --node-down takes a node offline (it no longer counts for
quorum); --resource-fail fails a resource where it runs, as a failed
monitor would (its fail count there rises by one). Both repeat. With
neither, it prints what the cluster would do now.`,
		Example: `  vigil simulate --node-down n1
  vigil simulate --resource-fail web --resource-fail web
  vigil simulate --node-down n1 --node-down n2 -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return query(e, cmd, output, func(ctx context.Context, c *client.Client) (api.Plan, error) {
				return c.Simulate(ctx, sim)
			}, writeSimulation)
		},
	}
	c.Flags().StringArrayVar(&sim.NodeDown, "node-down", nil, "a node that goes offline (repeatable)")
	c.Flags().StringArrayVar(&sim.ResourceFail, "resource-fail", nil, "a resource that fails where it runs (repeatable)")
	outputFlag(c, &output)
	return c
}

// writeExplain prints one resource's explanation.
func writeExplain(w io.Writer, x api.Explanation) {
	r := x.Resource
	what := fmt.Sprintf("%s (%s)", r.ID, r.Kind)
	if r.Group != "" {
		what += ", in group " + r.Group
	}
	if len(r.Members) > 0 {
		what = fmt.Sprintf("%s (group of %s)", r.ID, strings.Join(r.Members, ", "))
	}
	fmt.Fprintf(w, "%s, as %s computes it", what, x.Node)
	if !x.Quorum {
		fmt.Fprint(w, " (WITHOUT quorum)")
	}
	fmt.Fprintln(w)
	table(w, 1, func(tw io.Writer) {
		if r.Kind != "group" {
			fmt.Fprintf(tw, "  Now:\t%s\n", stateText(r))
		}
		fmt.Fprintf(tw, "  Placed:\t%s\n", verdict(r))
		if r.Why != "" {
			fmt.Fprintf(tw, "  Why:\t%s\n", r.Why)
		}
	})
	fmt.Fprintln(w)
	writeScores(w, r.Scores)
	fmt.Fprintln(w)
	writeActions(w, "Actions:", x.Actions)
}

// verdict says what the scheduler does with r.
func verdict(r api.PlannedResource) string {
	running := r.Node != "" && (r.State == string(model.ResourceStarted) || r.State == string(model.ResourceStarting) || r.State == string(model.ResourceFailed))
	switch {
	case r.Kind == "group" && r.Placement == "":
		return "nowhere: it stays stopped or stops"
	case r.Kind == "group":
		return "on " + r.Placement
	case r.Placement == "" && running:
		return "nowhere: it stops"
	case r.Placement == "":
		return "nowhere: it stays stopped"
	case !running:
		return "on " + r.Placement + ": it starts there"
	case r.Placement != r.Node:
		return "on " + r.Placement + ": it moves from " + r.Node
	case r.State == string(model.ResourceFailed):
		return "on " + r.Placement + ": it recovers in place"
	}
	return "on " + r.Placement + ": it stays"
}

// writeScores prints every node's score and its terms, best first.
func writeScores(w io.Writer, scores []api.NodeScore) {
	if len(scores) == 0 {
		fmt.Fprintln(w, "Scores: none (no node to score)")
		return
	}
	fmt.Fprintln(w, "Scores (best first):")
	table(w, 2, func(tw io.Writer) {
		fmt.Fprintln(tw, "  NODE\tSCORE\tTERM\tREASON")
		for _, s := range scores {
			if len(s.Terms) == 0 {
				fmt.Fprintf(tw, "  %s\t%s\t\t\n", s.Node, s.Score)
				continue
			}
			for i, t := range s.Terms {
				node, total := "", ""
				if i == 0 {
					node, total = s.Node, s.Score.String()
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", node, total, signed(t.Score), t.Reason)
			}
		}
	})
}

// signed is a term's score with its sign: +100, -INFINITY, 0.
func signed(s model.Score) string {
	if s > 0 {
		return "+" + s.String()
	}
	return s.String()
}

// writeSimulation prints a simulated (or current) plan: the changes, the
// placement that results, and the actions.
func writeSimulation(w io.Writer, p api.Plan) {
	if len(p.Simulated) == 0 {
		fmt.Fprintf(w, "The cluster now, as %s computes it (nothing simulated, nothing changed)\n", p.Node)
	} else {
		fmt.Fprintf(w, "Simulated on %s (nothing was changed):\n", p.Node)
		for _, s := range p.Simulated {
			fmt.Fprintf(w, "  * %s\n", s)
		}
	}
	q := "yes"
	if !p.Quorum {
		q = "NO: no-quorum-policy applies and nothing starts"
	}
	fmt.Fprintf(w, "Quorum: %s\n\n", q)
	fmt.Fprintln(w, "Placement:")
	table(w, 2, func(tw io.Writer) {
		fmt.Fprintln(tw, "  RESOURCE\tNOW\tPLACED\tWHY")
		for _, r := range p.Resources {
			if r.Kind != "group" {
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", r.ID, stateText(r), placementText(r), r.Why)
			}
		}
	})
	fmt.Fprintln(w)
	writeActions(w, "Actions:", p.Actions)
}

func placementText(r api.PlannedResource) string {
	if r.Placement == "" {
		return "stopped"
	}
	return r.Placement
}
