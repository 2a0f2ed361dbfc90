package kafkaout

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"
	"go.uber.org/goleak"

	"github.com/sluicehq/sluice/broker/client"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func cluster(t *testing.T) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(3, "logs"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestWriteAndReadBack sends keyed messages with properties through the
// Writer into kfake and reads them back with a kafka-go reader.
func TestWriteAndReadBack(t *testing.T) {
	kc := cluster(t)
	w, err := New(Config{Brokers: kc.ListenAddrs(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	var mu sync.Mutex
	var errs []error
	acked := 0
	for i := range n {
		w.SendAsync(client.Message{Topic: "logs", Key: fmt.Sprintf("file-%d", i%3), Body: fmt.Appendf(nil, "line %d", i),
			Properties: map[string]string{"host": "h1"}, Extra: client.Property{Name: "offset", Value: fmt.Sprint(i)}}, func(_ client.Result, err error) {
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			acked++
		})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := w.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if acked != n || len(errs) > 0 {
		t.Fatalf("acked %d of %d, errors %v", acked, n, errs)
	}

	// Read every partition back: each key in one partition, in order.
	lastByKey := map[string]int{}
	partOfKey := map[string]int{}
	got := 0
	for p := range 3 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: kc.ListenAddrs(), Topic: "logs", Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			rctx, rcancel := context.WithTimeout(context.Background(), 2*time.Second)
			m, err := r.ReadMessage(rctx)
			rcancel()
			if err != nil {
				break
			}
			got++
			var i int
			fmt.Sscanf(string(m.Value), "line %d", &i)
			k := string(m.Key)
			if q, ok := partOfKey[k]; ok && q != p {
				t.Fatalf("key %s in partitions %d and %d", k, q, p)
			}
			partOfKey[k] = p
			if last, ok := lastByKey[k]; ok && i <= last {
				t.Fatalf("key %s: line %d after %d", k, i, last)
			}
			lastByKey[k] = i
			headers := map[string]string{}
			for _, h := range m.Headers {
				headers[h.Key] = string(h.Value)
			}
			if len(m.Headers) != 2 || headers["host"] != "h1" || headers["offset"] != fmt.Sprint(i) {
				t.Fatalf("headers %v", m.Headers)
			}
		}
		r.Close()
	}
	if got != n {
		t.Fatalf("read back %d messages, want %d", got, n)
	}
}

// TestRetryUntilKafkaReturns checks that messages written while Kafka is
// unreachable are retried, not dropped, and that Close reports the ones
// still pending as not delivered.
func TestClosedWhileKafkaAwayReportsUndelivered(t *testing.T) {
	kc := cluster(t)
	addrs := kc.ListenAddrs()
	kc.Close()
	w, err := New(Config{Brokers: addrs, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	res := make(chan error, 1)
	w.SendAsync(client.Message{Topic: "logs", Body: []byte("x")}, func(_ client.Result, err error) { res <- err })
	time.Sleep(300 * time.Millisecond) // at least one failed attempt
	select {
	case err := <-res:
		t.Fatalf("answered while Kafka is away: %v", err)
	default:
	}
	w.Close()
	if err := <-res; err == nil || !client.IsRetriable(err) && err != ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
