package server

import (
	"fmt"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store"
)

// BenchmarkProducePipelined measures the server's produce path over
// loopback TCP with 32 requests in flight on one connection, in both flush
// modes (sync: group commit, one fsync for the batches waiting). One op is
// one batch of 100 messages of 200 bytes.
func BenchmarkProducePipelined(b *testing.B) {
	for _, mode := range []store.FlushMode{store.FlushAsync, store.FlushSync} {
		b.Run(string(mode), func(b *testing.B) { benchProduce(b, mode) })
	}
}

func benchProduce(b *testing.B, mode store.FlushMode) {
	cfg := testConfig(b)
	cfg.Flush = mode
	s := start(b, cfg)
	c := connect(b, s)
	c.createTopic("bench", 8)
	msgs := make([]protocol.Message, 100)
	for i := range msgs {
		msgs[i] = protocol.Message{Body: []byte(fmt.Sprintf("%0200d", i))}
	}
	frames := make([][]byte, 8)
	for q := range frames {
		req := batch("bench", uint32(q), msgs...)
		frames[q] = req.Append(nil)
	}
	const inflight = 32
	b.SetBytes(int64(len(frames[0])))
	b.ReportAllocs()
	b.ResetTimer()
	sent, got := 0, 0
	for got < b.N {
		for sent < b.N && sent-got < inflight {
			c.send(protocol.OpProduce, frames[sent%len(frames)])
			sent++
		}
		if _, _, err := c.read(); err != nil {
			b.Fatal(err)
		}
		got++
	}
	b.ReportMetric(float64(b.N*len(msgs))/b.Elapsed().Seconds(), "msgs/s")
}
