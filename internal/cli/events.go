package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
)

func (e *env) eventsCmd() *cobra.Command {
	var output, since string
	var limit int
	var follow bool
	c := &cobra.Command{
		Use:   "events",
		Short: "Show the cluster's event history, and follow it",
		Long: `Show what happened, oldest first: nodes going offline and back, quorum
and leaders, resources placed, started, stopped, failed and moved (with the
scheduler's reason), fencing and its outcome, operator and configuration
changes (with who made them). The cluster's events are the same on every
node and numbered; a node's own observations (quorum, links, the leader it
follows, fencing it runs) are marked * and kept by that node only.

--follow keeps printing new events until interrupted; with -o json it
prints one JSON object per line.`,
		Example: `  vigil events
  vigil events --since 10m
  vigil events --since 2026-12-02T03:00:00Z --limit 500 -o json
  vigil events --follow`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			q := api.EventQuery{Limit: limit}
			if limit < 1 || limit > api.MaxEventLimit {
				return usagef("--limit must be from 1 to %d, not %d", api.MaxEventLimit, limit)
			}
			if since != "" {
				t, err := api.ParseSince(since, time.Now())
				if err != nil {
					return usagef("--since: %v", err)
				}
				q.Since = t
			}
			cl, err := e.dial(0)
			if err != nil {
				return err
			}
			defer cl.Close()
			if follow {
				return e.followEvents(cmd.Context(), cl, q, output)
			}
			evs, err := cl.Events(cmd.Context(), q)
			if err != nil {
				return err
			}
			if output == "json" {
				return writeJSON(e.stdout, api.Events{Events: evs})
			}
			if len(evs) == 0 {
				fmt.Fprintln(e.stdout, "no events")
			}
			for _, ev := range evs {
				writeEvent(e.stdout, ev)
			}
			return nil
		},
	}
	outputFlag(c, &output)
	c.Flags().StringVar(&since, "since", "", "only events since this time (RFC 3339) or this long ago (10m, 2h)")
	c.Flags().IntVar(&limit, "limit", 100, "at most this many, the newest")
	c.Flags().BoolVarP(&follow, "follow", "f", false, "keep printing new events until interrupted")
	return c
}

// followEvents prints the history q selects, then every new event, until
// ctx ends. The stream opens first, so that nothing falls between the two.
func (e *env) followEvents(ctx context.Context, cl interface {
	Events(context.Context, api.EventQuery) ([]api.Event, error)
	Stream(context.Context, func(api.Event), func(api.Status)) error
}, q api.EventQuery, output string) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	live := make(chan api.Event, 1024)
	done := make(chan error, 1)
	open := make(chan struct{}) // the first status: the daemon has subscribed us
	var once sync.Once
	go func() {
		done <- cl.Stream(ctx, func(ev api.Event) {
			select {
			case live <- ev:
			case <-ctx.Done():
			}
		}, func(api.Status) { once.Do(func() { close(open) }) })
	}()
	select {
	case <-open:
	case err := <-done:
		if err == nil {
			return nil
		}
		return err
	case <-time.After(5 * time.Second):
		return fmt.Errorf("the daemon's event stream did not open within 5s")
	}
	evs, err := cl.Events(ctx, q)
	if err != nil {
		return err
	}
	emit := func(ev api.Event) error {
		if output == "json" {
			b, err := json.Marshal(ev)
			if err != nil {
				return err
			}
			_, err = fmt.Fprintf(e.stdout, "%s\n", b)
			return err
		}
		writeEvent(e.stdout, ev)
		return nil
	}
	var seq uint64
	var local time.Time
	for _, ev := range evs {
		if err := emit(ev); err != nil {
			return err
		}
		if ev.Local {
			local = ev.At
		} else {
			seq = ev.Seq
		}
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case err := <-done:
			if err != nil {
				return err
			}
			return nil
		case ev := <-live:
			if ev.Local && !ev.At.After(local) || !ev.Local && ev.Seq <= seq {
				continue // already printed from the history
			}
			if err := emit(ev); err != nil {
				return err
			}
		}
	}
}

// writeEvent prints one event on one line: time, kind, message, who.
func writeEvent(w io.Writer, ev api.Event) {
	mark := " "
	if ev.Local {
		mark = "*"
	}
	by := ""
	if ev.By != "" {
		by = "  [" + ev.By + "]"
	}
	fmt.Fprintf(w, "%s %s %-19s %s%s\n", ev.At.Local().Format("2006-01-02 15:04:05.000"), mark, ev.Kind, ev.Message, by)
}
