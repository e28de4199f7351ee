package detect

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vigil-ha/vigil/internal/model"
)

var testKey = NewKey("test", []byte("s3cret"))

func sample() Heartbeat {
	return Heartbeat{From: "n1", To: "n2", Link: 1, Boot: 1_700_000_000_000_000_000, Seq: 42,
		SentAt: 1_700_000_001_000_000_000, Echo: 1_700_000_000_990_000_000, Hold: 3_000_000, Grant: 4, Held: 1}
}

func TestEncodeLayout(t *testing.T) {
	h := sample()
	var want []byte
	want = append(want, "VGHB"...)
	want = append(want, 2, 1, 2, 'n', '1', 2, 'n', '2')
	for _, v := range []uint64{h.Boot, h.Seq, uint64(h.SentAt), uint64(h.Echo), uint64(h.Hold), h.Grant, h.Held} {
		want = binary.BigEndian.AppendUint64(want, v)
	}
	// The key derivation, spelled out independently of NewKey.
	km := hmac.New(sha256.New, []byte("s3cret"))
	km.Write([]byte("vigil heartbeat v1\x00test"))
	m := hmac.New(sha256.New, km.Sum(nil))
	m.Write(want)
	want = m.Sum(want)

	if d := cmp.Diff(want, Encode(testKey, h)); d != "" {
		t.Errorf("Encode (-want +got):\n%s", d)
	}
}

func TestRoundTrip(t *testing.T) {
	long := model.NodeID(strings.Repeat("x", MaxNameLen))
	for _, h := range []Heartbeat{
		sample(),
		{From: "a", To: "b", Seq: 1},
		{From: long, To: long, Link: 255, Boot: math.MaxUint64, Seq: math.MaxUint64,
			SentAt: math.MinInt64, Echo: math.MaxInt64, Hold: -1, Grant: math.MaxUint64, Held: math.MaxUint64},
		{From: "ünïcode", To: "n\x00", Link: 7, Boot: 1, Seq: 2, SentAt: -3, Echo: 4, Hold: 5},
	} {
		got, err := Decode(testKey, Encode(testKey, h))
		if err != nil {
			t.Errorf("Decode(Encode(%+v)): %v", h, err)
			continue
		}
		if d := cmp.Diff(h, got); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
	}
}

func TestDecodeTruncated(t *testing.T) {
	b := Encode(testKey, sample())
	for n := range len(b) {
		if _, err := Decode(testKey, b[:n]); !errors.Is(err, ErrMalformed) {
			t.Errorf("Decode of first %d of %d bytes: %v, want ErrMalformed", n, len(b), err)
		}
	}
	if _, err := Decode(testKey, append(b, 0)); !errors.Is(err, ErrMalformed) {
		t.Errorf("Decode with a trailing byte: %v, want ErrMalformed", err)
	}
}

func TestDecodeFlipped(t *testing.T) {
	b := Encode(testKey, sample())
	fromLenAt, toLenAt := 6, 9 // "VGHB" 1 link | 2 "n1" | 2 "n2"
	for i := range b {
		for bit := range 8 {
			c := bytes.Clone(b)
			c[i] ^= 1 << bit
			_, err := Decode(testKey, c)
			switch {
			case i < 5 || i == fromLenAt || i == toLenAt: // magic, version, lengths
				if !errors.Is(err, ErrMalformed) {
					t.Errorf("byte %d bit %d flipped: %v, want ErrMalformed", i, bit, err)
				}
			default: // link, names, integers, MAC
				if !errors.Is(err, ErrForged) {
					t.Errorf("byte %d bit %d flipped: %v, want ErrForged", i, bit, err)
				}
			}
		}
	}
}

func TestDecodeWrongKey(t *testing.T) {
	b := Encode(testKey, sample())
	for name, k := range map[string]Key{
		"other secret":  NewKey("test", []byte("s3cret!")),
		"other cluster": NewKey("prod", []byte("s3cret")),
		"zero key":      {},
	} {
		if _, err := Decode(k, b); !errors.Is(err, ErrForged) {
			t.Errorf("%s: %v, want ErrForged", name, err)
		}
	}
}

func TestDecodeErrorsSayWhy(t *testing.T) {
	b := Encode(testKey, sample())
	b[4] = 1
	_, err := Decode(testKey, b)
	if err == nil || !strings.Contains(err.Error(), "version 1, want 2") {
		t.Errorf("Decode of version 1: %v, want it to name the version", err)
	}
}

func TestEncodeRejectsBadNames(t *testing.T) {
	for _, h := range []Heartbeat{
		{From: "", To: "n2"},
		{From: "n1", To: ""},
		{From: model.NodeID(strings.Repeat("x", MaxNameLen+1)), To: "n2"},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("Encode(From %q, To %q) did not panic", h.From, h.To)
				}
			}()
			Encode(testKey, h)
		}()
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(Encode(testKey, sample()))
	f.Add(Encode(testKey, Heartbeat{From: "a", To: "b"}))
	f.Add([]byte("VGHB\x01\x00\x02n1\x02n2"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		check := func(b []byte) error {
			h, err := Decode(testKey, b)
			if err == nil {
				if got := Encode(testKey, h); !bytes.Equal(got, b) {
					t.Fatalf("Decode then Encode changed the packet:\n in %x\nout %x", b, got)
				}
				return nil
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrForged) {
				t.Fatalf("Decode: %v, neither ErrMalformed nor ErrForged", err)
			}
			return err
		}
		check(b)
		// The same bytes with a correct MAC, so that the fuzzer explores the
		// parser behind the MAC check, not only the MAC check.
		if len(b) >= macLen {
			fixed := append(bytes.Clone(b[:len(b)-macLen]), testKey.sum(b[:len(b)-macLen])...)
			if err := check(fixed); errors.Is(err, ErrForged) {
				t.Fatalf("Decode of a correctly MACed packet: %v", err)
			}
		}
	})
}
