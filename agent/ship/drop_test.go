package ship

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/VictoriaMetrics/metrics"

	"github.com/sluicehq/sluice/agent/spool"
	"github.com/sluicehq/sluice/broker/client"
)

// gateSender holds every message's answer until opened, then answers at
// once; it records the bodies in the order it got them.
type gateSender struct {
	mu   sync.Mutex
	open bool
	held []func(client.Result, error)
	sent []string
}

func (g *gateSender) SendAsync(msg client.Message, cb func(client.Result, error)) {
	g.mu.Lock()
	g.sent = append(g.sent, string(msg.Body))
	if !g.open {
		g.held = append(g.held, cb)
		g.mu.Unlock()
		return
	}
	g.mu.Unlock()
	cb(client.Result{}, nil)
}

func (g *gateSender) release() {
	g.mu.Lock()
	g.open = true
	held := g.held
	g.held = nil
	g.mu.Unlock()
	for _, cb := range held {
		cb(client.Result{}, nil)
	}
}

// TestDropOldestThenDirect: when drop_oldest drops spooled entries the
// forwarder never read, the shipper still notices the spool drained and
// goes back to direct sends, and what it sent is in order.
func TestDropOldestThenDirect(t *testing.T) {
	set := metrics.NewSet()
	sp, err := spool.Open(spool.Config{Dir: t.TempDir(), MaxSize: 64 << 10, WhenFull: spool.WhenFullDropOldest,
		Logger: quiet, Metrics: set})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	g := &gateSender{}
	s, err := New(Config{Sender: g, Spool: sp, MaxInflight: 1024, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Close()
	const batches, per = 300, 20
	for b := range batches {
		if err := s.Emit(context.Background(), records("logs", "k", b*per, per), nil); err != nil {
			t.Fatal(err)
		}
	}
	dropped := set.GetOrCreateCounter(`sluice_agent_spool_dropped_records_total`).Get()
	if dropped == 0 {
		t.Fatal("the spool dropped nothing; the test needs drops")
	}
	g.release()
	spooling := func() bool { s.mu.Lock(); defer s.mu.Unlock(); return s.spooling }
	waitFor(t, "the shipper to leave spooling mode", func() bool { return !spooling() })
	spooled := s.m.spooled.Get()
	if err := s.Emit(context.Background(), records("logs", "k", batches*per, per), nil); err != nil {
		t.Fatal(err)
	}
	if got := s.m.spooled.Get(); got != spooled {
		t.Fatalf("a batch after the spool drained was spooled (%d records spooled, was %d)", got, spooled)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	last := -1
	for _, b := range g.sent {
		n, err := strconv.Atoi(strings.TrimPrefix(b, "line-"))
		if err != nil || n <= last {
			t.Fatalf("sent %q after line %d: out of order", b, last)
		}
		last = n
	}
	if want := (batches+1)*per - 1; last != want {
		t.Fatalf("last line sent %d, want %d", last, want)
	}
	t.Logf("%d spool entries dropped, %d of %d lines sent", dropped, len(g.sent), (batches+1)*per)
}
