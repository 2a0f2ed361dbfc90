package cq

import (
	"errors"
	"testing"

	"github.com/sluicehq/sluice/broker/store/record"
)

func sampleEntry() Entry {
	return Entry{BaseOffset: 1 << 40, Pos: 123456789, Size: 4096, Count: 1000,
		TagBloom: record.TagBloom("a", "b"), StoredAtMs: 1_764_000_000_000, Attr: record.AttrLZ4 | record.AttrDelayed}
}

func TestEntryRoundTrip(t *testing.T) {
	e := sampleEntry()
	var b [EntrySize]byte
	e.Encode(b[:])
	got, err := DecodeEntry(b[:])
	if err != nil || got != e {
		t.Fatalf("decode = %+v, %v; want %+v", got, err, e)
	}
	if e.Next() != 1<<40+1000 {
		t.Fatalf("Next = %d", e.Next())
	}
}

func TestEntryEveryBitFlipDetected(t *testing.T) {
	e := sampleEntry()
	var b [EntrySize]byte
	e.Encode(b[:])
	for bit := 0; bit < EntrySize*8; bit++ {
		c := b
		c[bit/8] ^= 1 << (bit % 8)
		if _, err := DecodeEntry(c[:]); !errors.Is(err, ErrCorruptEntry) {
			t.Fatalf("bit %d flipped: err %v, want ErrCorruptEntry", bit, err)
		}
	}
}

func TestEntryRejects(t *testing.T) {
	for name, mut := range map[string]func(*Entry){
		"no messages":    func(e *Entry) { e.Count = 0 },
		"negative pos":   func(e *Entry) { e.Pos = -1 },
		"tiny size":      func(e *Entry) { e.Size = 10 },
		"huge size":      func(e *Entry) { e.Size = record.MaxSize + 1 },
		"negative start": func(e *Entry) { e.BaseOffset = -5 },
	} {
		e := sampleEntry()
		mut(&e)
		var b [EntrySize]byte
		e.Encode(b[:])
		if _, err := DecodeEntry(b[:]); !errors.Is(err, ErrCorruptEntry) {
			t.Errorf("%s: err %v, want ErrCorruptEntry", name, err)
		}
	}
	if _, err := DecodeEntry(make([]byte, 10)); !errors.Is(err, ErrCorruptEntry) {
		t.Errorf("short entry: %v", err)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	e := sampleEntry()
	var b [EntrySize]byte
	e.Encode(b[:])
	f.Add(b[:])
	f.Add(b[:20])
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEntry(data)
		if err != nil {
			return
		}
		var again [EntrySize]byte
		e.Encode(again[:])
		if string(again[:]) != string(data[:EntrySize]) {
			t.Fatalf("decoded entry re-encodes differently")
		}
	})
}
