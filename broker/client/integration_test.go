package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/client"
	"github.com/sluicehq/sluice/broker/protocol"
)

func TestAdminTopics(t *testing.T) {
	_, c := brokerWithTopic(t, "orders", 3)
	ctx := context.Background()
	if err := c.CreateTopic(ctx, "orders", 3); protocol.CodeOf(err) != protocol.CodeTopicExists {
		t.Fatalf("creating it again: %v, want CodeTopicExists", err)
	}
	if err := c.CreateTopic(ctx, "logs", 0); err != nil {
		t.Fatal(err)
	}
	info, err := c.DescribeTopic(ctx, "orders")
	if err != nil {
		t.Fatal(err)
	}
	if info.Name != "orders" || info.Queues != 3 || len(info.QueueInfo) != 3 {
		t.Fatalf("describe orders: %+v", info)
	}
	topics, err := c.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tp := range topics {
		names = append(names, fmt.Sprint(tp.Name, "/", tp.Queues))
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"logs/8", "orders/3"}) {
		t.Fatalf("topics %v, want logs with the default 8 queues and orders with 3", names)
	}
	if err := c.DeleteTopic(ctx, "orders"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.DescribeTopic(ctx, "orders"); protocol.CodeOf(err) != protocol.CodeUnknownTopic {
		t.Fatalf("describe a deleted topic: %v, want CodeUnknownTopic", err)
	}
}

func TestSendThenConsumeExactlyOnce(t *testing.T) {
	_, c := brokerWithTopic(t, "events", 4)
	ctx := context.Background()
	p := newProducer(t, c)
	const n = 3000
	msgs := make([]client.Message, n)
	for i := range msgs {
		msgs[i] = client.Message{Topic: "events", Body: fmt.Appendf(nil, "m-%d", i), Tags: []string{"A", "B"}[i%2],
			Properties: map[string]string{"i": fmt.Sprint(i)}}
		if i%3 == 0 {
			msgs[i].Key = fmt.Sprint("user-", i%10)
		}
	}
	res, err := p.Send(ctx, msgs...)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]int{}
	for i, r := range res {
		byID[r.ID()] = i
	}
	if len(byID) != n {
		t.Fatalf("%d distinct IDs for %d messages", len(byID), n)
	}

	cons := newConsumer(t, c, client.ConsumerConfig{Group: "g", Topic: "events"})
	tl := newTally()
	pollUntil(t, cons, tl, func() bool { return tl.distinct() >= n })
	tl.check(t, "m", n, true)

	// Nothing more arrives, and the group's offsets cover every queue.
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	if extra, err := cons.Poll(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("poll after everything: %d messages, %v", len(extra), err)
	}
	offs, err := c.GroupOffsets(ctx, "g", "events")
	if err != nil {
		t.Fatal(err)
	}
	var committed int64
	for _, o := range offs {
		committed += o.Offset
	}
	if committed != n {
		t.Fatalf("committed offsets %v add up to %d, want %d", offs, committed, n)
	}
}

func TestMessageFieldsAndLookups(t *testing.T) {
	srv := startBroker(t, t.TempDir(), "127.0.0.1:0")
	c := newClient(t, srv.Addr())
	ctx := context.Background()
	p := newProducer(t, c)
	born := time.UnixMilli(1_700_000_000_123)
	sent := client.Message{Topic: "auto", Key: "order-7", Tags: "paid", Properties: map[string]string{"host": "h1"},
		Body: []byte("the body"), BornAt: born}
	// "auto" does not exist: the producer creates it.
	res, err := p.Send(ctx, sent, client.Message{Topic: "auto", Key: "order-8", Body: []byte("other")},
		client.Message{Topic: "auto", Key: "order-7", Body: []byte("second of order-7")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Queue != res[2].Queue || res[2].Offset <= res[0].Offset {
		t.Fatalf("one key, two queues or out of order: %+v", res)
	}
	check := func(m client.Message) {
		t.Helper()
		if m.Topic != "auto" || m.Key != "order-7" || m.Tags != "paid" || m.Properties["host"] != "h1" ||
			string(m.Body) != "the body" || !m.BornAt.Equal(born) || m.StoredAt.IsZero() ||
			m.Queue != res[0].Queue || m.Offset != res[0].Offset || m.ID != res[0].ID() {
			t.Fatalf("message %+v does not match what was sent (%+v, result %+v)", m, sent, res[0])
		}
	}
	got, err := c.GetMessage(ctx, res[0].ID())
	if err != nil {
		t.Fatal(err)
	}
	check(got)
	if _, err := c.GetMessage(ctx, protocol.MessageID(1<<40, 0)); protocol.CodeOf(err) != protocol.CodeNotFound {
		t.Fatalf("get a message that does not exist: %v, want CodeNotFound", err)
	}
	byKey, err := c.QueryKey(ctx, "auto", "order-7", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(byKey) != 2 || string(byKey[1].Body) != "second of order-7" {
		t.Fatalf("query by key gave %d messages: %+v", len(byKey), byKey)
	}
	check(byKey[0])

	fr, err := c.Fetch(ctx, client.FetchRequest{Topic: "auto", Queue: res[0].Queue, Offset: res[0].Offset, Tags: "paid"})
	if err != nil {
		t.Fatal(err)
	}
	if len(fr.Messages) != 1 || fr.Next < res[0].Offset+1 {
		t.Fatalf("fetch with tag paid: %d messages, next %d", len(fr.Messages), fr.Next)
	}
	check(fr.Messages[0])
}

func TestStartFromLatestAndEarliest(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 2)
	p := newProducer(t, c)
	produceN(t, p, "t", "old", 10, nil)

	latest := newConsumer(t, c, client.ConsumerConfig{Group: "late", Topic: "t", StartFrom: "latest"})
	waitFor(t, "latest consumer joined", func() bool { return len(latest.Assignment()) == 2 })
	produceN(t, p, "t", "new", 5, nil)
	tl := newTally()
	pollUntil(t, latest, tl, func() bool { return tl.distinct() >= 5 })
	tl.check(t, "new", 5, true)

	earliest := newConsumer(t, c, client.ConsumerConfig{Group: "early", Topic: "t", StartFrom: "earliest"})
	all := newTally()
	pollUntil(t, earliest, all, func() bool { return all.distinct() >= 15 })
	all.check(t, "old", 10, false)
	all.check(t, "new", 5, false)
}

func TestConsumerTagFilter(t *testing.T) {
	_, c := brokerWithTopic(t, "t", 1)
	ctx := context.Background()
	p := newProducer(t, c)
	var msgs []client.Message
	for i := range 300 {
		msgs = append(msgs, client.Message{Topic: "t", Tags: fmt.Sprint("tag", i%3), Body: fmt.Appendf(nil, "%d", i)})
	}
	if _, err := p.Send(ctx, msgs...); err != nil {
		t.Fatal(err)
	}
	// Then a batch of tag2 only, which the broker skips by its bloom filter.
	if _, err := p.Send(ctx, client.Message{Topic: "t", Tags: "tag2", Body: []byte("last")}); err != nil {
		t.Fatal(err)
	}
	var got []client.Message
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	err := c.Consume(cctx, client.ConsumerConfig{Group: "g", Topic: "t", Tags: "tag0 || tag1", MaxWait: 100 * time.Millisecond},
		func(_ context.Context, ms []client.Message) error {
			got = append(got, ms...)
			if len(got) >= 200 {
				cancel()
			}
			return nil
		})
	if err != nil {
		t.Fatalf("Consume stopped by its context: %v, want nil", err)
	}
	if len(got) != 200 {
		t.Fatalf("%d messages, want the 200 tagged tag0 or tag1", len(got))
	}
	for _, m := range got {
		if m.Tags != "tag0" && m.Tags != "tag1" {
			t.Fatalf("message %s with tag %s passed the filter", m.Body, m.Tags)
		}
	}
}
