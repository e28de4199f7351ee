package bench

import (
	"math"
	"slices"
	"time"
)

// Stats are order statistics of a set of durations, in milliseconds
// rounded to 0.1 ms. Median is the middle value (the mean of the two
// middle ones for an even count); P90 is the nearest-rank 90th percentile,
// the smallest value that at least 90% of the values do not exceed. All
// are 0 for no values.
type Stats struct {
	Min    float64 `json:"min"`
	Median float64 `json:"median"`
	P90    float64 `json:"p90"`
	Max    float64 `json:"max"`
}

// Summarize returns the Stats of ds.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := slices.Sorted(slices.Values(ds))
	n := len(s)
	median := s[n/2]
	if n%2 == 0 {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return Stats{
		Min:    Millis(s[0]),
		Median: Millis(median),
		P90:    Millis(s[int(math.Ceil(0.9*float64(n)))-1]),
		Max:    Millis(s[n-1]),
	}
}

// Millis is d in milliseconds, rounded to 0.1 ms.
func Millis(d time.Duration) float64 {
	return math.Round(float64(d)/float64(100*time.Microsecond)) / 10
}
