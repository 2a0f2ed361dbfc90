package client

import (
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/sluicehq/sluice/broker/protocol"
)

func TestClientConnectsLazilyAndSaysHelloFirst(t *testing.T) {
	f := newFakeBroker(t, 2)
	c := newTestClient(t, f)
	f.mu.Lock()
	hellos := f.hellos
	f.mu.Unlock()
	if hellos != 0 {
		t.Fatalf("New connected: %d hellos", hellos)
	}
	ctx := context.Background()
	for range 3 {
		if _, err := c.DescribeTopic(ctx, "t"); err != nil {
			t.Fatal(err)
		}
	}
	f.dropConns()
	// The request in flight when the connection broke may fail; the next
	// ones go over a new connection.
	var err error
	for range 5 {
		if _, err = c.DescribeTopic(ctx, "t"); err == nil {
			break
		}
		if !IsRetriable(err) {
			t.Fatalf("error after a dropped connection is not retriable: %v", err)
		}
	}
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.hellos != 2 || len(f.firstOp) != 2 || f.firstOp[0] != protocol.OpHello || f.firstOp[1] != protocol.OpHello {
		t.Fatalf("hellos %d, first ops %v: want hello first on each of 2 connections", f.hellos, f.firstOp)
	}
	if v := c.m.reconnects.Get(); v != 1 {
		t.Fatalf("reconnects metric %d, want 1", v)
	}
}

func TestPendingRequestsFailWhenConnectionBreaks(t *testing.T) {
	f := newFakeBroker(t, 2)
	f.silent[protocol.OpDescribeTopic] = true
	c := newTestClient(t, f)
	if _, err := c.ListTopics(context.Background()); protocol.CodeOf(err) != protocol.CodeUnsupported {
		t.Fatalf("warm-up request: %v", err) // connects; the fake does not list topics
	}
	errc := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := c.DescribeTopic(context.Background(), "t")
			errc <- err
		}()
	}
	waitFor(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.conn.mu.Lock()
		defer c.conn.mu.Unlock()
		return len(c.conn.pending) == 3
	})
	f.dropConns()
	for range 3 {
		if err := <-errc; !errors.Is(err, ErrUnavailable) || !IsRetriable(err) {
			t.Fatalf("pending request after the connection broke: %v, want ErrUnavailable", err)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	f := newFakeBroker(t, 2)
	f.silent[protocol.OpDescribeTopic] = true
	c, err := New(Config{Addr: f.addr(), RequestTimeout: 100 * time.Millisecond, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.DescribeTopic(context.Background(), "t")
	if !errors.Is(err, ErrRequestTimeout) || !IsRetriable(err) {
		t.Fatalf("unanswered request: %v, want ErrRequestTimeout", err)
	}
	// The caller's own deadline is reported as such, not as a timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err = c.DescribeTopic(ctx, "t"); !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrRequestTimeout) {
		t.Fatalf("request past the caller's deadline: %v", err)
	}
	c.conn.mu.Lock()
	n := len(c.conn.pending)
	c.conn.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d abandoned requests still pending", n)
	}
}

func TestCloseFailsRequestsInFlight(t *testing.T) {
	f := newFakeBroker(t, 2)
	f.silent[protocol.OpDescribeTopic] = true
	c := newTestClient(t, f)
	errc := make(chan error, 1)
	go func() {
		_, err := c.DescribeTopic(context.Background(), "t")
		errc <- err
	}()
	waitFor(t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.conn == nil {
			return false
		}
		c.conn.mu.Lock()
		defer c.conn.mu.Unlock()
		return len(c.conn.pending) == 1
	})
	c.Close()
	if err := <-errc; !errors.Is(err, ErrClosed) || IsRetriable(err) {
		t.Fatalf("request in flight at Close: %v, want ErrClosed", err)
	}
	if _, err := c.DescribeTopic(context.Background(), "t"); !errors.Is(err, ErrClosed) {
		t.Fatalf("request after Close: %v", err)
	}
}

func TestDialFailureIsRetriableAndBacksOff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	c, err := New(Config{Addr: addr, MinBackoff: 200 * time.Millisecond, MaxBackoff: 200 * time.Millisecond, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.ListTopics(context.Background())
	if !errors.Is(err, ErrUnavailable) || !IsRetriable(err) {
		t.Fatalf("request to a closed port: %v, want ErrUnavailable", err)
	}
	// The next dial waits out the back-off; a short deadline ends first.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := c.ListTopics(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("request during the back-off: %v, want the context's deadline", err)
	}
}

func TestRequestTooLargeForFrame(t *testing.T) {
	f := newFakeBroker(t, 2)
	c, err := New(Config{Addr: f.addr(), MaxFrame: 1 << 16, Logger: quietLogger})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.request(context.Background(), protocol.OpProduce, make([]byte, 1<<16), 0)
	if !errors.Is(err, protocol.ErrFrameTooLarge) || IsRetriable(err) {
		t.Fatalf("oversized request: %v, want ErrFrameTooLarge", err)
	}
}

// waitFor polls cond until it holds, failing the test after 10s.
func waitFor(t testing.TB, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached within 10s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}
