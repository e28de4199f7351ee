package lease

import (
	"testing"
	"time"
)

func TestQuorumSizes(t *testing.T) {
	for _, tc := range []struct{ peers, quorum, agree int }{
		{1, 1, 1}, // two nodes: the peer grants, and agrees alone
		{2, 1, 2}, // three nodes: one peer grants; both must agree
		{3, 2, 2},
		{4, 2, 3}, // five nodes
		{6, 3, 4},
	} {
		if q, a := QuorumOf(tc.peers), AgreementsNeeded(tc.peers); q != tc.quorum || a != tc.agree {
			t.Errorf("%d peers: quorum %d, agreements %d; want %d, %d", tc.peers, q, a, tc.quorum, tc.agree)
		}
		// No quorum of grants survives the agreements: the peers that did
		// not agree are fewer than a quorum.
		if tc.peers-AgreementsNeeded(tc.peers) >= QuorumOf(tc.peers) {
			t.Errorf("%d peers: %d that did not agree could still grant a quorum of %d", tc.peers, tc.peers-AgreementsNeeded(tc.peers), QuorumOf(tc.peers))
		}
	}
}

func TestQuorumAdd(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	q := NewQuorum(3, 2)
	if _, ok := q.Add("b", 3, ms(10)); ok {
		t.Fatal("one grant of two needed counted")
	}
	if _, ok := q.Add("c", 2, ms(20)); ok {
		t.Fatal("a grant of another generation counted")
	}
	at, ok := q.Add("c", 3, ms(30))
	if !ok || !at.Equal(ms(10)) {
		t.Fatalf("two grants: %v %v, want the older of the two newest (10ms)", at, ok)
	}
	at, _ = q.Add("b", 3, ms(5)) // older than b's newest: b stays at 10
	if !at.Equal(ms(10)) {
		t.Fatalf("an older grant moved the quorum time to %v", at)
	}
	q.Add("d", 3, ms(40))
	at, _ = q.Add("b", 3, ms(50))
	if !at.Equal(ms(40)) {
		t.Fatalf("grants 50, 30, 40: quorum time %v, want 40ms", at)
	}
}

func TestGranterRetire(t *testing.T) {
	c := Config{Duration: 200 * time.Millisecond, StartBudget: 40 * time.Millisecond, StopBudget: 80 * time.Millisecond}
	t0 := time.Unix(1000, 0)
	g := NewGranter(t0, map[string]uint64{"old": 5})
	if g.Grant("old", 4, t0) {
		t.Error("granted a generation an earlier process retired")
	}
	if !g.Grant("old", 5, t0) {
		t.Error("refused the generation after the retired ones")
	}
	// Before any grant, the promises of an earlier process count from start.
	if got := g.Retire("new", 0, c); !got.Equal(t0.Add(c.ObserverWait())) {
		t.Errorf("retire with no grant: until %v, want start+wait", got)
	}
	heard := t0.Add(time.Second)
	if !g.Grant("h", 2, heard) {
		t.Fatal("refused a fresh generation")
	}
	until := g.Retire("h", 2, c)
	if !until.Equal(heard.Add(c.ObserverWait())) {
		t.Errorf("retire: until %v, want the newest promise + wait", until)
	}
	if g.Grant("h", 2, heard.Add(time.Millisecond)) || g.Grant("h", 1, heard) {
		t.Error("granted a retired generation")
	}
	if !g.Grant("h", 3, heard) {
		t.Error("refused the generation after the takeover")
	}
	if r := g.Retired(); r["h"] != 3 || r["old"] != 5 || r["new"] != 1 {
		t.Errorf("Retired() = %v", r)
	}
}
