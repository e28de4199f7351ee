package daemon

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/metrics"
	"github.com/vigil-ha/vigil/internal/web"
)

// registry is the daemon's own Prometheus registry and what feeds it.
type registry struct {
	reg        *prometheus.Registry
	watcher    *metrics.Watcher
	requests   *metrics.Requests
	operations *metrics.Operations
}

// metrics builds the node's registry: the Go runtime, a collector over
// Status at each scrape, and a watcher for what a scrape cannot see
// (leader changes, failover durations, fence actions).
func (n *node) metrics() (*registry, error) {
	r := &registry{reg: prometheus.NewRegistry()}
	if err := metrics.RegisterRuntime(r.reg); err != nil {
		return nil, err
	}
	if _, err := metrics.NewCollector(r.reg, n); err != nil {
		return nil, err
	}
	var err error
	if r.watcher, err = metrics.NewWatcher(metrics.WatcherConfig{Registry: r.reg, Source: n}); err != nil {
		return nil, err
	}
	if r.requests, err = metrics.NewRequests(r.reg); err != nil {
		return nil, err
	}
	if r.operations, err = metrics.NewOperations(r.reg); err != nil {
		return nil, err
	}
	n.reg = r
	return r, nil
}

// withDashboard serves the web dashboard at /ui/ beside the API. The page
// holds no secret: it asks the API, with the operator's token, for
// everything it shows.
func withDashboard(h *api.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/ui/", http.StripPrefix("/ui", web.Handler()))
	mux.Handle("GET /{$}", http.RedirectHandler("/ui/", http.StatusFound))
	mux.Handle("/", h)
	return mux
}
