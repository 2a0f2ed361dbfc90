package server

import (
	"fmt"
	"maps"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/broker/protocol"
)

func TestProduceFetchRoundTrip(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("logs", 4)

	first := []protocol.Message{
		{Key: "k1", Tags: "A", Properties: map[string]string{"host": "a"}, Body: []byte("one"), BornMs: 1000},
		{Body: []byte("two"), BornMs: 1001},
	}
	r1 := c.mustProduce(batch("logs", 2, first...))
	r2 := c.mustProduce(batch("logs", 2, bodies("three", "four", "five")...))
	if r1.BaseOffset != 0 || r2.BaseOffset != 2 || r1.Duplicate || r2.Duplicate {
		t.Fatalf("produce responses %+v %+v", r1, r2)
	}

	resp := c.mustFetch(protocol.FetchRequest{Topic: "logs", Queue: 2, Offset: 0})
	if resp.Next != 5 || resp.Min != 0 || resp.High != 5 {
		t.Fatalf("fetch next/min/high = %d/%d/%d, want 5/0/5", resp.Next, resp.Min, resp.High)
	}
	if len(resp.Positions) != 2 || resp.Positions[0] != r1.Pos || resp.Positions[1] != r2.Pos {
		t.Fatalf("positions %v, want [%d %d]", resp.Positions, r1.Pos, r2.Pos)
	}
	got := decodeFetch(t, resp, 0)
	want := []string{"one", "two", "three", "four", "five"}
	if len(got) != len(want) {
		t.Fatalf("fetched %d messages, want %d", len(got), len(want))
	}
	for i, m := range got {
		if string(m.Body) != want[i] || m.Offset != int64(i) {
			t.Errorf("message %d: body %q offset %d", i, m.Body, m.Offset)
		}
	}
	m0 := got[0]
	if m0.Key != "k1" || m0.Tags != "A" || !maps.Equal(m0.Properties, map[string]string{"host": "a"}) || m0.BornMs != 1000 {
		t.Errorf("first message %+v", m0.Message)
	}
	if m0.ID != protocol.MessageID(r1.Pos, 0) {
		t.Errorf("first message id %s", m0.ID)
	}

	// From the middle of a batch: the whole batch comes, the client skips.
	resp = c.mustFetch(protocol.FetchRequest{Topic: "logs", Queue: 2, Offset: 3})
	if got := decodeFetch(t, resp, 3); len(got) != 2 || string(got[0].Body) != "four" || resp.Next != 5 {
		t.Fatalf("fetch from 3: %d messages, next %d", len(got), resp.Next)
	}
	// Other queues are untouched.
	resp = c.mustFetch(protocol.FetchRequest{Topic: "logs", Queue: 1, Offset: 0})
	if len(resp.Records) != 0 || resp.Next != 0 || resp.High != 0 {
		t.Fatalf("queue 1: %+v", resp)
	}
}

func TestProduceErrors(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("logs", 2)

	_, err := c.produce(batch("nope", 0, bodies("x")...))
	wantCode(t, err, protocol.CodeUnknownTopic)

	_, err = c.produce(batch("logs", 2, bodies("x")...))
	wantCode(t, err, protocol.CodeBadRequest)

	bad := batch("logs", 0, bodies("damaged")...)
	bad.PayloadCRC ^= 1
	_, err = c.produce(bad)
	wantCode(t, err, protocol.CodeCorrupt)

	badKey := batch("logs", 0, bodies("x")...)
	badKey.Keys = []protocol.KeyRef{{Index: 3, Hash: 1}}
	_, err = c.produce(badKey)
	wantCode(t, err, protocol.CodeBadRequest)

	// The connection survives them all, and nothing was stored.
	if r := c.mustProduce(batch("logs", 0, bodies("ok")...)); r.BaseOffset != 0 {
		t.Fatalf("base offset %d after refused produces, want 0", r.BaseOffset)
	}
}

func TestAutoCreateTopics(t *testing.T) {
	for _, auto := range []bool{false, true} {
		t.Run(fmt.Sprint("auto=", auto), func(t *testing.T) {
			cfg := testConfig(t)
			cfg.AutoCreateTopics = auto
			cfg.DefaultQueues = 3
			s := start(t, cfg)
			c := connect(t, s)
			_, err := c.produce(batch("fresh", 1, bodies("x")...))
			if !auto {
				wantCode(t, err, protocol.CodeUnknownTopic)
				return
			}
			if err != nil {
				t.Fatalf("produce: %v", err)
			}
			var info protocol.TopicInfo
			if err := c.callJSON(protocol.OpDescribeTopic, protocol.TopicRef{Name: "fresh"}, &info); err != nil {
				t.Fatal(err)
			}
			if info.Queues != 3 || info.QueueInfo[1].Max != 1 {
				t.Fatalf("auto-created topic %+v", info)
			}
			_, err = c.produce(batch("fresh", 3, bodies("x")...))
			wantCode(t, err, protocol.CodeBadRequest)
		})
	}
}

func idempotent(req *protocol.ProduceRequest, producer, seq uint64) *protocol.ProduceRequest {
	req.ProducerID, req.Sequence = producer, seq
	return req
}

func TestIdempotentProducer(t *testing.T) {
	cfg := testConfig(t)
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 1)

	first := c.mustProduce(idempotent(batch("t", 0, bodies("a", "b")...), 77, 1))
	again := c.mustProduce(idempotent(batch("t", 0, bodies("a", "b")...), 77, 1))
	if !again.Duplicate || again.BaseOffset != first.BaseOffset || again.Pos != first.Pos {
		t.Fatalf("retry: %+v, first %+v", again, first)
	}
	// Same sequence, other producer or queue: a different batch.
	if r := c.mustProduce(idempotent(batch("t", 0, bodies("c")...), 78, 1)); r.Duplicate || r.BaseOffset != 2 {
		t.Fatalf("other producer: %+v", r)
	}
	second := c.mustProduce(idempotent(batch("t", 0, bodies("d")...), 77, 2))
	if second.Duplicate || second.BaseOffset != 3 {
		t.Fatalf("next sequence: %+v", second)
	}

	// After a restart on the same directory, the table is rebuilt from the
	// log: retries of both sequences are still recognised.
	shutdown(t, s)
	s = start(t, cfg)
	c = connect(t, s)
	for seq, want := range map[uint64]protocol.ProduceResponse{1: first, 2: second} {
		r := c.mustProduce(idempotent(batch("t", 0, bodies("again")...), 77, seq))
		if !r.Duplicate || r.BaseOffset != want.BaseOffset || r.Pos != want.Pos || r.StoredAtMs != want.StoredAtMs {
			t.Fatalf("retry of sequence %d after restart: %+v, want %+v", seq, r, want)
		}
	}
	resp := c.mustFetch(protocol.FetchRequest{Topic: "t", Queue: 0})
	if resp.High != 4 {
		t.Fatalf("queue holds %d messages, want 4", resp.High)
	}
}

// A retry racing its original on another connection is stored once.
func TestIdempotentRace(t *testing.T) {
	s := start(t, testConfig(t))
	setup := connect(t, s)
	setup.createTopic("t", 1)
	const conns, seqs = 4, 20
	clients := make([]*client, conns)
	for i := range clients {
		clients[i] = connect(t, s)
	}
	var wg sync.WaitGroup
	results := make([][]protocol.ProduceResponse, conns)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := uint64(1); seq <= seqs; seq++ {
				r, err := c.produce(idempotent(batch("t", 0, bodies(fmt.Sprint(seq))...), 5, seq))
				if err != nil {
					t.Errorf("produce: %v", err)
					return
				}
				results[i] = append(results[i], r)
			}
		}()
	}
	wg.Wait()
	resp := setup.mustFetch(protocol.FetchRequest{Topic: "t", Queue: 0})
	if resp.High != seqs {
		t.Fatalf("queue holds %d messages, want %d", resp.High, seqs)
	}
	for seq := range seqs {
		stored := 0
		for i := range conns {
			if !results[i][seq].Duplicate {
				stored++
			}
			if results[i][seq].BaseOffset != results[0][seq].BaseOffset {
				t.Errorf("sequence %d: connections disagree on the offset", seq+1)
			}
		}
		if stored != 1 {
			t.Errorf("sequence %d stored %d times", seq+1, stored)
		}
	}
}
