package protocol

import (
	"fmt"
	"hash/crc32"

	"github.com/sluicehq/sluice/broker/store/record"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PayloadCRC is the checksum a producer sends with a payload, so that the
// broker can refuse bytes damaged between the two.
func PayloadCRC(p []byte) uint32 { return crc32.Checksum(p, castagnoli) }

// ProduceRequest carries one batch for one queue.
//
//	topic str | queue u32 | producer id u64 | sequence u64 | count u32 |
//	attr u8 | first born i64 | last born i64 | deliver at i64 | tag bloom u64 |
//	nkeys uvarint | nkeys x (index u32, hash u64) | payload crc u32 | payload bytes
type ProduceRequest struct {
	Topic       string
	Queue       uint32
	ProducerID  uint64 // 0: not idempotent
	Sequence    uint64 // per (producer, topic, queue), from 1
	Count       uint32
	Attr        record.Attr
	FirstBornMs int64
	LastBornMs  int64
	DeliverAtMs int64
	TagBloom    uint64
	Keys        []record.KeyRef
	PayloadCRC  uint32
	Payload     []byte
}

// Append encodes r after dst.
func (r *ProduceRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.str(r.Topic)
	e.u32(r.Queue)
	e.u64(r.ProducerID)
	e.u64(r.Sequence)
	e.u32(r.Count)
	e.u8(uint8(r.Attr))
	e.i64(r.FirstBornMs)
	e.i64(r.LastBornMs)
	e.i64(r.DeliverAtMs)
	e.u64(r.TagBloom)
	e.uvarint(uint64(len(r.Keys)))
	for _, k := range r.Keys {
		e.u32(k.Index)
		e.u64(k.Hash)
	}
	e.u32(r.PayloadCRC)
	e.bytes(r.Payload)
	return e.b
}

// Decode decodes b into r. Payload aliases b; Keys reuses r.Keys.
func (r *ProduceRequest) Decode(b []byte) error {
	d := dec{b: b}
	r.Topic = d.str("topic")
	r.Queue = d.u32("queue")
	r.ProducerID = d.u64("producer id")
	r.Sequence = d.u64("sequence")
	r.Count = d.u32("count")
	r.Attr = record.Attr(d.u8("attributes"))
	r.FirstBornMs = d.i64("first born")
	r.LastBornMs = d.i64("last born")
	r.DeliverAtMs = d.i64("deliver at")
	r.TagBloom = d.u64("tag bloom")
	n := d.count("keys", record.KeyRefSize)
	r.Keys = r.Keys[:0]
	for range n {
		r.Keys = append(r.Keys, record.KeyRef{Index: d.u32("key index"), Hash: d.u64("key hash")})
	}
	r.PayloadCRC = d.u32("payload crc")
	r.Payload = d.bytes("payload")
	return d.end()
}

// ProduceResponse acknowledges a stored batch.
//
//	base offset i64 | position i64 | stored at i64 | duplicate u8
type ProduceResponse struct {
	BaseOffset int64
	Pos        int64
	StoredAtMs int64
	// Duplicate is set when the batch had been stored before (a retry of
	// an idempotent producer); the fields describe the first copy.
	Duplicate bool
}

// Append encodes r after dst.
func (r *ProduceResponse) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.i64(r.BaseOffset)
	e.i64(r.Pos)
	e.i64(r.StoredAtMs)
	dup := uint8(0)
	if r.Duplicate {
		dup = 1
	}
	e.u8(dup)
	return e.b
}

// Decode decodes b into r.
func (r *ProduceResponse) Decode(b []byte) error {
	d := dec{b: b}
	r.BaseOffset = d.i64("base offset")
	r.Pos = d.i64("position")
	r.StoredAtMs = d.i64("stored at")
	switch d.u8("duplicate") {
	case 0:
		r.Duplicate = false
	case 1:
		r.Duplicate = true
	default:
		d.fail("duplicate flag is neither 0 nor 1")
	}
	return d.end()
}

// FetchRequest asks for the batches of a queue from an offset on, waiting
// up to MaxWaitMs for data when there is none yet (long poll).
//
//	topic str | queue u32 | offset i64 | max bytes u32 | max wait ms u32 | tags str |
//	group str | member id str
type FetchRequest struct {
	Topic     string
	Queue     uint32
	Offset    int64
	MaxBytes  uint32
	MaxWaitMs uint32
	// Tags is a tag expression ("A || B"; "" or "*" for all). The broker
	// skips batches whose tag bloom rules the tags out; the client filters
	// the messages of the batches it gets exactly.
	Tags string
	// Group and MemberID name the consumer-group member fetching, if any.
	// The broker then serves only a queue the member owns, checking again
	// before it answers a long poll, and answers CodeFenced otherwise: a
	// member that lost the queue in a rebalance it has not yet heard of
	// stops reading it at once, instead of delivering what the queue's
	// new owner delivers too.
	Group    string
	MemberID string
}

// Append encodes r after dst.
func (r *FetchRequest) Append(dst []byte) []byte {
	e := enc{b: dst}
	e.str(r.Topic)
	e.u32(r.Queue)
	e.i64(r.Offset)
	e.u32(r.MaxBytes)
	e.u32(r.MaxWaitMs)
	e.str(r.Tags)
	e.str(r.Group)
	e.str(r.MemberID)
	return e.b
}

// Decode decodes b into r.
func (r *FetchRequest) Decode(b []byte) error {
	d := dec{b: b}
	r.Topic = d.str("topic")
	r.Queue = d.u32("queue")
	r.Offset = d.i64("offset")
	r.MaxBytes = d.u32("max bytes")
	r.MaxWaitMs = d.u32("max wait")
	r.Tags = d.str("tags")
	r.Group = d.str("group")
	r.MemberID = d.str("member id")
	return d.end()
}

// FetchResponse returns whole commit-log records exactly as stored, so the
// client checks each record's CRC end to end (record.Decode).
//
//	next i64 | min i64 | high i64 | npos uvarint | npos x position i64 |
//	records bytes
type FetchResponse struct {
	// Next is the offset to fetch next.
	Next int64
	// Min and High are the queue's offsets: [Min, High) are stored.
	Min, High int64
	// Positions are the log positions of the records, in order: message i
	// of record k has the ID MessageID(Positions[k], i). Empty when the
	// server does not say; a client then has no message IDs.
	Positions []int64
	// Records are the encoded records, back to back.
	Records []byte
}

// AppendHeader encodes everything but the records, whose length prefix
// says recordsLen, so that a server can write the records straight from
// its read buffer.
func (r *FetchResponse) AppendHeader(dst []byte, recordsLen int) []byte {
	e := enc{b: dst}
	e.i64(r.Next)
	e.i64(r.Min)
	e.i64(r.High)
	e.uvarint(uint64(len(r.Positions)))
	for _, p := range r.Positions {
		e.i64(p)
	}
	e.uvarint(uint64(recordsLen))
	return e.b
}

// Append encodes r after dst.
func (r *FetchResponse) Append(dst []byte) []byte {
	return append(r.AppendHeader(dst, len(r.Records)), r.Records...)
}

// Decode decodes b into r; Records aliases b, Positions reuses r.Positions.
func (r *FetchResponse) Decode(b []byte) error {
	d := dec{b: b}
	r.Next = d.i64("next")
	r.Min = d.i64("min")
	r.High = d.i64("high")
	n := d.count("positions", 8)
	r.Positions = r.Positions[:0]
	for range n {
		r.Positions = append(r.Positions, d.i64("position"))
	}
	r.Records = d.bytes("records")
	return d.end()
}

// CountMessages returns the messages the records of recs say they hold,
// as their headers say it, unchecked: what a reader sizes its output by
// before EachRecord checks and decodes them. It stops at the first
// record it cannot read.
func CountMessages(recs []byte) int {
	total := 0
	for off := 0; off < len(recs); {
		n, count, err := record.PeekCount(recs[off:])
		if err != nil {
			break
		}
		total += count
		off += n
	}
	return total
}

// EachRecord calls fn for every record in recs, checking each (CRC and
// all); it stops at the first bad one and returns its error, which wraps
// record.ErrCorrupt and says at which byte the record starts. h and its Keys
// are reused from record to record: fn copies what it keeps.
func EachRecord(recs []byte, fn func(h *record.Header, payload []byte) error) error {
	var keys []record.KeyRef
	for off := 0; off < len(recs); {
		h, payload, err := record.Decode(recs[off:], keys)
		if err != nil {
			return fmt.Errorf("record at byte %d of %d: %w", off, len(recs), err)
		}
		if err := fn(&h, payload); err != nil {
			return err
		}
		if h.Keys != nil {
			keys = h.Keys
		}
		off += int(h.Length)
	}
	return nil
}
