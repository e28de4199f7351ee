package cli

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
	"github.com/vigil-ha/vigil/internal/model"
)

// writeTimeout bounds a change: the daemon's own commit bound, plus a
// forward to the leader.
const writeTimeout = 15 * time.Second

// query asks the daemon once, as every read-only command does: it
// checks --output, calls get, and prints the answer as JSON (-o json) or
// with table.
func query[T any](e *env, cmd *cobra.Command, output string,
	get func(context.Context, *client.Client) (T, error), table func(io.Writer, T)) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	cl, err := e.dial(0)
	if err != nil {
		return err
	}
	defer cl.Close()
	v, err := get(cmd.Context(), cl)
	if err != nil {
		return err
	}
	if output == "json" {
		return writeJSON(e.stdout, v)
	}
	table(e.stdout, v)
	return nil
}

// operate sends op to the daemon and prints the outcome.
func (e *env) operate(cmd *cobra.Command, output string, op api.Operation, timeout time.Duration) error {
	if err := checkOutput(output); err != nil {
		return err
	}
	cl, err := e.dial(timeout)
	if err != nil {
		return err
	}
	defer cl.Close()
	out, err := cl.Operate(cmd.Context(), op)
	if err != nil {
		return err
	}
	if output == "json" {
		return writeJSON(e.stdout, out)
	}
	writeOutcome(e.stdout, out)
	return nil
}

// writeOutcome prints what a change did and what the cluster will do.
func writeOutcome(w io.Writer, out api.Outcome) {
	fmt.Fprintln(w, out.Message)
	if len(out.Changes) > 0 {
		fmt.Fprintln(w, "\nCommitted:")
		for _, c := range out.Changes {
			fmt.Fprintf(w, "  * %s\n", c)
		}
	}
	fmt.Fprintln(w)
	writeActions(w, "The cluster will now:", out.Actions)
}

// writeActions prints a plan's actions, in order, as the scheduler's
// tests do: index, what, the actions it waits for, and why.
func writeActions(w io.Writer, title string, as []api.Action) {
	if len(as) == 0 {
		fmt.Fprintln(w, title, "nothing (every resource is where it should be)")
		return
	}
	fmt.Fprintln(w, title)
	for _, a := range as {
		fmt.Fprintf(w, "  %d %s\n", a.Index, actionText(a))
	}
}

// table writes rows with columns aligned (two spaces apart) and no
// trailing white space on any line.
func table(w io.Writer, padding int, rows func(tw io.Writer)) {
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 0, padding, ' ', 0)
	rows(tw)
	tw.Flush()
	for _, line := range strings.SplitAfter(b.String(), "\n") {
		if line == "" {
			continue
		}
		io.WriteString(w, strings.TrimRight(line, " \n")+"\n")
	}
}

func actionText(a api.Action) string {
	var t string
	switch a.Kind {
	case string(model.ActionMove):
		t = fmt.Sprintf("move %s %s -> %s", a.Resource, a.From, a.Node)
	default:
		t = fmt.Sprintf("%s %s on %s", a.Kind, a.Resource, a.Node)
	}
	if len(a.After) > 0 {
		var after []string
		for _, i := range a.After {
			after = append(after, fmt.Sprint(i))
		}
		t += " after " + strings.Join(after, ",")
	}
	if a.Reason != "" {
		t += ": " + a.Reason
	}
	return t
}
