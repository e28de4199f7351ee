package bench

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Fault is what a trial does to the node that holds the floating IP.
type Fault string

// The faults. Soak injects no fault: it runs the cluster under packet loss
// and counts what moved anyway.
const (
	NodeKill    Fault = "node-kill"    // power loss: freeze the node and cut its links (lab kill)
	DaemonKill  Fault = "daemon-kill"  // SIGKILL of the HA daemon on the holder
	ServiceKill Fault = "service-kill" // SIGKILL of the service process behind the floating IP
	Soak        Fault = "soak"         // no fault, random packet loss for a while
)

// TrialFaults are the faults that run in trials, in the order they run.
var TrialFaults = []Fault{NodeKill, DaemonKill, ServiceKill}

// ParseFaults parses a comma-separated list of trial faults, such as
// "node-kill,service-kill". Duplicates are an error, and so is soak, which
// has flags of its own.
func ParseFaults(s string) ([]Fault, error) {
	var out []Fault
	var errs []error
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
			errs = append(errs, errors.New("an empty fault name"))
		case Fault(f) == Soak:
			errs = append(errs, errors.New("soak is not a trial fault: give --loss and --duration to soak"))
		case !slices.Contains(TrialFaults, Fault(f)):
			errs = append(errs, fmt.Errorf("unknown fault %q: want %s", f, faultNames(TrialFaults)))
		case slices.Contains(out, Fault(f)):
			errs = append(errs, fmt.Errorf("fault %q given twice", f))
		default:
			out = append(out, Fault(f))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func faultNames(fs []Fault) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = string(f)
	}
	return strings.Join(s, ", ")
}

// LossOn says which nodes a soak drops packets on.
type LossOn string

// Where a soak drops packets.
const (
	LossOnHolder LossOn = "holder" // only the node that holds the floating IP when the soak starts
	LossOnAll    LossOn = "all"    // every node
)

// ParseLossOn parses holder or all.
func ParseLossOn(s string) (LossOn, error) {
	switch LossOn(s) {
	case LossOnHolder, LossOnAll:
		return LossOn(s), nil
	}
	return "", fmt.Errorf("loss-on %q: want holder or all", s)
}
