package cq

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"

	"github.com/sluicehq/sluice/broker/store/record"
)

// EntrySize is the encoded size of one Entry.
const EntrySize = 48

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Entry locates one batch.
type Entry struct {
	BaseOffset int64
	Pos        int64 // position of the record in the commit log
	Size       uint32
	Count      uint32
	TagBloom   uint64
	StoredAtMs int64
	Attr       record.Attr
}

// Next is the offset after the batch's last message.
func (e Entry) Next() int64 { return e.BaseOffset + int64(e.Count) }

// Encode writes e into b, which must hold EntrySize bytes.
func (e *Entry) Encode(b []byte) {
	_ = b[EntrySize-1]
	le := binary.LittleEndian
	le.PutUint64(b[0:], uint64(e.BaseOffset))
	le.PutUint64(b[8:], uint64(e.Pos))
	le.PutUint32(b[16:], e.Size)
	le.PutUint32(b[20:], e.Count)
	le.PutUint64(b[24:], e.TagBloom)
	le.PutUint64(b[32:], uint64(e.StoredAtMs))
	b[40], b[41], b[42], b[43] = byte(e.Attr), 0, 0, 0
	le.PutUint32(b[44:], crc32.Checksum(b[:44], castagnoli))
}

// ErrCorruptEntry is wrapped by every entry decoding error.
var ErrCorruptEntry = fmt.Errorf("corrupt consume queue entry")

// DecodeEntry decodes and checks one entry.
func DecodeEntry(b []byte) (Entry, error) {
	if len(b) < EntrySize {
		return Entry{}, fmt.Errorf("%w: %d bytes, need %d", ErrCorruptEntry, len(b), EntrySize)
	}
	le := binary.LittleEndian
	if want, got := le.Uint32(b[44:]), crc32.Checksum(b[:44], castagnoli); want != got {
		return Entry{}, fmt.Errorf("%w: crc %#08x, computed %#08x", ErrCorruptEntry, want, got)
	}
	e := Entry{
		BaseOffset: int64(le.Uint64(b[0:])),
		Pos:        int64(le.Uint64(b[8:])),
		Size:       le.Uint32(b[16:]),
		Count:      le.Uint32(b[20:]),
		TagBloom:   le.Uint64(b[24:]),
		StoredAtMs: int64(le.Uint64(b[32:])),
		Attr:       record.Attr(b[40]),
	}
	if e.BaseOffset < 0 || e.Pos < 0 || e.Count == 0 || e.Size < record.HeaderSize || e.Size > record.MaxSize {
		return Entry{}, fmt.Errorf("%w: fields out of range (offset %d, position %d, count %d, size %d)",
			ErrCorruptEntry, e.BaseOffset, e.Pos, e.Count, e.Size)
	}
	return e, nil
}
