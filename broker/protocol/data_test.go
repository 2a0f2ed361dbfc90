package protocol

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/sluicehq/sluice/broker/store/record"
)

// body is a binary body: what the round-trip and truncation checks need.
type body interface {
	Append(dst []byte) []byte
	Decode(b []byte) error
}

// checkBody encodes in, decodes it into out, and checks that out equals in
// and re-encodes to the same bytes; that every truncation and a trailing
// byte are refused with ErrBadBody; and that encoding appends after dst.
func checkBody(t *testing.T, in, out body, fresh func() body) {
	t.Helper()
	enc := in.Append(nil)
	if err := out.Decode(enc); err != nil {
		t.Fatalf("Decode(%x): %v", enc, err)
	}
	if !equalBodies(in, out) {
		t.Fatalf("decoded\n%+v\nencoded\n%+v", out, in)
	}
	if again := out.Append(nil); !bytes.Equal(again, enc) {
		t.Fatalf("re-encoded\n%x\nfirst\n%x", again, enc)
	}
	if got := in.Append([]byte("pre")); !bytes.Equal(got, append([]byte("pre"), enc...)) {
		t.Fatalf("Append does not append after dst")
	}
	for i := range len(enc) {
		if err := fresh().Decode(enc[:i]); !errors.Is(err, ErrBadBody) {
			t.Fatalf("Decode of the first %d of %d bytes: %v, want ErrBadBody", i, len(enc), err)
		}
	}
	if err := fresh().Decode(append(bytes.Clone(enc), 0)); !errors.Is(err, ErrBadBody) || !strings.Contains(err.Error(), "trailing") {
		t.Fatalf("Decode with a trailing byte: %v, want ErrBadBody", err)
	}
}

// equalBodies compares decoded bodies, taking nil and empty slices as equal.
func equalBodies(a, b body) bool {
	norm := func(v body) any {
		switch v := v.(type) {
		case *ProduceRequest:
			c := *v
			if len(c.Keys) == 0 {
				c.Keys = nil
			}
			if len(c.Payload) == 0 {
				c.Payload = nil
			}
			return c
		case *FetchResponse:
			c := *v
			if len(c.Records) == 0 {
				c.Records = nil
			}
			return c
		}
		return v
	}
	return reflect.DeepEqual(norm(a), norm(b))
}

func TestProduceRequestRoundTrip(t *testing.T) {
	big := bytes.Repeat([]byte("payload "), 1<<17)
	tests := []ProduceRequest{
		{},
		{Topic: "t", Queue: 1, Count: 1, Payload: []byte("x")},
		{
			Topic: "logs.app", Queue: 7, ProducerID: 1<<64 - 1, Sequence: 42, Count: 3,
			Attr: AttrLZ4 | AttrDelayed, FirstBornMs: -5, LastBornMs: math.MaxInt64,
			DeliverAtMs: math.MinInt64, TagBloom: 0xdeadbeef,
			Keys:       []record.KeyRef{{Index: 0, Hash: 1}, {Index: 2, Hash: 1<<64 - 1}},
			PayloadCRC: PayloadCRC([]byte("abc")), Payload: []byte("abc"),
		},
		{Topic: strings.Repeat("t", 300), Count: 1, Payload: big, PayloadCRC: PayloadCRC(big)},
	}
	for i, in := range tests {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			if i == 3 {
				// The truncation check decodes every prefix of a 1 MiB body.
				enc := in.Append(nil)
				var out ProduceRequest
				if err := out.Decode(enc); err != nil || !equalBodies(&in, &out) {
					t.Fatalf("large request: %v", err)
				}
				if err := out.Decode(enc[:len(enc)-1]); !errors.Is(err, ErrBadBody) {
					t.Fatalf("truncated large request: %v", err)
				}
				return
			}
			checkBody(t, &in, &ProduceRequest{}, func() body { return &ProduceRequest{} })
		})
	}
}

// Decode reuses the caller's key slice, and a payload aliases the body.
func TestProduceRequestDecodeReuses(t *testing.T) {
	in := ProduceRequest{Topic: "t", Count: 2, Keys: []record.KeyRef{{Index: 0, Hash: 1}, {Index: 1, Hash: 2}}, Payload: []byte("p")}
	enc := in.Append(nil)
	out := ProduceRequest{Keys: make([]record.KeyRef, 0, 8)}
	if allocs := testing.AllocsPerRun(100, func() {
		if err := out.Decode(enc); err != nil {
			t.Fatal(err)
		}
	}); allocs > 1 { // the topic string
		t.Errorf("Decode allocates %v times, want at most 1", allocs)
	}
	if &out.Payload[0] != &enc[len(enc)-1] {
		t.Error("the payload does not alias the body")
	}
}

// A key count the body cannot hold is refused before any key is allocated.
func TestProduceRequestHostileKeyCount(t *testing.T) {
	enc := (&ProduceRequest{Topic: "t"}).Append(nil)
	// Replace nkeys (after the 1+1 topic, 4+8+8+4+1+8+8+8+8 fixed bytes).
	at := 2 + 57
	if enc[at] != 0 {
		t.Fatalf("byte %d is %d, not the zero key count", at, enc[at])
	}
	hostile := append(bytes.Clone(enc[:at]), binary.AppendUvarint(nil, 1<<40)...)
	hostile = append(hostile, enc[at+1:]...)
	var r ProduceRequest
	var err error
	n := allocatedBy(func() { err = r.Decode(hostile) })
	if !errors.Is(err, ErrBadBody) || !strings.Contains(err.Error(), "keys cannot fit") {
		t.Fatalf("error %v, want one about keys", err)
	}
	if n > 64<<10 || cap(r.Keys) != 0 { // the count would need terabytes; 64 KiB leaves room for the runtime's own allocations
		t.Fatalf("a hostile key count allocated %d bytes, %d keys", n, cap(r.Keys))
	}
}

func TestProduceResponseRoundTrip(t *testing.T) {
	for _, in := range []ProduceResponse{
		{},
		{BaseOffset: 10, Pos: 1 << 40, StoredAtMs: 1700000000000},
		{BaseOffset: math.MaxInt64, Pos: -1, StoredAtMs: math.MinInt64, Duplicate: true},
	} {
		checkBody(t, &in, &ProduceResponse{}, func() body { return &ProduceResponse{} })
	}
	enc := (&ProduceResponse{Duplicate: true}).Append(nil)
	enc[len(enc)-1] = 2
	if err := new(ProduceResponse).Decode(enc); !errors.Is(err, ErrBadBody) {
		t.Fatalf("duplicate flag 2: %v, want ErrBadBody", err)
	}
}

func TestFetchRequestRoundTrip(t *testing.T) {
	for _, in := range []FetchRequest{
		{},
		{Topic: "t", Queue: 3, Offset: 100, MaxBytes: 1 << 20, MaxWaitMs: 500, Tags: "A || B"},
		{Topic: "t", Queue: 1, Group: "collectors", MemberID: "host-1-abc"},
		{Topic: "日本", Queue: math.MaxUint32, Offset: -1, MaxBytes: math.MaxUint32, MaxWaitMs: math.MaxUint32, Tags: "*"},
	} {
		checkBody(t, &in, &FetchRequest{}, func() body { return &FetchRequest{} })
	}
}

func TestFetchResponseRoundTrip(t *testing.T) {
	recs := encodeRecords(t, 3)
	for _, in := range []FetchResponse{
		{},
		{Next: 5, Min: 0, High: 10, Positions: []int64{0, 4096, 1 << 40}, Records: recs},
		{Next: math.MaxInt64, Min: math.MinInt64, High: -1, Records: []byte{1}},
	} {
		checkBody(t, &in, &FetchResponse{}, func() body { return &FetchResponse{} })
		// A server writes the header and then the records from elsewhere.
		hdr := in.AppendHeader(nil, len(in.Records))
		if !bytes.Equal(append(hdr, in.Records...), in.Append(nil)) {
			t.Errorf("AppendHeader and the records differ from Append")
		}
	}
}

func TestErrorBody(t *testing.T) {
	for _, in := range []Error{
		{Code: CodeUnknown},
		{Code: CodeFenced, Message: "generation 3 is stale, the group is at 4"},
		{Code: Code(0xffff), Message: strings.Repeat("m", 1000)},
	} {
		checkBody(t, &in, &Error{}, func() body { return &Error{} })
	}
	for _, code := range []uint32{0, 0x10000, math.MaxUint32} {
		b := binary.LittleEndian.AppendUint32(nil, code)
		b = append(b, 0)
		if err := new(Error).Decode(b); !errors.Is(err, ErrBadBody) || !strings.Contains(err.Error(), "code") {
			t.Errorf("code %d: %v, want ErrBadBody about the code", code, err)
		}
	}
}

func TestErrorSemantics(t *testing.T) {
	fenced := Errorf(CodeFenced, "member %s lost queue %d", "m1", 3)
	if got := fenced.Error(); got != "broker: fenced: member m1 lost queue 3" {
		t.Errorf("Error() = %q", got)
	}
	wrapped := fmt.Errorf("commit offsets: %w", fenced)
	tests := []struct {
		err    error
		target error
		is     bool
	}{
		{wrapped, &Error{Code: CodeFenced}, true},
		{wrapped, &Error{Code: CodeUnknownMember}, false},
		{wrapped, &Error{Code: CodeFenced, Message: "other"}, false}, // a message makes the target specific
		{wrapped, fenced, true},                                      // the same error
		{wrapped, fmt.Errorf("x: %w", &Error{Code: CodeFenced}), true},
		{errors.New("plain"), &Error{Code: CodeFenced}, false},
		{wrapped, ErrBadBody, false},
	}
	for i, tt := range tests {
		if got := errors.Is(tt.err, tt.target); got != tt.is {
			t.Errorf("%d: errors.Is(%v, %v) = %v, want %v", i, tt.err, tt.target, got, tt.is)
		}
	}
	if CodeOf(wrapped) != CodeFenced || CodeOf(errors.New("x")) != 0 || CodeOf(nil) != 0 {
		t.Errorf("CodeOf: %v, %v, %v", CodeOf(wrapped), CodeOf(errors.New("x")), CodeOf(nil))
	}
	for code, name := range codeNames {
		if code.String() != name || code == 0 {
			t.Errorf("code %d: String %q, want %q", uint16(code), code.String(), name)
		}
	}
	if Code(999).String() != "code(999)" {
		t.Errorf("unknown code: %q", Code(999).String())
	}
	for _, c := range []Code{CodeDiskFull, CodeShuttingDown, CodeTimeout, CodeStoreFailed} {
		if !c.Retriable() {
			t.Errorf("%s is not retriable", c)
		}
	}
	for _, c := range []Code{CodeBadRequest, CodeFenced, CodeUnknownTopic, CodeCorrupt, Code(999)} {
		if c.Retriable() {
			t.Errorf("%s is retriable", c)
		}
	}
}

// encodeRecords returns n records back to back, as a fetch response has
// them: some with keys, one compressed.
func encodeRecords(t testing.TB, n int) []byte {
	t.Helper()
	var out []byte
	for i := range n {
		var b BatchBuilder
		b.Reset("orders")
		for j := range i + 1 {
			m := Message{Body: fmt.Appendf(nil, "order %d of batch %d", j, i), Tags: "created"}
			if j%2 == 0 {
				m.Key = fmt.Sprint("customer-", j)
			}
			b.Add(&m, 1700000000000+int64(j))
		}
		batch := b.Finish(i%2 == 1, nil)
		h := record.Header{
			Topic: "orders", Queue: uint32(i), Count: batch.Count, Attr: batch.Attr,
			BaseOffset: int64(10 * i), FirstBornMs: batch.FirstBornMs, LastBornMs: batch.LastBornMs,
			StoredAtMs: 1700000001000, TagBloom: batch.TagBloom, Keys: batch.Keys,
		}
		if err := h.Validate(len(batch.Payload)); err != nil {
			t.Fatal(err)
		}
		out = record.Encode(out, &h, batch.Payload)
	}
	return out
}

func TestEachRecord(t *testing.T) {
	recs := encodeRecords(t, 4)
	var seen []string
	err := EachRecord(recs, func(h *record.Header, payload []byte) error {
		raw, err := Decompress(h.Attr, payload, nil)
		if err != nil {
			return err
		}
		it := NewMessageIter(raw, h.FirstBornMs)
		var m MessageView
		n := 0
		for it.Next(&m) {
			n++
		}
		if it.Err() != nil || n != int(h.Count) || len(h.Keys) != (n+1)/2 {
			return fmt.Errorf("queue %d: %d messages of %d, %d keys, %v", h.Queue, n, h.Count, len(h.Keys), it.Err())
		}
		seen = append(seen, fmt.Sprint(h.Queue, "@", h.BaseOffset))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(seen, " "); got != "0@0 1@10 2@20 3@30" {
		t.Fatalf("records seen: %s", got)
	}
	if n := CountMessages(recs); n != 10 {
		t.Fatalf("CountMessages: %d, want 10", n)
	}
	if n := CountMessages(append(recs[:len(recs):len(recs)], 1, 2, 3)); n != 10 {
		t.Fatalf("CountMessages with trailing garbage: %d, want 10", n)
	}
	if err := EachRecord(nil, func(*record.Header, []byte) error { return errors.New("called") }); err != nil {
		t.Fatalf("no records: %v", err)
	}
	stop := errors.New("stop")
	calls := 0
	err = EachRecord(recs, func(*record.Header, []byte) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("fn's error: %v after %d calls, want it itself after 1", err, calls)
	}
}

// A bit flipped anywhere in any record is reported, and the records
// before it are still delivered.
func TestEachRecordFlippedBit(t *testing.T) {
	recs := encodeRecords(t, 3)
	var starts []int // where each record begins
	for off := 0; off < len(recs); {
		n, err := record.PeekLength(recs[off:])
		if err != nil {
			t.Fatal(err)
		}
		starts = append(starts, off)
		off += n
	}
	for pos := range len(recs) {
		for _, bit := range []byte{0x01, 0x80} {
			bad := bytes.Clone(recs)
			bad[pos] ^= bit
			calls := 0
			err := EachRecord(bad, func(*record.Header, []byte) error { calls++; return nil })
			if !errors.Is(err, record.ErrCorrupt) {
				t.Fatalf("bit %#x of byte %d flipped: %v, want ErrCorrupt", bit, pos, err)
			}
			before := 0
			for _, s := range starts[1:] {
				if s <= pos {
					before++
				}
			}
			if calls != before {
				t.Fatalf("byte %d flipped: %d records delivered, want the %d before it", pos, calls, before)
			}
			if want := fmt.Sprintf("record at byte %d ", starts[before]); !strings.Contains(err.Error(), want) {
				t.Fatalf("byte %d flipped: %v does not say %q", pos, err, want)
			}
		}
	}
	if err := EachRecord(recs[:len(recs)-1], func(*record.Header, []byte) error { return nil }); !errors.Is(err, record.ErrShort) {
		t.Fatalf("truncated last record: %v, want ErrShort", err)
	}
}
