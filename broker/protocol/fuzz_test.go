package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker/store/record"
)

// Every decoder of bytes from the network has a fuzz target here. Each
// must not panic, must fail only with its package error, must accept only
// what its encoder writes (a decoded body re-encodes to the same bytes),
// and must not allocate by a length it has not checked. The seed corpora
// in testdata/fuzz are written by TestFuzzSeeds (seeds_test.go).

// allocBytes reads the bytes allocated so far. ReadMemStats flushes the
// per-P caches first, so small allocations made before the call are not
// counted later (runtime/metrics counts them late, at a cache refill).
func allocBytes() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.TotalAlloc
}

// boundAllocs fails t if fn allocates more than limit bytes.
func boundAllocs(t *testing.T, limit int, what string, fn func()) {
	t.Helper()
	before := allocBytes()
	fn()
	if n := allocBytes() - before; n > uint64(limit) {
		t.Fatalf("%s allocated %d bytes, more than %d", what, n, limit)
	}
}

// slack covers the small allocations of a decode: strings, errors.
const slack = 64 << 10

func FuzzParseFrameHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxFrame = 1 << 20
		h, n, err := ParseFrameHeader(data, maxFrame)
		if err != nil {
			if !errors.Is(err, ErrBadFrame) && !errors.Is(err, ErrFrameTooLarge) {
				t.Fatalf("error %v is neither ErrBadFrame nor ErrFrameTooLarge", err)
			}
			return
		}
		if n < 0 || n+FrameHeaderSize > maxFrame {
			t.Fatalf("body of %d bytes accepted with a %d byte limit", n, maxFrame)
		}
		enc := AppendFrame(nil, h, nil)
		binary.LittleEndian.PutUint32(enc, uint32(12+n))
		if !bytes.Equal(enc, data[:FrameHeaderSize]) {
			t.Fatalf("header %+v with %d byte body encodes as %x, was %x", h, n, enc, data[:FrameHeaderSize])
		}
	})
}

func FuzzFrameReader(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		fr := NewFrameReader(bytes.NewReader(data), DefaultMaxFrame)
		off := 0
		// The body buffer grows with the bytes that arrive, from keepBuf.
		boundAllocs(t, 3*len(data)+2*keepBuf+slack, "FrameReader", func() {
			for {
				h, body, err := fr.Read()
				if err != nil {
					checkFrameReaderErr(t, err, data, off)
					return
				}
				enc := AppendFrame(nil, h, body)
				if !bytes.Equal(enc, data[off:off+len(enc)]) {
					t.Fatalf("frame at %d re-encodes as %x, was %x", off, enc, data[off:off+len(enc)])
				}
				off += len(enc)
			}
		})
	})
}

func checkFrameReaderErr(t *testing.T, err error, data []byte, off int) {
	t.Helper()
	switch {
	case err == io.EOF:
		if off != len(data) {
			t.Fatalf("io.EOF at byte %d of %d", off, len(data))
		}
	case errors.Is(err, io.ErrUnexpectedEOF):
		if off == len(data) {
			t.Fatal("ErrUnexpectedEOF at the end of the last frame")
		}
	case errors.Is(err, ErrBadFrame), errors.Is(err, ErrFrameTooLarge):
	default:
		t.Fatalf("unexpected error %v", err)
	}
}

// fuzzBody checks a binary body decoder: errors are ErrBadBody, allocations
// are bounded by the input, and what decodes re-encodes to the input.
func fuzzBody(t *testing.T, data []byte, b body) {
	t.Helper()
	var err error
	boundAllocs(t, 2*len(data)+slack, "Decode", func() { err = b.Decode(data) })
	if err != nil {
		if !errors.Is(err, ErrBadBody) {
			t.Fatalf("error %v is not ErrBadBody", err)
		}
		return
	}
	if enc := b.Append(nil); !bytes.Equal(enc, data) {
		t.Fatalf("decoded %+v re-encodes as\n%x\ninput was\n%x", b, enc, data)
	}
}

func FuzzProduceRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ProduceRequest
		fuzzBody(t, data, &r)
	})
}

func FuzzProduceResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var r ProduceResponse
		fuzzBody(t, data, &r)
	})
}

func FuzzFetchRequest(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var r FetchRequest
		fuzzBody(t, data, &r)
		_, _ = ParseTagFilter(r.Tags) // what the broker does next; must not panic
	})
}

// FuzzFetchResponse decodes a response and everything a client then reads
// from it: records, their payloads, their messages.
func FuzzFetchResponse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var r FetchResponse
		fuzzBody(t, data, &r)
		var scratch []byte
		counted, count := CountMessages(r.Records), 0
		err := EachRecord(r.Records, func(h *record.Header, payload []byte) error {
			count += int(h.Count)
			raw, err := Decompress(h.Attr, payload, scratch)
			if err != nil {
				return err
			}
			if h.Attr&AttrLZ4 != 0 {
				scratch = raw
			}
			it := NewMessageIter(raw, h.FirstBornMs)
			var v MessageView
			for it.Next(&v) {
			}
			return it.Err()
		})
		if err != nil && !errors.Is(err, record.ErrCorrupt) && !errors.Is(err, ErrBadBody) {
			t.Fatalf("error %v is neither ErrCorrupt nor ErrBadBody", err)
		}
		if err == nil && counted != count {
			t.Fatalf("CountMessages says %d messages, the records' headers %d", counted, count)
		}
	})
}

func FuzzErrorBody(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		var e Error
		fuzzBody(t, data, &e)
	})
}

// FuzzDecompressAndIterate reads a batch payload as a consumer does. What
// it reads must survive a trip through BatchBuilder unchanged, and must be
// the same bytes when nothing in it is ambiguous.
func FuzzDecompressAndIterate(f *testing.F) {
	f.Fuzz(func(t *testing.T, attr byte, firstBorn int64, payload []byte) {
		var raw []byte
		var err error
		// lz4 expands at most 255-fold: more than that was not checked.
		boundAllocs(t, 256*len(payload)+slack, "Decompress", func() {
			raw, err = Decompress(record.Attr(attr), payload, nil)
		})
		if err != nil {
			if !errors.Is(err, ErrBadBody) {
				t.Fatalf("Decompress error %v is not ErrBadBody", err)
			}
			return
		}
		var msgs []Message
		canonical := true // the builder would write raw byte for byte
		it := NewMessageIter(raw, firstBorn)
		var v MessageView
		for it.Next(&v) {
			if cap(v.Key) != len(v.Key) || cap(v.Tags) != len(v.Tags) || cap(v.Body) != len(v.Body) {
				t.Fatal("a view's field can be appended to over the next field")
			}
			m := v.Message()
			if len(msgs) == 0 && m.BornMs != firstBorn || v.nprops > 1 {
				canonical = false
			}
			msgs = append(msgs, m)
		}
		if err := it.Err(); err != nil {
			if !errors.Is(err, ErrBadBody) {
				t.Fatalf("MessageIter error %v is not ErrBadBody", err)
			}
			return
		}
		var b BatchBuilder
		b.Reset("topic")
		for i := range msgs {
			b.Add(&msgs[i], 0)
		}
		for _, compress := range []bool{false, true} {
			batch := b.Finish(compress, nil)
			raw2, err := Decompress(batch.Attr, batch.Payload, nil)
			if err != nil {
				t.Fatalf("Decompress of a rebuilt batch: %v", err)
			}
			if canonical && !bytes.Equal(raw2, raw) {
				t.Fatalf("rebuilt batch\n%x\ndiffers from\n%x", raw2, raw)
			}
			it := NewMessageIter(raw2, batch.FirstBornMs)
			for i := 0; it.Next(&v); i++ {
				if i >= len(msgs) || !sameMessage(v.Message(), msgs[i]) {
					t.Fatalf("rebuilt message %d differs", i)
				}
			}
			if it.Err() != nil {
				t.Fatalf("rebuilt batch: %v", it.Err())
			}
		}
	})
}

func sameMessage(a, b Message) bool {
	if a.Key != b.Key || a.Tags != b.Tags || a.BornMs != b.BornMs || !bytes.Equal(a.Body, b.Body) ||
		len(a.Properties) != len(b.Properties) {
		return false
	}
	for k, v := range a.Properties {
		if w, ok := b.Properties[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func FuzzParseMessageID(f *testing.F) {
	f.Fuzz(func(t *testing.T, id string) {
		pos, index, err := ParseMessageID(id)
		if err != nil {
			return
		}
		if pos < 0 {
			t.Fatalf("%q parses to position %d", id, pos)
		}
		if got := MessageID(pos, index); got != strings.ToUpper(id) {
			t.Fatalf("%q parses to %d, %d, which format as %q", id, pos, index, got)
		}
	})
}
