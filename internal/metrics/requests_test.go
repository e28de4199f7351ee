package metrics

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-ha/vigil/internal/api"
)

// backend is an api.Backend that answers Status only.
type backend struct {
	api.Backend // nil: any other method panics
	src         Source
}

func (b backend) Status() api.Status { return b.src.Status() }

// TestRequests serves the real API handler, wrapped, and checks that
// requests are counted by route pattern, not raw path, and that refusals
// come from the handler's own count.
func TestRequests(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	q, err := NewRequests(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewHandler(backend{src: &fakeSource{s: cluster()}}, "secret-token")
	q.Refused("tcp", "unauthenticated", h.Refused.Load)
	srv := httptest.NewServer(q.Wrap(h, "127.0.0.1:5407"))
	t.Cleanup(srv.Close)

	do := func(method, path string, token string) int {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 3 {
		do("GET", "/v1/status", "secret-token")
	}
	do("GET", "/v1/status", "")
	do("GET", "/v1/status", "wrong")
	do("GET", "/no/such/thing", "secret-token")
	do("GET", "/another/unknown/path", "secret-token")
	do("BREW", "/v1/status", "secret-token")

	want := []struct {
		labels map[string]string
		value  float64
	}{
		{map[string]string{"listener": "127.0.0.1:5407", "method": "GET", "route": "/v1/status", "code": "200"}, 3},
		{map[string]string{"listener": "127.0.0.1:5407", "method": "GET", "route": "unmatched", "code": "401"}, 2},
		// Unknown paths share the catch-all's pattern: the label stays bounded.
		{map[string]string{"listener": "127.0.0.1:5407", "method": "GET", "route": "/", "code": "404"}, 2},
		{map[string]string{"listener": "127.0.0.1:5407", "method": "other", "route": "/", "code": "404"}, 1},
	}
	for _, w := range want {
		if got := get(t, reg, "vigil_api_requests_total", w.labels); !got.found || got.value != w.value {
			t.Errorf("vigil_api_requests_total%v = %+v, want %v", w.labels, got, w.value)
		}
	}
	if got := get(t, reg, "vigil_api_refused_total", map[string]string{"listener": "tcp", "reason": "unauthenticated"}); got.value != 2 {
		t.Errorf("vigil_api_refused_total = %+v, want 2", got)
	}
	if got := get(t, reg, "vigil_api_request_duration_seconds", map[string]string{"listener": "127.0.0.1:5407", "method": "GET", "route": "/v1/status"}); got.count != 3 {
		t.Errorf("vigil_api_request_duration_seconds count = %v, want 3", got.count)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "route" && strings.Contains(l.GetValue(), "such") {
					t.Errorf("%s has a raw path as its route: %q", mf.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestRefusedReplaces(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	q, err := NewRequests(reg)
	if err != nil {
		t.Fatal(err)
	}
	q.Refused("tcp", "unauthenticated", func() uint64 { return 1 })
	q.Refused("tcp", "unauthenticated", func() uint64 { return 5 })
	if got := get(t, reg, "vigil_api_refused_total", map[string]string{"listener": "tcp", "reason": "unauthenticated"}); got.value != 5 {
		t.Errorf("after a second Refused for the same listener: %+v, want 5", got)
	}
}

func TestRouteLabel(t *testing.T) {
	for pattern, want := range map[string]string{
		"":                             "unmatched",
		"/":                            "/",
		"GET /v1/status":               "/v1/status",
		"POST /v1/resources/{id}/move": "/v1/resources/{id}/move",
		"example.com/v1/status":        "example.com/v1/status",
		"GET example.com/x":            "example.com/x",
	} {
		if got := routeLabel(pattern); got != want {
			t.Errorf("routeLabel(%q) = %q, want %q", pattern, got, want)
		}
	}
}

func TestOperations(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	o, err := NewOperations(reg)
	if err != nil {
		t.Fatal(err)
	}
	o.Observe("vip", "start", ResultOK, 40*time.Millisecond)
	o.Observe("vip", "start", ResultOK, 60*time.Millisecond)
	o.Observe("ocf", "stop", ResultTimeout, 20*time.Second)
	o.Observe("ocf", "frobnicate", "exit status 7", time.Second)
	for _, w := range []struct {
		labels     map[string]string
		count, sum float64
	}{
		{map[string]string{"kind": "vip", "op": "start", "result": "ok"}, 2, 0.1},
		{map[string]string{"kind": "ocf", "op": "stop", "result": "timeout"}, 1, 20},
		{map[string]string{"kind": "ocf", "op": "other", "result": "error"}, 1, 1},
	} {
		got := get(t, reg, "vigil_operation_duration_seconds", w.labels)
		if got.count != w.count || got.sum < w.sum-1e-9 || got.sum > w.sum+1e-9 {
			t.Errorf("vigil_operation_duration_seconds%v = %+v, want count %v sum %v", w.labels, got, w.count, w.sum)
		}
	}
	var none *Operations
	none.Observe("vip", "start", ResultOK, time.Second) // a nil Operations records nothing, and does not panic
}

// TestHandler serves a registry and checks the exposition has the
// collector's metrics.
func TestHandler(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := NewCollector(reg, &fakeSource{s: cluster()}); err != nil {
		t.Fatal(err)
	}
	if err := RegisterRuntime(reg); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", Handler(reg))
	mux.Handle("GET /metrics2", Handler(reg)) // a second listener's handler shares the error counter
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	body := rec.Body.String()
	for _, s := range []string{"vigil_quorum 1", `vigil_leader{node="n1"} 1`, "go_goroutines", "promhttp_metric_handler_errors_total"} {
		if !strings.Contains(body, s) {
			t.Errorf("GET /metrics has no %q", s)
		}
	}
}

// TestMountedMetrics serves /metrics through the API handler, as the
// daemon does on a TCP listener: it needs the token, and is counted under
// its own route.
func TestMountedMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	if _, err := NewCollector(reg, &fakeSource{s: cluster()}); err != nil {
		t.Fatal(err)
	}
	q, err := NewRequests(reg)
	if err != nil {
		t.Fatal(err)
	}
	h := api.NewHandler(backend{src: &fakeSource{s: cluster()}}, "tok")
	h.Mount("GET /metrics", Handler(reg))
	srv := q.Wrap(h, "tcp")
	for _, tc := range []struct {
		token string
		want  int
	}{{"", http.StatusUnauthorized}, {"tok", http.StatusOK}} {
		req := httptest.NewRequest("GET", "/metrics", nil)
		if tc.token != "" {
			req.Header.Set("Authorization", "Bearer "+tc.token)
		}
		rec := httptest.NewRecorder()
		srv.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("GET /metrics with token %q = %d, want %d", tc.token, rec.Code, tc.want)
		}
		if tc.want == http.StatusOK && !strings.Contains(rec.Body.String(), "vigil_quorum 1") {
			t.Errorf("GET /metrics: no vigil_quorum in\n%s", rec.Body.String())
		}
	}
	if got := get(t, reg, "vigil_api_requests_total", map[string]string{"listener": "tcp", "method": "GET", "route": "/metrics", "code": "200"}); got.value != 1 {
		t.Errorf("GET /metrics counted %+v, want 1", got)
	}
}

func TestWrapFlushes(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	q, err := NewRequests(reg)
	if err != nil {
		t.Fatal(err)
	}
	var flushed bool
	h := q.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f, ok := w.(http.Flusher)
		if !ok {
			t.Error("the wrapped writer is no http.Flusher")
			return
		}
		w.Write([]byte("event\n"))
		f.Flush()
		flushed = true
	}), "unix")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/stream", nil))
	if !flushed || !rec.Flushed {
		t.Errorf("flushed %v, recorder flushed %v; want both", flushed, rec.Flushed)
	}
}
