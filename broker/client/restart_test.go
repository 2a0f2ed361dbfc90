package client_test

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// TestBrokerRestartUnderLoad restarts the broker twice (a graceful
// shutdown, then an abrupt one that abandons requests in flight) while a
// producer sends and a group consumes. Every acknowledged message must be
// stored exactly once (retried batches are recognised) and reach the
// consumer, which joins again and resumes from its committed offsets.
func TestBrokerRestartUnderLoad(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startBroker(t, dir, addr)
	c := newClient(t, addr)
	ctx := context.Background()
	const queues = 4
	if err := c.CreateTopic(ctx, "t", queues); err != nil {
		t.Fatal(err)
	}

	consumed := newTally()
	cctx, stopConsume := context.WithCancel(ctx)
	consumeErr := make(chan error, 1)
	go func() {
		consumeErr <- c.Consume(cctx, client.ConsumerConfig{Group: "g", Topic: "t", SessionTimeout: time.Second,
			MaxWait: 200 * time.Millisecond}, func(_ context.Context, msgs []client.Message) error {
			consumed.add(msgs)
			return nil
		})
	}()

	pr := startProducing(t, c, "t")
	pr.waitAcked(t, 2000)
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	if err := srv.Shutdown(sctx); err != nil {
		t.Fatalf("shutdown: %v", err)
	}
	cancel()
	srv = startBroker(t, dir, addr)
	pr.waitAcked(t, pr.ackedCount()+2000)
	srv.Close() // abrupt: requests in flight get no answer
	srv = startBroker(t, dir, addr)
	pr.waitAcked(t, pr.ackedCount()+2000)
	acked := pr.stop(t)

	stored := readAll(t, c, "t", queues)
	for body := range acked {
		if n := stored[body]; n != 1 {
			t.Fatalf("acknowledged message %s is stored %d times, want once", body, n)
		}
	}
	for body, n := range stored {
		if n != 1 {
			t.Fatalf("message %s is stored %d times: a retried batch was stored again", body, n)
		}
	}
	waitFor(t, "the consumer got every acknowledged message", func() bool {
		consumed.mu.Lock()
		defer consumed.mu.Unlock()
		for body := range acked {
			if consumed.seen[body] == 0 {
				return false
			}
		}
		return true
	})
	stopConsume()
	if err := <-consumeErr; err != nil {
		t.Fatalf("Consume: %v", err)
	}
	reconnects, retries := metricValue(t, c, "sluice_client_reconnects_total"), metricValue(t, c, "sluice_client_produce_retries_total")
	if reconnects < 2 {
		t.Fatalf("%v reconnects: the client did not see both restarts", reconnects)
	}
	t.Logf("%d messages acknowledged across two restarts, %d stored; %v reconnects, %v produce retries",
		len(acked), len(stored), reconnects, retries)
}

// producing sends numbered messages with SendAsync until stopped.
type producing struct {
	p      *client.Producer
	done   chan struct{}
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  map[string]bool
	failed []error
}

func startProducing(t *testing.T, c *client.Client, topic string) *producing {
	p, err := c.NewProducer(client.ProducerConfig{BatchBytes: 16 << 10, DeliveryTimeout: 30 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	pr := &producing{p: p, done: make(chan struct{}), acked: map[string]bool{}}
	pr.wg.Add(1)
	go func() {
		defer pr.wg.Done()
		for i := 0; ; i++ {
			select {
			case <-pr.done:
				return
			default:
			}
			body := fmt.Sprintf("m-%d", i)
			p.SendAsync(client.Message{Topic: topic, Key: fmt.Sprint(i % 16), Body: []byte(body)},
				func(_ client.Result, err error) {
					pr.mu.Lock()
					defer pr.mu.Unlock()
					if err != nil {
						pr.failed = append(pr.failed, err)
						return
					}
					pr.acked[body] = true
				})
			if i%50 == 49 {
				time.Sleep(time.Millisecond) // a steady load, not a flood
			}
		}
	}()
	return pr
}

func (pr *producing) ackedCount() int {
	pr.mu.Lock()
	defer pr.mu.Unlock()
	return len(pr.acked)
}

func (pr *producing) waitAcked(t *testing.T, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d messages acknowledged", n), func() bool { return pr.ackedCount() >= n })
}

// stop stops sending, flushes, and returns the acknowledged bodies. Every
// message must have been acknowledged: the restarts are shorter than the
// delivery timeout.
func (pr *producing) stop(t *testing.T) map[string]bool {
	t.Helper()
	close(pr.done)
	pr.wg.Wait()
	if err := pr.p.Close(); err != nil {
		t.Fatal(err)
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if len(pr.failed) > 0 {
		t.Fatalf("%d messages failed across the restarts; the first: %v", len(pr.failed), pr.failed[0])
	}
	return pr.acked
}

// readAll reads every queue of topic from its start and counts the bodies.
func readAll(t *testing.T, c *client.Client, topic string, queues int) map[string]int {
	t.Helper()
	out := map[string]int{}
	for q := range uint32(queues) {
		for off := int64(0); ; {
			res, err := c.Fetch(context.Background(), client.FetchRequest{Topic: topic, Queue: q, Offset: off})
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range res.Messages {
				out[string(m.Body)]++
			}
			if res.Next >= res.High || res.Next == off {
				break
			}
			off = res.Next
		}
	}
	return out
}

// metricValue reads a counter of the client's metrics set.
func metricValue(t *testing.T, c *client.Client, name string) float64 {
	t.Helper()
	var b bytes.Buffer
	c.Metrics().WritePrometheus(&b)
	for _, line := range strings.Split(b.String(), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatal(err)
			}
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
