// Package quorum is the arithmetic of majorities: how many voters a
// partition needs before it may act (invariant 4 of DESIGN.md: no quorum,
// no action). It is pure and imports the standard library only.
package quorum

import (
	"fmt"
	"sort"
)

// Majority returns the number of votes a partition of a cluster with the
// given number of voters needs: more than half. A cluster of no voters can
// never be quorate, so Majority(0) is 1.
func Majority(voters int) int {
	if voters <= 0 {
		return 1
	}
	return voters/2 + 1
}

// Vote is what one node knows about quorum at one moment.
type Vote struct {
	Voters   int      // voters in the configuration
	Needed   int      // Majority(Voters)
	Present  []string // the voters this node counts as present, itself included, sorted
	Quorate  bool     // len(Present) >= Needed
	Reasoned string   // one line for status and logs, e.g. "2 of 3 voters present, 2 needed"
}

// Count decides quorum for self from the set of voters and the peers it
// currently sees as present. Names in present that are not voters are
// ignored; self counts as present when it is a voter.
func Count(self string, voters []string, present map[string]bool) Vote {
	isVoter := make(map[string]bool, len(voters))
	for _, v := range voters {
		isVoter[v] = true
	}
	var in []string
	for _, v := range voters {
		if v == self || present[v] {
			in = append(in, v)
		}
	}
	sort.Strings(in)
	v := Vote{Voters: len(isVoter), Needed: Majority(len(isVoter)), Present: in}
	v.Quorate = len(in) >= v.Needed && len(isVoter) > 0
	v.Reasoned = fmt.Sprintf("%d of %d voters present, %d needed", len(in), v.Voters, v.Needed)
	return v
}
