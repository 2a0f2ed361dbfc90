package e2e

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
)

// TestBrokerKill9UnderLoad kills the broker with SIGKILL while a producer
// sends and a group has committed offsets, restarts it on the same
// directory and address, and checks that every acknowledged message is
// there once (the producer's retries through the restart are not stored
// twice) and that the group's offsets were kept.
func TestBrokerKill9UnderLoad(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	b := startBroker(t, dir, addr, `"off"`, "")
	c := newClient(t, addr)
	if err := c.CreateTopic(context.Background(), "events", 4); err != nil {
		t.Fatal(err)
	}
	p, err := c.NewProducer(client.ProducerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu     sync.Mutex
		acked  = map[string]bool{}
		failed []error
		sent   atomic.Int64
	)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ctx.Err() == nil; i++ {
			body := fmt.Sprintf("event-%08d", i)
			p.SendAsync(client.Message{Topic: "events", Key: fmt.Sprint(i % 16), Body: []byte(body)}, func(_ client.Result, err error) {
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					failed = append(failed, err)
					return
				}
				acked[body] = true
			})
			sent.Add(1)
			if i%500 == 499 {
				time.Sleep(time.Millisecond) // a steady load, not a flood
			}
		}
	}()
	ackedCount := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	waitFor(t, 30*time.Second, "20,000 acknowledged messages before the kill", func() bool { return ackedCount() >= 20000 })

	// A group consumes some and commits before the kill.
	committed := consumeSome(t, c, "g", "events", 5000)

	b.kill9()
	before := ackedCount()
	time.Sleep(300 * time.Millisecond) // the producer keeps trying meanwhile
	startBroker(t, dir, addr, `"off"`, "")
	waitFor(t, 60*time.Second, "new acknowledgements after the restart", func() bool { return ackedCount() > before+5000 })
	stop()
	wg.Wait()
	fctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := p.Flush(fctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	p.Close()
	mu.Lock()
	if len(failed) > 0 {
		t.Fatalf("%d sends failed for good, first: %v", len(failed), failed[0])
	}
	want := len(acked)
	mu.Unlock()
	t.Logf("sent %d, acknowledged %d (%d before the kill)", sent.Load(), want, before)

	// Offsets of the group survived.
	offs, err := c.GroupOffsets(context.Background(), "g", "events")
	if err != nil {
		t.Fatal(err)
	}
	got := map[uint32]int64{}
	for _, o := range offs {
		got[o.Queue] = o.Offset
	}
	for q, off := range committed {
		if got[q] < off {
			t.Fatalf("queue %d: offset %d after restart, %d was committed before the kill", q, got[q], off)
		}
	}

	// Every acknowledged message is there, exactly once.
	count := map[string]int{}
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: "verify", Topic: "events", StartFrom: "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	for idle := time.Now(); time.Since(idle) < 5*time.Second; {
		pctx, cancel := context.WithTimeout(context.Background(), time.Second)
		msgs, err := cons.Poll(pctx)
		cancel()
		if err != nil && pctx.Err() == nil {
			t.Fatalf("poll: %v", err)
		}
		for _, m := range msgs {
			count[string(m.Body)]++
		}
		if len(msgs) > 0 {
			idle = time.Now()
		}
	}
	for body := range acked {
		if count[body] == 0 {
			t.Fatalf("acknowledged %s is missing after the restart", body)
		}
	}
	for body, n := range count {
		if n > 1 {
			t.Fatalf("%s stored %d times: a retried batch was stored again", body, n)
		}
	}
}

// consumeSome consumes at least n messages of topic as group, commits them
// and returns the committed next offsets per queue.
func consumeSome(t *testing.T, c *client.Client, group, topic string, n int) map[uint32]int64 {
	t.Helper()
	cons, err := c.NewConsumer(client.ConsumerConfig{Group: group, Topic: topic, StartFrom: "earliest"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	next := map[uint32]int64{}
	for got := 0; got < n; {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		msgs, err := cons.Poll(ctx)
		if err == nil {
			err = cons.Commit(ctx, msgs)
		}
		cancel()
		if err != nil {
			t.Fatalf("consume %s: %v", topic, err)
		}
		for _, m := range msgs {
			next[m.Queue] = max(next[m.Queue], m.Offset+1)
		}
		got += len(msgs)
	}
	return next
}

func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(within); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
