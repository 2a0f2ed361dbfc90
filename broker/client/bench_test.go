package client

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// BenchmarkProducerSendAsync measures the producer's path per message,
// batching, compression and acknowledgement included, against the
// in-process fake broker (whose own work is per batch).
func BenchmarkProducerSendAsync(b *testing.B) {
	f := newFakeBroker(b, 8)
	c := newTestClient(b, f)
	p, err := c.NewProducer(ProducerConfig{Linger: time.Millisecond})
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	body := make([]byte, 200)
	for i := range body {
		body[i] = byte('a' + i%7)
	}
	msg := Message{Topic: "bench", Body: body}
	ctx := context.Background()
	if _, err := p.Send(ctx, msg); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		p.SendAsync(msg, nil)
	}
	if err := p.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkDecodeRecord decodes a record of 1,000 tailed lines as a
// consumer's fetch does: 200-byte bodies, lz4, and the properties an
// agent's file source gives every line (host, file, source shared, the
// offset its own).
func BenchmarkDecodeRecord(b *testing.B) {
	shared := protocol.NewProps(map[string]string{"host": "web-1", "file": "/var/log/app/app.log", "source": "app"})
	msgs := make([]protocol.Message, 1000)
	for i := range msgs {
		msgs[i] = protocol.Message{Body: fmt.Appendf(nil, "%-200d", i), Shared: shared,
			Extra: protocol.Property{Name: "offset", Value: fmt.Sprint(1 << 20 * i)}}
	}
	rec := encodeBatch(b, "logs", 0, 0, true, 0, msgs)
	b.ReportAllocs()
	for b.Loop() {
		var d recordDecoder
		if err := protocol.EachRecord(rec, func(h *protocol.RecordHeader, p []byte) error { return d.decodeRecord(h, 0, p) }); err != nil {
			b.Fatal(err)
		}
		if len(d.out) != len(msgs) || d.out[999].Properties["file"] != "/var/log/app/app.log" {
			b.Fatalf("decoded %d messages: %v", len(d.out), d.out[999].Properties)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(msgs)), "ns/message")
}
