package api_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/api"
)

// fakeBackend answers with a fixed status.
type fakeBackend struct{ s api.Status }

func (b fakeBackend) Status() api.Status { return b.s }

func (b fakeBackend) RaftState() api.RaftState { return api.RaftState{Node: b.s.Node, HasState: true} }

// Report refuses reports about resource "refuse" as a follower would.
func (b fakeBackend) Report(_ context.Context, r api.Report) error {
	if r.Resource == "refuse" {
		return &api.Error{Status: http.StatusConflict, Message: "not the leader"}
	}
	return nil
}

func (fakeBackend) Plan(api.Simulation) (api.Plan, error) { return api.Plan{}, nil }

func (fakeBackend) Operate(context.Context, api.Operation) (api.Outcome, error) {
	return api.Outcome{}, nil
}

func (fakeBackend) Commit(context.Context, []byte) error { return nil }

func testStatus() api.Status {
	return api.Status{
		Cluster: "demo", Node: "n1", Leader: "n1", Quorum: true,
		QuorumDetail: api.Quorum{Voters: 3, Needed: 2, Present: []string{"n1", "n2"}},
		Nodes: []api.Node{
			{Name: "n1", State: "online", Addresses: []string{"198.18.0.1"}, Self: true,
				Links: []api.Link{{Index: 0, Address: "198.18.0.1", State: "online"}}},
			{Name: "n2", State: "online", Addresses: []string{"198.18.0.2"}, Committed: "online",
				LastHeard: time.Date(2025, 3, 1, 11, 59, 59, 0, time.UTC),
				Links:     []api.Link{{Index: 0, Address: "198.18.0.2", State: "online", RTTMillis: 0.5}}},
			{Name: "n3", State: "offline", Addresses: []string{"198.18.0.3"},
				Links: []api.Link{{Index: 0, Address: "198.18.0.3", State: "offline", Loss: 1}}},
		},
		Resources: []api.Resource{},
		Raft:      api.Raft{State: "Leader", Term: 2, LastIndex: 5, CommitIndex: 5, AppliedIndex: 5},
		Profile:   "lan",
		Time:      time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

// do sends method path to srv with the Authorization header auth (none if
// empty) and returns the status code and body.
func do(t *testing.T, srv *httptest.Server, method, path, auth string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, body
}

// checkErrorShape checks that body is exactly the API's error shape,
// {"status": status, "error": "..."} with an optional "field".
func checkErrorShape(t *testing.T, resp *http.Response, body []byte, status int) {
	t.Helper()
	if resp.StatusCode != status {
		t.Errorf("status %d, want %d; body: %s", resp.StatusCode, status, body)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q, want application/json", ct)
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, body)
	}
	if got, ok := m["status"].(float64); !ok || int(got) != status {
		t.Errorf(`error body "status" = %v, want %d`, m["status"], status)
	}
	if msg, ok := m["error"].(string); !ok || msg == "" {
		t.Errorf(`error body "error" = %#v, want a message`, m["error"])
	}
	for k := range m {
		if k != "status" && k != "error" && k != "field" {
			t.Errorf("error body has unexpected key %q: %s", k, body)
		}
	}
}

func TestHandlerToken(t *testing.T) {
	want := testStatus()
	h := api.NewHandler(fakeBackend{want}, "tok")
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)

	refusals := []struct{ name, auth string }{
		{"no Authorization", ""},
		{"wrong token", "Bearer nope"},
		{"token as a prefix", "Bearer to"},
		{"token with more", "Bearer tokk"},
		{"no Bearer", "tok"},
		{"basic", "Basic dG9rOg=="},
	}
	for _, tt := range refusals {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, srv, http.MethodGet, "/v1/status", tt.auth)
			checkErrorShape(t, resp, body, http.StatusUnauthorized)
			if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate %q, want a Bearer challenge", got)
			}
			if strings.Contains(string(body), want.Cluster) {
				t.Errorf("a refusal leaks the status: %s", body)
			}
		})
	}
	if got, want := h.Refused.Load(), uint64(len(refusals)); got != want {
		t.Errorf("Refused = %d after %d refusals", got, want)
	}

	// An unknown path needs the token too, so it is a 401 first.
	resp, body := do(t, srv, http.MethodGet, "/v1/nothing", "")
	checkErrorShape(t, resp, body, http.StatusUnauthorized)

	resp, body = do(t, srv, http.MethodGet, "/v1/status", "Bearer tok")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("with the token: status %d, body %s", resp.StatusCode, body)
	}
	var got api.Status
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("decode status: %v\n%s", err, body)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("status (-backend +served):\n%s", d)
	}
	if got, want := h.Refused.Load(), uint64(len(refusals)+1); got != want {
		t.Errorf("Refused = %d, want %d (an accepted request is not a refusal)", got, want)
	}
}

func TestHandlerRoutes(t *testing.T) {
	for _, token := range []string{"", "tok"} {
		auth := ""
		if token != "" {
			auth = "Bearer " + token
		}
		t.Run("token="+token, func(t *testing.T) {
			h := api.NewHandler(fakeBackend{testStatus()}, token)
			srv := httptest.NewServer(h)
			t.Cleanup(srv.Close)

			resp, body := do(t, srv, http.MethodGet, "/v1/raft/state", auth)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /v1/raft/state: %d %s", resp.StatusCode, body)
			}
			var rs api.RaftState
			if err := json.Unmarshal(body, &rs); err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(api.RaftState{Node: "n1", HasState: true}, rs); d != "" {
				t.Errorf("raft state (-want +got):\n%s", d)
			}

			for _, path := range []string{"/", "/v1/nothing", "/v1/status/extra", "/v2/status"} {
				resp, body := do(t, srv, http.MethodGet, path, auth)
				checkErrorShape(t, resp, body, http.StatusNotFound)
			}
			// The catch-all "/" route matches every method, so ServeMux never
			// answers 405 itself: a wrong method is our JSON 404. A 405 would
			// do as well, if it is our shape and names GET in Allow.
			for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
				resp, body := do(t, srv, method, "/v1/status", auth)
				switch resp.StatusCode {
				case http.StatusMethodNotAllowed:
					checkErrorShape(t, resp, body, http.StatusMethodNotAllowed)
					if got := resp.Header.Get("Allow"); !strings.Contains(got, "GET") {
						t.Errorf("%s /v1/status: Allow %q, want GET", method, got)
					}
				default:
					checkErrorShape(t, resp, body, http.StatusNotFound)
				}
			}
			// HEAD is served wherever GET is.
			if resp, body := do(t, srv, http.MethodHead, "/v1/status", auth); resp.StatusCode != http.StatusOK {
				t.Errorf("HEAD /v1/status: %d %s", resp.StatusCode, body)
			}
			if h.Refused.Load() != 0 {
				t.Errorf("Refused = %d, want 0", h.Refused.Load())
			}
		})
	}
}

func TestDeriveToken(t *testing.T) {
	secret := []byte("correct horse battery staple")
	tok := api.DeriveToken("demo", secret)
	if again := api.DeriveToken("demo", []byte("correct horse battery staple")); again != tok {
		t.Errorf("DeriveToken is not deterministic: %s then %s", tok, again)
	}
	if len(tok) != 64 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Errorf("token %q is not 64 lowercase hex characters", tok)
	}
	if strings.Contains(tok, string(secret)) || strings.Contains(tok, "demo") {
		t.Errorf("token %q contains its inputs", tok)
	}
	others := map[string]string{
		"other cluster":   api.DeriveToken("demo2", secret),
		"other secret":    api.DeriveToken("demo", []byte("correct horse battery stapler")),
		"empty cluster":   api.DeriveToken("", secret),
		"swapped":         api.DeriveToken(string(secret), []byte("demo")),
		"cluster in salt": api.DeriveToken("demo\x00", secret),
	}
	for name, o := range others {
		if o == tok {
			t.Errorf("%s: same token %s", name, tok)
		}
	}
}

func TestReportEndpoint(t *testing.T) {
	srv := httptest.NewServer(api.NewHandler(fakeBackend{s: testStatus()}, "tok"))
	defer srv.Close()
	post := func(token, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, srv.URL+"/v1/internal/report", strings.NewReader(body))
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	good := `{"resource":"web","node":"n2","state":"started","at":"2026-01-01T00:00:00Z"}`
	for _, tc := range []struct {
		name, token, body string
		status            int
		says              string
	}{
		{"accepted", "tok", good, 200, `"ok": true`},
		{"no token", "", good, 401, "token"},
		{"unknown field", "tok", `{"resource":"web","evil":1}`, 400, "unknown field"},
		{"trailing data", "tok", good + `{}`, 400, "trailing"},
		{"not json", "tok", `resource=web`, 400, "bad request body"},
		{"refused by the backend", "tok", `{"resource":"refuse"}`, 409, "not the leader"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, body := post(tc.token, tc.body)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("= %d %s, want %d containing %q", status, body, tc.status, tc.says)
			}
		})
	}
}
