package kafkain

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/sluicehq/sluice/broker/client"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// produce writes msgs with acks=all. A message whose Partition is set
// (>= 0 in toPartition mode) goes to that partition; others are hashed by
// key.
func produce(t *testing.T, addrs []string, tc *tls.Config, msgs ...kafka.Message) {
	t.Helper()
	tr := &kafka.Transport{TLS: tc}
	defer tr.CloseIdleConnections()
	w := &kafka.Writer{Addr: kafka.TCP(addrs...), Transport: tr, RequiredAcks: kafka.RequireAll,
		BatchTimeout: time.Millisecond, Balancer: kafka.BalancerFunc(byPartitionOrKey)}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.WriteMessages(ctx, msgs...); err != nil {
		t.Fatalf("produce: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

// byPartitionOrKey sends a message keyed "p<N>" to partition N, and
// hashes other keys.
func byPartitionOrKey(m kafka.Message, partitions ...int) int {
	var p int
	if n, _ := fmt.Sscanf(string(m.Key), "p%d", &p); n == 1 && strings.HasPrefix(string(m.Key), "p") {
		return p
	}
	return (&kafka.Hash{}).Balance(m, partitions...)
}

// markers are one message per partition, keyed to land there.
func markers(partitions int, tag string) []kafka.Message {
	var ms []kafka.Message
	for p := range partitions {
		ms = append(ms, kafka.Message{Topic: "logs", Key: fmt.Appendf(nil, "p%d", p), Value: fmt.Appendf(nil, "%s-%d", tag, p)})
	}
	return ms
}

// pollN polls until it has n messages, failing on more or after 30s;
// it returns them in arrival order, and every batch's length.
func pollN(t *testing.T, r *Reader, n int) ([]client.Message, []int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var got []client.Message
	var batches []int
	for len(got) < n {
		msgs, err := r.Poll(ctx)
		if err != nil {
			t.Fatalf("poll after %d of %d messages: %v", len(got), n, err)
		}
		got = append(got, msgs...)
		batches = append(batches, len(msgs))
	}
	if len(got) != n {
		t.Fatalf("polled %d messages, want %d: %v", len(got), n, bodies(got))
	}
	return got, batches
}

func bodies(msgs []client.Message) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = string(m.Body)
	}
	return out
}

func newReader(t *testing.T, cfg Config) *Reader {
	t.Helper()
	cfg.Logger = quiet
	r, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
