package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/vigil-ha/vigil/internal/api"
)

// configBackend records the config applies the handler passes on.
type configBackend struct {
	opBackend
	mu      sync.Mutex
	applies []api.ConfigApply
}

func (b *configBackend) Config() (api.ConfigInfo, error) {
	return api.ConfigInfo{Version: 3, Summary: "cluster c"}, nil
}

func (b *configBackend) ApplyConfig(_ context.Context, req api.ConfigApply) (api.ConfigApplied, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.applies = append(b.applies, req)
	return api.ConfigApplied{Version: 4, Applied: true, Changes: []string{"+ resource db (exec)"}}, nil
}

func (b *configBackend) CommitConfig(context.Context, []byte) error { return nil }

func TestConfigEndpoints(t *testing.T) {
	b := &configBackend{}
	srv := httptest.NewServer(api.NewHandler(b, "tok"))
	defer srv.Close()
	do := func(method, path, ifMatch, body string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer tok")
		if ifMatch != "" {
			req.Header.Set("If-Match", ifMatch)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp, string(out)
	}

	resp, body := do("GET", "/v1/config", "", "")
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"3"` || !strings.Contains(body, `"version": 3`) {
		t.Errorf("GET /v1/config: %d, ETag %q, %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}

	resp, body = do("POST", "/v1/config", `"3"`, `{"path": "/etc/vigil/vigil.yaml", "yaml": "version: 1"}`)
	if resp.StatusCode != 200 || resp.Header.Get("ETag") != `"4"` {
		t.Errorf("POST /v1/config: %d, ETag %q, %s", resp.StatusCode, resp.Header.Get("ETag"), body)
	}
	var got api.ConfigApplied
	if err := json.Unmarshal([]byte(body), &got); err != nil || !got.Applied || len(got.Changes) != 1 || got.Actions == nil {
		t.Errorf("answer %+v (%v): want applied, one change, actions a list", got, err)
	}

	for _, tc := range []struct{ name, ifMatch, body, says string }{
		{"If-Match not a version", `"three"`, `{"path": "/x", "yaml": ""}`, `"field": "If-Match"`},
		{"unknown field", "", `{"path": "/x", "yaml": "", "force": true}`, `unknown field \"force\"`},
		{"trailing data", "", `{"path": "/x", "yaml": ""} {}`, "trailing data"},
	} {
		resp, body := do("POST", "/v1/config", tc.ifMatch, tc.body)
		if resp.StatusCode != 400 || !strings.Contains(body, tc.says) {
			t.Errorf("%s: %d %s; want 400 saying %s", tc.name, resp.StatusCode, body, tc.says)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.applies) != 1 {
		t.Fatalf("%d applies reached the backend, want only the good one", len(b.applies))
	}
	a := b.applies[0]
	if a.IfMatch == nil || *a.IfMatch != 3 || a.Path != "/etc/vigil/vigil.yaml" || a.By != "cluster at 127.0.0.1" {
		t.Errorf("the backend got %+v (If-Match %v)", a, a.IfMatch)
	}
}
