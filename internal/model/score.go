package model

import (
	"fmt"
	"strconv"
	"strings"
)

// Score is a placement score as Pacemaker users know it: an integer, with
// INFINITY and -INFINITY. Finite scores are clamped to ±(Infinity-1) so
// that only the two infinities are infinite.
type Score int64

// The infinities. Pacemaker's INFINITY is 1,000,000; so is vigil's.
const (
	Infinity      Score = 1_000_000
	MinusInfinity Score = -Infinity
)

// Add combines two scores with Pacemaker's rules: -INFINITY wins over
// everything (a ban cannot be outvoted), then INFINITY, then the sum of
// finite scores clamped below the infinities.
func (s Score) Add(o Score) Score {
	switch {
	case s <= MinusInfinity || o <= MinusInfinity:
		return MinusInfinity
	case s >= Infinity || o >= Infinity:
		return Infinity
	}
	sum := s + o
	switch {
	case sum >= Infinity:
		return Infinity - 1
	case sum <= MinusInfinity:
		return MinusInfinity + 1
	}
	return sum
}

// String renders INFINITY and -INFINITY by name, other scores as integers.
func (s Score) String() string {
	switch {
	case s >= Infinity:
		return "INFINITY"
	case s <= MinusInfinity:
		return "-INFINITY"
	}
	return strconv.FormatInt(int64(s), 10)
}

// ParseScore reads an integer or INFINITY, +INFINITY, -INFINITY (any case,
// also "inf"). An integer at or beyond ±1,000,000 is that infinity.
func ParseScore(s string) (Score, error) {
	t := strings.TrimSpace(s)
	switch strings.ToUpper(t) {
	case "INFINITY", "+INFINITY", "INF", "+INF":
		return Infinity, nil
	case "-INFINITY", "-INF":
		return MinusInfinity, nil
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("score %q: want an integer, INFINITY or -INFINITY", s)
	}
	switch {
	case n >= int64(Infinity):
		return Infinity, nil
	case n <= int64(MinusInfinity):
		return MinusInfinity, nil
	}
	return Score(n), nil
}
