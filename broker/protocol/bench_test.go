package protocol

import (
	"fmt"
	"testing"
)

// benchMessages returns n messages of about size bytes of log-like text:
// compressible, but not trivially.
func benchMessages(n, size int) []Message {
	msgs := make([]Message, n)
	for i := range msgs {
		body := fmt.Appendf(nil, "2024-05-01T12:00:%02d.%03dZ level=info svc=checkout req=%08x user=%d msg=\"order placed\" ",
			i%60, i%1000, i*2654435761, i%9973)
		for len(body) < size {
			body = fmt.Appendf(body, "k%d=v%d ", len(body), i%17)
		}
		msgs[i] = Message{Key: fmt.Sprint("user-", i%100), Tags: "info", Body: body[:size]}
	}
	return msgs
}

// BenchmarkBatchBuild encodes and lz4-compresses batches of 1000 messages
// of 200 bytes with a reused builder and buffer.
func BenchmarkBatchBuild(b *testing.B) {
	msgs := benchMessages(1000, 200)
	var bb BatchBuilder
	var dst []byte
	b.ReportAllocs()
	b.SetBytes(int64(len(msgs) * 200))
	for b.Loop() {
		bb.Reset("logs")
		for i := range msgs {
			bb.Add(&msgs[i], 1700000000000)
		}
		batch := bb.Finish(true, dst)
		dst = batch.Payload
	}
	b.ReportMetric(float64(bb.Size())/float64(len(dst)), "ratio")
}

// BenchmarkMessageIter reads the messages of a decompressed batch, as a
// consumer does: no allocation per message.
func BenchmarkMessageIter(b *testing.B) {
	msgs := benchMessages(1000, 200)
	var bb BatchBuilder
	bb.Reset("logs")
	for i := range msgs {
		bb.Add(&msgs[i], 1700000000000+int64(i))
	}
	batch := bb.Finish(true, nil)
	raw, err := Decompress(batch.Attr, batch.Payload, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.SetBytes(int64(len(raw)))
	var v MessageView
	for b.Loop() {
		it := NewMessageIter(raw, batch.FirstBornMs)
		n := 0
		for it.Next(&v) {
			n += len(v.Body)
		}
		if it.Err() != nil || n != len(msgs)*200 {
			b.Fatalf("read %d body bytes: %v", n, it.Err())
		}
	}
}

// BenchmarkDecompress decompresses the same batch into a reused buffer.
func BenchmarkDecompress(b *testing.B) {
	msgs := benchMessages(1000, 200)
	var bb BatchBuilder
	bb.Reset("logs")
	for i := range msgs {
		bb.Add(&msgs[i], 1700000000000)
	}
	batch := bb.Finish(true, nil)
	var scratch []byte
	b.ReportAllocs()
	b.SetBytes(int64(bb.Size()))
	for b.Loop() {
		raw, err := Decompress(batch.Attr, batch.Payload, scratch)
		if err != nil {
			b.Fatal(err)
		}
		scratch = raw
	}
}

// The consumer's hot path allocates nothing per message; the benchmark
// shows it, this keeps it so.
func TestMessageIterDoesNotAllocate(t *testing.T) {
	msgs := benchMessages(100, 200)
	var bb BatchBuilder
	bb.Reset("logs")
	for i := range msgs {
		bb.Add(&msgs[i], 1)
	}
	raw := bb.Finish(false, nil).Payload
	var v MessageView
	allocs := testing.AllocsPerRun(20, func() {
		it := NewMessageIter(raw, 1)
		for it.Next(&v) {
			_ = v.Property("absent")
		}
	})
	if allocs != 0 {
		t.Fatalf("iterating 100 messages allocates %v times", allocs)
	}
}
