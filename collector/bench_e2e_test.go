package collector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// BenchmarkCollectorFromBroker drains a backlog of 200-byte JSON lines
// from a real (in-process) broker through parse_json into a file sink:
// the whole collector, polling and committing included. Each iteration
// is 100,000 lines.
func BenchmarkCollectorFromBroker(b *testing.B) {
	const n = 100000
	reg := builtins()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		srv := startBroker(b)
		cl, err := client.New(client.Config{Addr: srv.Addr(), Logger: quiet})
		if err != nil {
			b.Fatal(err)
		}
		p, _ := cl.NewProducer(client.ProducerConfig{})
		msgs := make([]client.Message, 1000)
		for j := 0; j < n; j += len(msgs) {
			for k := range msgs {
				body := fmt.Sprintf(`{"level":"info","service":"checkout","msg":"order placed","order_id":%d,"latency_ms":12.5,"path":"/api/v1/orders/%d"}`, j+k, k)
				msgs[k] = client.Message{Topic: "logs", Key: fmt.Sprint(k % 8), Body: []byte(fmt.Sprintf("%-200s", body))}
			}
			if _, err := p.Send(context.Background(), msgs...); err != nil {
				b.Fatal(err)
			}
		}
		p.Close()
		f := fmt.Sprintf(`
collector:
  broker: %s
  http_listen: off
  pipelines:
    logs:
      from: {topic: logs}
      processors: [{parse_json: {}}]
      to: [file]
  sinks:
    file: {type: file, path: "%s/out.log", encoding: json}
`, srv.Addr(), b.TempDir())
		cfg := parseSection(b, reg, f)
		b.StartTimer()
		c, err := New(cfg, Options{Logger: quiet, registry: reg})
		if err != nil {
			b.Fatal(err)
		}
		if err := c.Start(context.Background()); err != nil {
			b.Fatal(err)
		}
		for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(5 * time.Millisecond) {
			offs, err := cl.GroupOffsets(context.Background(), "collectors", "logs")
			var sum int64
			for _, o := range offs {
				sum += o.Offset
			}
			if err == nil && sum == n {
				break
			}
			if time.Now().After(deadline) {
				b.Fatalf("committed %d of %d", sum, n)
			}
		}
		b.StopTimer()
		c.Shutdown(context.Background())
		cl.Close()
		srv.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "events/s")
}
