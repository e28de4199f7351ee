package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
)

// Bounds of status --watch.
const (
	minWatchInterval = 100 * time.Millisecond
	maxWatchCount    = 1_000_000
)

func (e *env) statusCmd() *cobra.Command {
	var output string
	var watch bool
	var interval time.Duration
	var count int
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster as the local node sees it",
		Long: `Show the cluster as the local daemon sees it: quorum, the leader, every
node with its state and links, and the resources. --output json prints the
stable JSON that scripts read.

--watch refreshes it every --interval until interrupted, as crm_mon does:
on a terminal it redraws in place, otherwise it prints each refresh after
a separator line (with -o json, one JSON object per line). Each refresh
says when it was taken. If the daemon goes away, it says so and keeps
trying; --count N stops after N refreshes, with the exit code of the
last one.`,
		Example: `  vigil status
  vigil status -o json | jq .quorum
  vigil status --watch
  vigil status --watch --interval 500ms
  vigil status --watch --count 10 -o json > status.ndjson`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if !watch && (cmd.Flags().Changed("interval") || cmd.Flags().Changed("count")) {
				return usagef("--interval and --count go with --watch")
			}
			if interval < minWatchInterval {
				return usagef("--interval must be at least %s, not %s", minWatchInterval, interval)
			}
			if count < 0 || count > maxWatchCount {
				return usagef("--count must be from 0 (no limit) to %d, not %d", maxWatchCount, count)
			}
			cl, err := e.dial(0)
			if err != nil {
				return err
			}
			defer cl.Close()
			if watch {
				ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
				defer stop()
				return e.watchStatus(ctx, cl, output, interval, count)
			}
			s, err := cl.Status(cmd.Context())
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, s)
			}
			writeStatus(e.stdout, s)
			return nil
		},
	}
	outputFlag(c, &output)
	c.Flags().BoolVarP(&watch, "watch", "w", false, "refresh until interrupted (Ctrl-C), in place on a terminal")
	c.Flags().DurationVar(&interval, "interval", time.Second, "with --watch: time between refreshes")
	c.Flags().IntVar(&count, "count", 0, "with --watch: stop after this many refreshes (0: never)")
	return c
}

// Terminal control of status --watch: clear the screen, then go home.
const clearScreen = "\x1b[H\x1b[2J"

// watchSeparator goes between refreshes when stdout is not a terminal.
var watchSeparator = strings.Repeat("-", 72) + "\n"

// watchStatus asks for the status every interval until ctx ends or count
// refreshes (0: no limit) were printed. A daemon that does not answer is
// shown as such and asked again; the error of the last refresh is
// returned only when count ends the watch, so that its exit code says how
// the last refresh went.
func (e *env) watchStatus(ctx context.Context, cl *client.Client, output string, interval time.Duration, count int) error {
	term := output == "table" && e.isTerminal(e.stdout)
	var last error
	for i := 0; count == 0 || i < count; i++ {
		if i > 0 {
			t := time.NewTimer(interval)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
		}
		rctx, cancel := context.WithTimeout(ctx, interval+2*time.Second)
		s, err := cl.Status(rctx)
		cancel()
		if ctx.Err() != nil {
			return nil
		}
		last = err
		at := e.now()
		if output == "json" {
			e.watchJSON(s, err, at)
			continue
		}
		var b strings.Builder
		switch {
		case term:
			b.WriteString(clearScreen)
		case i > 0:
			b.WriteString(watchSeparator)
		}
		writeWatchFrame(&b, cl.Where(), interval, at, s, err)
		io.WriteString(e.stdout, b.String())
	}
	return last
}

// watchJSON prints one refresh of status --watch -o json: the status as
// one line on stdout, or why there is none on stderr.
func (e *env) watchJSON(s api.Status, err error, at time.Time) {
	if err != nil {
		fmt.Fprintf(e.stderr, "vigil: %s: %v — retrying\n", at.Format(time.DateTime), err)
		return
	}
	b, jerr := json.Marshal(s)
	if jerr != nil {
		fmt.Fprintf(e.stderr, "vigil: %v\n", jerr)
		return
	}
	fmt.Fprintf(e.stdout, "%s\n", b)
}

// writeWatchFrame prints one refresh of status --watch: when it was
// taken, then the status, or why there is none.
func writeWatchFrame(w io.Writer, where string, interval time.Duration, at time.Time, s api.Status, err error) {
	fmt.Fprintf(w, "Last refresh: %s from %s (every %s; Ctrl-C to stop)\n\n", at.Format("2006-01-02 15:04:05 MST"), where, interval)
	switch {
	case errors.Is(err, client.ErrUnreachable):
		fmt.Fprintf(w, "daemon unreachable — retrying every %s\n  (%s)\n", interval, causeOf(err))
	case err != nil:
		fmt.Fprintf(w, "the daemon answered with an error — retrying every %s\n  (%v)\n", interval, err)
	default:
		writeStatus(w, s)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// writeStatus prints s the way crm_mon users read a cluster.
func writeStatus(w io.Writer, s api.Status) {
	leader := s.Leader
	if leader == "" {
		leader = "NONE"
	}
	q := "partition WITHOUT quorum"
	if s.Quorum {
		q = "partition with quorum"
	}
	fmt.Fprintf(w, "Cluster: %s (profile %s)\n", s.Cluster, s.Profile)
	fmt.Fprintf(w, "Node: %s   Leader: %s   Raft: %s, term %d, applied %d\n", s.Node, leader, s.Raft.State, s.Raft.Term, s.Raft.AppliedIndex)
	fmt.Fprintf(w, "Quorum: %s (%d of %d voters present, %d needed)\n\n", q, len(s.QuorumDetail.Present), s.QuorumDetail.Voters, s.QuorumDetail.Needed)

	var online, suspect, offline []string
	for _, n := range s.Nodes {
		switch n.State {
		case "online":
			online = append(online, n.Name)
		case "suspect":
			suspect = append(suspect, n.Name)
		default:
			offline = append(offline, n.Name)
		}
	}
	fmt.Fprintf(w, "Node List:\n  * Online:  [ %s ]\n", strings.Join(online, " "))
	if len(suspect) > 0 {
		fmt.Fprintf(w, "  * Suspect: [ %s ]\n", strings.Join(suspect, " "))
	}
	if len(offline) > 0 {
		fmt.Fprintf(w, "  * Offline: [ %s ]\n", strings.Join(offline, " "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NODE\tSTATE\tCOMMITTED\tLINKS")
	for _, n := range s.Nodes {
		name := n.Name
		if n.Self {
			name += " (local)"
		}
		if n.Name == s.Leader {
			name += " (leader)"
		}
		committed := n.Committed
		if committed == "" {
			committed = "-"
		}
		var links []string
		for _, l := range n.Links {
			links = append(links, linkText(l, n.Self))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name, n.State, committed, strings.Join(links, "  "))
	}
	tw.Flush()
	for _, n := range s.Nodes {
		if n.Fence != "" {
			fmt.Fprintf(w, "%s: %s\n", n.Name, n.Fence)
		}
	}
	fmt.Fprintln(w)
	if len(s.Resources) == 0 {
		fmt.Fprintln(w, "Resources: none configured")
	} else {
		fmt.Fprintln(w, "Resources:")
		for _, r := range s.Resources {
			if r.Node == "" {
				fmt.Fprintf(w, "  * %s (%s): %s\n", r.ID, r.Kind, r.State)
			} else {
				fmt.Fprintf(w, "  * %s (%s): %s on %s\n", r.ID, r.Kind, r.State, r.Node)
			}
		}
	}
}

func linkText(l api.Link, self bool) string {
	if self {
		return fmt.Sprintf("%d:%s", l.Index, l.Address)
	}
	t := fmt.Sprintf("%d:%s %s", l.Index, l.Address, l.State)
	if l.RTTMillis > 0 {
		t += fmt.Sprintf(" %.1fms", l.RTTMillis)
	}
	if l.Loss > 0 {
		t += fmt.Sprintf(" loss %.0f%%", l.Loss*100)
	}
	return t
}
