package cli

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/lab"
)

// labFenceAgentCmd is the lab's fence agent, run by DIR/fence_vigil_lab:
// the fence-agents protocol on stdin, the answer in the exit code.
func (e *env) labFenceAgentCmd(name *string) *cobra.Command {
	return &cobra.Command{
		Use:   "fence-agent",
		Short: "Answer one fence-agents request on stdin (run by DIR/fence_vigil_lab)",
		Long: `Read one fence-agents request (key=value lines: action=off|on|reboot|
status|monitor|list|metadata, plug=NODE) on stdin and act on the lab's
nodes. Exit 0 on success, 1 on failure; for status 0 on, 2 off.`,
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lab.Open(*name)
			if err != nil {
				fmt.Fprintf(e.stderr, "ERROR: %v\n", err)
				return exitError{code: ExitFailure, err: errors.New("")}
			}
			if code := l.FenceAgent(cmd.Context(), e.stdin, e.stdout, e.stderr); code != 0 {
				return exitError{code: code, err: errors.New("")}
			}
			return nil
		},
	}
}

// labFencerStates are the arguments of `lab fencer`.
var labFencerStates = []string{string(lab.FencerBroken), string(lab.FencerWorking)}

// labFencerCmd shows the lab's fencing device, or breaks or mends it.
// labFencerJSON is lab fencer -o json: the device's state, the nodes it
// holds off since when, and the end of its log.
type labFencerJSON struct {
	Lab   string               `json:"lab"`
	State string               `json:"state"`
	Agent string               `json:"agent,omitempty"`
	Off   map[string]time.Time `json:"off"`
	Log   string               `json:"log,omitempty"`
	Lines []string             `json:"lines"`
}

func (e *env) labFencerCmd(name *string) *cobra.Command {
	var lines int
	var output string
	c := &cobra.Command{
		Use:   "fencer [broken|working]",
		Short: "Show the lab's fencing device and its log, or break or mend it",
		Long: `The lab has a fencing device for its nodes: the fence agent
DIR/fence_vigil_lab, which speaks the protocol of Debian's fence-agents
(fence_ipmilan and the others), so that a cluster fences lab nodes as it
fences real machines. off cuts a node's links, kills everything in its
namespace and removes its floating addresses; on boots it again.

'fencer broken' makes the device fail on purpose: off, on, reboot and
status then exit 1 and change nothing, until 'fencer working'. Without an
argument, fencer shows the device's state, the nodes it holds off and the
end of its log.`,
		Example: `  vigil lab fencer
  vigil lab fencer broken
  vigil lab fencer -o json | jq .off
  printf 'action=status\nplug=n2\n' | /var/lib/vigil/lab/vigil/fence_vigil_lab; echo $?`,
		Args: cobra.MatchAll(cobra.MaximumNArgs(1), func(_ *cobra.Command, a []string) error {
			if len(a) == 1 && !slices.Contains(labFencerStates, a[0]) {
				return usagef("want broken or working, not %q", a[0])
			}
			return nil
		}),
		RunE: func(cmd *cobra.Command, a []string) error {
			if lines < 0 {
				return usagef("--lines must not be negative, not %d", lines)
			}
			if err := checkOutput(output); err != nil {
				return err
			}
			l, err := lab.Open(*name)
			if err != nil {
				return err
			}
			if len(a) == 1 {
				if err := l.SetFencer(cmd.Context(), lab.FencerState(a[0])); err != nil {
					return err
				}
				if output == "json" {
					return writeJSON(e.stdout, labFencerJSON{Lab: l.Name, State: a[0], Off: map[string]time.Time{}, Lines: []string{}})
				}
				if a[0] == string(lab.FencerBroken) {
					mend := "vigil lab fencer working"
					if *name != "vigil" {
						mend = "vigil lab --name " + *name + " fencer working"
					}
					fmt.Fprintf(e.stdout, "lab %s: fencer broken: off, on, reboot and status fail until '%s'\n", l.Name, mend)
				} else {
					fmt.Fprintf(e.stdout, "lab %s: fencer working\n", l.Name)
				}
				return nil
			}
			f, err := l.Fencer()
			if err != nil {
				return err
			}
			if output == "json" {
				j := labFencerJSON{Lab: l.Name, State: string(f.State), Agent: f.Agent, Off: f.Off, Log: f.Log, Lines: []string{}}
				if j.Off == nil {
					j.Off = map[string]time.Time{}
				}
				if s := strings.TrimRight(l.FencerLog(lines), "\n"); s != "" {
					j.Lines = strings.Split(s, "\n")
				}
				return writeJSON(e.stdout, j)
			}
			fmt.Fprintf(e.stdout, "lab %s fencer: %s\n", l.Name, f.State)
			fmt.Fprintf(e.stdout, "agent: %s\n", f.Agent)
			off := "none"
			if nodes := f.OffNodes(); len(nodes) > 0 {
				var b []string
				for _, n := range nodes {
					b = append(b, fmt.Sprintf("%s (since %s)", n, f.Off[n].Local().Format(time.DateTime)))
				}
				off = strings.Join(b, ", ")
			}
			fmt.Fprintf(e.stdout, "held off: %s\n", off)
			fmt.Fprintf(e.stdout, "log: %s\n", f.Log)
			if s := l.FencerLog(lines); s != "" {
				fmt.Fprintf(e.stdout, "\n%s", s)
			}
			return nil
		},
	}
	c.Flags().IntVar(&lines, "lines", 10, "how many lines of the log to show")
	outputFlag(c, &output)
	return c
}
