package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/api/client"
)

func (e *env) statusCmd() *cobra.Command {
	var output, socket string
	c := &cobra.Command{
		Use:   "status",
		Short: "Show the cluster as the local node sees it",
		Long: `Show the cluster as the local daemon sees it: quorum, the leader, every
node with its state and links, and the resources. --output json prints the
stable JSON that scripts read.`,
		Example: `  vigil status
  vigil status -o json | jq .quorum`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			cl, err := client.New(client.Config{Socket: e.socketPath(socket)})
			if err != nil {
				return err
			}
			defer cl.Close()
			s, err := cl.Status(cmd.Context())
			if err != nil {
				return fmt.Errorf("%w\n(is the vigil daemon running? set --socket or VIGIL_SOCKET to reach another)", err)
			}
			if output == "json" {
				return writeJSON(e.stdout, s)
			}
			writeStatus(e.stdout, s)
			return nil
		},
	}
	outputFlag(c, &output)
	c.Flags().StringVar(&socket, "socket", "", "daemon socket (default $VIGIL_SOCKET or "+DefaultSocket+")")
	return c
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
