package metrics

import (
	"fmt"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The results Operations.Observe records; any other is recorded as
// ResultError, so that the label stays bounded.
const (
	ResultOK      = "ok"      // the operation completed (a monitor that found the resource stopped completed too)
	ResultError   = "error"   // the agent returned an error
	ResultTimeout = "timeout" // the operation's timeout ended it
)

// operationNames bound the op label (read-only); any other is "other".
var operationNames = []string{"start", "stop", "monitor", "probe", "promote", "demote", "restart", "release"}

// Operations times agent operations, by resource kind, operation and
// result, as vigil_operation_duration_seconds. A nil *Operations records
// nothing, so a caller may hold one that was never configured.
type Operations struct {
	h *prometheus.HistogramVec
}

// NewOperations returns an Operations registered on reg.
func NewOperations(reg *prometheus.Registry) (*Operations, error) {
	if reg == nil {
		return nil, fmt.Errorf("metrics operations: registry is required")
	}
	o := &Operations{h: prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "vigil_operation_duration_seconds",
		Help: "Agent operations on this node (start, stop, monitor, …), by resource kind, operation and result (ok, error, timeout).",
		// From 10ms (a vip monitor) to 2 minutes (a slow database start).
		Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"kind", "op", "result"})}
	if err := reg.Register(o.h); err != nil {
		return nil, fmt.Errorf("metrics operations: %w", err)
	}
	return o, nil
}

// Observe records that an op (start, stop, monitor, probe, promote,
// demote, restart, release) on a resource of kind (vip, exec, …) ended
// with result (ResultOK, ResultError, ResultTimeout) after d. It is
// concurrency-safe and non-blocking.
func (o *Operations) Observe(kind, op, result string, d time.Duration) {
	if o == nil {
		return
	}
	if !slices.Contains(operationNames, op) {
		op = "other"
	}
	switch result {
	case ResultOK, ResultError, ResultTimeout:
	default:
		result = ResultError
	}
	if kind == "" {
		kind = "unknown"
	}
	o.h.WithLabelValues(kind, op, result).Observe(d.Seconds())
}
