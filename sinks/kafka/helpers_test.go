package kafka

import (
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/pipelines/component"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func settings() component.Settings {
	return component.Settings{Name: "bridge", Logger: quiet, Metrics: metrics.NewSet()}
}

// newCluster starts kfake with the given options and stops it when the
// test ends.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// newSink makes a sink and closes it when the test ends.
func newSink(t *testing.T, cfg Config, set component.Settings) *Sink {
	t.Helper()
	s, err := New(cfg, set)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(context.Background()); err != nil {
			t.Error(err)
		}
	})
	return s
}

// record is a message as read back from Kafka.
type record struct {
	Topic     string
	Partition int
	Key       string
	Value     string
	Headers   string // "k=v,k=v"
	Time      time.Time
}

func headerString(hs []kafka.Header) string {
	parts := make([]string, len(hs))
	for i, h := range hs {
		parts[i] = h.Key + "=" + string(h.Value)
	}
	return strings.Join(parts, ",")
}

// readAll reads every message of topic, partition by partition, in
// offset order, with a kafka-go Reader per partition that stops at the
// partition's end.
func readAll(t *testing.T, addrs []string, topic string, tc *tls.Config) []record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tr := &kafka.Transport{TLS: tc}
	defer tr.CloseIdleConnections()
	cl := &kafka.Client{Addr: kafka.TCP(addrs...), Transport: tr}
	meta, err := cl.Metadata(ctx, &kafka.MetadataRequest{Topics: []string{topic}})
	if err != nil || len(meta.Topics) != 1 || meta.Topics[0].Error != nil {
		t.Fatalf("metadata of %s: %v %+v", topic, err, meta)
	}
	var reqs []kafka.OffsetRequest
	for _, p := range meta.Topics[0].Partitions {
		reqs = append(reqs, kafka.LastOffsetOf(p.ID))
	}
	offs, err := cl.ListOffsets(ctx, &kafka.ListOffsetsRequest{Topics: map[string][]kafka.OffsetRequest{topic: reqs}})
	if err != nil {
		t.Fatalf("list offsets of %s: %v", topic, err)
	}
	parts := offs.Topics[topic]
	slices.SortFunc(parts, func(a, b kafka.PartitionOffsets) int { return a.Partition - b.Partition })
	var out []record
	for _, po := range parts {
		if po.Error != nil {
			t.Fatalf("offsets of %s/%d: %v", topic, po.Partition, po.Error)
		}
		if po.LastOffset == 0 {
			continue
		}
		dialer := &kafka.Dialer{Timeout: 10 * time.Second, TLS: tc}
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: addrs, Topic: topic, Partition: po.Partition,
			MaxWait: 100 * time.Millisecond, Dialer: dialer})
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				r.Close()
				t.Fatalf("read %s/%d: %v", topic, po.Partition, err)
			}
			out = append(out, record{Topic: m.Topic, Partition: m.Partition, Key: string(m.Key), Value: string(m.Value),
				Headers: headerString(m.Headers), Time: m.Time})
			if m.Offset+1 >= po.LastOffset {
				break
			}
		}
		if err := r.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// values returns the records' values.
func values(rs []record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Value
	}
	return out
}
