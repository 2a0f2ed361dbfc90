package client

import (
	"context"
	"testing"
	"time"
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
