package client

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store/record"
)

// encodeBatch builds a record as the broker would store it: the producer's
// batch plus the broker's header fields.
func encodeBatch(t testing.TB, topic string, queue uint32, base int64, compress bool, deliverAtMs int64, msgs []protocol.Message) []byte {
	t.Helper()
	var bb protocol.BatchBuilder
	bb.Reset(topic)
	for i := range msgs {
		bb.Add(&msgs[i], 1_700_000_000_000)
	}
	b := bb.Finish(compress, nil)
	h := record.Header{Attr: b.Attr, Topic: topic, Queue: queue, Count: b.Count, BaseOffset: base,
		FirstBornMs: b.FirstBornMs, LastBornMs: b.LastBornMs, StoredAtMs: 1_700_000_001_000,
		DeliverAtMs: deliverAtMs, TagBloom: b.TagBloom, Keys: b.Keys}
	if deliverAtMs != 0 {
		h.Attr |= record.AttrDelayed
	}
	return record.Encode(nil, &h, b.Payload)
}

func sampleMessages(n int) []protocol.Message {
	out := make([]protocol.Message, n)
	for i := range out {
		out[i] = protocol.Message{
			Key:    fmt.Sprintf("key-%d", i%3),
			Tags:   []string{"A", "B", "C"}[i%3],
			Body:   fmt.Appendf(nil, "message body number %d, compressible compressible compressible", i),
			BornMs: 1_700_000_000_000 + int64(i),
		}
		if i%2 == 0 {
			out[i].Properties = map[string]string{"host": "h1", "n": fmt.Sprint(i)}
		}
	}
	return out
}

func TestRecordDecodeRoundTrip(t *testing.T) {
	for _, compress := range []bool{false, true} {
		t.Run(fmt.Sprintf("lz4=%v", compress), func(t *testing.T) {
			in := sampleMessages(10)
			rec := encodeBatch(t, "orders", 3, 100, compress, 0, in)
			var d recordDecoder
			err := protocol.EachRecord(rec, func(h *protocol.RecordHeader, payload []byte) error {
				if compress && h.Attr&protocol.AttrLZ4 == 0 {
					t.Errorf("batch was not compressed")
				}
				return d.decodeRecord(h, 4096, payload)
			})
			if err != nil {
				t.Fatal(err)
			}
			if len(d.out) != len(in) {
				t.Fatalf("decoded %d messages, want %d", len(d.out), len(in))
			}
			for i, m := range d.out {
				w := in[i]
				if m.Topic != "orders" || m.Queue != 3 || m.Offset != 100+int64(i) || m.Key != w.Key || m.Tags != w.Tags ||
					string(m.Body) != string(w.Body) || m.BornAt.UnixMilli() != w.BornMs || m.StoredAt.UnixMilli() != 1_700_000_001_000 ||
					!m.DeliverAt.IsZero() || m.ID != protocol.MessageID(4096, uint32(i)) {
					t.Errorf("message %d = %+v, want %+v", i, m, w)
				}
				if len(w.Properties) > 0 || len(m.Properties) > 0 {
					if !reflect.DeepEqual(m.Properties, w.Properties) {
						t.Errorf("message %d properties %v, want %v", i, m.Properties, w.Properties)
					}
				}
			}
		})
	}
}

func TestRecordDecodeSkipsAndFilters(t *testing.T) {
	rec := encodeBatch(t, "t", 0, 10, true, 1_800_000_000_000, sampleMessages(9))
	filter, err := protocol.ParseTagFilter("A || C")
	if err != nil {
		t.Fatal(err)
	}
	d := recordDecoder{from: 14, filter: &filter}
	if err := protocol.EachRecord(rec, func(h *protocol.RecordHeader, p []byte) error { return d.decodeRecord(h, -1, p) }); err != nil {
		t.Fatal(err)
	}
	var offs []int64
	for _, m := range d.out {
		offs = append(offs, m.Offset)
		if m.Tags != "A" && m.Tags != "C" {
			t.Errorf("offset %d has tag %q, which the filter excludes", m.Offset, m.Tags)
		}
		if m.ID != "" {
			t.Errorf("message without a known position got ID %q", m.ID)
		}
		if m.DeliverAt.UnixMilli() != 1_800_000_000_000 {
			t.Errorf("delayed message DeliverAt %v", m.DeliverAt)
		}
	}
	// Offsets 10..18 carry tags A,B,C,A,B,C,...: from 14 on, A or C are 15, 16, 18.
	if want := []int64{15, 16, 18}; !reflect.DeepEqual(offs, want) {
		t.Fatalf("offsets %v, want %v", offs, want)
	}
	// A batch wholly before the offset wanted is skipped without decoding.
	d = recordDecoder{from: 19}
	if err := protocol.EachRecord(rec, func(h *protocol.RecordHeader, p []byte) error { return d.decodeRecord(h, 0, p) }); err != nil || len(d.out) != 0 {
		t.Fatalf("decoding a batch before the offset: %d messages, %v", len(d.out), err)
	}
}

func TestRecordDecodeRefusesCorruption(t *testing.T) {
	rec := encodeBatch(t, "t", 0, 0, true, 0, sampleMessages(5))
	rec[len(rec)-3] ^= 0x40
	var d recordDecoder
	err := protocol.EachRecord(rec, func(h *protocol.RecordHeader, p []byte) error { return d.decodeRecord(h, 0, p) })
	if err == nil {
		t.Fatal("a flipped bit went unnoticed")
	}
}

func TestFetchDecodesResponse(t *testing.T) {
	f := newFakeBroker(t, 4)
	recs := append(encodeBatch(t, "t", 2, 0, true, 0, sampleMessages(4)),
		encodeBatch(t, "t", 2, 4, false, 0, sampleMessages(3))...)
	f.fetch = func(r *protocol.FetchRequest) ([]byte, *protocol.Error) {
		if r.Offset > 7 {
			return nil, protocol.Errorf(protocol.CodeOffsetGone, "gone")
		}
		resp := protocol.FetchResponse{Next: 7, Min: 0, High: 7, Positions: []int64{0, 900}, Records: recs}
		return resp.Append(nil), nil
	}
	c := newTestClient(t, f)
	res, err := c.Fetch(context.Background(), FetchRequest{Topic: "t", Queue: 2, Offset: 2, Tags: "A || B"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != 7 || res.Min != 0 || res.High != 7 {
		t.Fatalf("result offsets %+v", res)
	}
	var got []string
	for _, m := range res.Messages {
		got = append(got, fmt.Sprintf("%d:%s:%s", m.Offset, m.Tags, m.ID))
	}
	want := []string{
		"3:A:" + protocol.MessageID(0, 3),
		"4:A:" + protocol.MessageID(900, 0),
		"5:B:" + protocol.MessageID(900, 1),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("messages %v, want %v", got, want)
	}
	_, err = c.Fetch(context.Background(), FetchRequest{Topic: "t", Queue: 2, Offset: 100})
	if protocol.CodeOf(err) != protocol.CodeOffsetGone {
		t.Fatalf("fetch past retention: %v, want CodeOffsetGone", err)
	}
}

func newTestClient(t testing.TB, f *fakeBroker) *Client {
	t.Helper()
	c, err := New(Config{Addr: f.addr(), MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// quietLogger keeps the client's reconnect and retry logs out of test
// output; tests check what happened through results and metrics.
var quietLogger = slog.New(slog.DiscardHandler)
