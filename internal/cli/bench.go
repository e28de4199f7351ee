package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/vigil-ha/vigil/internal/bench"
	"github.com/vigil-ha/vigil/internal/config"
	"github.com/vigil-ha/vigil/internal/lab"
)

// benchLabName is the lab `lab bench` brings up when --name is not given.
const benchLabName = "bench"

// benchFlags are the flags of `vigil lab bench failover`.
type benchFlags struct {
	trials        int
	faults        string
	probeInterval time.Duration
	output        string
	loss          int
	duration      time.Duration
	lossOn        string
	threshold     time.Duration
	observe       time.Duration
	compare       string
	keep          bool
	watchdog      bool
	dir           string
}

// benchPlan is a checked benchFlags.
type benchPlan struct {
	faults     []bench.Fault
	lossOn     bench.LossOn
	keepalived bool
}

// errPacemaker says why --compare pacemaker is not supported.
var errPacemaker = errors.New("--compare pacemaker is not supported: Corosync and Pacemaker keep their state and IPC in host-wide paths " +
	"(/var/lib/pacemaker, /var/lib/corosync, /dev/shm, /run/crm) and run as the hacluster user, so three of them on one machine " +
	"need a mount namespace and a user set-up per lab node besides the network namespace, which the lab does not build; " +
	"compare with --compare keepalived, or run Pacemaker on real or virtual machines")

// check validates the flags; it touches nothing.
func (f benchFlags) check() (benchPlan, error) {
	var p benchPlan
	var errs []error
	if err := checkOutput(f.output); err != nil {
		errs = append(errs, err)
	}
	if f.trials < 0 || f.trials > 1000 {
		errs = append(errs, fmt.Errorf("--trials must be from 0 to 1000, not %d", f.trials))
	}
	faults, err := bench.ParseFaults(f.faults)
	if err != nil {
		errs = append(errs, fmt.Errorf("--faults: %w", err))
	}
	p.faults = faults
	if f.probeInterval < time.Millisecond || f.probeInterval > time.Second {
		errs = append(errs, fmt.Errorf("--probe-interval must be from 1ms to 1s, not %s", f.probeInterval))
	}
	if f.loss < 0 || f.loss > 100 {
		errs = append(errs, fmt.Errorf("--loss must be a percent from 0 to 100, not %d", f.loss))
	}
	if f.duration < 0 || f.duration > 24*time.Hour {
		errs = append(errs, fmt.Errorf("--duration must be from 0 to 24h, not %s", f.duration))
	}
	if (f.loss > 0) != (f.duration > 0) {
		errs = append(errs, errors.New("--loss and --duration go together: a soak needs both (e.g. --loss 20 --duration 5m)"))
	}
	p.lossOn, err = bench.ParseLossOn(f.lossOn)
	if err != nil {
		errs = append(errs, fmt.Errorf("--loss-on: %w", err))
	}
	if f.threshold <= 0 {
		errs = append(errs, fmt.Errorf("--soak-threshold must be > 0, not %s", f.threshold))
	}
	if f.observe <= 0 || f.observe > time.Minute {
		errs = append(errs, fmt.Errorf("--observe must be from 1ns to 1m, not %s", f.observe))
	}
	switch f.compare {
	case "":
	case "keepalived":
		p.keepalived = true
	case "pacemaker":
		errs = append(errs, errPacemaker)
	default:
		errs = append(errs, fmt.Errorf("--compare must be keepalived (or pacemaker, which is not supported), not %q", f.compare))
	}
	if f.trials == 0 && f.duration == 0 {
		errs = append(errs, errors.New("nothing to run: --trials 0 and no soak (--loss and --duration)"))
	}
	if err := errors.Join(errs...); err != nil {
		return benchPlan{}, usageError{err}
	}
	return p, nil
}

func (e *env) labBenchCmd(name *string) *cobra.Command {
	c := &cobra.Command{
		Use:   "bench",
		Short: "Benchmarks that run in a lab of their own",
		Example: `  vigil lab bench failover --trials 5
  vigil lab bench failover --compare keepalived -o json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	c.AddCommand(e.labBenchFailoverCmd(name))
	return c
}

func (e *env) labBenchFailoverCmd(name *string) *cobra.Command {
	var f benchFlags
	c := &cobra.Command{
		Use:   "failover",
		Short: "Repeat faults on the VIP's holder and report the outage a client sees",
		Long: `Bring up a lab of its own (3 nodes and the demo group "web", named "bench"
unless --name is given), repeat each fault --trials times on the node that
holds the VIP, and report from the client's view the outage of every trial
and its min, median, p90 and max; then take the lab down (--keep leaves it
up). It never touches a lab it did not bring up: if the lab exists, it stops.

Faults (--faults):
  node-kill     power loss of the holder: freeze it and cut its links (lab kill)
  daemon-kill   SIGKILL of the HA daemon on the holder
  service-kill  SIGKILL of the web service behind the VIP on the holder

The client namespace sends an HTTP GET to the VIP on a new connection every
--probe-interval, whatever the earlier probes do (each may take 500ms). A
trial's outage runs from the sending of the first probe that fails after
the fault to the arrival of the first good reply from the node that takes
over (from the same node, for vigil's service-kill, which restarts the
service in place); 0 if the VIP moved with no failed probe. A sampler reads
every node's addresses through netlink every 10ms: double_holder_ms sums
the time two nodes held the VIP in a trial's window (the fault to --observe
after the outage ended; a killed node holds nothing). A holding that had not
ended by then is "unresolved": it would have gone on.

With --loss PERCENT --duration D it also soaks: no fault, PERCENT of the
packets received by the holder (--loss-on all: by every node) dropped at
random for D, and counts false failovers: every move of the VIP, and every
client outage longer than --soak-threshold that no move explains. Its row is
fault "soak" (its outage figures are over the short outages the loss causes).
--trials 0 runs only the soak.

--compare keepalived then stops vigil's daemons and runs Keepalived (installed
with apt-get if missing) on the same nodes, with the same web service, client
and prober, twice: the classic configuration of the guides (VRRP unicast
between the nodes, advert_int 1, priority 100/90/80, a track_script on the
web service with weight -20), and the same with advert_int 0.1 (VRRPv3). Its
rows show vigil's median and p90 divided by Keepalived's. A SIGKILLed
keepalived leaves the VIP in the kernel: its backup takes over and both hold
it, which double_holder_ms reports. --compare pacemaker is not supported
(Corosync and Pacemaker need a mount namespace per node; see the error).

Progress goes to stderr; the table or --output json to stdout:
{"results": [{"system", "fault", "trials", "outage_ms": {"min", "median",
"p90", "max"}, "false_failovers", "double_holder_ms", "outages_ms", ...}]}.`,
		Example: `  vigil lab bench failover
  vigil lab bench failover --trials 20 --faults node-kill -o json
  vigil lab bench failover --trials 5 --compare keepalived
  vigil lab bench failover --trials 0 --loss 20 --duration 5m --loss-on all
  vigil lab bench failover --name bn1 --trials 3 --keep   # leave lab bn1 up afterwards`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			p, err := f.check()
			if err != nil {
				return err
			}
			labName := *name
			if fl := cmd.Flag("name"); fl == nil || !fl.Changed {
				labName = benchLabName
			}
			return e.benchFailover(cmd.Context(), labName, f, p)
		},
	}
	fl := c.Flags()
	fl.IntVar(&f.trials, "trials", 10, "trials of each fault (0: only the soak)")
	fl.StringVar(&f.faults, "faults", "node-kill,daemon-kill,service-kill", "faults to run, comma-separated")
	fl.DurationVar(&f.probeInterval, "probe-interval", 10*time.Millisecond, "time between the client's probes of the VIP")
	outputFlag(c, &f.output)
	fl.IntVar(&f.loss, "loss", 0, "soak: percent of received packets to drop at random (with --duration)")
	fl.DurationVar(&f.duration, "duration", 0, "soak: how long (with --loss)")
	fl.StringVar(&f.lossOn, "loss-on", "holder", "soak: drop packets on the holder or on all nodes")
	fl.DurationVar(&f.threshold, "soak-threshold", time.Second, "soak: a client outage longer than this is a false failover")
	fl.DurationVar(&f.observe, "observe", 2*time.Second, "how long a trial watches for double holders after its outage ended")
	fl.StringVar(&f.compare, "compare", "", "also run the faults against keepalived on the same nodes")
	fl.BoolVar(&f.keep, "keep", false, "leave the lab up afterwards (vigil's daemons running again)")
	fl.BoolVar(&f.watchdog, "watchdog", true, "vigil's daemons feed their node's emulated hardware watchdog (a quarter of the lease: 42.5ms on lan), as a production node's should: a killed daemon's node is reset")
	fl.StringVar(&f.dir, "dir", "", "the lab's directory (default /var/lib/vigil/lab/NAME)")
	return c
}

// benchFailover brings up the lab, runs the benchmark and prints it.
func (e *env) benchFailover(ctx context.Context, name string, f benchFlags, p benchPlan) (err error) {
	if os.Geteuid() != 0 {
		return errors.New("lab bench needs root (network namespaces, bridges, nftables): run it with sudo")
	}
	bin, err := e.executable()
	if err != nil {
		return fmt.Errorf("find the vigil binary: %w", err)
	}
	var kaBin string
	if p.keepalived {
		if kaBin, err = bench.EnsureKeepalived(ctx, e.stderr); err != nil {
			return err
		}
	}
	timing, _ := config.Profile("lan")
	fmt.Fprintf(e.stderr, "lab %s: bringing up 3 nodes with the demo group web…\n", name)
	l, err := lab.Up(ctx, lab.Options{
		Name: name, Dir: f.dir, Nodes: 3, Links: 2, Binary: bin,
		Watchdog: f.watchdog, WatchdogTimeout: labWatchdogTimeout(timing),
		Config: func(ns []lab.Node) ([]byte, error) {
			return labConfig(name, timing, ns, bin, nil, labExtras{})
		},
	})
	if err != nil {
		return err
	}
	vigilStopped := false
	defer func() {
		cctx := context.WithoutCancel(ctx)
		switch {
		case !f.keep:
			if derr := lab.Down(cctx, name, false); derr != nil {
				err = errors.Join(err, derr)
			} else {
				fmt.Fprintf(e.stderr, "lab %s is down (logs in %s)\n", name, l.Dir)
			}
		case vigilStopped:
			serr := bench.StartVigil(l)
			if serr == nil {
				serr = waitQuorum(cctx, l, 60*time.Second)
			}
			err = errors.Join(err, serr)
			fallthrough
		default:
			fmt.Fprintf(e.stderr, "lab %s is left up: 'vigil lab down --name %s' removes it\n", name, name)
		}
	}()
	if err := waitQuorum(ctx, l, 60*time.Second); err != nil {
		return err
	}
	cfg := bench.Config{
		Lab: l, Trials: f.trials, Faults: p.faults, ProbeEvery: f.probeInterval, Observe: f.observe, Progress: e.stderr,
		Soak: bench.SoakConfig{Loss: f.loss, On: p.lossOn, Duration: f.duration, Threshold: f.threshold},
	}
	var rep bench.Report
	res, err := bench.Run(ctx, cfg, &bench.Vigil{Lab: l})
	rep.Results = append(rep.Results, res...)
	if err == nil && p.keepalived {
		vigilStopped = true
		if err = bench.StopVigil(l); err == nil {
			for _, advert := range []time.Duration{time.Second, 100 * time.Millisecond} {
				var res []bench.Result
				res, err = runKeepalived(ctx, cfg, &bench.Keepalived{Lab: l, Binary: kaBin, Vigil: bin, AdvertInt: advert, Log: e.stderr})
				rep.Results = append(rep.Results, res...)
				if err != nil {
					break
				}
			}
		}
	}
	var werr error
	if f.output == "json" {
		werr = bench.WriteJSON(e.stdout, rep)
	} else if len(rep.Results) > 0 {
		werr = bench.WriteTable(e.stdout, rep)
	}
	return errors.Join(err, werr)
}

// runKeepalived runs the benchmark against k, stopping it afterwards.
func runKeepalived(ctx context.Context, cfg bench.Config, k *bench.Keepalived) (res []bench.Result, err error) {
	if err := k.Start(ctx); err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, k.Stop()) }()
	return bench.Run(ctx, cfg, k)
}
