package metrics

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Handler serves reg in the Prometheus exposition formats, for GET
// /metrics. A collector that fails is left out and the rest is served
// (the failure counted in promhttp_metric_handler_errors_total); at most
// four scrapes run at once, each for at most 10s. Handler may be called
// once per listener: they share the error counter.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            reg,
		MaxRequestsInFlight: 4,
		Timeout:             10 * time.Second,
	})
}

// RegisterRuntime registers the Go runtime's and the process's metrics
// (go_*, process_*: memory, goroutines, file descriptors, CPU) on reg.
func RegisterRuntime(reg *prometheus.Registry) error {
	for _, c := range []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("metrics runtime: %w", err)
		}
	}
	return nil
}
