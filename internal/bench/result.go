package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the JSON of `vigil lab bench failover --output json`: one
// Result per system and fault.
type Report struct {
	Results []Result `json:"results"`
}

// Result is what one system did under one fault.
type Result struct {
	System string `json:"system"`
	Fault  Fault  `json:"fault"`
	Trials int    `json:"trials"`
	// Outage is over the trials' outages; for a soak, over every client
	// outage seen during it.
	Outage         Stats   `json:"outage_ms"`
	FalseFailovers int     `json:"false_failovers"`
	DoubleHolderMS float64 `json:"double_holder_ms"`
	// OutagesMS is every trial's outage (a soak's outages), in order.
	OutagesMS []float64 `json:"outages_ms"`
	// Unresolved counts the trials whose double holding had not ended
	// when their observation window closed: it would have gone on.
	Unresolved int      `json:"double_holder_unresolved"`
	TrialLog   []Trial  `json:"trial_log,omitempty"`
	Soak       *SoakRun `json:"soak,omitempty"`
	// SamplerGapMS is the longest interval between two readings of the
	// holder sampler: the resolution of DoubleHolderMS.
	SamplerGapMS float64 `json:"sampler_gap_ms"`
}

// Trial is one trial of a fault.
type Trial struct {
	From           string  `json:"from"`
	To             string  `json:"to"`
	OutageMS       float64 `json:"outage_ms"`
	FaultToFailMS  float64 `json:"fault_to_fail_ms"` // how long the fault took to bite (not counted)
	Sent           int     `json:"sent"`
	Failed         int     `json:"failed"`
	GapMS          float64 `json:"gap_ms"` // the resolution this trial had
	DoubleHolderMS float64 `json:"double_holder_ms"`
	FirstError     string  `json:"first_error,omitempty"`
}

// SoakRun is what a soak ran.
type SoakRun struct {
	LossPercent int     `json:"loss_percent"`
	LossOn      LossOn  `json:"loss_on"`
	Holder      string  `json:"holder"` // when the soak started
	DurationS   float64 `json:"duration_s"`
	ThresholdMS float64 `json:"threshold_ms"`
	Probes      int     `json:"probes"`
	Failed      int     `json:"failed_probes"`
	Moves       int     `json:"moves"`
	Outages     int     `json:"outages"`
}

// NewTrial describes the window of one trial whose fault was injected at
// fault and whose observation saw double the double holding.
func NewTrial(w Window, fault time.Time, double time.Duration) Trial {
	t := Trial{From: w.From, To: w.To, OutageMS: Millis(w.Outage()), Sent: w.Sent, Failed: w.Failed,
		GapMS: Millis(w.Gap), DoubleHolderMS: Millis(double), FirstError: w.FirstFail.Err}
	if !w.FirstFail.Sent.IsZero() {
		t.FaultToFailMS = Millis(w.FirstFail.Sent.Sub(fault))
	}
	return t
}

// Summarize fills in r's counts and statistics from its trials' outages.
func (r *Result) summarize(outages []time.Duration) {
	r.Outage = Summarize(outages)
	r.OutagesMS = make([]float64, len(outages))
	for i, d := range outages {
		r.OutagesMS[i] = Millis(d)
	}
}

// WriteJSON writes the report as indented JSON.
func WriteJSON(w io.Writer, rep Report) error {
	if rep.Results == nil {
		rep.Results = []Result{}
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteTable writes the report as a table, one row per fault and system,
// the systems of a fault side by side in the order they ran. When vigil
// and another system ran the same fault, the other's row says how vigil
// compares: vigil's median and p90 divided by its (below 1, vigil was
// faster), unless the other left double holdings unresolved: a client
// that still reaches the old holder sees no outage, and that is no
// failover to compare with. Then every trial's outage, and each soak.
func WriteTable(w io.Writer, rep Report) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FAULT\tSYSTEM\tTRIALS\tMIN_MS\tMEDIAN_MS\tP90_MS\tMAX_MS\tFALSE_FAILOVERS\tDOUBLE_HOLDER_MS\tVIGIL/THIS (MEDIAN, P90)")
	for _, f := range faultOrder(rep.Results) {
		var vigil *Result
		for i, r := range rep.Results {
			if r.Fault == f && r.System == "vigil" {
				vigil = &rep.Results[i]
				break
			}
		}
		for _, r := range rep.Results {
			if r.Fault != f {
				continue
			}
			ratio := "-"
			switch {
			case vigil == nil || r.System == "vigil" || f == Soak:
			case r.Unresolved > 0:
				ratio = "n/a: it held the VIP twice" // its outage is no measure of a failover
			default:
				ratio = ratioCell(vigil.Outage, r.Outage)
			}
			double := num(r.DoubleHolderMS)
			if r.Unresolved > 0 {
				double += fmt.Sprintf(" (%d unresolved)", r.Unresolved)
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", r.Fault, r.System, r.Trials,
				num(r.Outage.Min), num(r.Outage.Median), num(r.Outage.P90), num(r.Outage.Max), r.FalseFailovers, double, ratio)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var trials, soaks []string
	for _, r := range rep.Results {
		if r.Soak != nil {
			s := r.Soak
			soaks = append(soaks, fmt.Sprintf("  %s: %d%% loss on %s (%s first) for %s: %d probes, %d failed, %d client outages (longest %s ms), %d moves of the VIP, %d false failovers (moves, or outages over %s ms)",
				r.System, s.LossPercent, s.LossOn, s.Holder, num(s.DurationS)+"s", s.Probes, s.Failed, s.Outages, num(r.Outage.Max), s.Moves, r.FalseFailovers, num(s.ThresholdMS)))
			continue
		}
		ms := make([]string, len(r.OutagesMS))
		for i, v := range r.OutagesMS {
			ms[i] = num(v)
		}
		trials = append(trials, fmt.Sprintf("  %s %s: %s", r.Fault, r.System, strings.Join(ms, " ")))
	}
	if len(trials) > 0 {
		fmt.Fprintf(w, "\nOutage of every trial (ms), from the first failed probe to the first good reply:\n%s\n", strings.Join(trials, "\n"))
	}
	if len(soaks) > 0 {
		fmt.Fprintf(w, "\nSoak:\n%s\n", strings.Join(soaks, "\n"))
	}
	return nil
}

// faultOrder is the faults of rs in the order they first appear.
func faultOrder(rs []Result) []Fault {
	var out []Fault
	for _, r := range rs {
		if !slices.Contains(out, r.Fault) {
			out = append(out, r.Fault)
		}
	}
	return out
}

// ratioCell is vigil's median and p90 over other's, as "0.52x, 0.61x";
// "-" for a figure that is 0 on either side.
func ratioCell(vigil, other Stats) string {
	one := func(a, b float64) string {
		if a == 0 || b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	return one(vigil.Median, other.Median) + ", " + one(vigil.P90, other.P90)
}

// num formats a figure in ms with one decimal.
func num(v float64) string { return fmt.Sprintf("%.1f", v) }
