package client_test

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/protocol"
)

// stableAssignment waits until the consumers' queues are disjoint and
// together cover queues 0..n-1, as each consumer sees them.
func stableAssignment(t *testing.T, n int, cs ...*client.Consumer) {
	t.Helper()
	waitFor(t, "a stable assignment", func() bool {
		owner := map[uint32]int{}
		for i, c := range cs {
			a := c.Assignment()
			if len(a) == 0 {
				return false
			}
			for _, q := range a {
				if _, dup := owner[q]; dup {
					return false
				}
				owner[q] = i
			}
		}
		return len(owner) == n
	})
}

func TestClusteringSharesQueuesExactlyOnce(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 8)
	ctx := context.Background()
	p := newProducer(t, c)
	const n = 4000
	produceN(t, p, "t", "m", n, spread)

	var cs []*client.Consumer
	for range 3 {
		cs = append(cs, newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"}))
	}
	// Nobody polls until every member knows its final queues, so no
	// message is fetched by a member that is about to lose its queue.
	stableAssignment(t, 8, cs...)
	for _, cons := range cs {
		if k := len(cons.Assignment()); k < 2 || k > 3 {
			t.Fatalf("a member got %d of 8 queues, want 2 or 3", k)
		}
	}
	tl := newTally()
	var wg sync.WaitGroup
	for _, cons := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pollUntil(t, cons, tl, func() bool { return tl.distinct() >= n })
		}()
	}
	wg.Wait()
	tl.check(t, "m", n, true)

	groups, err := c.DescribeGroup(ctx, "g")
	if err != nil {
		t.Fatal(err)
	}
	if len(groups) != 1 || len(groups[0].Members) != 3 || groups[0].TotalLag != 0 {
		t.Fatalf("describe group: %+v, want 3 members and no lag", groups)
	}
}

func TestConsumerLeavingMovesItsQueues(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 8)
	p := newProducer(t, c)
	const n = 3000
	produceN(t, p, "t", "a", n, spread)

	cs := []*client.Consumer{
		newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"}),
		newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"}),
		newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"}),
	}
	stableAssignment(t, 8, cs...)
	leaving := cs[2]
	lost := leaving.Assignment()
	tl := newTally()
	// The leaving member takes one poll, commits, and leaves.
	pollOnce(t, leaving, tl)
	leaving.Close()
	stableAssignment(t, 8, cs[:2]...)
	for _, q := range lost {
		if !slices.Contains(cs[0].Assignment(), q) && !slices.Contains(cs[1].Assignment(), q) {
			t.Fatalf("queue %d of the member that left was not taken over", q)
		}
	}
	// More messages arrive while the others consume everything.
	produceN(t, p, "t", "b", 500, spread)
	var wg sync.WaitGroup
	for _, cons := range cs[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pollUntil(t, cons, tl, func() bool { return tl.distinct() >= n+500 })
		}()
	}
	wg.Wait()
	tl.check(t, "a", n, false)
	tl.check(t, "b", 500, false)
}

// spread keys messages so that they go to every queue.
func spread(i int) string { return strconv.Itoa(i) }

// pollOnce polls until it gets messages, and commits them.
func pollOnce(t *testing.T, cons *client.Consumer, tl *tally) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	msgs, err := cons.Poll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tl.add(msgs)
	if err := cons.Commit(ctx, msgs); err != nil {
		t.Fatal(err)
	}
}

func TestBroadcastingEveryMemberGetsAll(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 4)
	p := newProducer(t, c)
	const n = 1000
	produceN(t, p, "t", "m", n, nil)
	file := t.TempDir() + "/offsets.json"
	cfg := client.ConsumerConfig{Group: "b", Topic: "t", Mode: "broadcasting"}
	withFile := cfg
	withFile.OffsetsFile = file
	members := []*client.Consumer{newConsumer(t, c, cfg), newConsumer(t, c, withFile)}
	for _, m := range members {
		tl := newTally()
		pollUntil(t, m, tl, func() bool { return tl.distinct() >= n })
		tl.check(t, "m", n, true)
		if got := m.Assignment(); len(got) != 4 {
			t.Fatalf("broadcasting member fetches queues %v, want all 4", got)
		}
	}
	// The member with a file resumes from it: a new member with the same
	// file gets only what came after.
	members[1].Close()
	produceN(t, p, "t", "late", 10, nil)
	again := newConsumer(t, c, withFile)
	tl := newTally()
	pollUntil(t, again, tl, func() bool { return tl.distinct() >= 10 })
	tl.check(t, "late", 10, true)
}

func TestCommitFencedAfterQueuesMoved(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 4)
	ctx := context.Background()
	a := newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"})
	stableAssignment(t, 4, a)
	b := newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"})
	stableAssignment(t, 4, a, b)
	// a commits all four queues as if it still owned them.
	all := map[uint32]int64{0: 0, 1: 0, 2: 0, 3: 0}
	err := a.CommitOffsets(ctx, all)
	var fe *client.FencedError
	if !errors.Is(err, client.ErrFenced) || !errors.As(err, &fe) {
		t.Fatalf("commit of queues that moved: %v, want a FencedError", err)
	}
	if !slices.Equal(fe.Queues, b.Assignment()) {
		t.Fatalf("fenced queues %v, want those of the other member %v", fe.Queues, b.Assignment())
	}
	// Fetching one of b's queues as a is refused too.
	_, err = c.Fetch(ctx, client.FetchRequest{Topic: "t", Queue: b.Assignment()[0], Group: "g", MemberID: a.MemberID()})
	if protocol.CodeOf(err) != protocol.CodeFenced {
		t.Fatalf("fetch of another member's queue: %v, want CodeFenced", err)
	}
	// a's own queues were committed all the same.
	if err := a.CommitOffsets(ctx, map[uint32]int64{a.Assignment()[0]: 0}); err != nil {
		t.Fatalf("commit of an owned queue: %v", err)
	}
}

func TestConsumeRetriesHandlerAndCommitsAfterSuccess(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 1)
	ctx := context.Background()
	p := newProducer(t, c)
	produceN(t, p, "t", "m", 20, nil)

	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var calls [][]string
	committedBeforeSuccess := int64(-1)
	err := c.Consume(cctx, client.ConsumerConfig{Group: "g", Topic: "t", SessionTimeout: time.Second},
		func(_ context.Context, msgs []client.Message) error {
			var bodies []string
			for _, m := range msgs {
				bodies = append(bodies, string(m.Body))
			}
			calls = append(calls, bodies)
			switch len(calls) {
			case 1, 2:
				return errors.New("sink down")
			case 3:
				offs, err := c.GroupOffsets(ctx, "g", "t")
				if err != nil {
					t.Error(err)
				}
				committedBeforeSuccess = 0
				for _, o := range offs {
					committedBeforeSuccess += o.Offset
				}
				cancel() // stop after this batch: it is committed all the same
			}
			return nil
		})
	if err != nil {
		t.Fatalf("Consume: %v", err)
	}
	if len(calls) != 3 || !slices.Equal(calls[0], calls[1]) || !slices.Equal(calls[1], calls[2]) {
		t.Fatalf("handler calls %v: a failed batch was not handed again as it was", calls)
	}
	if committedBeforeSuccess != 0 {
		t.Fatalf("%d offsets committed before the handler succeeded", committedBeforeSuccess)
	}
	offs, err := c.GroupOffsets(ctx, "g", "t")
	if err != nil || len(offs) != 1 || offs[0].Offset != int64(len(calls[2])) {
		t.Fatalf("offsets after the handler succeeded: %v, %v; want %d on queue 0", offs, err, len(calls[2]))
	}
}

func TestDeadConsumerQueuesMoveAfterSession(t *testing.T) {
	srv, c := brokerWithTopic(t, "t", 8)
	p := newProducer(t, c)
	const n = 2000
	produceN(t, p, "t", "m", n, spread)

	// The member that dies has a client of its own: closing that client
	// stops it without leaving the group, like a killed process.
	doomedClient := newClient(t, srv.Addr())
	live := newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "t"})
	doomed := newConsumer(t, doomedClient, client.ConsumerConfig{Group: "g", Topic: "t"})
	stableAssignment(t, 8, live, doomed)
	tl := newTally()
	pollOnce(t, doomed, tl)
	doomedClient.Close()
	died := time.Now()
	waitFor(t, "the live member owning every queue", func() bool { return len(live.Assignment()) == 8 })
	t.Logf("queues moved %v after the member died (session timeout 1s)", time.Since(died).Round(time.Millisecond))
	pollUntil(t, live, tl, func() bool { return tl.distinct() >= n })
	tl.check(t, "m", n, false)
}
