package lease

import "testing"

// The benchmarks show what a check costs; the callers make one per holder
// per tick.

func BenchmarkMustStop(b *testing.B) {
	c := good()
	var h Holder
	h.Granted(h.Sent(at(0), c))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = h.MustStop(at(int64(i)), c)
	}
}

func BenchmarkCertainlyExpired(b *testing.B) {
	c := good()
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_ = CertainlyExpired(at(0), at(int64(i)), c)
	}
}
