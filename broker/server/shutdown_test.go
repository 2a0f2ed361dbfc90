package server

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
	"github.com/sluicehq/sluice/broker/store/vfs"
)

// Shutdown answers what is in flight: the produce gets its ack, the long
// poll an empty response; then connections close and Shutdown returns.
func TestGracefulShutdown(t *testing.T) {
	cfg := testConfig(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	cfg.produceHook = func() {
		once.Do(func() { close(entered) })
		<-release
	}
	s := start(t, cfg)
	producer := connect(t, s)
	producer.createTopic("t", 2)
	poller := connect(t, s)

	pollID := poller.send(protocol.OpFetch, (&protocol.FetchRequest{Topic: "t", Queue: 1, MaxWaitMs: 20000}).Append(nil))
	waitFor(t, "the fetch to wait", func() bool { return s.m.longPolls.Get() == 1 })
	prodID := producer.send(protocol.OpProduce, batch("t", 0, bodies("last words")...).Append(nil))
	<-entered

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shut <- s.Shutdown(ctx)
	}()
	waitFor(t, "shutdown to start", func() bool { return s.state.Load() == stateShuttingDown })

	// While draining, HTTP still answers and says not ready.
	res, err := http.Get("http://" + s.HTTPAddr() + "/readyz")
	if err != nil {
		t.Fatalf("readyz while draining: %v", err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("readyz while draining: %d", res.StatusCode)
	}

	// The long poll was woken and answered empty.
	h, body, err := poller.read()
	if err != nil || h.RequestID != pollID {
		t.Fatalf("long poll: %+v %v", h, err)
	}
	var fr protocol.FetchResponse
	if err := fr.Decode(body); err != nil || len(fr.Records) != 0 {
		t.Fatalf("long poll response %+v %v", fr, err)
	}
	poller.expectClosed()

	close(release)
	h, body, err = producer.read()
	if err != nil || h.RequestID != prodID {
		t.Fatalf("produce in flight: %+v %v", h, err)
	}
	var pr protocol.ProduceResponse
	if err := pr.Decode(body); err != nil {
		t.Fatal(err)
	}
	producer.expectClosed()
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}

	// The acknowledged message is there after a restart.
	cfg.produceHook = nil
	s = start(t, cfg)
	c := connect(t, s)
	got := decodeFetch(t, c.mustFetch(protocol.FetchRequest{Topic: "t", Queue: 0}), 0)
	if len(got) != 1 || string(got[0].Body) != "last words" {
		t.Fatalf("after restart: %v", got)
	}
}

// Shutdown with a deadline that passes closes connections whose requests
// do not finish, and still closes the store.
func TestShutdownDeadline(t *testing.T) {
	cfg := testConfig(t)
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	cfg.produceHook = func() {
		entered <- struct{}{}
		<-release
	}
	// The handler gets going again only once shutdown gave up and closed
	// its connection: released at the deadline instead, it could answer
	// before the close.
	cfg.forceCloseHook = func() { close(release) }
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 1)
	c.send(protocol.OpProduce, batch("t", 0, bodies("stuck")...).Append(nil))
	<-entered
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := s.Shutdown(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown past its deadline: %v", err)
	}
	c.expectClosed()
}

func TestCloseIsIdempotent(t *testing.T) {
	s := start(t, testConfig(t))
	c := connect(t, s)
	c.createTopic("t", 1)
	c.send(protocol.OpFetch, (&protocol.FetchRequest{Topic: "t", MaxWaitMs: 20000}).Append(nil))
	waitFor(t, "the fetch to wait", func() bool { return s.m.longPolls.Get() == 1 })
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// A full disk fails produces with CodeDiskFull while fetches go on; they
// succeed again once there is room.
func TestDiskFull(t *testing.T) {
	cfg := testConfig(t)
	fs := vfs.NewFaultFS(vfs.Default)
	cfg.fs = fs
	s := start(t, cfg)
	c := connect(t, s)
	c.createTopic("t", 1)
	c.mustProduce(batch("t", 0, bodies("before")...))

	fs.SetNoSpace(true)
	_, err := c.produce(batch("t", 0, bodies("no room")...))
	wantCode(t, err, protocol.CodeDiskFull)
	if !protocol.CodeDiskFull.Retriable() {
		t.Fatal("disk full should be retriable")
	}
	if got := decodeFetch(t, c.mustFetch(protocol.FetchRequest{Topic: "t"}), 0); len(got) != 1 {
		t.Fatalf("fetch while full: %d messages", len(got))
	}

	fs.SetNoSpace(false)
	waitFor(t, "appends to resume", func() bool {
		_, err := c.produce(batch("t", 0, bodies("after")...))
		return err == nil
	})
	got := decodeFetch(t, c.mustFetch(protocol.FetchRequest{Topic: "t"}), 0)
	if len(got) != 2 || string(got[1].Body) != "after" {
		t.Fatalf("after room came back: %v", got)
	}
}
