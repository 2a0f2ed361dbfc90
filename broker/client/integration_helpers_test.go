package client_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/server"
)

var quiet = slog.New(slog.DiscardHandler)

// startBroker runs a real broker on dir, listening on addr ("127.0.0.1:0"
// for any port). The caller stops it, or the test's cleanup does.
func startBroker(t testing.TB, dir, addr string) *server.Server {
	t.Helper()
	srv, err := server.Start(server.Config{DataDir: dir, Listen: addr, HTTPListen: "off",
		AutoCreateTopics: true, Logger: quiet})
	if err != nil {
		t.Fatalf("start broker: %v", err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func newClient(t testing.TB, addr string) *client.Client {
	t.Helper()
	c, err := client.New(client.Config{Addr: addr, MinBackoff: 10 * time.Millisecond,
		MaxBackoff: 200 * time.Millisecond, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// freeAddr returns a loopback address nothing listens on, for a broker
// that must come back on the same address.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// produceN sends n messages with bodies "prefix-i" and returns their results.
func produceN(t testing.TB, p *client.Producer, topic, prefix string, n int, key func(i int) string) []client.Result {
	t.Helper()
	msgs := make([]client.Message, n)
	for i := range msgs {
		msgs[i] = client.Message{Topic: topic, Body: fmt.Appendf(nil, "%s-%d", prefix, i)}
		if key != nil {
			msgs[i].Key = key(i)
		}
	}
	res, err := p.Send(context.Background(), msgs...)
	if err != nil {
		t.Fatalf("produce: %v", err)
	}
	return res
}

func newProducer(t testing.TB, c *client.Client) *client.Producer {
	t.Helper()
	p, err := c.NewProducer(client.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func newConsumer(t testing.TB, c *client.Client, cfg client.ConsumerConfig) *client.Consumer {
	t.Helper()
	if cfg.SessionTimeout == 0 {
		cfg.SessionTimeout = time.Second
	}
	if cfg.MaxWait == 0 {
		cfg.MaxWait = 200 * time.Millisecond
	}
	cons, err := c.NewConsumer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cons.Close() })
	return cons
}

// tally counts deliveries by body.
type tally struct {
	mu   sync.Mutex
	seen map[string]int
}

func newTally() *tally { return &tally{seen: map[string]int{}} }

func (c *tally) add(msgs []client.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		c.seen[string(m.Body)]++
	}
}

func (c *tally) distinct() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// check fails unless every body "prefix-i", i < n, was seen, exactly once
// if exact is set.
func (c *tally) check(t testing.TB, prefix string, n int, exact bool) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range n {
		k := fmt.Sprintf("%s-%d", prefix, i)
		switch got := c.seen[k]; {
		case got == 0:
			t.Fatalf("%s never delivered", k)
		case exact && got != 1:
			t.Fatalf("%s delivered %d times, want exactly once", k, got)
		}
	}
	if exact && len(c.seen) != n {
		t.Fatalf("%d distinct messages delivered, want %d", len(c.seen), n)
	}
}

// pollUntil polls cons, committing what it gets, until done reports true
// or 20s pass.
func pollUntil(t testing.TB, cons *client.Consumer, tl *tally, done func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !done() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after 20s with %d distinct messages", tl.distinct())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		msgs, err := cons.Poll(ctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			t.Fatalf("poll: %v", err)
		}
		tl.add(msgs)
		if err := cons.Commit(context.Background(), msgs); err != nil {
			t.Fatalf("commit: %v", err)
		}
	}
}

// waitFor polls cond until it holds, failing after 20s.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within 20s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// brokerWithTopic starts a broker, a client of it and a topic.
func brokerWithTopic(t *testing.T, topic string, queues int) (*server.Server, *client.Client) {
	t.Helper()
	srv := startBroker(t, t.TempDir(), "127.0.0.1:0")
	c := newClient(t, srv.Addr())
	if err := c.CreateTopic(context.Background(), topic, queues); err != nil {
		t.Fatal(err)
	}
	return srv, c
}
