package detect

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/vigil-ha/vigil/internal/model"
)

// Sentinel errors of Decode, for errors.Is.
var (
	// ErrMalformed means the packet is not a heartbeat of this version:
	// truncated, trailing bytes, bad magic, version or name length.
	ErrMalformed = errors.New("malformed heartbeat")
	// ErrForged means the packet is well formed but its MAC does not match
	// the key: a forgery, corruption, another cluster or another secret.
	ErrForged = errors.New("forged heartbeat")
)

// MaxNameLen is the longest node name, in bytes, a heartbeat can carry.
const MaxNameLen = 64

const (
	magic      = "VGHB"
	version    = 2
	macLen     = sha256.Size
	headerLen  = len(magic) + 1 + 1 // magic, version, link
	intsLen    = 7 * 8              // Boot, Seq, SentAt, Echo, Hold, Grant, Held
	minPacket  = headerLen + 1 + 1 + 1 + 1 + intsLen + macLen
	maxPacket  = headerLen + 1 + MaxNameLen + 1 + MaxNameLen + intsLen + macLen
	keyContext = "vigil heartbeat v1\x00"
)

// Key authenticates heartbeats. Its zero value is not a valid key; build one
// with NewKey.
type Key struct {
	mac [sha256.Size]byte
	ok  bool // derived from a non-empty secret
}

// NewKey derives the heartbeat MAC key from the cluster secret, bound to the
// cluster name: HMAC-SHA256(secret, "vigil heartbeat v1\x00"+cluster). Two
// clusters sharing a secret therefore cannot accept each other's heartbeats,
// and the raw secret is never used directly on the wire.
func NewKey(cluster string, secret []byte) Key {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(keyContext + cluster))
	k := Key{ok: len(secret) > 0}
	m.Sum(k.mac[:0])
	return k
}

func (k Key) sum(b []byte) []byte {
	m := hmac.New(sha256.New, k.mac[:])
	m.Write(b)
	return m.Sum(nil)
}

// Heartbeat is one heartbeat packet.
type Heartbeat struct {
	From, To model.NodeID // To: the intended receiver, so a packet cannot be replayed to another node
	Link     uint8        // link index the sender sent it on
	Boot     uint64       // sender incarnation (unix ns of its start); a restart raises it
	Seq      uint64       // per (From, To, Link), starting at 1 each Boot
	SentAt   int64        // sender's wall clock, unix ns
	Echo     int64        // SentAt of the newest heartbeat From received from To on this link; 0 if none
	Hold     int64        // ns between From receiving that heartbeat and sending this one
	// Grant is the lease generation of To, plus one, that From grants with
	// this heartbeat: To holds its lease for a lease from the moment it
	// sent the heartbeat this one echoes (package lease). 0: no grant.
	Grant uint64
	// Held is the lease generation, plus one, that From holds as it sends
	// this; 0: From holds no lease.
	Held uint64
}

// Encode returns the wire form of h: "VGHB", version 2, Link, len(From),
// From, len(To), To, then Boot, Seq, SentAt, Echo, Hold, Grant and Held
// as 8-byte big-endian integers, then an HMAC-SHA256 over all the preceding bytes.
//
// Encode panics if From or To is empty or longer than MaxNameLen bytes: New
// rejects such node names, so that is a programming error.
func Encode(k Key, h Heartbeat) []byte {
	for _, n := range []model.NodeID{h.From, h.To} {
		if len(n) == 0 || len(n) > MaxNameLen {
			panic(fmt.Sprintf("detect.Encode: node name %q must be 1 to %d bytes", n, MaxNameLen))
		}
	}
	b := make([]byte, 0, minPacket-2+len(h.From)+len(h.To))
	b = append(b, magic...)
	b = append(b, version, h.Link)
	b = append(b, byte(len(h.From)))
	b = append(b, h.From...)
	b = append(b, byte(len(h.To)))
	b = append(b, h.To...)
	b = binary.BigEndian.AppendUint64(b, h.Boot)
	b = binary.BigEndian.AppendUint64(b, h.Seq)
	b = binary.BigEndian.AppendUint64(b, uint64(h.SentAt))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Echo))
	b = binary.BigEndian.AppendUint64(b, uint64(h.Hold))
	b = binary.BigEndian.AppendUint64(b, h.Grant)
	b = binary.BigEndian.AppendUint64(b, h.Held)
	return append(b, k.sum(b)...)
}

// Decode parses and authenticates a packet made by Encode. The layout is
// checked first (errors wrap ErrMalformed), then the MAC, compared in
// constant time (errors wrap ErrForged). Decode does not judge replay or
// staleness; that is Guard's job.
func Decode(k Key, b []byte) (Heartbeat, error) {
	malformed := func(format string, args ...any) (Heartbeat, error) {
		return Heartbeat{}, fmt.Errorf("decode heartbeat: %s: %w", fmt.Sprintf(format, args...), ErrMalformed)
	}
	if len(b) < headerLen+1 {
		return malformed("%d bytes, truncated", len(b))
	}
	if string(b[:len(magic)]) != magic {
		return malformed("bad magic %q", b[:len(magic)])
	}
	if v := b[len(magic)]; v != version {
		return malformed("version %d, want %d", v, version)
	}
	link := b[len(magic)+1]
	fromLen := int(b[headerLen])
	if fromLen == 0 || fromLen > MaxNameLen {
		return malformed("sender name length %d, want 1 to %d", fromLen, MaxNameLen)
	}
	toAt := headerLen + 1 + fromLen
	if len(b) <= toAt {
		return malformed("%d bytes, truncated", len(b))
	}
	toLen := int(b[toAt])
	if toLen == 0 || toLen > MaxNameLen {
		return malformed("receiver name length %d, want 1 to %d", toLen, MaxNameLen)
	}
	intsAt := toAt + 1 + toLen
	if want := intsAt + intsLen + macLen; len(b) != want {
		return malformed("%d bytes, want %d", len(b), want)
	}
	body, mac := b[:len(b)-macLen], b[len(b)-macLen:]
	if !hmac.Equal(mac, k.sum(body)) {
		return Heartbeat{}, fmt.Errorf("decode heartbeat: bad MAC: %w", ErrForged)
	}
	ints := b[intsAt:]
	u := func(i int) uint64 { return binary.BigEndian.Uint64(ints[8*i:]) }
	return Heartbeat{
		From:   model.NodeID(b[headerLen+1 : toAt]),
		To:     model.NodeID(b[toAt+1 : intsAt]),
		Link:   link,
		Boot:   u(0),
		Seq:    u(1),
		SentAt: int64(u(2)),
		Echo:   int64(u(3)),
		Hold:   int64(u(4)),
		Grant:  u(5),
		Held:   u(6),
	}, nil
}
