package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/api"
	"github.com/vigil-ha/vigil/internal/lab"
)

const (
	// labDashPort is the host port `lab dashboard` listens on by default.
	labDashPort = 8099
	// labDashDial bounds one dial or ping of a node: a killed node's links
	// are cut, so its dials never fail by themselves.
	labDashDial = time.Second
	// labDashCheck is how often the forwarder pings the node it goes through.
	labDashCheck = time.Second
)

// labDashJSON is what `lab dashboard -o json` prints once it listens.
type labDashJSON struct {
	Lab       string   `json:"lab"`
	URL       string   `json:"url"`    // the dashboard, on the host
	Listen    string   `json:"listen"` // 127.0.0.1:PORT
	Node      string   `json:"node"`   // the node it goes through first
	Nodes     []string `json:"nodes"`  // every node, in the order it fails over
	TokenFile string   `json:"token_file,omitempty"`
}

func (e *env) labDashboardCmd(name *string) *cobra.Command {
	var port int
	var node, output string
	c := &cobra.Command{
		Use:   "dashboard",
		Short: "Forward a port on the host to the web dashboard of a live lab node",
		Long: `The lab's nodes have their addresses in network namespaces, out of a
browser's reach. lab dashboard listens on 127.0.0.1:PORT (and nowhere
else) and forwards each request, as the lab's client would send it, to a
node's API port (198.18.0.k:5407), where the daemon serves the dashboard
at /ui/ and the API at /v1/. It pings that node every second and fails
over to the next one that answers when it stops (killed, frozen, stopped):
the page reconnects by itself. The dashboard asks for the API token,
which lab up writes to DIR/token; the forwarder adds none. The CLI can go
through it too (--server http://127.0.0.1:PORT --token-file DIR/token).
It runs until interrupted.`,
		Example: `  vigil lab dashboard                  # then open http://127.0.0.1:8099/ui/
  vigil lab dashboard --port 9000 --node n2
  vigil lab --name big dashboard --port 0 -o json   # a free port; prints the URL as JSON
  ssh -L 8099:127.0.0.1:8099 labhost   # from your desktop, to a lab on another machine`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if port < 0 || port > 65535 {
				return usagef("--port must be from 0 (any free port) to 65535, not %d", port)
			}
			l, err := lab.Open(*name)
			if err != nil {
				return err
			}
			f := newLabForwarder(l, e.stderr)
			if node != "" {
				if err := f.prefer(node); err != nil {
					return usageError{err}
				}
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGTERM, syscall.SIGINT)
			defer stop()
			if err := f.choose(ctx); err != nil {
				return err
			}
			ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
			if err != nil {
				return fmt.Errorf("lab %s dashboard: %w (another lab dashboard? give --port)", l.Name, err)
			}
			page := "http://" + ln.Addr().String() + "/ui/"
			first, order := f.order()
			if output == "json" {
				if err := writeJSON(e.stdout, labDashJSON{Lab: l.Name, URL: page, Listen: ln.Addr().String(),
					Node: first.node, Nodes: order, TokenFile: l.TokenFile}); err != nil {
					ln.Close()
					return err
				}
			} else {
				fmt.Fprintf(e.stdout, "lab %s dashboard: %s\n", l.Name, page)
				fmt.Fprintf(e.stdout, "  through %s (%s), from the lab's client namespace; fails over to %s\n",
					first.node, first.addr, strings.Join(order[1:], ", "))
				if l.TokenFile != "" {
					fmt.Fprintf(e.stdout, "  sign in with the API token in %s\n", l.TokenFile)
					fmt.Fprintf(e.stdout, "  the CLI too: vigil --server http://%s --token-file %s status\n", ln.Addr(), l.TokenFile)
				} else {
					fmt.Fprintf(e.stdout, "  this lab has no token file (an older vigil made it): bring it up again for DIR/token\n")
				}
				fmt.Fprintf(e.stdout, "Ctrl-C stops it.\n")
			}
			return f.serve(ctx, ln)
		},
	}
	c.Flags().IntVar(&port, "port", labDashPort, "port on 127.0.0.1 to listen on (0: any free port)")
	c.Flags().StringVar(&node, "node", "", "node to go through first (default: the first that answers)")
	outputFlag(c, &output)
	return c
}

// labTarget is a node's API, as the forwarder reaches it.
type labTarget struct {
	node string
	addr string // IP:PORT on link 0
}

// labForwarder forwards HTTP to one node's API at a time and moves to
// another when that one stops answering. Its methods are safe for
// concurrent use.
type labForwarder struct {
	lab     string
	targets []labTarget
	// dial connects to address as the lab's client does; it blocks until
	// connected, ctx is done or the dial fails.
	dial func(ctx context.Context, address string) (net.Conn, error)
	log  io.Writer // one line per change of node

	mu   sync.Mutex
	cur  int  // index in targets of the node requests go to
	lost bool // no node answered the last check (logged once)
}

func newLabForwarder(l *lab.Lab, log io.Writer) *labForwarder {
	f := &labForwarder{lab: l.Name, log: log,
		dial: func(ctx context.Context, address string) (net.Conn, error) { return l.Dial(ctx, "client", address) }}
	for _, n := range l.Nodes {
		f.targets = append(f.targets, labTarget{node: n.Name, addr: net.JoinHostPort(n.Address, strconv.Itoa(labAPIPort))})
	}
	return f
}

// prefer makes node the first one tried.
func (f *labForwarder) prefer(node string) error {
	for i, t := range f.targets {
		if t.node == node {
			f.mu.Lock()
			f.cur = i
			f.mu.Unlock()
			return nil
		}
	}
	return fmt.Errorf("lab %s has no node %q", f.lab, node)
}

// order returns the current target and every node's name, starting there.
func (f *labForwarder) order() (labTarget, []string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var names []string
	for k := range f.targets {
		names = append(names, f.targets[(f.cur+k)%len(f.targets)].node)
	}
	return f.targets[f.cur], names
}

// choose pings the nodes, from the current one on, and goes through the
// first that answers; if none does, it says what each one did. It tries
// each node once, each for at most labDashDial.
func (f *labForwarder) choose(ctx context.Context) error {
	f.mu.Lock()
	start := f.cur
	f.mu.Unlock()
	var errs []error
	for k := range f.targets {
		i := (start + k) % len(f.targets)
		if err := f.ping(ctx, i); err != nil {
			errs = append(errs, err)
			continue
		}
		f.mu.Lock()
		f.cur = i
		f.mu.Unlock()
		return nil
	}
	return fmt.Errorf("lab %s dashboard: no node answers: %w", f.lab, errors.Join(errs...))
}

// ping asks target i's daemon GET /v1/ping (which needs no token), for at
// most labDashDial: only a live daemon answers, a frozen one's kernel
// still accepts the connection.
func (f *labForwarder) ping(ctx context.Context, i int) error {
	t := f.targets[i]
	ctx, cancel := context.WithTimeout(ctx, labDashDial)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{
		DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return f.dial(ctx, t.addr) },
		DisableKeepAlives: true,
	}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+t.addr+api.PingPath, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", t.node, err)
	}
	res, err := hc.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return fmt.Errorf("%s: no answer to ping within %s", t.node, labDashDial)
		}
		return fmt.Errorf("%s: %w", t.node, unwrapURL(err))
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: ping answered %s", t.node, res.Status)
	}
	return nil
}

// unwrapURL drops net/http's `Get "URL":` prefix, which repeats the node.
func unwrapURL(err error) error {
	if u, ok := errors.AsType[*url.Error](err); ok {
		return u.Err
	}
	return err
}

// check pings the current node; if it does not answer, it moves to the
// next one that does (each tried once). It logs each move, and once that
// no node answers.
func (f *labForwarder) check(ctx context.Context) {
	f.mu.Lock()
	cur := f.cur
	f.mu.Unlock()
	err := f.ping(ctx, cur)
	if err == nil {
		f.setLost(false)
		return
	}
	for k := 1; k < len(f.targets) && ctx.Err() == nil; k++ {
		i := (cur + k) % len(f.targets)
		if f.ping(ctx, i) == nil {
			f.switchTo(cur, i, err)
			f.setLost(false)
			return
		}
	}
	if ctx.Err() == nil && f.setLost(true) {
		fmt.Fprintf(f.log, "lab %s dashboard: no node answers (%v); still trying\n", f.lab, err)
	}
}

// setLost records whether no node answers and reports whether that is news.
func (f *labForwarder) setLost(lost bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	news := f.lost != lost
	f.lost = lost
	return news
}

// switchTo moves from target from to target to, unless someone moved already.
func (f *labForwarder) switchTo(from, to int, why error) {
	f.mu.Lock()
	moved := f.cur == from && from != to
	if moved {
		f.cur = to
	}
	f.mu.Unlock()
	if moved {
		fmt.Fprintf(f.log, "lab %s dashboard: now through %s (%v)\n", f.lab, f.targets[to].node, why)
	}
}

// dialAny connects to the current node, else to the next that accepts;
// it tries each node once, each for at most labDashDial.
func (f *labForwarder) dialAny(ctx context.Context) (net.Conn, error) {
	f.mu.Lock()
	cur := f.cur
	f.mu.Unlock()
	var errs []error
	for k := range f.targets {
		i := (cur + k) % len(f.targets)
		dctx, cancel := context.WithTimeout(ctx, labDashDial)
		c, err := f.dial(dctx, f.targets[i].addr)
		cancel()
		if err == nil {
			if k > 0 {
				f.switchTo(cur, i, errs[0])
			}
			return c, nil
		}
		if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
			err = fmt.Errorf("no connection within %s", labDashDial)
		}
		errs = append(errs, fmt.Errorf("%s: %w", f.targets[i].node, err))
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("no node of lab %s accepts: %w", f.lab, errors.Join(errs...))
}

// handler forwards every request to the current node. Each request has a
// connection of its own, so that the next one after a failover goes to
// the new node, and streams (GET /v1/stream) are flushed as they come.
func (f *labForwarder) handler() http.Handler {
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = "http", "vigil-lab-"+f.lab // the dial picks the node
			pr.Out.Host = pr.In.Host
		},
		Transport: &http.Transport{
			DialContext:       func(ctx context.Context, _, _ string) (net.Conn, error) { return f.dialAny(ctx) },
			DisableKeepAlives: true,
		},
		FlushInterval: -1,
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			if r.Context().Err() != nil {
				return // the browser went away
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadGateway)
			_, _ = fmt.Fprintf(w, "{\"status\":502,\"error\":%s}\n", strconv.Quote("vigil lab dashboard: "+err.Error()))
		},
	}
}

// serve answers on ln until ctx is done, pinging the current node every
// labDashCheck, then closes ln and waits for its requests (whose contexts
// end with ctx) and the pings.
func (f *labForwarder) serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           f.handler(),
		ReadHeaderTimeout: 10 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(labDashCheck)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				f.check(ctx)
			}
		}
	})
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	var err error
	select {
	case err = <-served:
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Second)
		if srv.Shutdown(sctx) != nil {
			_ = srv.Close()
		}
		cancel()
		err = <-served
	}
	wg.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return fmt.Errorf("lab %s dashboard: %w", f.lab, err)
}
