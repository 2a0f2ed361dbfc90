package record

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// samples are the records the tests encode: the smallest valid one, one with
// every field and flag set, and the largest topic with an empty payload.
func samples() []struct {
	name    string
	h       Header
	payload []byte
} {
	return []struct {
		name    string
		h       Header
		payload []byte
	}{
		{"minimal", Header{Topic: "t", Count: 1}, []byte("x")},
		{"no keys", Header{
			Topic: "logs", Queue: 3, Count: 2, BaseOffset: 1 << 40, ProducerID: 7, Sequence: 9,
			FirstBornMs: 1_700_000_000_000, LastBornMs: 1_700_000_000_500, StoredAtMs: 1_700_000_001_000,
			TagBloom: TagBloom("a", "b"),
		}, []byte("two messages, uncompressed")},
		{"keys and all attributes", Header{
			Attr: AttrLZ4 | AttrTransactional | AttrDelayed, Topic: "metrics.node", Queue: 7, Count: 5,
			BaseOffset: 123, ProducerID: ^uint64(0), Sequence: 1 << 63, FirstBornMs: -1, LastBornMs: 42,
			StoredAtMs: 43, DeliverAtMs: 1_700_000_060_000, TagBloom: ^uint64(0),
			Keys: []KeyRef{{0, KeyHash("metrics.node", "host-a")}, {4, KeyHash("metrics.node", "host-b")}},
		}, bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 16)},
		{"longest topic, empty payload", Header{
			Topic: strings.Repeat("t", MaxTopicLen), Count: 1, Keys: []KeyRef{{0, 1}},
		}, nil},
	}
}

func TestRoundTrip(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			if err := s.h.Validate(len(s.payload)); err != nil {
				t.Fatalf("sample is invalid: %v", err)
			}
			// Encode appends: the record must not depend on what precedes it.
			prefix := []byte("previous record")
			buf := Encode(bytes.Clone(prefix), &s.h, s.payload)
			if !bytes.Equal(buf[:len(prefix)], prefix) {
				t.Fatalf("Encode changed the bytes before it")
			}
			rec := buf[len(prefix):]
			if len(rec) != s.h.Size(len(s.payload)) {
				t.Fatalf("encoded %d bytes, Size says %d", len(rec), s.h.Size(len(s.payload)))
			}
			if n, err := PeekLength(rec); n != len(rec) || err != nil {
				t.Fatalf("PeekLength = %d, %v; want %d", n, err, len(rec))
			}

			want := s.h
			want.Length = uint32(len(rec))
			// Bytes after the record belong to the next one and are ignored.
			h, payload, err := Decode(append(bytes.Clone(rec), "next"...), nil)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("Decode header\n got %+v\nwant %+v", h, want)
			}
			if !bytes.Equal(payload, s.payload) {
				t.Errorf("Decode payload %q, want %q", payload, s.payload)
			}

			hdrLen := len(rec) - len(s.payload)
			h, err = DecodeHeader(rec[:hdrLen], nil)
			if err != nil {
				t.Fatalf("DecodeHeader: %v", err)
			}
			if !reflect.DeepEqual(h, want) {
				t.Errorf("DecodeHeader\n got %+v\nwant %+v", h, want)
			}
		})
	}
}

func TestSealPartsEqualsSeal(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			hdr := AppendHeader(nil, &s.h, len(s.payload))
			SealParts(hdr, s.payload)
			got := append(hdr, s.payload...)
			if want := Encode(nil, &s.h, s.payload); !bytes.Equal(got, want) {
				t.Errorf("SealParts gave\n%x\nSeal gave\n%x", got, want)
			}
		})
	}
}

// TestBitFlips flips every bit of every sample: CRC32C detects all single-bit
// errors, and flips in the magic or the length, which the CRC does not cover
// or which change what it covers, must be caught as well.
func TestBitFlips(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			rec := Encode(nil, &s.h, s.payload)
			bad := make([]byte, len(rec))
			for bit := range len(rec) * 8 {
				copy(bad, rec)
				bad[bit/8] ^= 1 << (bit % 8)
				if _, _, err := Decode(bad, nil); !errors.Is(err, ErrCorrupt) {
					t.Fatalf("flip of bit %d (byte %d): Decode returned %v, want ErrCorrupt", bit%8, bit/8, err)
				}
			}
		})
	}
}

// TestTruncation cuts every sample at every length: a torn tail must read as
// ErrShort so that recovery truncates it instead of reporting corruption.
func TestTruncation(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			rec := Encode(nil, &s.h, s.payload)
			for n := range len(rec) {
				if _, _, err := Decode(rec[:n], nil); !errors.Is(err, ErrShort) {
					t.Fatalf("Decode of the first %d of %d bytes: %v, want ErrShort", n, len(rec), err)
				}
			}
			hdrLen := len(rec) - len(s.payload)
			for n := range hdrLen {
				if _, err := DecodeHeader(rec[:n], nil); !errors.Is(err, ErrShort) {
					t.Fatalf("DecodeHeader of the first %d of %d bytes: %v, want ErrShort", n, hdrLen, err)
				}
			}
		})
	}
}

// TestDecodeBadFields corrupts one field and reseals the record, so the CRC
// passes and the field checks behind it are what must reject it.
func TestDecodeBadFields(t *testing.T) {
	le := binary.LittleEndian
	tests := []struct {
		name    string
		corrupt func(rec []byte)
		want    string
	}{
		{"magic", func(r []byte) { le.PutUint32(r, 0x31524c54) }, "bad magic 0x31524c54"},
		{"length below header", func(r []byte) { le.PutUint32(r[8:], HeaderSize-1) }, "length 91 out of range"},
		{"length above max", func(r []byte) { le.PutUint32(r[8:], MaxSize+1) }, "length 67108865 out of range"},
		{"version", func(r []byte) { r[12] = 2 }, "unknown version 2"},
		{"attribute", func(r []byte) { r[13] = 0x80 }, "invalid header fields"},
		{"empty topic", func(r []byte) { le.PutUint16(r[14:], 0) }, "invalid header fields"},
		{"no messages", func(r []byte) { le.PutUint32(r[20:], 0) }, "invalid header fields"},
		// The record is long enough to hold the topic, but Validate never
		// lets a writer produce one this long.
		{"topic too long", func(r []byte) { le.PutUint16(r[14:], MaxTopicLen+1) }, "invalid header fields"},
		{"topic past the end", func(r []byte) { le.PutUint16(r[14:], 0xffff) }, "do not fit"},
		{"keys past the end", func(r []byte) { le.PutUint32(r[88:], 1<<30) }, "1073741824 keys"},
		{"key index", func(r []byte) { le.PutUint32(r[HeaderSize+len("logs"):], 5) }, "key for message 5 of 5"},
	}
	h := Header{Topic: "logs", Count: 5, Keys: []KeyRef{{1, 2}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The payload leaves room for a topic of more than MaxTopicLen.
			rec := Encode(nil, &h, bytes.Repeat([]byte("p"), 2*MaxTopicLen))
			tt.corrupt(rec)
			Seal(rec)
			_, _, err := Decode(rec, nil)
			if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode: %v, want ErrCorrupt containing %q", err, tt.want)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	good := func() Header { return Header{Topic: "logs", Count: 3, Keys: []KeyRef{{2, 1}}} }
	tests := []struct {
		name       string
		modify     func(*Header)
		payloadLen int
		want       string // "" for valid
	}{
		{"valid", func(*Header) {}, 100, ""},
		{"longest topic", func(h *Header) { h.Topic = strings.Repeat("t", MaxTopicLen) }, 0, ""},
		{"empty topic", func(h *Header) { h.Topic = "" }, 0, "empty topic"},
		{"long topic", func(h *Header) { h.Topic = strings.Repeat("t", MaxTopicLen+1) }, 0,
			"topic is 256 bytes, the limit is 255"},
		{"no messages", func(h *Header) { h.Count = 0; h.Keys = nil }, 0, "batch has no messages"},
		{"unknown attribute", func(h *Header) { h.Attr = AttrDelayed | 0x10 }, 0, "unknown attribute bits 0x10"},
		{"too large", func(*Header) {}, MaxSize, fmt.Sprintf("record of %d bytes exceeds the %d byte limit",
			MaxSize+HeaderSize+len("logs")+KeyRefSize, MaxSize)},
		{"key index", func(h *Header) { h.Keys = append(h.Keys, KeyRef{Index: 3}) }, 0,
			"key for message 3 in a batch of 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := good()
			tt.modify(&h)
			err := h.Validate(tt.payloadLen)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate: %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate: %v, want %q", err, tt.want)
			}
		})
	}
}

func TestTagBloom(t *testing.T) {
	tags := make([]string, 200)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%d", i)
	}
	for size := 1; size <= len(tags); size *= 2 {
		set := tags[:size]
		bloom := TagBloom(set...)
		for _, tag := range set {
			if !MayContainTag(bloom, tag) {
				t.Fatalf("bloom of %d tags says %q is absent", size, tag)
			}
		}
	}

	if b := TagBloom("", ""); b != 0 {
		t.Errorf("TagBloom of empty tags = %#x, want 0", b)
	}
	if b := TagBloom("a", "", "b"); b != TagBloom("a", "b") {
		t.Errorf("an empty tag changed the bloom")
	}

	// Two bits out of 64 per tag: a one-tag bloom should let through well
	// under 1% of other tags. Far more means the bits are not spread.
	bloom := TagBloom("ERROR")
	var hits int
	for _, tag := range tags {
		if MayContainTag(bloom, tag) {
			hits++
		}
	}
	if hits > len(tags)/20 {
		t.Errorf("a one-tag bloom matched %d of %d other tags", hits, len(tags))
	}
}

func TestKeyHash(t *testing.T) {
	// The key index lives on disk: the hash of a key must never change, so
	// pin a few values.
	golden := []struct {
		topic, key string
		want       uint64
	}{
		{"logs", "host-a", 0x9a79faa5ded615a2},
		{"metrics", "job=node,instance=10.0.0.1:9100", 0x3129e9f1495c01c6},
		{"", "", 0xabc50d53400f8f53},
	}
	for _, g := range golden {
		if got := KeyHash(g.topic, g.key); got != g.want {
			t.Errorf("KeyHash(%q, %q) = %#x, want %#x", g.topic, g.key, got, g.want)
		}
		if KeyHash(g.topic, g.key) != KeyHash(g.topic, g.key) {
			t.Errorf("KeyHash(%q, %q) is not deterministic", g.topic, g.key)
		}
	}

	// The same bytes split differently between topic and key are different
	// keys and must not share an index entry.
	splits := [][2][2]string{
		{{"ab", "c"}, {"a", "bc"}},
		{{"abc", ""}, {"", "abc"}},
		{{"a", ""}, {"", "a"}},
		{{"logs", "x"}, {"log", "sx"}},
	}
	for _, s := range splits {
		a, b := s[0], s[1]
		if KeyHash(a[0], a[1]) == KeyHash(b[0], b[1]) {
			t.Errorf("KeyHash(%q, %q) == KeyHash(%q, %q)", a[0], a[1], b[0], b[1])
		}
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	for _, s := range samples() {
		t.Run(s.name, func(t *testing.T) {
			rec := Encode(nil, &s.h, s.payload)
			keys := make([]KeyRef, 0, 8)
			allocs := testing.AllocsPerRun(100, func() {
				if _, _, err := Decode(rec, keys); err != nil {
					t.Fatal(err)
				}
			})
			if allocs != 0 {
				t.Errorf("Decode with a reused keys slice made %v allocations, want 0", allocs)
			}
		})
	}
}

func BenchmarkDecode(b *testing.B) {
	for _, size := range []int{256, 16 << 10, 1 << 20} {
		b.Run(fmt.Sprintf("payload=%d", size), func(b *testing.B) {
			h := Header{Topic: "logs", Count: 8, Keys: make([]KeyRef, 8)}
			for i := range h.Keys {
				h.Keys[i] = KeyRef{Index: uint32(i), Hash: KeyHash("logs", fmt.Sprint(i))}
			}
			rec := Encode(nil, &h, bytes.Repeat([]byte("a log line\n"), size/11+1)[:size])
			keys := make([]KeyRef, 0, len(h.Keys))
			b.ReportAllocs()
			b.SetBytes(int64(len(rec)))
			for b.Loop() {
				if _, _, err := Decode(rec, keys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestDecodeManyTopics decodes more topics than the intern cache has slots,
// from several goroutines, so that colliding and replaced slots are hit; run
// with -race it also checks the cache's synchronisation.
func TestDecodeManyTopics(t *testing.T) {
	recs := make([][]byte, 3*len(topicCache))
	for i := range recs {
		recs[i] = Encode(nil, &Header{Topic: fmt.Sprintf("topic-%d", i), Count: 1}, nil)
	}
	done := make(chan struct{})
	for g := range 4 {
		go func() {
			defer func() { done <- struct{}{} }()
			for round := range 3 {
				for i := range recs {
					j := (i*(g+1) + round) % len(recs)
					h, _, err := Decode(recs[j], nil)
					if err != nil {
						t.Error(err)
						return
					}
					if want := fmt.Sprintf("topic-%d", j); h.Topic != want {
						t.Errorf("decoded topic %q, want %q", h.Topic, want)
						return
					}
				}
			}
		}()
	}
	for range 4 {
		<-done
	}
}
