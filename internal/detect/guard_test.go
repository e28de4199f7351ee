package detect

import (
	"errors"
	"testing"
	"time"

	"github.com/vigil-ha/vigil/internal/model"
)

// guardStep offers one heartbeat to a Guard and says what must happen.
type guardStep struct {
	from model.NodeID
	link uint8
	boot uint64
	seq  uint64
	skew time.Duration // SentAt - now
	want error         // nil, ErrStale or ErrReplay
}

func TestGuard(t *testing.T) {
	const maxSkew = time.Second
	ok := func(boot, seq uint64) guardStep { return guardStep{"n2", 0, boot, seq, 0, nil} }
	replay := func(boot, seq uint64) guardStep { return guardStep{"n2", 0, boot, seq, 0, ErrReplay} }
	for _, tc := range []struct {
		name  string
		steps []guardStep
	}{
		{"same packet twice", []guardStep{ok(1, 1), replay(1, 1)}},
		{"in order", []guardStep{ok(1, 1), ok(1, 2), ok(1, 3), replay(1, 2)}},
		{"seq zero is never valid", []guardStep{replay(1, 0), ok(1, 1), replay(1, 0)}},
		{"first seq need not be 1", []guardStep{ok(1, 500), ok(1, 499), replay(1, 500)}},
		{"out of order within window, once", []guardStep{
			ok(1, 10), ok(1, 5), replay(1, 5), ok(1, 7), ok(1, 6), replay(1, 10),
		}},
		{"window edges", []guardStep{
			ok(1, 100),
			replay(1, 36), // 64 behind: outside
			ok(1, 37),     // 63 behind: the oldest slot
			replay(1, 37),
			ok(1, 99),
		}},
		{"window slides", []guardStep{
			ok(1, 100), ok(1, 163), // 100 now sits in the oldest slot
			replay(1, 100),
			ok(1, 164), // 100 leaves the window
			replay(1, 100),
			ok(1, 101),
		}},
		{"a jump past the window forgets everything before", []guardStep{
			ok(1, 1), ok(1, 2), ok(1, 300), replay(1, 236), ok(1, 237), replay(1, 2),
		}},
		{"old boot", []guardStep{ok(2, 1), replay(1, 1), replay(1, 2), ok(2, 2)}},
		{"new boot resets the window", []guardStep{
			ok(1, 100), ok(2, 1), ok(2, 2), replay(2, 1), replay(1, 101),
		}},
		{"links and senders are separate", []guardStep{
			ok(1, 1),
			{"n2", 1, 1, 1, 0, nil},
			{"n3", 0, 1, 1, 0, nil},
			{"n3", 0, 1, 1, 0, ErrReplay},
			{"n2", 1, 1, 1, 0, ErrReplay},
		}},
		{"stale, future and past, exact bound allowed", []guardStep{
			{"n2", 0, 1, 1, maxSkew + time.Nanosecond, ErrStale},
			{"n2", 0, 1, 1, -maxSkew - time.Nanosecond, ErrStale},
			{"n2", 0, 1, 1, -time.Hour, ErrStale},
			{"n2", 0, 1, 1, maxSkew, nil},
			{"n2", 0, 1, 2, -maxSkew, nil},
		}},
		{"rejected packets change nothing", []guardStep{
			{"n2", 0, 9, 50, time.Hour, ErrStale}, // a stale new boot does not reset
			ok(1, 5),
			ok(1, 4),
			{"n2", 0, 1, 6, -time.Hour, ErrStale}, // nor does a stale seq advance
			ok(1, 6),
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var g Guard
			now := time.Unix(1_700_000_000, 0)
			for i, s := range tc.steps {
				h := Heartbeat{From: s.from, To: "n1", Link: s.link, Boot: s.boot, Seq: s.seq, SentAt: now.Add(s.skew).UnixNano()}
				err := g.Accept(h, now, maxSkew)
				if s.want == nil && err != nil || s.want != nil && !errors.Is(err, s.want) {
					t.Fatalf("step %d (%s link %d boot %d seq %d skew %v): %v, want %v", i, s.from, s.link, s.boot, s.seq, s.skew, err, s.want)
				}
				now = now.Add(time.Millisecond)
			}
		})
	}
}

func TestWindowLoss(t *testing.T) {
	for _, tc := range []struct {
		name string
		seqs []uint64
		want float64
	}{
		{"empty", nil, 0},
		{"all", []uint64{1, 2, 3, 4}, 0},
		{"gaps before the newest", []uint64{1, 2, 3, 5, 6, 8}, 0.25},
		{"joining late loses nothing", []uint64{4}, 0},
		{"joining late, then a gap", []uint64{4, 6}, 1.0 / 3},
		{"a late arrival older than the first", []uint64{4, 6, 2}, 0.4},
		{"full window", seqRange(1, 64), 0},
		{"one of 64", []uint64{1, 200}, 63.0 / 64},
		{"half of the last 64", evens(1000), 0.5},
	} {
		var w window
		for _, s := range tc.seqs {
			w.add(s)
		}
		if got := w.loss(); got != tc.want {
			t.Errorf("%s: loss %v, want %v", tc.name, got, tc.want)
		}
	}
}

func seqRange(a, b uint64) []uint64 {
	var s []uint64
	for i := a; i <= b; i++ {
		s = append(s, i)
	}
	return s
}

func evens(n uint64) []uint64 {
	var s []uint64
	for i := uint64(2); i <= n; i += 2 {
		s = append(s, i)
	}
	return s
}
