package detect

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/vigil-ha/vigil/internal/model"
)

// TestView runs the scripts in testdata/view. Commands:
//
//	view self=n1 nodes=(n1,n2) links=2 suspect=50ms offline=100ms
//	heard from=n2 [to=n1] link=0 boot=1 seq=(1,3-5) at=10ms [sent=9ms] [echo=5ms hold=1ms]
//	echo to=n2 link=0 at=20ms
//	peers at=20ms
//
// Times are offsets from the view's start. Node k (from 0) of nodes has
// address 127.0.L.k+1 on link L. Rewrite with go test -run TestView -rewrite.
func TestView(t *testing.T) {
	start := time.Unix(1_700_000_000, 0)
	datadriven.Walk(t, "testdata/view", func(t *testing.T, path string) {
		var v *View
		var self model.NodeID
		datadriven.RunTest(t, path, func(t *testing.T, td *datadriven.TestData) string {
			at := func(key string) time.Time { return start.Add(durArg(t, td, key)) }
			if td.Cmd != "view" && v == nil {
				td.Fatalf(t, "%s before view", td.Cmd)
			}
			switch td.Cmd {
			case "view":
				var s string
				var names []string
				var links int
				td.ScanArgs(t, "self", &s)
				td.ScanArgs(t, "nodes", &names)
				td.ScanArgs(t, "links", &links)
				self = model.NodeID(s)
				var nodes []model.Node
				for k, name := range names {
					n := model.Node{Name: model.NodeID(name)}
					for l := range links {
						n.Addresses = append(n.Addresses, netip.AddrFrom4([4]byte{127, 0, byte(l), byte(k + 1)}))
					}
					nodes = append(nodes, n)
				}
				timing := model.Timing{SuspectAfter: durArg(t, td, "suspect"), OfflineAfter: durArg(t, td, "offline")}
				v = NewView(self, nodes, timing, start)
				return ""
			case "heard":
				var from, to string
				var link int
				var boot uint64
				td.ScanArgs(t, "from", &from)
				to = string(self)
				td.MaybeScanArgs(t, "to", &to)
				td.ScanArgs(t, "link", &link)
				td.ScanArgs(t, "boot", &boot)
				now := at("at")
				h := Heartbeat{From: model.NodeID(from), To: model.NodeID(to), Link: uint8(link), Boot: boot, SentAt: now.UnixNano()}
				if td.HasArg("sent") {
					h.SentAt = at("sent").UnixNano()
				}
				if td.HasArg("echo") {
					h.Echo = at("echo").UnixNano()
					h.Hold = int64(durArg(t, td, "hold"))
				}
				for _, s := range seqArg(t, td) {
					h.Seq = s
					v.Heard(h, now)
				}
				return ""
			case "echo":
				var to string
				var link int
				td.ScanArgs(t, "to", &to)
				td.ScanArgs(t, "link", &link)
				echo, hold, _ := v.echo(model.NodeID(to), uint8(link), at("at"))
				if echo == 0 {
					return "none"
				}
				return fmt.Sprintf("echo=%v hold=%v", time.Unix(0, echo).Sub(start), time.Duration(hold))
			case "peers":
				var b strings.Builder
				since := func(t time.Time) string {
					if t.IsZero() {
						return "never"
					}
					return t.Sub(start).String()
				}
				for _, p := range v.Peers(at("at")) {
					fmt.Fprintf(&b, "%s %s heard=%s\n", p.Name, p.State, since(p.LastHeard))
					for _, l := range p.Links {
						fmt.Fprintf(&b, "  link %d %s %s heard=%s loss=%.3f rtt=%v\n", l.Index, l.Address, l.State, since(l.LastHeard), l.Loss, l.RTT)
					}
				}
				return b.String()
			}
			td.Fatalf(t, "unknown command %q", td.Cmd)
			return ""
		})
	})
}

func durArg(t *testing.T, td *datadriven.TestData, key string) time.Duration {
	t.Helper()
	var s string
	td.ScanArgs(t, key, &s)
	d, err := time.ParseDuration(s)
	if err != nil {
		td.Fatalf(t, "%s: %v", key, err)
	}
	return d
}

// seqArg parses seq=(1,3-5) into 1 3 4 5.
func seqArg(t *testing.T, td *datadriven.TestData) []uint64 {
	t.Helper()
	arg, ok := td.Arg("seq")
	if !ok {
		td.Fatalf(t, "missing seq")
	}
	var out []uint64
	for _, v := range arg.Vals {
		lo, hi, isRange := strings.Cut(v, "-")
		a, err := strconv.ParseUint(lo, 10, 64)
		b := a
		if err == nil && isRange {
			b, err = strconv.ParseUint(hi, 10, 64)
		}
		if err != nil || b < a {
			td.Fatalf(t, "bad seq %q", v)
		}
		for s := a; s <= b; s++ {
			out = append(out, s)
		}
	}
	return out
}
