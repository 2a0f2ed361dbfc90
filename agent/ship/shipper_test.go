package ship

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/agent/source"
	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/server"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// broker starts a real broker and returns a client of it.
func broker(t *testing.T) (*server.Server, *client.Client) {
	t.Helper()
	srv, err := server.Start(server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", HTTPListen: "off",
		AutoCreateTopics: true, DefaultQueues: 4, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	c, err := client.New(client.Config{Addr: srv.Addr(), Logger: quiet, MinBackoff: 10 * time.Millisecond, MaxBackoff: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return srv, c
}

func producer(t *testing.T, c *client.Client) *client.Producer {
	t.Helper()
	p, err := c.NewProducer(client.ProducerConfig{Linger: time.Millisecond, DeliveryTimeout: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func records(topic, key string, from, n int) []source.Record {
	recs := make([]source.Record, n)
	for i := range recs {
		recs[i] = source.Record{Topic: topic, Key: key, Body: fmt.Appendf(nil, "line-%06d", from+i),
			Properties: map[string]string{"host": "h"}, Time: time.Now()}
	}
	return recs
}

// acks collects batch acks.
type acks struct {
	mu   sync.Mutex
	ok   int
	errs []error
}

func (a *acks) fn(n int) func(error) {
	return func(err error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		if err != nil {
			a.errs = append(a.errs, err)
			return
		}
		a.ok += n
	}
}

func (a *acks) count() int { a.mu.Lock(); defer a.mu.Unlock(); return a.ok }

// consumeAll reads topic from the start until want messages arrived.
func consumeAll(t *testing.T, c *client.Client, topic string, want int) []client.Message {
	t.Helper()
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: "check-" + topic, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	var out []client.Message
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < want && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		msgs, _ := cons.Poll(ctx)
		cancel()
		out = append(out, msgs...)
	}
	return out
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

func TestDirectShipping(t *testing.T) {
	_, c := broker(t)
	s, err := New(Config{Sender: producer(t, c), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	var a acks
	for b := range 10 {
		recs := records("logs", "host/file", b*100, 100)
		if err := s.Emit(context.Background(), recs, a.fn(len(recs))); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "1000 acknowledged records", func() bool { return a.count() == 1000 })
	msgs := consumeAll(t, c, "logs", 1000)
	if len(msgs) != 1000 {
		t.Fatalf("consumed %d, want 1000", len(msgs))
	}
	for i, m := range msgs { // one key: one queue, in order
		if want := fmt.Sprintf("line-%06d", i); string(m.Body) != want || m.Properties["host"] != "h" {
			t.Fatalf("message %d: %q %v, want %q with host=h", i, m.Body, m.Properties, want)
		}
	}
}

// TestBackPressureWithoutSpool checks that Emit blocks, not buffers,
// while MaxInflight bytes are unacknowledged and the broker is away.
func TestBackPressureWithoutSpool(t *testing.T) {
	srv, c := broker(t)
	p := producer(t, c)
	s, err := New(Config{Sender: p, MaxInflight: 4096, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	srv.Close() // the broker goes away
	var a acks
	blocked := false
	for b := range 100 {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		err := s.Emit(ctx, records("logs", "k", b*10, 10), a.fn(10))
		cancel()
		if err != nil {
			blocked = true
			break
		}
	}
	if !blocked {
		t.Fatal("Emit never blocked with the broker away")
	}
	if got := s.inflight.Load(); got > 4096+10*(64+20) {
		t.Fatalf("%d bytes in flight, bound is 4096 plus one batch", got)
	}
	// The producer would wait its delivery timeout to flush to a broker
	// that is gone; closing the client closes it without flushing.
	c.Close()
}
