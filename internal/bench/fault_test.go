package bench

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFaults(t *testing.T) {
	got, err := ParseFaults("node-kill, service-kill")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]Fault{NodeKill, ServiceKill}, got); d != "" {
		t.Errorf("ParseFaults (-want +got):\n%s", d)
	}
	for in, want := range map[string]string{
		"node-kil":            `unknown fault "node-kil": want node-kill, daemon-kill, service-kill`,
		"node-kill,node-kill": `fault "node-kill" given twice`,
		"soak":                "soak is not a trial fault",
		"node-kill,":          "an empty fault name",
	} {
		_, err := ParseFaults(in)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseFaults(%q) = %v, want an error with %q", in, err, want)
		}
	}
}

func TestParseLossOn(t *testing.T) {
	for _, s := range []string{"holder", "all"} {
		if got, err := ParseLossOn(s); err != nil || string(got) != s {
			t.Errorf("ParseLossOn(%q) = %q, %v", s, got, err)
		}
	}
	if _, err := ParseLossOn("leader"); err == nil {
		t.Error("ParseLossOn(leader) = nil error")
	}
}
