package server

import (
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

// A long poll returns as soon as a produce lands on its queue.
func TestLongPollWakesOnProduce(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 2)
	poller := connect(t, s)

	type result struct {
		resp protocol.FetchResponse
		err  error
		took time.Duration
	}
	done := make(chan result, 1)
	go func() {
		start := time.Now()
		resp, err := poller.fetch(protocol.FetchRequest{Topic: "t", Queue: 1, MaxWaitMs: 5000})
		done <- result{resp, err, time.Since(start)}
	}()
	waitFor(t, "the fetch to wait", func() bool { return s.m.longPolls.Get() == 1 })
	// A produce to another queue does not wake it.
	c.mustProduce(batch("t", 0, bodies("elsewhere")...))
	c.mustProduce(batch("t", 1, bodies("hello")...))
	r := <-done
	if r.err != nil {
		t.Fatalf("fetch: %v", r.err)
	}
	if r.took >= 5*time.Second {
		t.Fatalf("the long poll took %v: it waited out its time instead of waking", r.took)
	}
	if got := decodeFetch(t, r.resp, 0); len(got) != 1 || string(got[0].Body) != "hello" || r.resp.Next != 1 {
		t.Fatalf("long poll got %v next %d", got, r.resp.Next)
	}
}

// A long poll with nothing arriving returns empty after its wait, with
// Next unchanged; so does a fetch without a wait.
func TestLongPollExpires(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 1)
	c.mustProduce(batch("t", 0, bodies("a", "b")...))
	for _, wait := range []uint32{0, 50} {
		resp := c.mustFetch(protocol.FetchRequest{Topic: "t", Queue: 0, Offset: 2, MaxWaitMs: wait})
		if len(resp.Records) != 0 || resp.Next != 2 || resp.High != 2 || len(resp.Positions) != 0 {
			t.Fatalf("wait %d: %+v", wait, resp)
		}
	}
	if g := s.m.longPolls.Get(); g != 0 {
		t.Fatalf("%v long polls still counted", g)
	}
}

func TestFetchErrors(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 2)

	_, err := c.fetch(protocol.FetchRequest{Topic: "nope"})
	wantCode(t, err, protocol.CodeUnknownTopic)
	_, err = c.fetch(protocol.FetchRequest{Topic: "t", Queue: 2})
	wantCode(t, err, protocol.CodeBadRequest)
	_, err = c.fetch(protocol.FetchRequest{Topic: "t", Tags: "a && b"})
	wantCode(t, err, protocol.CodeBadRequest)

	// A queue never written reads as empty at the offset asked.
	resp := c.mustFetch(protocol.FetchRequest{Topic: "t", Queue: 1, Offset: 0, MaxWaitMs: 10})
	if len(resp.Records) != 0 || resp.Next != 0 {
		t.Fatalf("empty queue: %+v", resp)
	}
}

// The tag filter skips batches by their bloom; skipped offsets count as
// progress.
func TestFetchTagFilter(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 1)
	c.mustProduce(batch("t", 0, protocol.Message{Tags: "B", Body: []byte("b1")}))
	c.mustProduce(batch("t", 0, protocol.Message{Tags: "A", Body: []byte("a1")}))
	c.mustProduce(batch("t", 0, protocol.Message{Tags: "B", Body: []byte("b2")}))

	resp := c.mustFetch(protocol.FetchRequest{Topic: "t", Tags: "A"})
	got := decodeFetch(t, resp, 0)
	if len(got) != 1 || string(got[0].Body) != "a1" {
		t.Fatalf("tag A: got %v", got)
	}
	// Only B remains after offset 2: the filter skips it and Next moves.
	resp = c.mustFetch(protocol.FetchRequest{Topic: "t", Offset: 2, Tags: "A", MaxWaitMs: 20})
	if len(resp.Records) != 0 || resp.Next != 3 {
		t.Fatalf("tag A from 2: %d bytes, next %d, want none and 3", len(resp.Records), resp.Next)
	}
	resp = c.mustFetch(protocol.FetchRequest{Topic: "t", Tags: "A || B"})
	if got := decodeFetch(t, resp, 0); len(got) != 3 {
		t.Fatalf("tags A || B: %d messages", len(got))
	}
}

// MaxBytes bounds a response, but at least one batch comes back.
func TestFetchMaxBytes(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 1)
	for range 5 {
		c.mustProduce(batch("t", 0, bodies("0123456789")...))
	}
	resp := c.mustFetch(protocol.FetchRequest{Topic: "t", MaxBytes: 1})
	if len(resp.Positions) != 1 || resp.Next != 1 {
		t.Fatalf("max bytes 1: %d batches, next %d", len(resp.Positions), resp.Next)
	}
	resp = c.mustFetch(protocol.FetchRequest{Topic: "t"})
	if len(resp.Positions) != 5 || resp.Next != 5 {
		t.Fatalf("default max bytes: %d batches, next %d", len(resp.Positions), resp.Next)
	}
}

// An offset removed by retention gets CodeOffsetGone; the queue's minimum
// is where to go on.
func TestFetchOffsetGone(t *testing.T) {
	cfg := testConfig(t)
	cfg.segmentSize = 4096
	cfg.MaxAge = time.Millisecond
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 1)
	body := make([]byte, 1500)
	for i := range body {
		body[i] = byte(i * 7919 >> 3) // little for lz4 to squeeze
	}
	for range 8 {
		c.mustProduce(batch("t", 0, protocol.Message{Body: body}))
	}
	var lo int64
	waitFor(t, "retention to delete a segment", func() bool {
		lo, _, _ = s.store.QueueRange("t", 0)
		return lo > 0
	})
	_, err := c.fetch(protocol.FetchRequest{Topic: "t", Offset: 0})
	wantCode(t, err, protocol.CodeOffsetGone)
	resp := c.mustFetch(protocol.FetchRequest{Topic: "t", Offset: lo})
	if resp.Min != lo || len(decodeFetch(t, resp, lo)) == 0 {
		t.Fatalf("fetch from the minimum %d: %+v", lo, resp)
	}
}
