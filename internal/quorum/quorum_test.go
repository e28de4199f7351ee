package quorum

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestMajority(t *testing.T) {
	for voters, want := range map[int]int{-1: 1, 0: 1, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4, 32: 17} {
		if got := Majority(voters); got != want {
			t.Errorf("Majority(%d) = %d, want %d", voters, got, want)
		}
	}
}

func TestCount(t *testing.T) {
	three := []string{"n1", "n2", "n3"}
	for _, tc := range []struct {
		name    string
		self    string
		voters  []string
		present map[string]bool
		quorate bool
		in      []string
	}{
		{"all present", "n1", three, map[string]bool{"n2": true, "n3": true}, true, []string{"n1", "n2", "n3"}},
		{"majority side of 2+1", "n2", three, map[string]bool{"n3": true}, true, []string{"n2", "n3"}},
		{"minority side of 2+1", "n1", three, map[string]bool{}, false, []string{"n1"}},
		{"absent peers listed false", "n1", three, map[string]bool{"n2": false, "n3": false}, false, []string{"n1"}},
		{"strangers do not vote", "n1", three, map[string]bool{"x": true, "y": true}, false, []string{"n1"}},
		{"half of four is not enough", "n1", []string{"n1", "n2", "n3", "n4"}, map[string]bool{"n2": true}, false, []string{"n1", "n2"}},
		{"three of four", "n1", []string{"n1", "n2", "n3", "n4"}, map[string]bool{"n2": true, "n4": true}, true, []string{"n1", "n2", "n4"}},
		{"two-node cluster alone", "n1", []string{"n1", "n2"}, nil, false, []string{"n1"}},
		{"single node", "n1", []string{"n1"}, nil, true, []string{"n1"}},
		{"non-voter self does not count", "w", three, map[string]bool{"n1": true}, false, []string{"n1"}},
		{"no voters", "n1", nil, nil, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Count(tc.self, tc.voters, tc.present)
			if v.Quorate != tc.quorate {
				t.Errorf("Quorate = %v, want %v (%s)", v.Quorate, tc.quorate, v.Reasoned)
			}
			if d := cmp.Diff(tc.in, v.Present); d != "" {
				t.Errorf("Present (-want +got):\n%s", d)
			}
		})
	}
}

func TestCountReason(t *testing.T) {
	v := Count("n1", []string{"n1", "n2", "n3"}, map[string]bool{"n3": true})
	if want := "2 of 3 voters present, 2 needed"; v.Reasoned != want {
		t.Errorf("Reasoned = %q, want %q", v.Reasoned, want)
	}
}
