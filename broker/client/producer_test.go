package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

func newTestProducer(t testing.TB, c *Client, cfg ProducerConfig) *Producer {
	t.Helper()
	p, err := c.NewProducer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func TestProducerBatchesBySize(t *testing.T) {
	f := newFakeBroker(t, 1)
	c := newTestClient(t, f)
	const batchBytes = 1000
	p := newTestProducer(t, c, ProducerConfig{BatchBytes: batchBytes, Linger: time.Hour, Compression: "none"})
	body := strings.Repeat("x", 90)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		p.SendAsync(Message{Topic: "t", Body: []byte(fmt.Sprint(i, body))}, func(_ Result, err error) {
			if err != nil {
				t.Error(err)
			}
			wg.Done()
		})
	}
	// Size alone sends full batches: all but the partial last one are out
	// before the (hour-long) linger.
	waitFor(t, func() bool { return len(f.storedBatches()) >= 9 })
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	batches := f.storedBatches()
	total := 0
	for i, b := range batches {
		size := b.rawSize(t)
		if size > batchBytes {
			t.Errorf("batch %d holds %d bytes, more than BatchBytes %d", i, size, batchBytes)
		}
		if i < len(batches)-1 && size < batchBytes-120 {
			t.Errorf("batch %d cut at %d bytes, far below BatchBytes %d", i, size, batchBytes)
		}
		if b.req.Attr&protocol.AttrLZ4 != 0 {
			t.Errorf("batch %d compressed with compression none", i)
		}
		total += int(b.req.Count)
	}
	if total != 100 {
		t.Fatalf("%d messages stored, want 100", total)
	}
}

func TestProducerLingerGathersMessages(t *testing.T) {
	f := newFakeBroker(t, 1)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{Linger: 300 * time.Millisecond})
	results := make(chan error, 5)
	for i := range 5 {
		p.SendAsync(Message{Topic: "t", Body: []byte(fmt.Sprint("m", i))}, func(_ Result, err error) { results <- err })
	}
	for range 5 {
		if err := <-results; err != nil {
			t.Fatal(err)
		}
	}
	// The linger, not Flush or Close, sent them: in one batch.
	if b := f.storedBatches(); len(b) != 1 || b[0].req.Count != 5 {
		t.Fatalf("stored %d batches (first of %d messages), want one of 5", len(b), b[0].req.Count)
	}
}

func TestProducerNoLingerSendsEachCall(t *testing.T) {
	f := newFakeBroker(t, 1)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{Linger: -1})
	ctx := context.Background()
	if _, err := p.Send(ctx, Message{Topic: "t", Body: []byte("a")}, Message{Topic: "t", Body: []byte("b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Send(ctx, Message{Topic: "t", Body: []byte("c")}); err != nil {
		t.Fatal(err)
	}
	b := f.storedBatches()
	if len(b) != 2 || b[0].req.Count != 2 || b[1].req.Count != 1 {
		t.Fatalf("stored %d batches, want 2 of 2 and 1 messages", len(b))
	}
}

func TestProducerKeyPicksQueue(t *testing.T) {
	const queues = 8
	f := newFakeBroker(t, queues)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{BatchBytes: 2000})
	var msgs []Message
	for round := range 3 {
		for k := range 40 {
			for range 1 + k%2 { // runs of one key too: the producer remembers the last key's queue
				msgs = append(msgs, Message{Topic: "t", Key: fmt.Sprint("key-", k), Body: []byte(fmt.Sprint(round))})
			}
		}
	}
	res, err := p.Send(context.Background(), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	queueOf := map[string]uint32{}
	lastOffset := map[string]int64{}
	used := map[uint32]bool{}
	for i, r := range res {
		key := msgs[i].Key
		want := uint32(protocol.KeyHash("t", key) % queues)
		if r.Queue != want {
			t.Fatalf("key %s went to queue %d, want %d", key, r.Queue, want)
		}
		if q, ok := queueOf[key]; ok {
			if q != r.Queue {
				t.Fatalf("key %s went to queues %d and %d", key, q, r.Queue)
			}
			if r.Offset <= lastOffset[key] {
				t.Fatalf("key %s: offset %d after %d, out of order", key, r.Offset, lastOffset[key])
			}
		}
		queueOf[key], lastOffset[key] = r.Queue, r.Offset
		used[r.Queue] = true
	}
	if len(used) < queues/2 {
		t.Fatalf("40 keys used only queues %v", used)
	}
	// The stored batches index the keys by the broker's hash.
	for _, b := range f.storedBatches() {
		msgs := b.messages(t)
		for _, k := range b.req.Keys {
			if k.Hash != protocol.KeyHash("t", msgs[k.Index].Key) {
				t.Fatalf("key index %d: hash does not match key %q", k.Index, msgs[k.Index].Key)
			}
		}
		if len(b.req.Keys) != len(msgs) {
			t.Fatalf("batch of %d keyed messages has %d key refs", len(msgs), len(b.req.Keys))
		}
	}
}

func TestProducerRoundRobinWithoutKey(t *testing.T) {
	const queues = 8
	f := newFakeBroker(t, queues)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{BatchBytes: 500, Linger: time.Hour})
	for i := range 400 {
		p.SendAsync(Message{Topic: "t", Body: fmt.Appendf(nil, "message %04d %s", i, strings.Repeat("y", 30))}, nil)
	}
	if err := p.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	perQueue := make([]int, queues)
	total := 0
	for _, b := range f.storedBatches() {
		perQueue[b.req.Queue]++
		total += int(b.req.Count)
	}
	if total != 400 {
		t.Fatalf("%d messages stored, want 400", total)
	}
	// One queue's batch fills, then the next queue's: the batch counts of
	// the queues differ by at most one.
	lo, hi := perQueue[0], perQueue[0]
	for _, n := range perQueue {
		lo, hi = min(lo, n), max(hi, n)
	}
	if lo == 0 || hi-lo > 1 {
		t.Fatalf("batches per queue %v: not round-robin", perQueue)
	}
}

// checkSequences checks that each (producer id, queue) stream numbered its
// stored batches 1, 2, 3... in the order they were stored.
func checkSequences(t *testing.T, batches []fakeBatch) map[fakeSeq]bool {
	t.Helper()
	last := map[[2]uint64]uint64{}
	seen := map[fakeSeq]bool{}
	for _, b := range batches {
		k := [2]uint64{b.req.ProducerID, uint64(b.req.Queue)}
		if b.req.ProducerID == 0 {
			t.Fatalf("batch without a producer id")
		}
		if b.req.Sequence != last[k]+1 {
			t.Fatalf("producer %x queue %d: sequence %d after %d", b.req.ProducerID, b.req.Queue, b.req.Sequence, last[k])
		}
		last[k] = b.req.Sequence
		seen[fakeSeq{b.req.ProducerID, b.req.Queue, b.req.Sequence}] = true
	}
	return seen
}

func TestProducerSequences(t *testing.T) {
	f := newFakeBroker(t, 4)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{BatchBytes: 300, Linger: time.Millisecond})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 50 {
				if _, err := p.Send(context.Background(), Message{Topic: "t", Key: fmt.Sprint(g), Body: fmt.Appendf(nil, "%d-%d", g, i)},
					Message{Topic: "t", Body: []byte("no key")}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	batches := f.storedBatches()
	checkSequences(t, batches)
	pids := map[uint64]bool{}
	for _, b := range batches {
		pids[b.req.ProducerID] = true
	}
	if len(pids) != 4 {
		t.Fatalf("%d producer ids for 4 queues, want one per queue", len(pids))
	}
}

func TestProducerRetriesWithSameSequence(t *testing.T) {
	f := newFakeBroker(t, 2)
	failed := map[fakeSeq]bool{}
	f.onProduce = func(r *protocol.ProduceRequest) (protocol.Code, bool) {
		k := fakeSeq{r.ProducerID, r.Queue, r.Sequence}
		if !failed[k] {
			failed[k] = true
			return protocol.CodeDiskFull, false
		}
		return 0, false
	}
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{BatchBytes: 200})
	var msgs []Message
	for i := range 60 {
		msgs = append(msgs, Message{Topic: "t", Body: fmt.Appendf(nil, "message %d", i)})
	}
	res, err := p.Send(context.Background(), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	seen := checkSequences(t, f.storedBatches())
	for k := range failed {
		if !seen[k] {
			t.Fatalf("batch %+v failed once and was not stored on retry under the same sequence", k)
		}
	}
	if len(seen) != len(failed) {
		t.Fatalf("%d batches stored, %d were tried: a retry got a new sequence", len(seen), len(failed))
	}
	if c.m.produceRetries.Get() != uint64(len(failed)) {
		t.Fatalf("retries metric %d, want %d", c.m.produceRetries.Get(), len(failed))
	}
	checkResultsUnique(t, res)
}

func TestProducerLostAckIsNotDuplicated(t *testing.T) {
	f := newFakeBroker(t, 1)
	dropped := 0
	f.onProduce = func(r *protocol.ProduceRequest) (protocol.Code, bool) {
		if r.Sequence%3 == 2 && dropped < 3 && !f.sawDuplicate(r) {
			dropped++
			return 0, true // stored, but the answer is lost with the connection
		}
		return 0, false
	}
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{BatchBytes: 200})
	var msgs []Message
	for i := range 100 {
		msgs = append(msgs, Message{Topic: "t", Body: fmt.Appendf(nil, "message %d", i)})
	}
	res, err := p.Send(context.Background(), msgs...)
	if err != nil {
		t.Fatal(err)
	}
	if dropped == 0 {
		t.Fatal("no acknowledgement was dropped; the test tests nothing")
	}
	total := 0
	for _, b := range f.storedBatches() {
		total += int(b.req.Count)
	}
	if total != 100 {
		t.Fatalf("%d messages stored for 100 sent", total)
	}
	checkSequences(t, f.storedBatches())
	checkResultsUnique(t, res)
}

// sawDuplicate reports whether the batch was stored already (called with
// f.mu held, from onProduce).
func (f *fakeBroker) sawDuplicate(r *protocol.ProduceRequest) bool {
	_, ok := f.stored[fakeSeq{r.ProducerID, r.Queue, r.Sequence}]
	return ok
}

func checkResultsUnique(t *testing.T, res []Result) {
	t.Helper()
	seen := map[string]bool{}
	for i, r := range res {
		k := fmt.Sprint(r.Queue, "/", r.Offset)
		if seen[k] || seen[r.ID()] {
			t.Fatalf("result %d (%s, id %s) repeats an earlier one", i, k, r.ID())
		}
		seen[k], seen[r.ID()] = true, true
	}
}

func TestProducerFailedBatchStartsNewStream(t *testing.T) {
	f := newFakeBroker(t, 1)
	f.onProduce = func(r *protocol.ProduceRequest) (protocol.Code, bool) {
		if r.Sequence == 2 {
			return protocol.CodeBadRequest, false
		}
		return 0, false
	}
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{Linger: -1})
	ctx := context.Background()
	send := func(body string) error {
		_, err := p.Send(ctx, Message{Topic: "t", Body: []byte(body)})
		return err
	}
	if err := send("one"); err != nil {
		t.Fatal(err)
	}
	err := send("two")
	if protocol.CodeOf(err) != protocol.CodeBadRequest || IsRetriable(err) {
		t.Fatalf("refused batch: %v, want CodeBadRequest", err)
	}
	if err := send("three"); err != nil {
		t.Fatal(err)
	}
	b := f.storedBatches()
	if len(b) != 2 || b[1].req.ProducerID == b[0].req.ProducerID || b[1].req.Sequence != 1 {
		t.Fatalf("after a failed batch: %d batches, producer ids %x then %x, sequence %d; want a new id from sequence 1",
			len(b), b[0].req.ProducerID, b[len(b)-1].req.ProducerID, b[len(b)-1].req.Sequence)
	}
	if c.m.produceFailed.Get() != 1 {
		t.Fatalf("failed messages metric %d, want 1", c.m.produceFailed.Get())
	}
}

func TestProducerDeliveryTimeout(t *testing.T) {
	f := newFakeBroker(t, 1)
	f.onProduce = func(*protocol.ProduceRequest) (protocol.Code, bool) { return protocol.CodeShuttingDown, false }
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{DeliveryTimeout: 200 * time.Millisecond})
	_, err := p.Send(context.Background(), Message{Topic: "t", Body: []byte("x")})
	if err == nil || !strings.Contains(err.Error(), "delivery timeout") || protocol.CodeOf(err) != protocol.CodeShuttingDown {
		t.Fatalf("batch the broker never takes: %v, want a delivery timeout naming the last error", err)
	}
}

func TestProducerBackPressure(t *testing.T) {
	f := newFakeBroker(t, 1)
	f.hold = make(chan struct{})
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{MaxBufferedBytes: 1000, Linger: -1})
	body := make([]byte, 600)
	acked := make(chan error, 3)
	p.SendAsync(Message{Topic: "t", Body: body}, func(_ Result, err error) { acked <- err })
	returned := make(chan struct{})
	go func() {
		defer close(returned)
		p.SendAsync(Message{Topic: "t", Body: body}, func(_ Result, err error) { acked <- err })
	}()
	select {
	case <-returned:
		t.Fatal("SendAsync returned with the buffer full")
	case <-time.After(100 * time.Millisecond):
	}
	// Send with a deadline gives up waiting for room.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := p.Send(ctx, Message{Topic: "t", Body: body}); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Send with the buffer full: %v, want the context's deadline", err)
	}
	p.mu.Lock()
	buffered := p.buffered
	p.mu.Unlock()
	if buffered > 1000 {
		t.Fatalf("%d bytes buffered, over MaxBufferedBytes", buffered)
	}
	close(f.hold)
	<-returned
	for range 2 {
		if err := <-acked; err != nil {
			t.Fatal(err)
		}
	}
}

func TestProducerCreatesUnknownTopic(t *testing.T) {
	f := newFakeBroker(t, 3)
	f.topicMissing = true
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{})
	res, err := p.Send(context.Background(), Message{Topic: "new", Key: "k", Body: []byte("x")})
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	creates := f.creates
	f.mu.Unlock()
	if creates != 1 || res[0].Queue != uint32(protocol.KeyHash("new", "k")%3) {
		t.Fatalf("creates %d, queue %d", creates, res[0].Queue)
	}
}

// TestProducerFollowsBrokerAutoCreate checks that a producer does not
// create a topic when the broker says auto_create_topics is off.
func TestProducerFollowsBrokerAutoCreate(t *testing.T) {
	f := newFakeBroker(t, 3)
	f.topicMissing, f.noAutoCreate = true, true
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{})
	_, err := p.Send(context.Background(), Message{Topic: "new", Body: []byte("x")})
	if !isCode(err, protocol.CodeUnknownTopic) {
		t.Fatalf("send to an unknown topic without auto-create: %v, want unknown_topic", err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.creates != 0 {
		t.Fatalf("the producer created the topic %d times", f.creates)
	}
}

func TestProducerDelayedMessages(t *testing.T) {
	f := newFakeBroker(t, 1)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{})
	at := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	born := time.Unix(1_700_000_000, 0)
	if _, err := p.Send(context.Background(),
		Message{Topic: "t", Body: []byte("now"), BornAt: born},
		Message{Topic: "t", Body: []byte("later"), DeliverAt: at},
		Message{Topic: "t", Body: []byte("later too"), DeliverAt: at}); err != nil {
		t.Fatal(err)
	}
	b := f.storedBatches()
	if len(b) != 2 {
		t.Fatalf("%d batches, want 2: messages with another delivery time need their own batch", len(b))
	}
	for _, x := range b {
		delayed := x.req.Attr&protocol.AttrDelayed != 0
		switch x.req.Count {
		case 1:
			if delayed || x.req.DeliverAtMs != 0 || x.req.FirstBornMs != born.UnixMilli() {
				t.Errorf("immediate batch: attr %v, deliver at %d, born %d", x.req.Attr, x.req.DeliverAtMs, x.req.FirstBornMs)
			}
		case 2:
			if !delayed || x.req.DeliverAtMs != at.UnixMilli() {
				t.Errorf("delayed batch: attr %v, deliver at %d, want %d", x.req.Attr, x.req.DeliverAtMs, at.UnixMilli())
			}
		}
	}
}

func TestProducerClose(t *testing.T) {
	f := newFakeBroker(t, 2)
	c := newTestClient(t, f)
	p, err := c.NewProducer(ProducerConfig{Linger: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	p.SendAsync(Message{Topic: "t", Body: []byte("queued before close")}, func(_ Result, err error) { done <- err })
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	// Close flushed the message waiting for its (hour-long) linger.
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	p.SendAsync(Message{Topic: "t"}, func(_ Result, err error) { done <- err })
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("SendAsync after Close: %v, want ErrClosed", err)
	}
	if _, err := p.Send(context.Background(), Message{Topic: "t"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Send after Close: %v, want ErrClosed", err)
	}
}

func TestClientCloseClosesProducer(t *testing.T) {
	f := newFakeBroker(t, 1)
	f.onProduce = func(*protocol.ProduceRequest) (protocol.Code, bool) { return protocol.CodeDiskFull, false }
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{})
	done := make(chan error, 1)
	p.SendAsync(Message{Topic: "t", Body: []byte("never stored")}, func(_ Result, err error) { done <- err })
	waitFor(t, func() bool { return c.m.produceRetries.Get() > 0 })
	c.Close() // does not wait for the two-minute delivery timeout
	if err := <-done; !errors.Is(err, ErrClosed) {
		t.Fatalf("message pending at Client.Close: %v, want ErrClosed", err)
	}
}

// TestProducerSkipsLZ4ForIncompressibleData checks adaptive compression:
// after a batch lz4 cannot shrink, the next batches of the queue go
// uncompressed, then lz4 is tried again; compressible data stays
// compressed.
func TestProducerSkipsLZ4ForIncompressibleData(t *testing.T) {
	f := newFakeBroker(t, 1)
	c := newTestClient(t, f)
	p := newTestProducer(t, c, ProducerConfig{Linger: -1})
	random := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	for range incompressibleSkip + 2 {
		if _, err := p.Send(context.Background(), Message{Topic: "t", Body: random}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Send(context.Background(), Message{Topic: "t", Body: bytes.Repeat([]byte("compressible "), 300)}); err != nil {
		t.Fatal(err)
	}
	batches := f.storedBatches()
	if len(batches) != incompressibleSkip+3 {
		t.Fatalf("%d batches stored, want %d", len(batches), incompressibleSkip+3)
	}
	// Batch 0 tried lz4 and failed; 1..16 were not tried; 17 tried and
	// failed again; 18 (compressible, but lz4 is skipped after 17) goes raw.
	if got := c.m.incompressible.Get(); got != 2 {
		t.Fatalf("%d incompressible batches counted, want 2 (first try and the retry after the skip)", got)
	}
	for i, b := range batches {
		if b.req.Attr&protocol.AttrLZ4 != 0 {
			t.Fatalf("batch %d of random data compressed", i)
		}
	}
	// A fresh producer on compressible data compresses.
	p2 := newTestProducer(t, c, ProducerConfig{Linger: -1})
	if _, err := p2.Send(context.Background(), Message{Topic: "t", Body: bytes.Repeat([]byte("compressible "), 300)}); err != nil {
		t.Fatal(err)
	}
	if last := f.storedBatches(); last[len(last)-1].req.Attr&protocol.AttrLZ4 == 0 {
		t.Fatal("compressible batch sent uncompressed")
	}
}
