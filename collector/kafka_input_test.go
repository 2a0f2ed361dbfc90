package collector

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
)

// TestKafkaInput runs a pipeline on `input: kafka` against kfake: every
// message reaches the sink with its headers as meta, and a second
// collector of the same group gets nothing again once they are committed.
func TestKafkaInput(t *testing.T) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(2, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	defer kc.Close()
	addr := kc.ListenAddrs()[0]
	tr := &kafka.Transport{} // its own, so that its connections can be closed
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "logs", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, Transport: tr}
	msgs := make([]kafka.Message, 200)
	for i := range msgs {
		msgs[i] = kafka.Message{Key: []byte(fmt.Sprint(i % 7)), Value: fmt.Appendf(nil, `{"n":%d}`, i),
			Headers: []kafka.Header{{Key: "host", Value: []byte("h1")}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	w.Close()
	reg, mem := testRegistry()
	src := fmt.Sprintf(`
collector:
  input: kafka
  kafka: {brokers: [%s]}
  http_listen: off
  group: kg
  pipelines:
    logs: {from: {topic: logs}, to: [out]}
  sinks:
    out: {type: mem}
`, addr)
	c, err := New(parseSection(t, reg, src), Options{Logger: quiet, registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Start(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "200 events from kafka", func() bool { return len(mem.get("out").snapshot()) >= 200 })
	seen := map[string]bool{}
	for _, e := range mem.get("out").snapshot() {
		if e.Meta["host"] != "h1" || e.Meta["topic"] != "logs" || e.Meta["key"] == "" {
			t.Fatalf("meta %v", e.Meta)
		}
		seen[e.Message()] = true
	}
	if len(seen) != 200 {
		t.Fatalf("%d distinct events, want 200", len(seen))
	}
	if err := c.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	// The same group again: everything was committed, so nothing comes.
	reg2, mem2 := testRegistry()
	c2, err := New(parseSection(t, reg2, src), Options{Logger: quiet, registry: reg2})
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	// A marker written now must arrive alone: what came before was committed.
	w2 := &kafka.Writer{Addr: kafka.TCP(addr), Topic: "logs", Balancer: &kafka.Hash{}, RequiredAcks: kafka.RequireAll, Transport: tr}
	if err := w2.WriteMessages(ctx, kafka.Message{Key: []byte("m"), Value: []byte("marker")}); err != nil {
		t.Fatal(err)
	}
	w2.Close()
	waitFor(t, "the marker", func() bool { return len(mem2.get("out").snapshot()) > 0 })
	time.Sleep(500 * time.Millisecond) // anything fetched with it has been delivered by now
	if got := mem2.get("out").snapshot(); len(got) != 1 || got[0].Message() != "marker" {
		t.Fatalf("a new member of the group got %d events, want only the marker: committed events came again", len(got))
	}
	if err := c2.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
}
