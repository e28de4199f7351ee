package bench

import (
	"slices"
	"time"
)

// Shot is one probe of the floating IP: when it was sent and when it
// ended, and which node answered.
type Shot struct {
	Sent, Done time.Time
	OK         bool
	Cut        bool   // cut short by Prober.Stop: its outcome is unknown
	Node       string // the node that answered, if OK
	Err        string // why it failed, if not OK
}

// failed reports whether the probe failed (a probe cut short did not).
func (s Shot) failed() bool { return !s.OK && !s.Cut }

// Target says which trial FindOutage looks for.
type Target struct {
	Fault time.Time // just before the fault was injected
	From  string    // the node that held the floating IP then
	// Move: only a reply from a node other than From ends the outage (a
	// node or daemon kill). Otherwise any node's reply does (a service
	// restarted in place).
	Move bool
}

// ends reports whether the good reply s ends t's outage.
func (t Target) ends(s Shot) bool { return s.OK && (!t.Move || s.Node != t.From) }

// Window is one trial's outage as the client saw it.
type Window struct {
	From, To  string // holder before the fault; node of the reply that ended the outage
	FirstFail Shot   // the first failed probe sent at or after the fault; zero if none failed
	FirstGood Shot   // the reply that ended the outage
	Sent      int    // probes sent from the first failure up to the end
	Failed    int    // of which failed
	// Gap is the longest time between two probe sends in the window: the
	// resolution this trial really had.
	Gap time.Duration
}

// Outage is the time from the sending of the first failed probe to the
// arrival of the reply that ended the outage; 0 if no probe failed (the
// floating IP moved with no failed probe).
func (w Window) Outage() time.Duration {
	if w.FirstFail.Sent.IsZero() {
		return 0
	}
	return w.FirstGood.Done.Sub(w.FirstFail.Sent)
}

// FindOutage finds t's outage in shots: from the first probe sent at or
// after t.Fault that failed, to the first good reply (by arrival) that ends
// it (see Target.Move) to a probe sent no earlier. When t.Move and a
// reply from another node arrives before any probe sent after the fault
// fails, the outage is 0. It reports false while the outage has not ended.
//
// The caller must let every probe sent before the reply end before it
// trusts a result: a probe in flight may yet fail (see Run).
func FindOutage(shots []Shot, t Target) (Window, bool) {
	shots = slices.Clone(shots)
	slices.SortFunc(shots, func(a, b Shot) int { return a.Sent.Compare(b.Sent) })
	first := slices.IndexFunc(shots, func(s Shot) bool { return s.failed() && !s.Sent.Before(t.Fault) })
	if t.Move {
		// A move with no failure before it: the client saw none.
		var good Shot
		found := false
		for _, s := range shots {
			if !s.Sent.Before(t.Fault) && t.ends(s) && (!found || s.Done.Before(good.Done)) {
				good, found = s, true
			}
		}
		if found && (first < 0 || !shots[first].Sent.Before(good.Done)) {
			return Window{From: t.From, To: good.Node, FirstGood: good}, true
		}
	}
	if first < 0 {
		return Window{}, false
	}
	w := Window{From: t.From, FirstFail: shots[first]}
	found := false
	for _, s := range shots[first:] {
		if t.ends(s) && (!found || s.Done.Before(w.FirstGood.Done)) {
			w.FirstGood, found = s, true
		}
	}
	if !found {
		return Window{}, false
	}
	w.To = w.FirstGood.Node
	prev := w.FirstFail.Sent
	for _, s := range shots[first:] {
		if s.Sent.After(w.FirstGood.Done) {
			break
		}
		w.Sent++
		if s.failed() {
			w.Failed++
		}
		w.Gap = max(w.Gap, s.Sent.Sub(prev))
		prev = s.Sent
	}
	return w, true
}

// Outages returns every outage the client saw between from and to, with
// no fault injected: each starts with a failed probe sent in [from, to)
// and ends with the arrival of the reply to the next probe, by send time,
// that succeeded (from any node). A run of failures that no reply ends
// before the shots do ends at the last shot's end. It is how a soak sees
// the client's service.
func Outages(shots []Shot, from, to time.Time) []Window {
	shots = slices.Clone(shots)
	slices.SortFunc(shots, func(a, b Shot) int { return a.Sent.Compare(b.Sent) })
	var out []Window
	var cur *Window
	var prev time.Time
	var last time.Time
	for _, s := range shots {
		if s.Done.After(last) {
			last = s.Done
		}
		if cur != nil {
			cur.Gap = max(cur.Gap, s.Sent.Sub(prev))
			prev = s.Sent
			switch {
			case s.OK:
				cur.Sent++
				cur.FirstGood, cur.To = s, s.Node
				out = append(out, *cur)
				cur = nil
			case s.failed():
				cur.Sent++
				cur.Failed++
			}
			continue
		}
		if s.failed() && !s.Sent.Before(from) && s.Sent.Before(to) {
			cur = &Window{FirstFail: s, Sent: 1, Failed: 1}
			prev = s.Sent
		}
	}
	if cur != nil {
		cur.FirstGood = Shot{Sent: last, Done: last}
		out = append(out, *cur)
	}
	return out
}
