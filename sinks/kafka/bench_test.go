package kafka

import (
	"context"
	"fmt"
	"github.com/sluicehq/sluice/pipelines/template"
	"testing"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/pipelines/event"
)

func benchEvents(n int) ([]*event.Event, int64) {
	events := make([]*event.Event, n)
	var size int64
	for i := range events {
		e := logEvent(fmt.Sprintf("GET /api/v1/items/%d 200 1532 0.012", i),
			map[string]string{"host": fmt.Sprintf("web-%d", i%8), "source": "app", "file": "/var/log/app.log"},
			"level", "info", "service", "api")
		events[i] = e
		size += int64(len(event.AppendJSON(nil, e)))
	}
	return events, size
}

// BenchmarkEncode is the per-event cost of turning events into Kafka
// messages (JSON values, templated topic and key, meta headers).
func BenchmarkEncode(b *testing.B) {
	events, size := benchEvents(1000)
	for _, tc := range []struct{ name, topic string }{{"literal-topic", "logs"}, {"templated-topic", "logs-{{ meta.host }}"}} {
		b.Run(tc.name, func(b *testing.B) {
			topic, _ := template.Parse(tc.topic)
			key, _ := template.Parse("{{ meta.host }}/{{ meta.file }}")
			enc := encoder{topic: topic, key: key, json: true, headers: true}
			b.ReportAllocs()
			b.SetBytes(size)
			for b.Loop() {
				if msgs, _ := enc.encode(events); len(msgs) != len(events) {
					b.Fatal(len(msgs))
				}
			}
		})
	}
}

// BenchmarkWrite writes batches of 1000 events to kfake with acks=all.
func BenchmarkWrite(b *testing.B) {
	kc, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "logs"))
	if err != nil {
		b.Fatal(err)
	}
	defer kc.Close()
	s, err := New(Config{Brokers: kc.ListenAddrs(), Topic: "logs", Key: "{{ meta.host }}"}, settings())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close(context.Background())
	events, size := benchEvents(1000)
	b.ReportAllocs()
	b.SetBytes(size)
	for b.Loop() {
		if err := s.Write(context.Background(), events); err != nil {
			b.Fatal(err)
		}
	}
}
