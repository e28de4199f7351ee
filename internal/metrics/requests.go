package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Requests counts the API's requests and refusals. Its methods are
// concurrency-safe.
type Requests struct {
	total    *prometheus.CounterVec
	duration *prometheus.HistogramVec
	refused  *prometheus.Desc

	mu      sync.Mutex
	refusal []refusal // Collect reads them
}

// refusal is one source of vigil_api_refused_total.
type refusal struct {
	listener, reason string
	count            func() uint64
}

// NewRequests returns a Requests registered on reg.
func NewRequests(reg *prometheus.Registry) (*Requests, error) {
	if reg == nil {
		return nil, fmt.Errorf("metrics requests: registry is required")
	}
	q := &Requests{
		total: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "vigil_api_requests_total",
			Help: "API requests answered, by listener, method, route (the API's pattern, \"unmatched\" when none) and status code.",
		}, []string{"listener", "method", "route", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "vigil_api_request_duration_seconds",
			Help: "Time to answer API requests, by listener, method and route. Changes block until committed, so they take longer.",
			// From 1ms (status) to 30s (a restart waits for the resource).
			Buckets: []float64{0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
		}, []string{"listener", "method", "route"}),
		refused: prometheus.NewDesc("vigil_api_refused_total",
			"API requests refused before routing, by listener and reason (unauthenticated: no or a wrong token).",
			[]string{"listener", "reason"}, nil),
	}
	for _, c := range []prometheus.Collector{q.total, q.duration, q} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("metrics requests: %w", err)
		}
	}
	return q, nil
}

// Refused makes count the source of vigil_api_refused_total{listener,
// reason}: a monotonic count that the API keeps, like api.Handler.Refused.
// A second call for the same listener and reason replaces the first.
func (q *Requests) Refused(listener, reason string, count func() uint64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i, r := range q.refusal {
		if r.listener == listener && r.reason == reason {
			q.refusal[i].count = count
			return
		}
	}
	q.refusal = append(q.refusal, refusal{listener, reason, count})
}

// Describe implements prometheus.Collector for the refusals.
func (q *Requests) Describe(ch chan<- *prometheus.Desc) { ch <- q.refused }

// Collect implements prometheus.Collector for the refusals.
func (q *Requests) Collect(ch chan<- prometheus.Metric) {
	q.mu.Lock()
	rs := append([]refusal(nil), q.refusal...)
	q.mu.Unlock()
	for _, r := range rs {
		ch <- prometheus.MustNewConstMetric(q.refused, prometheus.CounterValue, float64(r.count()), r.listener, r.reason)
	}
}

// Wrap returns h, counting its requests under the label listener ("unix",
// or a listener's address). The route is the http.ServeMux pattern that
// served the request, read from Request.Pattern after h returns, without
// its method ("/v1/explain/{id}", never the raw path, so the label stays
// bounded); "unmatched" when no pattern did (a refused token, a
// redirect). h must route with a ServeMux on the *http.Request it is
// given, as api.Handler does. A request is counted when it ends: a stream
// (GET /v1/stream) when it closes, with its whole length as its duration.
// The writer h sees is an http.Flusher.
func (q *Requests) Wrap(h http.Handler, listener string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		method, route := methodLabel(r.Method), routeLabel(r.Pattern)
		q.total.WithLabelValues(listener, method, route, strconv.Itoa(sw.code())).Inc()
		q.duration.WithLabelValues(listener, method, route).Observe(time.Since(start).Seconds())
	})
}

// methodLabel bounds the method label to the standard methods.
func methodLabel(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch,
		http.MethodDelete, http.MethodOptions:
		return m
	}
	return "other"
}

// routeLabel is a ServeMux pattern ("[METHOD ][HOST]/[PATH]") without its
// method.
func routeLabel(pattern string) string {
	if pattern == "" {
		return "unmatched"
	}
	if i := strings.IndexAny(pattern, " \t"); i >= 0 && !strings.Contains(pattern[:i], "/") {
		pattern = strings.TrimLeft(pattern[i:], " \t")
	}
	return pattern
}

// statusWriter records the status code a handler writes.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush sends what was written so far, for the API's streams, which
// assert http.Flusher.
func (w *statusWriter) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	_ = http.NewResponseController(w.ResponseWriter).Flush() // an unflushable writer buffers, as without the wrapper
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *statusWriter) code() int {
	if w.status == 0 {
		return http.StatusOK
	}
	return w.status
}
