package ship

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sluicehq/sluice/agent/spool"
	"github.com/sluicehq/sluice/broker/client"
)

// failingSender holds answers until released, then answers at once; it
// fails the first send of each body in failOnce with a retriable error,
// as a producer whose delivery timeout expired. delivered lists the
// bodies answered with nil, in order.
type failingSender struct {
	mu        sync.Mutex
	open      bool
	held      []func()
	failOnce  map[string]bool
	delivered []string
}

func (f *failingSender) SendAsync(msg client.Message, cb func(client.Result, error)) {
	body := string(msg.Body)
	answer := func() {
		f.mu.Lock()
		fail := f.failOnce[body]
		delete(f.failOnce, body)
		if !fail {
			f.delivered = append(f.delivered, body)
		}
		f.mu.Unlock()
		if fail {
			cb(client.Result{}, fmt.Errorf("send %s: %w", body, client.ErrUnavailable))
			return
		}
		cb(client.Result{}, nil)
	}
	f.mu.Lock()
	if !f.open {
		f.held = append(f.held, answer)
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()
	answer()
}

func (f *failingSender) release() {
	f.mu.Lock()
	f.open = true
	held := f.held
	f.held = nil
	f.mu.Unlock()
	for _, answer := range held {
		answer()
	}
}

// TestRewindAfterFailedSend: a spooled record the Sender fails is sent
// again from the spool while the shipper runs on, with the entries after
// it; the spool drains and every record is delivered at least once, the
// ones acknowledged before the failure once.
func TestRewindAfterFailedSend(t *testing.T) {
	sp, err := spool.Open(spool.Config{Dir: t.TempDir(), Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	f := &failingSender{failOnce: map[string]bool{"line-000205": true, "line-000733": true}}
	s, err := New(Config{Sender: f, Spool: sp, MaxInflight: 1024, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	const batches, per = 50, 20
	for b := range batches {
		if err := s.Emit(context.Background(), records("logs", "k", b*per, per), nil); err != nil {
			t.Fatal(err)
		}
	}
	if s.m.spooled.Get() < 200 {
		t.Fatalf("%d records spooled; the failing lines must be spooled", s.m.spooled.Get())
	}
	f.release()
	waitFor(t, "the spool to drain after the failed sends", func() bool { return sp.Len() == 0 && s.inflight.Load() == 0 })
	if got := s.m.rewinds.Get(); got < 1 || got > 2 {
		t.Errorf("%d rewinds for two failed sends", got)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	times := map[int]int{}
	for _, b := range f.delivered {
		n, err := strconv.Atoi(strings.TrimPrefix(b, "line-"))
		if err != nil {
			t.Fatalf("delivered %q", b)
		}
		times[n]++
	}
	for n := range batches * per {
		switch {
		case times[n] == 0:
			t.Fatalf("line %d was never delivered", n)
		case n < 200 && times[n] != 1:
			// Entries acknowledged before the failed one are not sent again.
			t.Fatalf("line %d, before the first failed batch, delivered %d times", n, times[n])
		}
	}
	if times[210] < 2 {
		t.Fatalf("line 210, after the failed line 205 in its batch, was delivered %d times: the spool was not read again from the failed entry", times[210])
	}
	t.Logf("%d deliveries of %d lines, %d rewinds", len(f.delivered), batches*per, s.m.rewinds.Get())
}
