package agent

import (
	"strings"
	"testing"
)

func TestOutputTail(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", ""},
		{"one\n\n  two  \nthree\nfour\n\n", "two | three | four"},
		{strings.Repeat("x", 500), "…" + strings.Repeat("x", 400)},
	} {
		if got := OutputTail([]byte(tc.in)); got != tc.want {
			t.Errorf("OutputTail(%.20q…) = %.30q…, want %.30q…", tc.in, got, tc.want)
		}
	}
}
