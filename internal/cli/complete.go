package cli

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/lab"
)

// completionTimeout bounds the question a completion asks the daemon: a
// shell waits for the answer at every Tab.
const completionTimeout = 500 * time.Millisecond

func (e *env) completionCmd(root *cobra.Command) *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish|powershell",
		Short: "Print the shell completion script for bash, zsh, fish or powershell",
		Long: `Print a script that makes the shell complete vigil's commands and flags,
and the names of nodes and resources (asked of the daemon as you type,
within half a second; nothing is completed when it does not answer).

bash (needs the bash-completion package):
  vigil completion bash > /etc/bash_completion.d/vigil     # every user
  source <(vigil completion bash)                          # this shell
zsh:
  vigil completion zsh > "${fpath[1]}/_vigil"              # then start a new shell
  # if completion is not enabled yet, put 'autoload -U compinit; compinit' in ~/.zshrc
fish:
  vigil completion fish > ~/.config/fish/completions/vigil.fish
powershell:
  vigil completion powershell | Out-String | Invoke-Expression`,
		Example: `  source <(vigil completion bash)
  vigil completion zsh > "${fpath[1]}/_vigil"
  vigil completion fish > ~/.config/fish/completions/vigil.fish`,
		ValidArgs: []cobra.Completion{"bash", "zsh", "fish", "powershell"},
		Args:      cobra.MatchAll(cobra.ExactArgs(1), cobra.OnlyValidArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(e.stdout, true)
			case "zsh":
				return root.GenZshCompletion(e.stdout)
			case "fish":
				return root.GenFishCompletion(e.stdout, true)
			default:
				return root.GenPowerShellCompletionWithDesc(e.stdout)
			}
		},
	}
}

// namer picks the names to complete from a daemon's status.
type namer func(api.Status) []string

func nodeNames(s api.Status) []string {
	var out []string
	for _, n := range s.Nodes {
		out = append(out, n.Name)
	}
	return out
}

// resourceNames are the resources and the groups they belong to: both
// may be named where a resource is.
func resourceNames(s api.Status) []string {
	var out []string
	for _, r := range s.Resources {
		out = append(out, r.ID)
		if r.Group != "" {
			out = append(out, r.Group)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// names asks the daemon, briefly, for the names n picks that start with
// prefix. A daemon that does not answer completes nothing, silently.
func (e *env) names(ctx context.Context, n namer, prefix string) []cobra.Completion {
	if ctx == nil {
		ctx = context.Background()
	}
	ctx, cancel := context.WithTimeout(ctx, completionTimeout)
	defer cancel()
	cl, err := e.dial(completionTimeout)
	if err != nil {
		return nil
	}
	defer cl.Close()
	s, err := cl.Status(ctx)
	if err != nil {
		return nil
	}
	var out []cobra.Completion
	for _, name := range n(s) {
		if strings.HasPrefix(name, prefix) {
			out = append(out, name)
		}
	}
	return out
}

// completeArgs completes positional argument i with pos[i]; repeat, if
// true, completes every argument after the last with it too.
func (e *env) completeArgs(repeat bool, pos ...namer) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		i := len(args)
		if i >= len(pos) {
			if !repeat {
				return nil, cobra.ShellCompDirectiveNoFileComp
			}
			i = len(pos) - 1
		}
		return e.names(cmd.Context(), pos[i], toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

func (e *env) completeFlag(n namer) cobra.CompletionFunc {
	return func(cmd *cobra.Command, _ []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		return e.names(cmd.Context(), n, toComplete), cobra.ShellCompDirectiveNoFileComp
	}
}

// labNodes completes the nodes of the lab --name names (read from its
// directory; no daemon is asked), plus extra.
func labNodes(extra ...string) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		name, _ := cmd.Flags().GetString("name")
		l, err := lab.Open(name)
		if err != nil {
			return nil, cobra.ShellCompDirectiveNoFileComp
		}
		var out []cobra.Completion
		for _, n := range l.Status() {
			if strings.HasPrefix(n.Name, toComplete) && !slices.Contains(args, n.Name) {
				out = append(out, n.Name)
			}
		}
		for _, x := range extra {
			if strings.HasPrefix(x, toComplete) {
				out = append(out, x)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// addCompletions gives the commands that take node and resource names
// their completions. A command path that is not in the tree is a
// programming error, caught by TestCompletionsAttach.
func (e *env) addCompletions(root *cobra.Command) []string {
	nodes, resources := e.completeArgs(false, nodeNames), e.completeArgs(false, resourceNames)
	args := map[string]cobra.CompletionFunc{
		"node standby":       nodes,
		"node unstandby":     nodes,
		"node maintenance":   nodes,
		"node unmaintenance": nodes,
		"node fence":         nodes,
		"node confirm-down":  nodes,
		"resource show":      resources,
		"resource move":      e.completeArgs(false, resourceNames, nodeNames),
		"resource ban":       e.completeArgs(false, resourceNames, nodeNames),
		"resource clear":     resources,
		"resource cleanup":   resources,
		"resource restart":   resources,
		"explain":            resources,
		"lab kill":           labNodes(),
		"lab revive":         labNodes(),
		"lab stop-daemon":    labNodes(),
		"lab start-daemon":   labNodes(),
		"lab partition":      labNodes(),
		"lab loss":           labNodes(),
		"lab exec":           labNodes("client"),
	}
	flags := map[string]map[string]cobra.CompletionFunc{
		"resource clear":   {"node": e.completeFlag(nodeNames)},
		"resource cleanup": {"node": e.completeFlag(nodeNames)},
		"simulate":         {"node-down": e.completeFlag(nodeNames), "resource-fail": e.completeFlag(resourceNames)},
	}
	var missing []string
	find := func(path string) *cobra.Command {
		c, rest, err := root.Find(strings.Fields(path))
		if err != nil || len(rest) > 0 || c == root {
			missing = append(missing, path)
			return nil
		}
		return c
	}
	for path, f := range args {
		if c := find(path); c != nil {
			if path == "lab loss" || path == "lab exec" {
				f = firstOnly(f)
			}
			c.ValidArgsFunction = f
		}
	}
	for path, fs := range flags {
		c := find(path)
		if c == nil {
			continue
		}
		for flag, f := range fs {
			if c.RegisterFlagCompletionFunc(flag, f) != nil {
				missing = append(missing, path+" --"+flag)
			}
		}
	}
	slices.Sort(missing)
	return missing
}

// firstOnly completes the first argument with f, and leaves the rest to
// the shell (a command to run, a percent).
func firstOnly(f cobra.CompletionFunc) cobra.CompletionFunc {
	return func(cmd *cobra.Command, args []string, toComplete string) ([]cobra.Completion, cobra.ShellCompDirective) {
		if len(args) > 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return f(cmd, args, toComplete)
	}
}
