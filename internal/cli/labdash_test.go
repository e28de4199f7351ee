package cli

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/vigil-ha/vigil/internal/api"
)

// nodeAPI is a fake node's API: it answers ping, and its name elsewhere.
func nodeAPI(t *testing.T, name string) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == api.PingPath {
			return
		}
		if r.URL.Path == "/v1/stream" {
			w.Header().Set("Content-Type", "text/event-stream")
			io.WriteString(w, "data: "+name+"\n\n")
			w.(http.Flusher).Flush()
			<-r.Context().Done() // a stream lasts as long as its reader
			return
		}
		io.WriteString(w, name+" "+r.Header.Get("Authorization")+"\n")
	}))
	t.Cleanup(s.Close)
	return s
}

func testForwarder(log io.Writer, servers ...*httptest.Server) *labForwarder {
	f := &labForwarder{lab: "dd", log: log, dial: func(ctx context.Context, address string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, "tcp", address)
	}}
	for i, s := range servers {
		f.targets = append(f.targets, labTarget{node: "n" + string(rune('1'+i)), addr: s.Listener.Addr().String()})
	}
	return f
}

func get(t *testing.T, url string) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer tok")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.Status + " " + string(b)
}

func TestLabForwarderFailover(t *testing.T) {
	n1, n2 := nodeAPI(t, "n1"), nodeAPI(t, "n2")
	var log strings.Builder
	f := testForwarder(&log, n1, n2)
	if err := f.choose(context.Background()); err != nil {
		t.Fatal(err)
	}
	proxy := httptest.NewServer(f.handler())
	defer proxy.Close()

	// The request, token and all, reaches the node as the browser sent it.
	if got, want := get(t, proxy.URL+"/v1/status"), "200 OK n1 Bearer tok\n"; got != want {
		t.Errorf("through n1: %q; want %q", got, want)
	}
	n1.Close() // the daemon stops: its port refuses
	if got, want := get(t, proxy.URL+"/v1/status"), "200 OK n2 Bearer tok\n"; got != want {
		t.Errorf("after n1 stopped: %q; want %q", got, want)
	}
	if got := log.String(); !strings.HasPrefix(got, "lab dd dashboard: now through n2 (n1: ") || strings.Count(got, "\n") != 1 {
		t.Errorf("log %q; want one line saying it moved to n2", got)
	}
	f.check(context.Background()) // n2 answers: nothing changes
	if first, order := f.order(); first.node != "n2" || strings.Join(order, " ") != "n2 n1" {
		t.Errorf("order %s %v; want n2 first", first.node, order)
	}

	n2.Close()
	got := get(t, proxy.URL+"/v1/status")
	if !strings.HasPrefix(got, "502 Bad Gateway {\"status\":502,\"error\":\"vigil lab dashboard: no node of lab dd accepts: ") {
		t.Errorf("with no node: %q; want a 502 in the API's error shape", got)
	}
	f.check(context.Background())
	f.check(context.Background())
	if strings.Count(log.String(), "no node answers") != 1 {
		t.Errorf("log %q; want one line saying no node answers", log.String())
	}
}

// TestLabForwarderFrozen: a node whose daemon is frozen accepts
// connections but answers nothing; the check moves on from it.
func TestLabForwarderFrozen(t *testing.T) {
	frozen, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer frozen.Close() // the kernel accepts into the backlog; nobody reads
	n2 := nodeAPI(t, "n2")
	var log strings.Builder
	f := testForwarder(&log, n2, n2)
	f.targets[0].addr = frozen.Addr().String()
	f.check(context.Background())
	if first, _ := f.order(); first.node != "n2" {
		t.Errorf("after a check: through %s; want n2", first.node)
	}
	if !strings.Contains(log.String(), "now through n2 (n1: ") {
		t.Errorf("log %q; want the move to n2", log.String())
	}
}

func TestLabForwarderStream(t *testing.T) {
	f := testForwarder(io.Discard, nodeAPI(t, "n1"))
	proxy := httptest.NewServer(f.handler())
	defer proxy.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, proxy.URL+"/v1/stream", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	// The first event arrives while the stream stays open.
	line, err := bufio.NewReader(res.Body).ReadString('\n')
	if err != nil || line != "data: n1\n" {
		t.Errorf("first line %q, %v; want the node's event", line, err)
	}
}

func TestLabForwarderNoNode(t *testing.T) {
	n1, n2 := nodeAPI(t, "n1"), nodeAPI(t, "n2")
	f := testForwarder(io.Discard, n1, n2)
	n1.Close()
	n2.Close()
	err := f.choose(context.Background())
	if err == nil || !strings.Contains(err.Error(), "no node answers") || !strings.Contains(err.Error(), "n1: ") || !strings.Contains(err.Error(), "n2: ") {
		t.Errorf("choose: %v; want each node's failure", err)
	}
	if err := f.prefer("n9"); err == nil || err.Error() != `lab dd has no node "n9"` {
		t.Errorf("prefer n9: %v", err)
	}
}

func TestLabDashboardHint(t *testing.T) {
	got := labDashboardHint("vigil", "http://198.18.0.1:5407", "/var/lib/vigil/lab/vigil/token")
	want := "dashboard: http://198.18.0.1:5407/ui/ (token in /var/lib/vigil/lab/vigil/token)\n" +
		"  from the host: vigil lab dashboard   (then open http://127.0.0.1:8099/ui/)\n"
	if got != want {
		t.Errorf("hint:\n%s\nwant:\n%s", got, want)
	}
	got = labDashboardHint("big", "http://198.18.0.2:5407", "")
	want = "dashboard: http://198.18.0.2:5407/ui/\n" +
		"  from the host: vigil lab --name big dashboard   (then open http://127.0.0.1:8099/ui/)\n"
	if got != want {
		t.Errorf("hint:\n%s\nwant:\n%s", got, want)
	}
}

func TestLabToken(t *testing.T) {
	// As the daemon reads DIR/secret (trailing space trimmed) for cluster lab-NAME.
	if got, want := labToken("dd", []byte("0123456789abcdef0123\n")), api.DeriveToken("lab-dd", []byte("0123456789abcdef0123")); got != want {
		t.Errorf("labToken = %s; want %s", got, want)
	}
}
