package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/lab"
)

// LabVIP is the floating IP of the lab's demo group, and LabWebPort the port
// its web service answers on.
const (
	LabVIP     = "198.18.0.100"
	LabWebPort = 8080
)

// probeResult is one line of `probe --output json`.
type probeResult struct {
	OK    bool    `json:"ok"`
	Node  string  `json:"node"`
	MS    float64 `json:"ms"`
	Error string  `json:"error,omitempty"`
}

// probeOnce asks url once and returns who answered.
func probeOnce(ctx context.Context, c *http.Client, url string) probeResult {
	start := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return probeResult{Error: err.Error()}
	}
	resp, err := c.Do(req)
	ms := float64(time.Since(start).Microseconds()) / 1000
	if err != nil {
		return probeResult{MS: ms, Error: err.Error()}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	if resp.StatusCode != http.StatusOK {
		return probeResult{MS: ms, Error: resp.Status}
	}
	return probeResult{OK: true, Node: strings.TrimSpace(string(body)), MS: ms}
}

func (e *env) probeCmd() *cobra.Command {
	var output string
	var count int
	var interval, timeout time.Duration
	c := &cobra.Command{
		Use:   "probe URL",
		Short: "Ask a URL (a service behind a VIP) and print who answered",
		Long: `Ask URL with HTTP GET, once or --count times every --interval, and
print which node answered (the body of the answer) and how long it took.
With --output json, one {"ok", "node", "ms"} object per line.
The exit code is 0 if the last probe succeeded, 1 otherwise.`,
		Example: `  vigil probe http://198.18.0.100:8080/
  vigil probe --count 100 --interval 100ms -o json http://198.18.0.100:8080/`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			if count < 1 || count > 1_000_000 {
				return usagef("--count must be from 1 to 1000000, not %d", count)
			}
			if interval < 0 || timeout <= 0 {
				return usagef("--interval must be >= 0 and --timeout > 0")
			}
			return e.probe(cmd.Context(), args[0], count, interval, timeout, output)
		},
	}
	outputFlag(c, &output)
	c.Flags().IntVar(&count, "count", 1, "how many probes")
	c.Flags().DurationVar(&interval, "interval", time.Second, "time between probes")
	c.Flags().DurationVar(&timeout, "timeout", time.Second, "how long one probe may take")
	return c
}

func (e *env) probe(ctx context.Context, url string, count int, interval, timeout time.Duration, output string) error {
	c := &http.Client{Timeout: timeout, Transport: &http.Transport{DisableKeepAlives: true}}
	var last probeResult
	for i := range count {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(interval):
			}
		}
		last = probeOnce(ctx, c, url)
		if output == "json" {
			b, _ := json.Marshal(last)
			fmt.Fprintln(e.stdout, string(b))
		} else if last.OK {
			fmt.Fprintf(e.stdout, "%s answered in %.1f ms\n", last.Node, last.MS)
		} else {
			fmt.Fprintf(e.stdout, "no answer after %.1f ms: %s\n", last.MS, last.Error)
		}
	}
	if !last.OK {
		return exitError{code: ExitFailure, err: errors.New("")}
	}
	return nil
}

func (e *env) labProbeCmd(name *string) *cobra.Command {
	var output string
	var count int
	var interval, timeout time.Duration
	c := &cobra.Command{
		Use:   "probe",
		Short: "Ask the lab's VIP from the client namespace and print which node answered",
		Example: `  vigil lab probe
  vigil lab probe --count 50 --interval 100ms -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := lab.Open(*name)
			if err != nil {
				return err
			}
			bin, err := e.executable()
			if err != nil {
				return err
			}
			url := fmt.Sprintf("http://%s/", net.JoinHostPort(LabVIP, strconv.Itoa(LabWebPort)))
			x, err := l.Command(cmd.Context(), "client", bin, "probe", url, "--count", strconv.Itoa(count),
				"--interval", interval.String(), "--timeout", timeout.String(), "--output", output)
			if err != nil {
				return err
			}
			x.Stdout, x.Stderr = e.stdout, e.stderr
			err = x.Run()
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				return exitError{code: ee.ExitCode(), err: errors.New("")}
			}
			return err
		},
	}
	outputFlag(c, &output)
	c.Flags().IntVar(&count, "count", 1, "how many probes")
	c.Flags().DurationVar(&interval, "interval", time.Second, "time between probes")
	c.Flags().DurationVar(&timeout, "timeout", time.Second, "how long one probe may take")
	return c
}

func (e *env) labWebCmd() *cobra.Command {
	var listen, cfgPath string
	c := &cobra.Command{
		Use:   "web",
		Short: "Serve the lab's demo web page: it answers with this node's name",
		Long: `A tiny web service for the lab's demo: GET / answers with the name of the
node it runs on (found from the cluster config by this host's addresses).
The lab runs it as an exec resource behind the VIP.`,
		Example: `  vigil lab web --config /var/lib/vigil/lab/vigil/vigil.yaml --listen 198.18.0.1:8080`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(e.configPath(cfgPath))
			if err != nil {
				return usageError{err}
			}
			self, err := findSelf(cfg, "")
			if err != nil {
				return err
			}
			if _, err := netip.ParseAddrPort(listen); err != nil {
				return usagef("--listen %q: want ADDRESS:PORT", listen)
			}
			l, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			srv := &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintln(w, self)
			})}
			go func() {
				<-cmd.Context().Done()
				srv.Close()
			}()
			if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		},
	}
	c.Flags().StringVar(&listen, "listen", net.JoinHostPort(LabVIP, strconv.Itoa(LabWebPort)), "address and port to serve on")
	c.Flags().StringVarP(&cfgPath, "config", "c", "", "cluster config (default $VIGIL_CONFIG or "+DefaultConfig+")")
	return c
}
