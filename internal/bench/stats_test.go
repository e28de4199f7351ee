package bench

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func ms(v ...float64) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x * float64(time.Millisecond))
	}
	return out
}

func TestSummarize(t *testing.T) {
	cases := []struct {
		name string
		in   []time.Duration
		want Stats
	}{
		{"none", nil, Stats{}},
		{"one", ms(812.34), Stats{812.3, 812.3, 812.3, 812.3}},
		{"odd count, unsorted", ms(30, 10, 20), Stats{10, 20, 30, 30}},
		{"even count: the mean of the middle two", ms(40, 10, 30, 20), Stats{10, 25, 40, 40}},
		// nearest rank: ceil(0.9*10) = 9th of 10
		{"ten: p90 is the 9th", ms(1, 2, 3, 4, 5, 6, 7, 8, 9, 100), Stats{1, 5.5, 9, 100}},
		// ceil(0.9*11) = 10th of 11
		{"eleven: p90 is the 10th", ms(11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1), Stats{1, 6, 10, 11}},
		{"rounded to 0.1 ms", ms(0.04, 0.06), Stats{0, 0.1, 0.1, 0.1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if d := cmp.Diff(c.want, Summarize(c.in)); d != "" {
				t.Errorf("Summarize (-want +got):\n%s", d)
			}
		})
	}
}
